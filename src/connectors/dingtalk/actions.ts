/**
 * The `dingtalk` actions. Each is idempotent under retries: work notifications are deduplicated by
 * DingTalk itself (same content to the same user once a day, spec §4.1), robot posts carry a
 * `msgUuid` derived from the step's idempotency key (§5.1), cards use an `outTrackId` derived from
 * it, and `approval.start` looks for the instance a previous attempt created before creating one.
 *
 * Messages that ask a person something output `sentAt` (epoch ms, Qiao's clock): a flow waiting for
 * the answer compares it with the reply's `receivedAt`, so an older message from the same person
 * (the correlation key of a chat reply is the sender) cannot answer a newer question.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ActionContext, ActionSpec } from '../../core/connector.ts';
import { PermanentError, QiaoError, RateLimitedError } from '../../core/errors.ts';
import type { DingtalkClient, Json } from './client.ts';
import { getUser } from './directory.ts';

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

/** Remembers what an idempotency key produced, for retries inside this process. */
export class Memo {
  private readonly map = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.map.get(key) as T | undefined;
  }
  set(key: string, value: unknown): void {
    if (this.map.size > 20_000) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value);
  }
}

const atSchema = z
  .object({
    atMobiles: z.array(z.string()).optional(),
    atUserIds: z.array(z.string()).optional(),
    isAtAll: z.boolean().optional(),
  })
  .optional();

// ---------- notice.send ----------
const noticeInput = z
  .object({
    /** Userids, as a list or a comma-separated string; at most 100 (spec §4.1). */
    userIds: z.union([z.array(z.string().min(1)).max(100), z.string().min(1)]).optional(),
    deptIds: z
      .array(z.union([z.number().int(), z.string().min(1)]))
      .max(20)
      .optional(),
    toAllUser: z.boolean().default(false),
    text: z.string().min(1).optional(),
    markdown: z.object({ title: z.string().min(1), text: z.string().min(1).max(5000) }).optional(),
    actionCard: z
      .object({
        title: z.string().optional(),
        markdown: z.string().min(1),
        singleTitle: z.string().optional(),
        singleUrl: z.string().optional(),
        buttons: z.array(z.object({ title: z.string().min(1), url: z.string().min(1) })).optional(),
        vertical: z.boolean().default(true),
      })
      .optional(),
    /** A raw `msg` object in any of the eight documented types (spec §4.1). */
    msg: z.record(z.string(), z.unknown()).optional(),
  })
  .refine(
    (v) => v.toAllUser || v.userIds || (v.deptIds && v.deptIds.length > 0),
    'userIds, deptIds or toAllUser',
  )
  .refine((v) => v.text || v.markdown || v.actionCard || v.msg, 'one of text, markdown, actionCard or msg');

function noticeMsg(v: z.infer<typeof noticeInput>): Json {
  if (v.msg) return v.msg;
  if (v.text) return { msgtype: 'text', text: { content: v.text } };
  if (v.markdown) return { msgtype: 'markdown', markdown: v.markdown };
  const c = v.actionCard!;
  return {
    msgtype: 'action_card',
    action_card: {
      ...(c.title ? { title: c.title } : {}),
      markdown: c.markdown,
      ...(c.buttons?.length
        ? {
            btn_orientation: c.vertical ? '0' : '1',
            btn_json_list: c.buttons.map((b) => ({ title: b.title, action_url: b.url })),
          }
        : { single_title: c.singleTitle ?? '查看详情', single_url: c.singleUrl ?? '' }),
    },
  };
}

// ---------- robot messages ----------
const robotMessageFields = {
  text: z.string().min(1).optional(),
  markdown: z.object({ title: z.string().min(1), text: z.string().min(1) }).optional(),
  /** A raw message in the §5.1 shapes (text, markdown, link, actionCard, feedCard). */
  message: z.record(z.string(), z.unknown()).optional(),
  at: atSchema,
};

function robotMessage(v: {
  text?: string;
  markdown?: { title: string; text: string };
  message?: Json;
  at?: Json;
}): Json {
  const base: Json = v.message
    ? { ...v.message }
    : v.text
      ? { msgtype: 'text', text: { content: v.text } }
      : { msgtype: 'markdown', markdown: v.markdown };
  if (v.at) base.at = v.at;
  return base;
}

// A storm of alerts becomes one message through the step option `suppress` (docs/flows.md,
// "Suppression"), kept by the engine in the store for every connector; robot.send is a plain post.
const robotSendInput = z
  .object({
    robot: z.string().min(1),
    ...robotMessageFields,
  })
  .refine((v) => v.text || v.markdown || v.message, 'one of text, markdown or message');

const robotReplyInput = z
  .object({
    /** From the chat message: `sessionWebhook`, valid until `sessionWebhookExpiredTime` (spec §6.2). */
    sessionWebhook: z.string().optional(),
    sessionWebhookExpiredTime: z.number().optional(),
    /** Fallback when the session expired: 1:1 → `oToMessages/batchSend` to userId; group → `groupMessages/send`. */
    conversationType: z.enum(['single', 'group']).optional(),
    conversationId: z.string().optional(),
    userId: z.string().optional(),
    text: z.string().min(1).optional(),
    markdown: z.object({ title: z.string().min(1), text: z.string().min(1) }).optional(),
    atUserIds: z.array(z.string()).optional(),
  })
  .refine((v) => v.text || v.markdown, 'text or markdown')
  .refine(
    (v) => v.sessionWebhook || v.userId || v.conversationId,
    'sessionWebhook, userId or conversationId',
  );

// ---------- approvals ----------
const formValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
]);

const approvalStartInput = z
  .object({
    processCode: z.string().min(1),
    originatorUserId: z.string().min(1),
    /** The originator's department; -1 is the root (spec §10.1). */
    deptId: z.number().int().default(-1),
    /** Form values by field label; numbers become strings, lists and objects JSON (spec §10.1). */
    form: z.record(z.string(), formValue).optional(),
    formComponentValues: z
      .array(z.object({ name: z.string().min(1), value: z.string(), extValue: z.string().optional() }))
      .max(150)
      .optional(),
    approvers: z
      .array(
        z.object({ actionType: z.enum(['AND', 'OR', 'NONE']), userIds: z.array(z.string().min(1)).min(1) }),
      )
      .max(20)
      .optional(),
    ccList: z.array(z.string()).max(50).optional(),
    ccPosition: z.enum(['START', 'FINISH', 'START_FINISH']).optional(),
    /** Which API generation to use; both are live (spec §1.1). */
    api: z.enum(['new', 'old']).default('new'),
  })
  .refine((v) => v.form || v.formComponentValues, 'form or formComponentValues');

const approvalGetInput = z.object({
  processInstanceId: z.string().min(1),
  api: z.enum(['new', 'old']).default('new'),
});

function formValues(v: z.infer<typeof approvalStartInput>) {
  if (v.formComponentValues) return v.formComponentValues;
  return Object.entries(v.form ?? {}).map(([name, value]) => ({
    name,
    value:
      typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value),
  }));
}

export interface ApprovalView {
  processInstanceId: string;
  title: string;
  status: string;
  result: string;
  /** Not RUNNING/NEW any more: approved, refused or revoked. */
  finished: boolean;
  approved: boolean;
  businessId: string;
  originatorUserId: string;
  createTime?: string;
  finishTime?: string;
  formValues: Record<string, string>;
  tasks: Array<{ taskId: string; userId: string; status: string; result: string }>;
  operationRecords: Array<{ userId: string; type: string; result: string; remark?: string; date?: string }>;
}

/**
 * The field names of one approval instance in each API (spec: the new workflow API answers camelCase,
 * the old `topapi/processinstance/get` snake_case); the view is the same.
 */
const APPROVAL_KEYS = {
  new: {
    businessId: 'businessId',
    originator: 'originatorUserId',
    createTime: 'createTime',
    finishTime: 'finishTime',
    form: 'formComponentValues',
    taskId: 'taskId',
    taskUser: 'userId',
    taskStatus: 'status',
    taskResult: 'result',
    records: 'operationRecords',
    recordUser: 'userId',
    recordType: 'type',
    recordResult: 'result',
  },
  old: {
    businessId: 'business_id',
    originator: 'originator_userid',
    createTime: 'create_time',
    finishTime: 'finish_time',
    form: 'form_component_values',
    taskId: 'taskid',
    taskUser: 'userid',
    taskStatus: 'task_status',
    taskResult: 'task_result',
    records: 'operation_records',
    recordUser: 'userid',
    recordType: 'operation_type',
    recordResult: 'operation_result',
  },
} as const;

function approvalView(
  id: string,
  r: Json,
  k: (typeof APPROVAL_KEYS)[keyof typeof APPROVAL_KEYS],
): ApprovalView {
  const status = String(r.status ?? '');
  const result = String(r.result ?? '');
  const arr = (v: unknown) => (Array.isArray(v) ? (v as Json[]) : []);
  return {
    processInstanceId: id,
    title: String(r.title ?? ''),
    status,
    result,
    finished: status === 'COMPLETED' || status === 'TERMINATED' || status === 'CANCELED',
    approved: status === 'COMPLETED' && result === 'agree',
    businessId: String(r[k.businessId] ?? ''),
    originatorUserId: String(r[k.originator] ?? ''),
    createTime: r[k.createTime] as string | undefined,
    finishTime: r[k.finishTime] as string | undefined,
    formValues: Object.fromEntries(arr(r[k.form]).map((f) => [String(f.name), String(f.value ?? '')])),
    tasks: arr(r.tasks).map((t) => ({
      taskId: String(t[k.taskId]),
      userId: String(t[k.taskUser]),
      status: String(t[k.taskStatus]),
      result: String(t[k.taskResult] ?? ''),
    })),
    operationRecords: arr(r[k.records]).map((o) => ({
      userId: String(o[k.recordUser]),
      type: String(o[k.recordType]),
      result: String(o[k.recordResult] ?? ''),
      ...(o.remark ? { remark: String(o.remark) } : {}),
      date: o.date as string | undefined,
    })),
  };
}

export function approvalFromNew(id: string, r: Json): ApprovalView {
  return approvalView(id, r, APPROVAL_KEYS.new);
}

export function approvalFromOld(id: string, r: Json): ApprovalView {
  return approvalView(id, r, APPROVAL_KEYS.old);
}

export async function getApproval(
  client: DingtalkClient,
  id: string,
  api: 'new' | 'old',
  signal?: AbortSignal,
): Promise<ApprovalView> {
  if (api === 'old') {
    const b = await client.oapi(
      'processinstance.get',
      '/topapi/processinstance/get',
      { process_instance_id: id },
      { signal },
    );
    return approvalFromOld(id, (b.process_instance ?? {}) as Json);
  }
  const b = await client.api('workflow.processInstances.get', '/v1.0/workflow/processInstances', undefined, {
    signal,
    query: { processInstanceId: id },
  });
  return approvalFromNew(id, (b.result ?? {}) as Json);
}

/** Instance ids of a template started in [startTime, endTime], all pages (max 20 a page). */
export async function listInstanceIds(
  client: DingtalkClient,
  q: { processCode: string; startTime: number; endTime?: number; userIds?: string[] },
  signal?: AbortSignal,
): Promise<string[]> {
  const ids: string[] = [];
  let next: string | number = 0;
  for (let page = 0; page < 10_000; page++) {
    const b = await client.api(
      'workflow.processes.instanceIds.query',
      '/v1.0/workflow/processes/instanceIds/query',
      {
        processCode: q.processCode,
        startTime: q.startTime,
        ...(q.endTime ? { endTime: q.endTime } : {}),
        nextToken: Number(next),
        maxResults: 20,
        ...(q.userIds?.length ? { userIds: q.userIds } : {}),
      },
      { signal },
    );
    const result = (b.result ?? {}) as Json;
    if (Array.isArray(result.list)) ids.push(...result.list.map(String));
    if (result.nextToken === undefined || result.nextToken === null || result.nextToken === '') break;
    next = result.nextToken as string | number;
  }
  return ids;
}

/** Permanent errors that mean "that session webhook no longer works". */
function sessionGone(err: unknown): boolean {
  return (
    err instanceof QiaoError &&
    err.errorClass === 'permanent' &&
    /300005|expired|not exist/i.test(`${err.partner?.code} ${err.message}`)
  );
}

export function dingtalkActions(client: DingtalkClient, memo: Memo): Record<string, ActionSpec> {
  const robotWindows = new Map<string, number[]>();

  const noticeSend: ActionSpec<z.infer<typeof noticeInput>> = {
    description: 'Sends a work notification (工作通知) to users, departments or everyone (asyncsend_v2).',
    input: noticeInput,
    async run(v, ctx) {
      const key = `notice:${ctx.idempotencyKey}`;
      const known = memo.get<{ taskId: number; sentAt: number }>(key);
      if (known !== undefined) return { output: { ...known, deduplicated: true } };
      const userIds = Array.isArray(v.userIds) ? v.userIds.join(',') : v.userIds;
      const sentAt = Date.now();
      const body = await client.oapi(
        'message.asyncsend_v2',
        '/topapi/message/corpconversation/asyncsend_v2',
        {
          agent_id: client.settings.agentId,
          ...(userIds ? { userid_list: userIds } : {}),
          ...(v.deptIds?.length ? { dept_id_list: v.deptIds.join(',') } : {}),
          to_all_user: v.toAllUser,
          msg: noticeMsg(v),
        },
        { signal: ctx.signal },
      );
      const output = { taskId: Number(body.task_id), sentAt };
      memo.set(key, output);
      return { output, links: [{ object: 'notice', id: String(output.taskId) }] };
    },
  };

  const noticeResult: ActionSpec<{ taskId: number }> = {
    description: 'Reads who received, read or was spared (flow control) a work notification (getsendresult).',
    input: z.object({ taskId: z.coerce.number().int().positive() }),
    async run(v, ctx) {
      const body = await client.oapi(
        'message.getsendresult',
        '/topapi/message/corpconversation/getsendresult',
        { agent_id: client.settings.agentId, task_id: v.taskId },
        { signal: ctx.signal },
      );
      const r = (body.send_result ?? {}) as Json;
      const list = (k: string) => (Array.isArray(r[k]) ? (r[k] as unknown[]).map(String) : []);
      return {
        output: {
          taskId: v.taskId,
          read: list('read_user_id_list'),
          unread: list('unread_user_id_list'),
          invalid: list('invalid_user_id_list'),
          forbidden: Array.isArray(r.forbidden_list) ? r.forbidden_list : [],
          failed: list('failed_user_id_list'),
        },
      };
    },
  };

  const robotSend: ActionSpec<z.infer<typeof robotSendInput>> = {
    description: 'Posts to a group through a custom robot webhook, signed when the robot has a secret.',
    input: robotSendInput,
    async run(v, ctx) {
      // 20 messages a minute per robot, then a 10-minute throttle (spec §5.3): waiting a little here
      // is far cheaper than the throttle, so the 21st message is refused locally with the real wait.
      const now = Date.now();
      const window = (robotWindows.get(v.robot) ?? []).filter((t) => now - t < 60_000);
      if (window.length >= 20) {
        throw new RateLimitedError(`robot "${v.robot}" already sent 20 messages this minute`, {
          retryAfterMs: 60_000 - (now - window[0]) + 50,
          partner: {
            system: 'dingtalk',
            operation: 'robot.send',
            message: 'local guard for the 20 messages/minute limit',
          },
        });
      }
      const message = robotMessage(v as never);
      // The documented idempotency key (D11): a retry of this step is not posted twice.
      message.msgUuid = `qiao-${shortHash(ctx.idempotencyKey)}`;
      await client.robotSend(v.robot, message, ctx.signal);
      window.push(now);
      robotWindows.set(v.robot, window);
      return { output: { robot: v.robot, msgUuid: message.msgUuid, sentAt: now } };
    },
  };

  const robotReply: ActionSpec<z.infer<typeof robotReplyInput>> = {
    description:
      "Replies to a chat message on its sessionWebhook; after it expires, through the robot's OpenAPI.",
    input: robotReplyInput,
    async run(v, ctx) {
      const key = `reply:${ctx.idempotencyKey}`;
      const known = memo.get<Json>(key);
      if (known) return { output: { ...known, deduplicated: true } };
      const message: Json = v.text
        ? { msgtype: 'text', text: { content: v.text } }
        : { msgtype: 'markdown', markdown: v.markdown };
      if (v.atUserIds?.length) message.at = { atUserIds: v.atUserIds };
      const live =
        v.sessionWebhook &&
        (v.sessionWebhookExpiredTime === undefined || v.sessionWebhookExpiredTime > Date.now() + 2_000);
      let output: Json | undefined;
      const sentAt = Date.now();
      if (live) {
        try {
          await client.sessionSend(v.sessionWebhook!, message, ctx.signal);
          output = { via: 'sessionWebhook', sentAt };
        } catch (err) {
          if (!sessionGone(err) || (!v.userId && !v.conversationId)) throw err;
        }
      }
      if (!output) {
        const msgKey = v.text ? 'sampleText' : 'sampleMarkdown';
        const msgParam = JSON.stringify(v.text ? { content: v.text } : v.markdown);
        if (v.conversationType === 'group' || (!v.userId && v.conversationId)) {
          const b = await client.api(
            'robot.groupMessages.send',
            '/v1.0/robot/groupMessages/send',
            { robotCode: client.robotCode, openConversationId: v.conversationId, msgKey, msgParam },
            { signal: ctx.signal },
          );
          output = { via: 'groupMessages', processQueryKey: b.processQueryKey, sentAt };
        } else {
          const b = await client.api(
            'robot.oToMessages.batchSend',
            '/v1.0/robot/oToMessages/batchSend',
            { robotCode: client.robotCode, userIds: [v.userId], msgKey, msgParam },
            { signal: ctx.signal },
          );
          const invalid = Array.isArray(b.invalidStaffIdList) ? b.invalidStaffIdList : [];
          if (invalid.length > 0) {
            throw new PermanentError(`DingTalk robot.oToMessages: invalid user ${String(invalid[0])}`, {
              partner: {
                system: 'dingtalk',
                operation: 'robot.oToMessages.batchSend',
                message: 'invalidStaffIdList',
                field: 'userIds',
              },
            });
          }
          output = { via: 'oToMessages', processQueryKey: b.processQueryKey, sentAt };
        }
      }
      memo.set(key, output);
      return { output };
    },
  };

  const approvalStart: ActionSpec<z.infer<typeof approvalStartInput>> = {
    description: 'Starts an OA approval instance (new workflow API by default, or the old topapi).',
    input: approvalStartInput,
    async run(v, ctx) {
      const key = `approval:${ctx.idempotencyKey}`;
      const values = formValues(v);
      const found =
        memo.get<string>(key) ??
        (await findLinked(client, ctx)) ??
        (ctx.attempt > 1 ? await findCreated(client, v, values, ctx) : undefined);
      if (found) {
        memo.set(key, found);
        return {
          output: { processInstanceId: found, processCode: v.processCode, deduplicated: true },
          links: [{ object: 'approval', id: found }],
        };
      }
      let id: string;
      if (v.api === 'old') {
        const b = await client.oapi(
          'processinstance.create',
          '/topapi/processinstance/create',
          {
            process_code: v.processCode,
            originator_user_id: v.originatorUserId,
            dept_id: v.deptId,
            ...(v.approvers
              ? {
                  approvers_v2: v.approvers.map((a) => ({
                    task_action_type: a.actionType,
                    user_ids: a.userIds,
                  })),
                }
              : {}),
            ...(v.ccList?.length
              ? { cc_list: v.ccList.join(','), cc_position: v.ccPosition ?? 'FINISH' }
              : {}),
            form_component_values: values.map((f) => ({
              name: f.name,
              value: f.value,
              ...('extValue' in f && f.extValue ? { ext_value: f.extValue } : {}),
            })),
          },
          { signal: ctx.signal },
        );
        id = String(b.process_instance_id ?? '');
      } else {
        const b = await client.api(
          'workflow.processInstances.create',
          '/v1.0/workflow/processInstances',
          {
            processCode: v.processCode,
            originatorUserId: v.originatorUserId,
            deptId: v.deptId,
            microappAgentId: client.settings.agentId,
            ...(v.approvers ? { approvers: v.approvers } : {}),
            ...(v.ccList?.length ? { ccList: v.ccList, ccPosition: v.ccPosition ?? 'FINISH' } : {}),
            formComponentValues: values,
          },
          { signal: ctx.signal },
        );
        id = String(b.instanceId ?? '');
      }
      memo.set(key, id);
      return {
        output: { processInstanceId: id, processCode: v.processCode },
        links: [{ object: 'approval', id }],
      };
    },
  };

  const approvalGet: ActionSpec<z.infer<typeof approvalGetInput>> = {
    description: 'Reads an approval instance: status, result, form values, tasks and records.',
    input: approvalGetInput,
    async run(v, ctx) {
      return { output: await getApproval(client, v.processInstanceId, v.api, ctx.signal) };
    },
  };

  const userLookup: ActionSpec<{ userId?: string; mobile?: string }> = {
    description: 'Finds a user by userid or mobile; jobNumber is the employee number shared with the ERP.',
    input: z
      .object({ userId: z.string().min(1).optional(), mobile: z.string().min(1).optional() })
      .refine((v) => v.userId || v.mobile, 'userId or mobile'),
    async run(v, ctx) {
      let userId = v.userId;
      if (!userId) {
        const b = await client.oapi(
          'user.getbymobile',
          '/topapi/v2/user/getbymobile',
          { mobile: v.mobile },
          { signal: ctx.signal },
        );
        userId = String(((b.result ?? {}) as Json).userid ?? '');
      }
      return { output: await getUser(client, userId, ctx.signal) };
    },
  };

  const cardInput = z
    .object({
      templateId: z.string().min(1),
      userId: z.string().min(1).optional(),
      conversationId: z.string().min(1).optional(),
      params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
      outTrackId: z.string().min(1).optional(),
    })
    .refine((v) => v.userId || v.conversationId, 'userId (1:1 with the robot) or conversationId (a group)');

  const cardSend: ActionSpec<z.infer<typeof cardInput>> = {
    description:
      'Sends an interactive card whose buttons call back (card.click trigger, correlation = outTrackId).',
    input: cardInput,
    async run(v, ctx) {
      const outTrackId = v.outTrackId ?? `qiao-${shortHash(ctx.idempotencyKey)}`;
      const stream = client.settings.ingress === 'stream';
      if (!stream && !client.settings.cardCallbackRouteKey) {
        throw new PermanentError('cards with HTTP callbacks need the cardCallbackRouteKey setting', {
          fault: 'user',
        });
      }
      const robot = { robotCode: client.robotCode };
      const sentAt = Date.now();
      try {
        await client.api(
          'card.instances.createAndDeliver',
          '/v1.0/card/instances/createAndDeliver',
          {
            cardTemplateId: v.templateId,
            outTrackId,
            callbackType: stream ? 'STREAM' : 'HTTP',
            ...(stream ? {} : { callbackRouteKey: client.settings.cardCallbackRouteKey }),
            cardData: {
              cardParamMap: Object.fromEntries(Object.entries(v.params).map(([k, x]) => [k, String(x)])),
            },
            userIdType: 1,
            ...(v.userId
              ? {
                  openSpaceId: `dtv1.card//IM_ROBOT.${v.userId}`,
                  imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', ...robot },
                }
              : { openSpaceId: `dtv1.card//IM_GROUP.${v.conversationId}`, imGroupOpenDeliverModel: robot }),
          },
          { signal: ctx.signal },
        );
      } catch (err) {
        // A retry after a lost answer meets its own outTrackId: the card is already there.
        if (
          !(
            err instanceof QiaoError &&
            err.errorClass === 'permanent' &&
            /outTrackId/.test(err.message) &&
            ctx.attempt > 1
          )
        ) {
          throw err;
        }
      }
      return { output: { outTrackId, sentAt }, links: [{ object: 'card', id: outTrackId }] };
    },
  };

  const cardUpdate: ActionSpec<{ outTrackId: string; params: Record<string, string | number | boolean> }> = {
    description: "Updates a card's data, e.g. to show that a payment was confirmed.",
    input: z.object({
      outTrackId: z.string().min(1),
      params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    }),
    async run(v, ctx) {
      await client.api(
        'card.instances.update',
        '/v1.0/card/instances',
        {
          outTrackId: v.outTrackId,
          cardData: {
            cardParamMap: Object.fromEntries(Object.entries(v.params).map(([k, x]) => [k, String(x)])),
          },
          cardUpdateOptions: { updateCardDataByKey: true },
        },
        { signal: ctx.signal, method: 'PUT' },
      );
      return { output: { outTrackId: v.outTrackId } };
    },
  };

  return {
    'notice.send': noticeSend,
    'notice.result': noticeResult,
    'robot.send': robotSend,
    'robot.reply': robotReply,
    'approval.start': approvalStart,
    'approval.get': approvalGet,
    'user.lookup': userLookup,
    'card.send': cardSend,
    'card.update': cardUpdate,
  };
}

/**
 * Find before create (DESIGN.md, "Effectively once"): the approval already started for this run's
 * source record, through the id map — reused while it is running or was approved; a refused or
 * revoked one lets a new approval start (the record was resubmitted).
 */
async function findLinked(client: DingtalkClient, ctx: ActionContext): Promise<string | undefined> {
  if (!ctx.linkKey) return undefined;
  const id = await ctx.links.find('approval', ctx.linkKey);
  if (!id) return undefined;
  const a = await getApproval(client, id, 'new', ctx.signal);
  return a.status === 'RUNNING' || a.status === 'NEW' || a.approved ? id : undefined;
}

/**
 * On a retry, the instance an earlier attempt may have created: same template, originator and form
 * values, started in the last 24 hours (DingTalk's create call has no idempotency key, spec §10.1).
 */
async function findCreated(
  client: DingtalkClient,
  v: z.infer<typeof approvalStartInput>,
  values: Array<{ name: string; value: string }>,
  ctx: ActionContext,
): Promise<string | undefined> {
  const ids = await listInstanceIds(
    client,
    { processCode: v.processCode, startTime: Date.now() - 86_400_000, userIds: [v.originatorUserId] },
    ctx.signal,
  );
  for (const id of ids.slice(-50).reverse()) {
    const a = await getApproval(client, id, 'new', ctx.signal);
    if (a.originatorUserId === v.originatorUserId && values.every((f) => a.formValues[f.name] === f.value))
      return id;
  }
  return undefined;
}
