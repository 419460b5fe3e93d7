/**
 * Routing of the WebAPI (spec 1.1, 9.1): `POST {base}/<Namespace>.<Service>.<Method>.common.kdsvc`
 * under `/k3cloud/` (either spelling, case-insensitive), method names case-insensitive. Business
 * outcomes are always HTTP 200 JSON; unknown services answer HTTP 404.
 */
import { randomUUID } from 'node:crypto';
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { authenticate, handleAuth } from './auth.ts';
import { BodyError, type DecodedBody, dataObject, decodeBody, param, pick } from './body.ts';
import {
  failureBody,
  KdFailure,
  MsgCode,
  okStatus,
  operationEnvelope,
  responseErrorBody,
  sessionLost,
} from './envelope.ts';
import {
  handleAllocate,
  handleExcuteOperation,
  handleStatusOp,
  handleWorkflowAudit,
  type StatusOp,
} from './operations.ts';
import { handlePush } from './push.ts';
import { billQuery, executeBillQuery } from './query.ts';
import { type Actor, handleSave } from './save.ts';
import type { KingdeeState } from './state.ts';
import { handleView } from './view.ts';

const PATH = /^\/k3cloud\/(.+)\.common\.kdsvc$/i;
const AUTH = 'kingdee.bos.webapi.servicesstub.authservice.';
const FORMS = 'kingdee.bos.webapi.servicesstub.dynamicformservice.';
const DATACENTERS = 'kingdee.bos.servicefacade.servicesstub.account.accountservice.getdatacenterlist';

/** Canonical spelling of every DynamicFormService method (spec 1.1), by lower-case name. */
const METHODS = new Map(
  [
    'Save',
    'BatchSave',
    'Draft',
    'Submit',
    'Audit',
    'UnAudit',
    'Delete',
    'View',
    'ExecuteBillQuery',
    'BillQuery',
    'QueryBusinessInfo',
    'Allocate',
    'CancelAllocate',
    'Push',
    'ExcuteOperation',
    'CancelAssign',
    'WorkflowAudit',
    'SwitchOrg',
    'GroupSave',
    'QueryGroupInfo',
    'GroupDelete',
    'FlexSave',
    'SendMsg',
    'Disassembly',
    'GetSysReportData',
    'AttachmentUpload',
    'AttachmentDownLoad',
    'QueryAsyncResult',
  ].map((m) => [m.toLowerCase(), m]),
);

const html = (status: number, text: string): SandboxReply => ({
  status,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: `<html><head><title>${status}</title></head><body><h2>${text}</h2></body></html>`,
});

export function isServicePath(path: string): boolean {
  return PATH.test(path);
}

export function handleService(state: KingdeeState, req: SandboxRequest): SandboxReply {
  const m = PATH.exec(req.path);
  if (!m) return html(404, '404 - 找不到文件或目录。');
  const service = m[1];
  const lower = service.toLowerCase();
  if (lower === DATACENTERS) return { status: 200, body: dataCenters(state) };
  if (req.method !== 'POST') return html(405, '405 - 不允许用于访问此页的 HTTP 谓词。');
  if (service.includes(',')) {
    // Customer-developed services (spec 1.1) are out of scope.
    return { status: 200, body: responseErrorBody(`未找到服务：${service}`) };
  }
  let body: DecodedBody;
  try {
    body = decodeBody(req.rawBody);
  } catch (err) {
    if (err instanceof BodyError) return { status: 200, body: responseErrorBody(err.message) };
    throw err;
  }
  if (lower.startsWith(AUTH)) {
    return handleAuth(state, service.slice(AUTH.length), body, req);
  }
  if (!lower.startsWith(FORMS)) return html(404, '404 - 找不到文件或目录。');
  const method = METHODS.get(lower.slice(FORMS.length));
  if (!method) return { status: 200, body: responseErrorBody(`未找到方法：${service.slice(FORMS.length)}`) };
  state.stats.calls[method] = (state.stats.calls[method] ?? 0) + 1;
  const asyncMode =
    typeof body.beginMethod === 'string' ||
    typeof req.headers.beginmethod === 'string' ||
    method === 'QueryAsyncResult';
  let setCookies: string[] | undefined;
  let answer: unknown;
  try {
    const f = state.faults;
    if (f.responseErrorNext > 0) {
      f.responseErrorNext -= 1;
      return {
        status: 200,
        body: responseErrorBody('服务器内部错误：System.Data.SqlClient.SqlException 执行超时已过期。'),
      };
    }
    const auth = authenticate(state, req);
    setCookies = auth.setCookies;
    if (f.sessionLossNext > 0) {
      f.sessionLossNext -= 1;
      state.sessions.delete(auth.session.kdsvcId);
      state.stats.sessionLost += 1;
      throw sessionLost();
    }
    checkCallLimit(state);
    if (f.msgCodeNext > 0) {
      f.msgCodeNext -= 1;
      throw new KdFailure(f.msgCode, injectedMessage(f.msgCode));
    }
    const actor: Actor = {
      userId: auth.session.userId,
      userName: auth.session.userName,
      orgId: auth.session.orgId,
      via: 'api',
    };
    answer = dispatch(state, actor, method, body, auth.session);
  } catch (err) {
    if (err instanceof BodyError) answer = failureBody(method, new KdFailure(MsgCode.parameter, err.message));
    else if (err instanceof KdFailure) answer = failureBody(method, err);
    else throw err;
  }
  if (asyncMode && method !== 'QueryAsyncResult') {
    // Spec 3.6: the sandbox completes async calls at once (Status 2) and keeps them for QueryAsyncResult.
    const task = {
      TaskId: randomUUID().replace(/-/g, ''),
      Status: 2,
      Result: answer,
      Cancelled: false,
      IsFaulted: false,
      Successful: true,
      Message: null,
      Progress: 100,
      ProgressDesc: '',
    };
    state.tasks.set(task.TaskId, task);
    answer = task;
  }
  return {
    status: 200,
    headers: setCookies ? { 'set-cookie': setCookies } : {},
    body: answer as object,
  };
}

function injectedMessage(code: number): string {
  switch (code) {
    case MsgCode.exception:
      return '服务器发生异常：未将对象引用设置到对象的实例。';
    case MsgCode.databaseFailed:
      return '数据库操作失败：事务（进程 ID 58）与另一个进程被死锁在锁资源上，并且已被选作死锁牺牲品。';
    case MsgCode.networkControl:
      return '网控冲突：数据正在被其他用户操作，请稍后再试。';
    case MsgCode.callLimit:
      return '接口调用次数超过限制，请稍后再试。';
    case MsgCode.noPermission:
      return '没有该操作的权限。';
    case MsgCode.licence:
      return '许可检查未通过：站点许可已过期。';
    default:
      return `错误（MsgCode ${code}）`;
  }
}

/** MsgCode 14 (调用限制): forced, or over the configured per-second budget. */
function checkCallLimit(state: KingdeeState): void {
  const f = state.faults;
  let over = f.callLimit;
  if (!over && f.ratePerSecond > 0) {
    const now = Date.now();
    const w = state.rateWindow;
    if (now - w.startMs >= 1000) {
      w.startMs = now;
      w.count = 0;
    }
    w.count += 1;
    over = w.count > f.ratePerSecond;
  }
  if (over) throw new KdFailure(MsgCode.callLimit, injectedMessage(MsgCode.callLimit));
}

function formTable(state: KingdeeState, formId: unknown) {
  const id = typeof formId === 'string' ? formId.trim() : '';
  if (!id) throw new KdFailure(MsgCode.formEmpty, '表单标识FormId不能为空');
  const t = state.db.table(id);
  // Spec 5.3: an unknown FormId yields a failure whose message contains 业务对象不存在.
  if (!t) throw new KdFailure(MsgCode.exception, `业务对象不存在，表单标识：${id}`);
  return t;
}

function dispatch(
  state: KingdeeState,
  actor: Actor,
  method: string,
  body: DecodedBody,
  session: { orgId: number },
): unknown {
  // Positional order per method (spec 2.1): formId, data — or formId, opNumber, data — or data.
  const formAndData = () => ({
    t: formTable(state, param(body, 0, 'formid')),
    data: dataObject(param(body, 1, 'data')),
  });
  switch (method) {
    case 'Save':
    case 'Draft':
    case 'BatchSave': {
      const { t, data } = formAndData();
      return handleSave(state, actor, t, method, data);
    }
    case 'Submit':
    case 'Audit':
    case 'UnAudit':
    case 'Delete':
    case 'CancelAssign': {
      const { t, data } = formAndData();
      return handleStatusOp(state, actor, t, method as StatusOp, data);
    }
    case 'View': {
      const { t, data } = formAndData();
      return handleView(state, t, data);
    }
    case 'Push': {
      const { t, data } = formAndData();
      return handlePush(state, actor, t, data);
    }
    case 'Allocate':
    case 'CancelAllocate': {
      const { t, data } = formAndData();
      return handleAllocate(state, t, data, method === 'CancelAllocate');
    }
    case 'ExcuteOperation': {
      const t = formTable(state, param(body, 0, 'formid'));
      const op = String(param(body, 1, 'opNumber', 'opnumber') ?? '');
      if (!op) throw new KdFailure(MsgCode.operationEmpty, '操作代码opNumber不能为空');
      return handleExcuteOperation(state, actor, t, op, dataObject(param(body, 2, 'data')));
    }
    case 'ExecuteBillQuery':
      return executeBillQuery(state, dataObject(param(body, 0, 'data')));
    case 'BillQuery':
      return billQuery(state, dataObject(param(body, 0, 'data')));
    case 'QueryBusinessInfo':
      return businessInfo(state, dataObject(param(body, 0, 'data')));
    case 'WorkflowAudit':
      return handleWorkflowAudit(state, actor, dataObject(param(body, 0, 'data')));
    case 'SwitchOrg': {
      const number = String(pick(dataObject(param(body, 0, 'data')), 'OrgNumber') ?? '');
      const org = state.db.byNumber('ORG_Organizations', number);
      if (!org) throw new KdFailure(MsgCode.notFound, `组织编码“${number}”不存在`);
      session.orgId = org.id;
      return operationEnvelope(okStatus([{ Id: org.id, Number: number, DIndex: 0 }]));
    }
    case 'QueryAsyncResult': {
      const info = dataObject(param(body, 0, 'queryInfo'));
      const id = String(pick(info, 'TaskId') ?? '');
      const task = state.tasks.get(id);
      if (!task) throw new KdFailure(MsgCode.notFound, `任务“${id}”不存在`);
      return task;
    }
    default:
      throw new KdFailure(MsgCode.notAllowed, `沙箱未模拟接口 ${method}`);
  }
}

/** GetDataCenterList (spec 4.10): no auth, the configured data centres. */
function dataCenters(state: KingdeeState): object {
  return [
    {
      Id: state.tenant.acctId,
      Number: state.tenant.dataCenterNumber,
      Name: state.tenant.dataCenterName,
      Version: '9.0.553.10',
      GDCID: '',
      AuthenticationMethods: [
        { AuthenticationMethodType: 1, Name: '密码认证' },
        { AuthenticationMethodType: 0, Name: '域认证' },
      ],
    },
  ];
}

/** QueryBusinessInfo (spec 4.5): a minimal metadata document (exact schema not captured). */
function businessInfo(state: KingdeeState, data: Record<string, unknown>): object {
  const t = formTable(state, pick(data, 'FormId'));
  const field = (f: {
    key: string;
    label: string;
    kind: string;
    required?: boolean;
    ref?: string;
    options?: readonly string[];
  }) => ({
    Key: f.key,
    Name: [{ Key: 2052, Value: f.label }],
    MustInput: f.required ? 1 : 0,
    IsViewVisible: true,
    ElementType: f.kind,
    LookUpObjectFormId: f.kind === 'ref' || f.kind === 'assistant' ? f.ref : undefined,
    Extends: f.options?.map((v) => ({ Value: v, Caption: v })),
  });
  return operationEnvelope(okStatus(), {
    NeedReturnData: {
      Id: t.form.formId,
      Name: [{ Key: 2052, Value: t.form.name }],
      PkFieldName: t.form.pk,
      BillNoFieldName: t.form.numberKey,
      Entrys: [
        { Key: 'FBillHead', EntityType: 'Head', Fields: t.form.fields.map(field) },
        ...t.form.subHeaders.map((s) => ({ Key: s.key, EntityType: 'SubHead', Fields: s.fields.map(field) })),
        ...t.form.entries.map((e) => ({ Key: e.key, EntityType: 'Entry', Fields: e.fields.map(field) })),
      ],
    },
  });
}
