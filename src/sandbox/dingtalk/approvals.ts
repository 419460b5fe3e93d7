/**
 * OA approvals (spec §9, §10): seeded templates (contract, expense, payment, project), create and get
 * on the new workflow API (`/v1.0/workflow/processInstances`) and the old `topapi` one, instance id
 * listing on both, and approvers acting through the admin surface. Every state change emits
 * `bpms_instance_change` / `bpms_task_change` on the app's event channel(s).
 */

import { randomUUID } from 'node:crypto';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import {
  apiError,
  apiOk,
  chinaDateTime,
  commaList,
  isObject,
  type Json,
  num,
  oapiError,
  oapiOk,
  parseNewBody,
  parseOldBody,
  utcMinute,
} from './http-util.ts';
import { counter } from './ids.ts';
import type { ApproverNode, ProcessTemplate } from './seed.ts';

export interface ApprovalTask {
  taskId: number;
  userId: string;
  status: 'NEW' | 'RUNNING' | 'PAUSED' | 'CANCELED' | 'COMPLETED' | 'TERMINATED';
  result: 'AGREE' | 'REFUSE' | 'REDIRECTED' | 'NONE';
  activityId: string;
  node: number;
  createTime: number;
  finishTime?: number;
}

export interface OperationRecord {
  userId: string;
  date: number;
  type: string;
  result: 'AGREE' | 'REFUSE' | 'NONE';
  remark?: string;
  showName: string;
  activityId?: string;
}

export interface ApprovalInstance {
  processInstanceId: string;
  processCode: string;
  template: ProcessTemplate;
  title: string;
  status: 'RUNNING' | 'COMPLETED' | 'TERMINATED';
  result: 'agree' | 'refuse' | '';
  businessId: string;
  originatorUserId: string;
  originatorDeptId: number;
  createTime: number;
  finishTime?: number;
  formComponentValues: Array<{
    id: string;
    name: string;
    value: string;
    extValue: string;
    componentType: string;
  }>;
  nodes: ApproverNode[];
  currentNode: number;
  tasks: ApprovalTask[];
  operationRecords: OperationRecord[];
  ccUserIds: string[];
  /** Started through the API (vs. filed by a person in the OA app): decides `approverUserIds` (§16.14). */
  apiCreated: boolean;
}

export interface ApprovalsState {
  instances: Map<string, ApprovalInstance>;
}

interface CreateInput {
  processCode?: string;
  originatorUserId?: string;
  deptId?: number;
  approvers?: ApproverNode[];
  ccList?: string[];
  form: Array<{ name: string; value: unknown }>;
  apiCreated: boolean;
  /** History seeding only (admin surface): when the instance was started. */
  createTime?: number;
}

type CreateError = { kind: 'missing' | 'invalid' | 'process' | 'form'; code: string; message: string };

export function createApprovals(ctx: SandboxContext): ApprovalsState {
  const state: ApprovalsState = { instances: new Map() };
  const nextTaskId = counter(81_116_000_000);
  let businessSeq = 0;

  const emitInstance = (inst: ApprovalInstance, type: 'start' | 'finish' | 'terminate' | 'delete') => {
    ctx.emitEvent(
      'bpms_instance_change',
      {
        processInstanceId: inst.processInstanceId,
        processCode: inst.processCode,
        bizCategoryId: '',
        businessId: inst.businessId,
        businessType: '',
        title: inst.title,
        type,
        ...(type === 'finish' ? { result: inst.result } : {}),
        staffId: inst.originatorUserId,
        url: `https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?corpid=${ctx.app.corpId}&procInstId=${inst.processInstanceId}#approval`,
        createTime: inst.createTime,
        ...(inst.finishTime ? { finishTime: inst.finishTime } : {}),
      },
      `${inst.processInstanceId}:${type}`,
    );
  };

  const emitTask = (
    inst: ApprovalInstance,
    task: ApprovalTask,
    type: 'start' | 'finish' | 'cancel',
    remark?: string,
  ) => {
    const result =
      task.result === 'AGREE'
        ? 'agree'
        : task.result === 'REFUSE'
          ? 'refuse'
          : task.result === 'REDIRECTED'
            ? 'redirect'
            : undefined;
    ctx.emitEvent(
      'bpms_task_change',
      {
        processInstanceId: inst.processInstanceId,
        processCode: inst.processCode,
        bizCategoryId: '',
        businessId: inst.businessId,
        taskId: task.taskId,
        title: inst.title,
        type,
        ...(type === 'finish' && result ? { result } : {}),
        ...(remark ? { remark } : {}),
        staffId: task.userId,
        createTime: task.createTime,
        ...(task.finishTime ? { finishTime: task.finishTime } : {}),
      },
      `${task.taskId}:${type}`,
    );
  };

  const startNode = (inst: ApprovalInstance, index: number) => {
    inst.currentNode = index;
    if (index >= inst.nodes.length) {
      inst.status = 'COMPLETED';
      inst.result = 'agree';
      inst.finishTime = Date.now();
      inst.operationRecords.push({
        userId: inst.originatorUserId,
        date: inst.finishTime,
        type: 'FINISH_PROCESS_INSTANCE',
        result: 'NONE',
        showName: '结束',
      });
      emitInstance(inst, 'finish');
      return;
    }
    const node = inst.nodes[index];
    for (const userId of node.userIds) {
      const task: ApprovalTask = {
        taskId: nextTaskId(),
        userId,
        status: 'RUNNING',
        result: 'NONE',
        activityId: `act-${index + 1}-${inst.processInstanceId.slice(0, 8)}`,
        node: index,
        createTime: Date.now(),
      };
      inst.tasks.push(task);
      emitTask(inst, task, 'start');
    }
  };

  const create = (input: CreateInput): ApprovalInstance | CreateError => {
    if (!input.processCode)
      return { kind: 'missing', code: 'invalidParameter', message: 'processCode 不能为空' };
    const template = ctx.templates.find((t) => t.processCode === input.processCode);
    if (!template)
      return { kind: 'process', code: 'processCodeError', message: `审批模板不存在: ${input.processCode}` };
    if (!input.originatorUserId)
      return { kind: 'missing', code: 'invalidParameter', message: 'originatorUserId 不能为空' };
    const originator = ctx.userById(input.originatorUserId);
    if (!originator?.active)
      return {
        kind: 'invalid',
        code: 'processInstanceInvalidParameter',
        message: `发起人不存在: ${input.originatorUserId}`,
      };
    if (input.deptId === undefined && !input.approvers) {
      return { kind: 'missing', code: 'invalidParameter', message: 'deptId 不能为空' };
    }
    const deptId = input.deptId === undefined || input.deptId === -1 ? originator.deptIds[0] : input.deptId;
    if (!ctx.departments.some((d) => d.id === deptId))
      return { kind: 'invalid', code: 'invalidParameter', message: `deptId 不合法: ${deptId}` };
    if (input.approvers) {
      if (input.approvers.length > 20)
        return { kind: 'invalid', code: 'invalidParameter', message: 'approvers 不能超过20个节点' };
      for (const n of input.approvers) {
        if (!['AND', 'OR', 'NONE'].includes(n.actionType))
          return { kind: 'invalid', code: 'invalidParameter', message: `actionType 不合法: ${n.actionType}` };
        if (n.userIds.length === 0 || (n.actionType === 'NONE' && n.userIds.length > 1)) {
          return { kind: 'invalid', code: 'invalidParameter', message: '审批节点的 userIds 不合法' };
        }
        for (const u of n.userIds)
          if (!ctx.userById(u)?.active)
            return { kind: 'invalid', code: 'invalidParameter', message: `审批人不存在: ${u}` };
      }
    }
    const cc = input.ccList ?? [];
    if (cc.length > 50) return { kind: 'invalid', code: 'invalidParameter', message: 'ccList 不能超过50人' };
    if (input.form.length === 0)
      return { kind: 'missing', code: 'invalidParameter', message: 'formComponentValues 不能为空' };
    if (input.form.length > 150)
      return { kind: 'invalid', code: 'invalidParameter', message: 'formComponentValues 不能超过150个' };
    const values: ApprovalInstance['formComponentValues'] = [];
    for (const item of input.form) {
      const field = template.fields.find((f) => f.name === item.name);
      if (!field)
        return { kind: 'form', code: 'formConverterError', message: `表单中不存在该组件: ${item.name}` };
      if (typeof item.value !== 'string')
        return { kind: 'form', code: 'invalidParameter', message: `组件[${item.name}]的值必须是字符串` };
      if (item.value.length > 65535)
        return { kind: 'form', code: 'invalidParameter', message: `组件[${item.name}]的值超过65535个字符` };
      if (
        (field.componentType === 'MoneyField' || field.componentType === 'NumberField') &&
        item.value !== '' &&
        !Number.isFinite(Number(item.value))
      ) {
        return {
          kind: 'form',
          code: 'illegalComponent',
          message: `组件[${item.name}]的值不是数字: ${item.value}`,
        };
      }
      if (
        field.componentType === 'DDSelectField' &&
        field.options &&
        item.value !== '' &&
        !field.options.includes(item.value)
      ) {
        return {
          kind: 'form',
          code: 'illegalComponent',
          message: `组件[${item.name}]的值不在选项中: ${item.value}`,
        };
      }
      values.push({
        id: field.id,
        name: field.name,
        value: item.value,
        extValue: '',
        componentType: field.componentType,
      });
    }
    for (const f of template.fields) {
      if (f.required && !values.some((v) => v.name === f.name && v.value !== '')) {
        return { kind: 'form', code: 'processInstanceStartFailed', message: `表单组件[${f.name}]必填` };
      }
    }
    const now = input.createTime ?? Date.now();
    businessSeq += 1;
    const inst: ApprovalInstance = {
      processInstanceId: randomUUID(),
      processCode: template.processCode,
      template,
      title: `${originator.name}提交的${template.name}`,
      status: 'RUNNING',
      result: '',
      businessId: `${chinaDateTime(now).replace(/\D/g, '')}${String(businessSeq % 1_000_000).padStart(6, '0')}`,
      originatorUserId: originator.userid,
      originatorDeptId: deptId,
      createTime: now,
      formComponentValues: values,
      nodes: input.approvers ?? template.approvers,
      currentNode: 0,
      tasks: [],
      operationRecords: [
        {
          userId: originator.userid,
          date: now,
          type: 'START_PROCESS_INSTANCE',
          result: 'NONE',
          showName: '发起审批',
        },
      ],
      ccUserIds: cc,
      apiCreated: input.apiCreated,
    };
    state.instances.set(inst.processInstanceId, inst);
    emitInstance(inst, 'start');
    startNode(inst, 0);
    return inst;
  };

  /** A person acting on their task in the OA app. Returns an error message or the instance. */
  const act = (
    inst: ApprovalInstance,
    action: 'approve' | 'refuse' | 'redirect',
    body: Json,
  ): string | ApprovalInstance => {
    if (inst.status !== 'RUNNING') return `instance is ${inst.status}`;
    const userId = typeof body.userId === 'string' ? body.userId : undefined;
    const task = inst.tasks.find((t) => t.status === 'RUNNING' && (!userId || t.userId === userId));
    if (!task) return userId ? `${userId} has no running task on this instance` : 'no running task';
    const remark = typeof body.remark === 'string' ? body.remark : undefined;
    const now = Date.now();
    const nodeTasks = inst.tasks.filter((t) => t.node === task.node && t !== task && t.status === 'RUNNING');
    if (action === 'redirect') {
      const to = typeof body.toUserId === 'string' ? ctx.userById(body.toUserId) : undefined;
      if (!to?.active) return 'toUserId is not an active user';
      Object.assign(task, { status: 'COMPLETED', result: 'REDIRECTED', finishTime: now });
      inst.operationRecords.push({
        userId: task.userId,
        date: now,
        type: 'REDIRECT_TASK',
        result: 'NONE',
        remark,
        showName: '转交',
        activityId: task.activityId,
      });
      emitTask(inst, task, 'finish', remark);
      const next: ApprovalTask = {
        ...task,
        taskId: nextTaskId(),
        userId: to.userid,
        status: 'RUNNING',
        result: 'NONE',
        createTime: now,
        finishTime: undefined,
      };
      inst.tasks.push(next);
      emitTask(inst, next, 'start');
      return inst;
    }
    const agree = action === 'approve';
    Object.assign(task, { status: 'COMPLETED', result: agree ? 'AGREE' : 'REFUSE', finishTime: now });
    inst.operationRecords.push({
      userId: task.userId,
      date: now,
      type: 'EXECUTE_TASK_NORMAL',
      result: agree ? 'AGREE' : 'REFUSE',
      remark,
      showName: '审批人',
      activityId: task.activityId,
    });
    emitTask(inst, task, 'finish', remark);
    const node = inst.nodes[task.node];
    if (!agree || node?.actionType === 'OR') {
      // Another approver in an OR node acted, or the instance ends: the rest are canceled (§9).
      for (const t of nodeTasks) {
        Object.assign(t, { status: 'CANCELED', finishTime: now });
        emitTask(inst, t, 'cancel');
      }
    }
    if (!agree) {
      inst.status = 'COMPLETED';
      inst.result = 'refuse';
      inst.finishTime = now;
      emitInstance(inst, 'finish');
      return inst;
    }
    if (inst.tasks.some((t) => t.node === task.node && t.status === 'RUNNING')) return inst;
    startNode(inst, task.node + 1);
    return inst;
  };

  const terminate = (inst: ApprovalInstance, remark?: string) => {
    if (inst.status !== 'RUNNING') return `instance is ${inst.status}`;
    const now = Date.now();
    for (const t of inst.tasks.filter((x) => x.status === 'RUNNING'))
      Object.assign(t, { status: 'CANCELED', finishTime: now });
    inst.status = 'TERMINATED';
    inst.finishTime = now;
    inst.operationRecords.push({
      userId: inst.originatorUserId,
      date: now,
      type: 'TERMINATE_PROCESS_INSTANCE',
      result: 'NONE',
      remark,
      showName: '撤销',
    });
    emitInstance(inst, 'terminate');
    return inst;
  };

  // ---- new API (§10.1, §10.2) ----
  route(ctx.routes.api, 'POST', '/v1.0/workflow/processInstances', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    const approvers = Array.isArray(body.approvers)
      ? body.approvers.map((n) => ({
          actionType: (isObject(n) ? String(n.actionType) : '') as ApproverNode['actionType'],
          userIds: isObject(n) && Array.isArray(n.userIds) ? n.userIds.map(String) : [],
        }))
      : undefined;
    const form = Array.isArray(body.formComponentValues)
      ? body.formComponentValues.filter(isObject).map((v) => ({ name: String(v.name ?? ''), value: v.value }))
      : [];
    const r = create({
      processCode: typeof body.processCode === 'string' ? body.processCode : undefined,
      originatorUserId: typeof body.originatorUserId === 'string' ? body.originatorUserId : undefined,
      deptId: num(body.deptId),
      approvers,
      ccList: Array.isArray(body.ccList) ? body.ccList.map(String) : undefined,
      form,
      apiCreated: true,
    });
    if ('kind' in r) return apiError(400, r.code, r.message);
    return apiOk({ instanceId: r.processInstanceId });
  });

  route(ctx.routes.api, 'GET', '/v1.0/workflow/processInstances', (req) => {
    const id = req.query.get('processInstanceId');
    if (!id) return apiError(400, 'invalidParameter', 'processInstanceId 不能为空');
    if (!/^[0-9A-Za-z_-]+$/.test(id)) return apiError(400, 'processInstanceIdError', '审批实例id不合法');
    const inst = state.instances.get(id);
    if (!inst) return apiError(400, 'processInstanceNotExist', '审批实例不存在');
    return apiOk({ success: 'true', result: newView(ctx, inst) });
  });

  route(ctx.routes.api, 'POST', '/v1.0/workflow/processes/instanceIds/query', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    const r = listIds(state, {
      processCode: body.processCode,
      start: num(body.startTime),
      end: num(body.endTime),
      offset: num(body.nextToken) ?? 0,
      size: num(body.maxResults) ?? 20,
      userIds: Array.isArray(body.userIds) ? body.userIds.map(String) : [],
      statuses: Array.isArray(body.statuses) ? body.statuses.map(String) : [],
    });
    if (typeof r === 'string') return apiError(400, 'invalidParameter', r);
    return apiOk({
      success: true,
      result: { list: r.list, ...(r.next !== undefined ? { nextToken: String(r.next) } : {}) },
    });
  });

  // ---- old API (§10.3, §10.4) ----
  route(ctx.routes.oapi, 'POST', '/topapi/processinstance/create', (req) => {
    const body = parseOldBody(req);
    if (!body) return oapiError(40035, '缺少参数 json');
    if (body.process_code === undefined) return oapiError(40035, '缺少参数 process_code');
    if (body.originator_user_id === undefined) return oapiError(40035, '缺少参数 originator_user_id');
    if (body.dept_id === undefined) return oapiError(40035, '缺少参数 dept_id');
    let approvers: ApproverNode[] | undefined;
    if (Array.isArray(body.approvers_v2)) {
      approvers = body.approvers_v2.filter(isObject).map((n) => ({
        actionType: String(n.task_action_type ?? 'NONE') as ApproverNode['actionType'],
        userIds: Array.isArray(n.user_ids) ? n.user_ids.map(String) : commaList(n.user_ids),
      }));
    } else if (body.approvers !== undefined) {
      // A comma string of approvers means one approver after another.
      approvers = commaList(body.approvers).map((u) => ({ actionType: 'NONE', userIds: [u] }));
    }
    const form = Array.isArray(body.form_component_values)
      ? body.form_component_values
          .filter(isObject)
          .map((v) => ({ name: String(v.name ?? ''), value: v.value }))
      : [];
    const r = create({
      processCode: String(body.process_code),
      originatorUserId: String(body.originator_user_id),
      deptId: num(body.dept_id),
      approvers,
      ccList: body.cc_list === undefined ? undefined : commaList(body.cc_list),
      form,
      apiCreated: true,
    });
    if ('kind' in r) return oapiError(r.kind === 'missing' ? 40035 : 400002, r.message);
    return oapiOk({ process_instance_id: r.processInstanceId });
  });

  route(ctx.routes.oapi, 'POST', '/topapi/processinstance/get', (req) => {
    const body = parseOldBody(req);
    if (!body) return oapiError(40035, '缺少参数 json');
    const id = body.process_instance_id;
    if (typeof id !== 'string' || !id) return oapiError(40035, '缺少参数 process_instance_id');
    const inst = state.instances.get(id);
    if (!inst) return oapiError(400002, '审批实例不存在');
    return oapiOk({ process_instance: oldView(inst) });
  });

  route(ctx.routes.oapi, 'POST', '/topapi/processinstance/listids', (req) => {
    const body = parseOldBody(req);
    if (!body) return oapiError(40035, '缺少参数 json');
    const r = listIds(state, {
      processCode: body.process_code,
      start: num(body.start_time),
      end: num(body.end_time),
      offset: num(body.cursor) ?? 0,
      size: num(body.size) ?? 10,
      userIds: commaList(body.userid_list),
      statuses: [],
    });
    if (typeof r === 'string') return oapiError(400002, r);
    return oapiOk({ result: { list: r.list, ...(r.next !== undefined ? { next_cursor: r.next } : {}) } });
  });

  // ---- admin: people acting in the OA app ----
  admin(ctx, 'GET', /^\/__sandbox\/templates$/, () => ok({ templates: ctx.templates }));
  admin(ctx, 'GET', /^\/__sandbox\/approvals$/, (req) => {
    const code = req.query.get('processCode');
    return ok({
      instances: [...state.instances.values()]
        .filter((i) => !code || i.processCode === code)
        .map((i) => ({
          ...newView(ctx, i),
          processInstanceId: i.processInstanceId,
          processCode: i.processCode,
        })),
    });
  });
  admin(ctx, 'GET', /^\/__sandbox\/approvals\/([^/]+)$/, (_req, [id]) => {
    const inst = state.instances.get(id);
    return inst
      ? ok({
          ...newView(ctx, inst),
          processInstanceId: inst.processInstanceId,
          processCode: inst.processCode,
        })
      : bad('no such instance', 404);
  });
  // Files approvals in the OA app as a person would: {template, originatorUserId, form, count?}.
  admin(ctx, 'POST', /^\/__sandbox\/approvals$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const template = ctx.templates.find((t) => t.key === body.template || t.processCode === body.template);
    if (!template) return bad('template: contract | expense | payment | project or a processCode');
    const originator =
      typeof body.originatorUserId === 'string' ? body.originatorUserId : ctx.users[2].userid;
    const form = isObject(body.form) ? body.form : {};
    const count = Math.min(num(body.count) ?? 1, 10_000);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const r = create({
        processCode: template.processCode,
        originatorUserId: originator,
        deptId: -1,
        form: Object.entries(form).map(([name, value]) => ({
          name,
          value: typeof value === 'string' ? value : String(value),
        })),
        apiCreated: false,
        // Seeds history: instances started in the past (e.g. many in one minute).
        createTime: num(body.createdAt),
      });
      if ('kind' in r) return bad(r.message);
      ids.push(r.processInstanceId);
    }
    return ok({ processInstanceIds: ids });
  });
  for (const action of ['approve', 'refuse', 'redirect'] as const) {
    admin(ctx, 'POST', new RegExp(`^/__sandbox/approvals/([^/]+)/${action}$`), (req, [id]) => {
      const inst = state.instances.get(id);
      if (!inst) return bad('no such instance', 404);
      const r = act(inst, action, parseNewBody(req) ?? {});
      return typeof r === 'string' ? bad(r, 409) : ok(newView(ctx, r));
    });
  }
  admin(ctx, 'POST', /^\/__sandbox\/approvals\/([^/]+)\/terminate$/, (req, [id]) => {
    const inst = state.instances.get(id);
    if (!inst) return bad('no such instance', 404);
    const body = parseNewBody(req) ?? {};
    const r = terminate(inst, typeof body.remark === 'string' ? body.remark : undefined);
    return typeof r === 'string' ? bad(r, 409) : ok(newView(ctx, r));
  });
  admin(ctx, 'POST', /^\/__sandbox\/approvals\/([^/]+)\/delete$/, (_req, [id]) => {
    const inst = state.instances.get(id);
    if (!inst) return bad('no such instance', 404);
    state.instances.delete(id);
    emitInstance(inst, 'delete');
    return ok({ deleted: id });
  });
  return state;
}

function listIds(
  state: ApprovalsState,
  q: {
    processCode: unknown;
    start?: number;
    end?: number;
    offset: number;
    size: number;
    userIds: string[];
    statuses: string[];
  },
): string | { list: string[]; next?: number } {
  if (typeof q.processCode !== 'string' || !q.processCode) return 'processCode 不能为空';
  if (q.start === undefined) return 'startTime 不能为空';
  const end = q.end ?? Date.now();
  // The window may span at most 120 days.
  if (end - q.start > 120 * 86_400_000) return '时间跨度不能超过120天';
  if (q.size < 1 || q.size > 20) return 'maxResults/size 取值范围为1-20';
  if (q.userIds.length > 10) return 'userIds 不能超过10个';
  const all = [...state.instances.values()].filter(
    (i) =>
      i.processCode === q.processCode &&
      i.createTime >= q.start! &&
      i.createTime <= end &&
      (q.userIds.length === 0 || q.userIds.includes(i.originatorUserId)) &&
      (q.statuses.length === 0 || q.statuses.includes(i.status)),
  );
  const list = all.slice(q.offset, q.offset + q.size).map((i) => i.processInstanceId);
  const next = q.offset + q.size < all.length ? q.offset + q.size : undefined;
  return { list, next };
}

function newView(_ctx: SandboxContext, i: ApprovalInstance) {
  return {
    title: i.title,
    status: i.status,
    result: i.result,
    businessId: i.businessId,
    originatorUserId: i.originatorUserId,
    originatorDeptId: String(i.originatorDeptId),
    originatorDeptName: '',
    createTime: utcMinute(i.createTime),
    ...(i.finishTime ? { finishTime: utcMinute(i.finishTime) } : {}),
    // The new-API page says approverUserIds comes only for API-created instances (§10.2, §16.14).
    ...(i.apiCreated ? { approverUserIds: [...new Set(i.nodes.flatMap((n) => n.userIds))] } : {}),
    ccUserIds: i.ccUserIds,
    bizAction: 'NONE',
    bizData: '',
    attachedProcessInstanceIds: [],
    mainProcessInstanceId: '',
    formComponentValues: i.formComponentValues.map((v) => ({ ...v, bizAlias: '' })),
    operationRecords: i.operationRecords.map((r) => ({
      userId: r.userId,
      date: utcMinute(r.date),
      type: r.type,
      result: r.result,
      ...(r.remark ? { remark: r.remark } : {}),
      showName: r.showName,
      ...(r.activityId ? { activityId: r.activityId } : {}),
      attachments: [],
      images: [],
      ccUserIds: [],
    })),
    tasks: i.tasks.map((t) => ({
      taskId: t.taskId,
      userId: t.userId,
      status: t.status,
      result: t.result,
      activityId: t.activityId,
      createTime: utcMinute(t.createTime),
      ...(t.finishTime ? { finishTime: utcMinute(t.finishTime) } : {}),
      pcUrl: `https://aflow.dingtalk.com/dingtalk/pc/query/pchomepage.htm?procInstId=${i.processInstanceId}&taskId=${t.taskId}`,
      mobileUrl: `https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInstId=${i.processInstanceId}&taskId=${t.taskId}`,
      processInstanceId: i.processInstanceId,
    })),
  };
}

function oldView(i: ApprovalInstance) {
  return {
    title: i.title,
    create_time: chinaDateTime(i.createTime),
    ...(i.finishTime ? { finish_time: chinaDateTime(i.finishTime) } : {}),
    originator_userid: i.originatorUserId,
    originator_dept_id: String(i.originatorDeptId),
    originator_dept_name: '',
    status: i.status,
    result: i.result,
    business_id: i.businessId,
    cc_userids: i.ccUserIds,
    // The old-API page says approver_userids comes only for instances started in the OA app (§16.14).
    ...(!i.apiCreated ? { approver_userids: [...new Set(i.nodes.flatMap((n) => n.userIds))] } : {}),
    biz_action: 'NONE',
    attached_process_instance_ids: [],
    main_process_instance_id: '',
    form_component_values: i.formComponentValues.map((v) => ({
      name: v.name,
      value: v.value,
      ext_value: v.extValue,
      id: v.id,
      component_type: v.componentType,
    })),
    operation_records: i.operationRecords.map((r) => ({
      userid: r.userId,
      date: chinaDateTime(r.date),
      operation_type: r.type,
      operation_result: r.result,
      ...(r.remark ? { remark: r.remark } : {}),
      attachments: [],
    })),
    tasks: i.tasks.map((t) => ({
      userid: t.userId,
      task_status: t.status,
      task_result: t.result,
      create_time: chinaDateTime(t.createTime),
      ...(t.finishTime ? { finish_time: chinaDateTime(t.finishTime) } : {}),
      taskid: String(t.taskId),
      activity_id: t.activityId,
      url: `https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?procInstId=${i.processInstanceId}&taskId=${t.taskId}`,
    })),
  };
}
