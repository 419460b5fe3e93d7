/**
 * Work notifications (工作通知, spec §4): `asyncsend_v2`, `getsendresult`, `getsendprogress`,
 * `recall`. Deliveries are recorded per user. The documented limits are silent (§4.1): an over-limit
 * send still answers errcode 0 and the affected users land in the result's `forbidden_list`
 * (143106 same content to the same user on the same day, 143105 the 500-a-day per-user cap, 143103
 * the 5000-recipients-a-minute cap; D8).
 */
import type { SandboxRequest } from '../common/server.ts';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import {
  commaList,
  isObject,
  type Json,
  num,
  oapiError,
  oapiOk,
  parseNewBody,
  parseOldBody,
} from './http-util.ts';
import { counter } from './ids.ts';

export interface NoticeTask {
  taskId: number;
  agentId: number;
  msg: Json;
  createdAt: number;
  recipients: string[];
  delivered: string[];
  invalidUsers: string[];
  invalidDepts: number[];
  forbidden: Array<{ code: string; count: number; userid: string }>;
  read: Set<string>;
  recalled: boolean;
}

export interface NoticeDelivery {
  taskId: number;
  userid: string;
  msg: Json;
  at: number;
  recalled: boolean;
}

export interface NoticesState {
  tasks: Map<number, NoticeTask>;
  deliveries: NoticeDelivery[];
  /** Per user per China day: content keys sent and count. */
  daily: Map<string, { contents: Set<string>; count: number }>;
  minute: { start: number; recipients: number };
  /** How long a task stays "in progress" (getsendprogress status 0 → 1 → 2). */
  deliveryDelayMs: number;
  perUserDaily: number;
  perMinuteRecipients: number;
}

const MSG_TYPES = ['text', 'image', 'voice', 'file', 'link', 'oa', 'markdown', 'action_card'] as const;

export function createWorkNotices(ctx: SandboxContext): NoticesState {
  const state: NoticesState = {
    tasks: new Map(),
    deliveries: [],
    daily: new Map(),
    minute: { start: 0, recipients: 0 },
    deliveryDelayMs: 0,
    perUserDaily: 500,
    perMinuteRecipients: 5000,
  };
  const nextTaskId = counter(256_271_667_000);

  route(ctx.routes.oapi, 'POST', '/topapi/message/corpconversation/asyncsend_v2', (req) => {
    const body = parseOld(req);
    if ('errcode' in body) return oapiError(body.errcode as number, body.errmsg as string);
    const agentId = num(body.agent_id);
    if (agentId === undefined) return oapiError(40035, '缺少参数 agent_id');
    if (agentId !== ctx.app.agentId) return oapiError(40035, '不合法的参数 agent_id');
    const msg = body.msg;
    if (!isObject(msg)) return oapiError(40035, '缺少参数 msg');
    const msgProblem = validateMsg(msg);
    if (msgProblem) return oapiError(40035, msgProblem);
    if (Buffer.byteLength(JSON.stringify(msg), 'utf8') > 2048)
      return oapiError(40035, '消息内容超过2048字节');
    const toAll = body.to_all_user === true || body.to_all_user === 'true';
    const userList = commaList(body.userid_list);
    const deptList = commaList(body.dept_id_list);
    if (!toAll && userList.length === 0 && deptList.length === 0) {
      return oapiError(40035, '缺少参数 userid_list或dept_id_list');
    }
    if (userList.length > 100) return oapiError(40035, 'userid_list 不能超过100个');
    if (deptList.length > 20) return oapiError(40035, 'dept_id_list 不能超过20个');

    const invalidUsers: string[] = [];
    const invalidDepts: number[] = [];
    const recipients = new Set<string>();
    if (toAll) for (const u of ctx.users) if (u.active) recipients.add(u.userid);
    for (const id of userList) {
      const u = ctx.userById(id);
      if (u?.active) recipients.add(u.userid);
      else invalidUsers.push(id);
    }
    for (const d of deptList) {
      const id = Number(d);
      if (!ctx.departments.some((x) => x.id === id)) {
        invalidDepts.push(id);
        continue;
      }
      const inside = subDepartments(ctx, id);
      for (const u of ctx.users)
        if (u.active && u.deptIds.some((x) => inside.has(x))) recipients.add(u.userid);
    }
    if (recipients.size > 5000) return oapiError(40035, '接收人数超过5000');

    const task: NoticeTask = {
      taskId: nextTaskId(),
      agentId,
      msg,
      createdAt: Date.now(),
      recipients: [...recipients],
      delivered: [],
      invalidUsers,
      invalidDepts,
      forbidden: [],
      read: new Set(),
      recalled: false,
    };
    const now = Date.now();
    if (now - state.minute.start >= 60_000) state.minute = { start: now, recipients: 0 };
    const content = JSON.stringify(msg);
    for (const userid of task.recipients) {
      const dayKey = `${userid}@${chinaDay(now)}`;
      const day = state.daily.get(dayKey) ?? { contents: new Set<string>(), count: 0 };
      state.daily.set(dayKey, day);
      if (day.contents.has(content)) task.forbidden.push({ code: '143106', count: 1, userid });
      else if (day.count >= state.perUserDaily) task.forbidden.push({ code: '143105', count: 1, userid });
      else if (state.minute.recipients >= state.perMinuteRecipients) {
        task.forbidden.push({ code: '143103', count: 1, userid });
      } else {
        day.contents.add(content);
        day.count += 1;
        state.minute.recipients += 1;
        task.delivered.push(userid);
        state.deliveries.push({ taskId: task.taskId, userid, msg, at: now, recalled: false });
      }
    }
    state.tasks.set(task.taskId, task);
    return oapiOk({ task_id: task.taskId });
  });

  const findTask = (body: Json, windowMs: number) => {
    const agentId = num(body.agent_id);
    const taskId = num(body.task_id ?? body.msg_task_id);
    if (agentId !== ctx.app.agentId) return { error: oapiError(40035, '不合法的参数 agent_id') };
    const task = taskId === undefined ? undefined : state.tasks.get(taskId);
    if (!task || Date.now() - task.createdAt > windowMs)
      return { error: oapiError(40035, '不合法的参数 task_id') };
    return { task };
  };

  route(ctx.routes.oapi, 'POST', '/topapi/message/corpconversation/getsendresult', (req) => {
    const body = parseOld(req);
    if ('errcode' in body) return oapiError(body.errcode as number, body.errmsg as string);
    // Only tasks of the last 24 h with at most 100 recipients (D8).
    const { task, error } = findTask(body, 86_400_000);
    if (error) return error;
    if (task.recipients.length > 100) return oapiError(40035, '接收人数超过100的任务不支持查询发送结果');
    const done = Date.now() - task.createdAt >= state.deliveryDelayMs;
    const forbidden = task.forbidden.map((f) => f.userid);
    return oapiOk({
      send_result: {
        invalid_user_id_list: task.invalidUsers,
        forbidden_user_id_list: forbidden,
        failed_user_id_list: [],
        read_user_id_list: task.delivered.filter((u) => task.read.has(u)),
        unread_user_id_list: done ? task.delivered.filter((u) => !task.read.has(u)) : [],
        invalid_dept_id_list: task.invalidDepts,
        forbidden_list: task.forbidden,
      },
    });
  });

  route(ctx.routes.oapi, 'POST', '/topapi/message/corpconversation/getsendprogress', (req) => {
    const body = parseOld(req);
    if ('errcode' in body) return oapiError(body.errcode as number, body.errmsg as string);
    // The page says 7 days of history while its task_id row says 24 h (§16.11): the longer is kept.
    const { task, error } = findTask(body, 7 * 86_400_000);
    if (error) return error;
    const elapsed = Date.now() - task.createdAt;
    const d = state.deliveryDelayMs;
    const progress =
      elapsed >= d
        ? { progress_in_percent: 100, status: 2 }
        : elapsed >= d / 2
          ? { progress_in_percent: 50, status: 1 }
          : { progress_in_percent: 0, status: 0 };
    return oapiOk({ progress });
  });

  route(ctx.routes.oapi, 'POST', '/topapi/message/corpconversation/recall', (req) => {
    const body = parseOld(req);
    if ('errcode' in body) return oapiError(body.errcode as number, body.errmsg as string);
    const { task, error } = findTask(body, 86_400_000);
    if (error) return error;
    task.recalled = true;
    for (const d of state.deliveries) if (d.taskId === task.taskId) d.recalled = true;
    return oapiOk();
  });

  admin(ctx, 'GET', /^\/__sandbox\/notices$/, (req) => {
    const userId = req.query.get('userId');
    return ok({ deliveries: state.deliveries.filter((d) => !userId || d.userid === userId) });
  });
  admin(ctx, 'GET', /^\/__sandbox\/notices\/tasks$/, () =>
    ok({ tasks: [...state.tasks.values()].map((t) => ({ ...t, read: [...t.read] })) }),
  );
  // Acts as the recipient opening the message.
  admin(ctx, 'POST', /^\/__sandbox\/notices\/(\d+)\/read$/, (req, [id]) => {
    const task = state.tasks.get(Number(id));
    if (!task) return bad('no such task', 404);
    const body = parseNewBody(req);
    const userId = isObject(body) && typeof body.userId === 'string' ? body.userId : undefined;
    for (const u of task.delivered) if (!userId || u === userId) task.read.add(u);
    return ok({ read: [...task.read] });
  });
  admin(ctx, 'POST', /^\/__sandbox\/notices\/config$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const d = num(body.deliveryDelayMs);
    if (d !== undefined && d >= 0) state.deliveryDelayMs = d;
    const cap = num(body.perUserDaily);
    if (cap !== undefined && cap >= 0) state.perUserDaily = cap;
    return ok({ deliveryDelayMs: state.deliveryDelayMs, perUserDaily: state.perUserDaily });
  });
  return state;
}

function parseOld(req: SandboxRequest): Json {
  const type = String(req.headers['content-type'] ?? '');
  if (type && !type.includes('json') && !type.includes('x-www-form-urlencoded')) {
    return { errcode: 43004, errmsg: '无效的HTTP HEADER Content-Type' };
  }
  return parseOldBody(req) ?? { errcode: 40035, errmsg: '缺少参数 json' };
}

function chinaDay(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
}

function subDepartments(ctx: SandboxContext, root: number): Set<number> {
  const out = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of ctx.departments) {
      if (d.parentId !== null && out.has(d.parentId) && !out.has(d.id)) {
        out.add(d.id);
        grew = true;
      }
    }
  }
  return out;
}

/** Message shapes of D7 (spec §4.1); returns a problem or undefined. */
export function validateMsg(msg: Json): string | undefined {
  const type = msg.msgtype;
  if (typeof type !== 'string') return '缺少参数 msgtype';
  if (!(MSG_TYPES as readonly string[]).includes(type)) return `不支持的消息类型 ${type}`;
  const body = msg[type];
  if (!isObject(body)) return `缺少参数 ${type}`;
  const need = (...keys: string[]) => {
    for (const k of keys) if (body[k] === undefined || body[k] === '') return `缺少参数 ${type}.${k}`;
    return undefined;
  };
  switch (type) {
    case 'text':
      return need('content');
    case 'image':
    case 'file':
      return need('media_id');
    case 'voice':
      return need('media_id', 'duration');
    case 'link':
      return need('messageUrl', 'picUrl', 'title', 'text');
    case 'oa': {
      const p = need('message_url', 'head', 'body');
      if (p) return p;
      if (!isObject(body.head) || !isObject(body.body)) return '参数 oa.head/oa.body 必须是对象';
      return undefined;
    }
    case 'markdown': {
      const p = need('title', 'text');
      if (p) return p;
      return String(body.text).length > 5000 ? 'markdown.text 超过5000字符' : undefined;
    }
    case 'action_card': {
      const p = need('markdown');
      if (p) return p;
      const single = body.single_title !== undefined && body.single_url !== undefined;
      const multi = Array.isArray(body.btn_json_list) && body.btn_json_list.length > 0;
      return single || multi ? undefined : '缺少参数 action_card.single_title/single_url 或 btn_json_list';
    }
    default:
      return undefined;
  }
}
