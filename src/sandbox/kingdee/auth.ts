/**
 * Authentication (spec 3): the login services, session cookies and the per-request signature headers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SandboxRequest } from '../common/server.ts';
import { type DecodedBody, param } from './body.ts';
import { KdFailure, MsgCode, sessionLost } from './envelope.ts';
import { clientSecrets, encodePath, hmacB64, loginSign, safeEqual, stringToSign } from './signature.ts';
import type { KingdeeState, KingdeeUser, Session } from './state.ts';

export interface AuthReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: object;
}

/** LoginResultType values (spec 3.2). */
const LoginResult = {
  success: 1,
  pwError: 0,
  failure: -1,
  pwInvalidOptional: -2,
  pwInvalidRequired: -3,
  warning: -4,
  dealWithForm: -5,
} as const;

const RESULT_MESSAGES: Record<number, string> = {
  [-2]: '密码不符合密码策略，建议修改密码',
  [-3]: '密码已过期，必须修改密码后才能登录',
  [-4]: '登录警告',
  [-5]: '需要处理登录界面',
  [-6]: '云之家账号未绑定',
  [-7]: '需要激活',
};

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function lcidOf(v: unknown): number {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : 2052;
}

/**
 * Dispatches AuthService methods. Answers are always HTTP 200 JSON; failures carry LoginResultType
 * and a `Message` (spec 3.2).
 */
export function handleAuth(
  state: KingdeeState,
  method: string,
  body: DecodedBody,
  req: SandboxRequest,
): AuthReply {
  const m = method.toLowerCase();
  if (m === 'logout') {
    const s = sessionFromRequest(state, req);
    if (s) state.sessions.delete(s.kdsvcId);
    // Spec 3.3: the Logout body shape is not confirmed; one mock uses this.
    return { status: 200, headers: {}, body: { LogoutResultType: 1 } };
  }
  if (m === 'loginbysimplepassport') {
    return loginFailure(state, LoginResult.failure, '集成密钥文件无效或已过期');
  }
  const acctId = str(param(body, 0, 'acctID', 'acctid'));
  const userName = str(param(body, 1, 'username', 'userName'));
  if (acctId !== state.tenant.acctId) {
    return loginFailure(
      state,
      LoginResult.failure,
      `数据中心无法获取到，请检查数据中心ID（${acctId}）是否正确`,
    );
  }
  const user = state.tenant.users.find((u) => u.name === userName);
  let lcid = 2052;
  let orgNumber: string | undefined;
  if (m === 'validateuser' || m === 'validateuserbyorgnumber') {
    const password = str(param(body, 2, 'password'));
    lcid = lcidOf(param(body, 3, 'lcid'));
    if (m === 'validateuserbyorgnumber') orgNumber = str(param(body, 4, 'orgNumber', 'orgnum'));
    if (user?.locked) return loginFailure(state, LoginResult.failure, '该用户已被锁定，请联系系统管理员解锁');
    if (!user || user.password !== password) {
      if (user) {
        user.failures += 1;
        // Spec 3.2: repeated failures (~5) lock the account.
        if (user.failures >= state.options.lockAfterFailures) user.locked = true;
      }
      return loginFailure(state, LoginResult.pwError, '用户名或密码错误！');
    }
  } else if (m === 'loginbyappsecret') {
    const appId = str(param(body, 2, 'appId', 'appid'));
    const appSecret = str(param(body, 3, 'appSecret', 'appsecret', 'appSec'));
    lcid = lcidOf(param(body, 4, 'lcid'));
    const app = state.tenant.apps.find((a) => a.appId === appId);
    if (!user || !app || app.appSecret !== appSecret) {
      return loginFailure(state, LoginResult.failure, '第三方系统登录授权验证失败：应用ID或应用密钥错误');
    }
  } else if (m === 'loginbysign') {
    const appId = str(param(body, 2, 'appId', 'appid'));
    const timestamp = str(param(body, 3, 'timestamp'));
    const sign = str(param(body, 4, 'sign')).toLowerCase();
    lcid = lcidOf(param(body, 5, 'lcid'));
    const app = state.tenant.apps.find((a) => a.appId === appId);
    if (!user || !app)
      return loginFailure(state, LoginResult.failure, '第三方系统登录授权验证失败：应用ID错误');
    if (!withinTolerance(state, timestamp)) {
      return loginFailure(state, LoginResult.failure, '签名已过期，请检查时间戳');
    }
    // Spec 3.3: SHA-256 on current servers, SHA-1 before 8.0.0.202205; both accepted.
    const parts = [acctId, userName, appId, app.appSecret, timestamp];
    if (!safeEqual(sign, loginSign(parts, 'sha256')) && !safeEqual(sign, loginSign(parts, 'sha1'))) {
      return loginFailure(state, LoginResult.failure, '第三方系统登录授权验证失败：签名错误');
    }
  } else {
    return {
      status: 404,
      headers: { 'content-type': 'text/html' },
      body: { Message: `未找到服务${method}` },
    };
  }
  const gate = userGate(state, user!);
  if (gate) return loginFailure(state, gate.type, gate.message);
  let orgId = defaultOrgId(state);
  if (orgNumber) {
    const org = state.db.byNumber('ORG_Organizations', orgNumber);
    if (!org) return loginFailure(state, LoginResult.failure, `组织编码“${orgNumber}”不存在`);
    orgId = org.id;
  }
  const forced = user!.loginResultType;
  if (forced !== undefined && forced !== LoginResult.success && forced !== LoginResult.dealWithForm) {
    return loginFailure(state, forced, RESULT_MESSAGES[forced] ?? '登录失败');
  }
  const via = (
    {
      validateuser: 'ValidateUser',
      validateuserbyorgnumber: 'ValidateUserByOrgNumber',
      loginbyappsecret: 'LoginByAppSecret',
      loginbysign: 'LoginBySign',
    } as const
  )[m as 'validateuser'];
  const session = openSession(state, user!, orgId, lcid, via);
  return loginSuccess(state, session, forced ?? LoginResult.success);
}

/** Checks that apply to every way in: WebAPI whitelist, lock, administrator ban. */
function userGate(state: KingdeeState, user: KingdeeUser): { type: number; message: string } | undefined {
  if (user.locked) return { type: LoginResult.failure, message: '该用户已被锁定，请联系系统管理员解锁' };
  if (!user.webApiAllowed) {
    return {
      type: LoginResult.failure,
      message: `用户“${user.name}”未指定允许调用WebAPI接口，请联系系统管理员`,
    };
  }
  if (user.isAdmin && state.options.adminForbidden) {
    return { type: LoginResult.failure, message: '系统设置不允许管理员账号登录WebAPI' };
  }
  user.failures = 0;
  return undefined;
}

function defaultOrgId(state: KingdeeState): number {
  return state.db.byNumber('ORG_Organizations', '100')?.id ?? 0;
}

export function openSession(
  state: KingdeeState,
  user: KingdeeUser,
  orgId: number,
  lcid: number,
  via: Session['via'],
): Session {
  const now = state.clock.nowMs();
  const session: Session = {
    kdsvcId: randomUUID(),
    aspId: randomBytes(18)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x')
      .slice(0, 24),
    userId: user.userId,
    userName: user.name,
    orgId,
    lcid,
    createdMs: now,
    lastUsedMs: now,
    via,
  };
  state.sessions.set(session.kdsvcId, session);
  state.stats.logins += 1;
  return session;
}

/** Spec 3.1: both cookies come back on login; clients send them all back. */
export function sessionCookies(session: Session): string[] {
  return [
    `kdservice-sessionid=${session.kdsvcId}; path=/`,
    `ASP.NET_SessionId=${session.aspId}; path=/; HttpOnly`,
  ];
}

function loginSuccess(state: KingdeeState, session: Session, resultType: number): AuthReply {
  const org = state.db.get('ORG_Organizations', session.orgId);
  return {
    status: 200,
    headers: { 'set-cookie': sessionCookies(session) },
    body: {
      Message: null,
      // Spec 3.1: CheckPasswordPolicy appears on successful logins.
      MessageCode: 'CheckPasswordPolicy',
      LoginResultType: resultType,
      Context: {
        UserLocale: session.lcid === 1033 ? 'en-US' : session.lcid === 3076 ? 'zh-TW' : 'zh-CN',
        LogLocale: 'zh-CN',
        DBid: state.tenant.acctId,
        DatabaseType: 3,
        SessionId: session.aspId,
        UseLanguages: [{ LocaleId: 2052, LocaleName: '中文(简体)', Alias: 'CN', LicenseType: 0 }],
        UserId: session.userId,
        UserName: session.userName,
        CustomName: '杭州青禾智能装备有限公司',
        DisplayVersion: '9.0.553.10',
        DataCenterName: state.tenant.dataCenterName,
        UserToken: randomUUID(),
        CurrentOrganizationInfo: {
          ID: session.orgId,
          AcctOrgType: '1',
          Name: (org?.values.FName as string) ?? '',
          FunctionIds: [101, 102, 103, 104, 107, 108, 109, 110, 111, 112, 113, 114],
        },
        ClientType: 32,
        GDCID: '',
        Gsid: null,
        TRLevel: 1,
        ProductEdition: 0,
        DataCenterNumber: state.tenant.dataCenterNumber,
        ContextResultType: 0,
        TenantId: '',
        IsDeployAsPublicCloud: false,
      },
      KDSVCSessionId: session.kdsvcId,
      FormId: null,
      RedirectFormParam: null,
      FormInputObject: null,
      ErrorStackTrace: null,
      Lcid: 0,
      AccessToken: null,
      CustomParam: { FSystemTipsRule: '0' },
      KdAccessResult: null,
      IsSuccessByAPI: true,
    },
  };
}

function loginFailure(state: KingdeeState, resultType: number, message: string): AuthReply {
  state.stats.loginFailures += 1;
  return {
    status: 200,
    headers: {},
    body: {
      Message: message,
      MessageCode: null,
      LoginResultType: resultType,
      Context: null,
      KDSVCSessionId: null,
      FormId: null,
      RedirectFormParam: null,
      FormInputObject: null,
      ErrorStackTrace: null,
      Lcid: 0,
      AccessToken: null,
      CustomParam: null,
      KdAccessResult: null,
      IsSuccessByAPI: false,
    },
  };
}

function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    for (const part of h.split(';')) {
      const i = part.indexOf('=');
      if (i > 0) out.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).trim());
    }
  }
  return out;
}

/** The session id a request names, from cookies or the `kdservice-sessionid` / `SID` headers (spec 3.4). */
function namedSessionIds(req: SandboxRequest): string[] {
  const cookies = parseCookies(req.headers.cookie);
  const ids: string[] = [];
  for (const v of [
    cookies.get('kdservice-sessionid'),
    cookies.get('asp.net_sessionid'),
    req.headers['kdservice-sessionid'],
    req.headers.sid,
  ]) {
    if (typeof v === 'string' && v) ids.push(v);
  }
  return ids;
}

function sessionFromRequest(state: KingdeeState, req: SandboxRequest): Session | undefined {
  for (const id of namedSessionIds(req)) {
    const s = state.sessions.get(id) ?? [...state.sessions.values()].find((x) => x.aspId === id);
    if (s) return s;
  }
  return undefined;
}

export interface Authenticated {
  session: Session;
  /** Cookies to set (a session opened by signature headers). */
  setCookies?: string[];
}

/**
 * Authenticates a form-service call: by signature headers when `X-Kd-Appkey` is present (spec 3.5),
 * otherwise by session. Throws a KdFailure (session lost, bad signature).
 */
export function authenticate(state: KingdeeState, req: SandboxRequest): Authenticated {
  const now = state.clock.nowMs();
  const named = namedSessionIds(req);
  const existing = sessionFromRequest(state, req);
  if (existing && now - existing.lastUsedMs > state.options.sessionIdleMs) {
    state.sessions.delete(existing.kdsvcId);
  } else if (existing) {
    existing.lastUsedMs = now;
    if (req.headers['x-kd-appkey'] !== undefined) verifySignature(state, req);
    return { session: existing };
  }
  if (req.headers['x-kd-appkey'] === undefined || named.length > 0) {
    // No session, an expired one, or a signed request naming a session that is gone: spec 3.4, 3.5
    // (one signature-mode client reports "session lost" after its cookie went stale).
    state.stats.sessionLost += 1;
    throw sessionLost();
  }
  const { user, orgId, lcid } = verifySignature(state, req);
  const session = openSession(state, user, orgId, lcid, 'signature');
  return { session, setCookies: sessionCookies(session) };
}

function header(req: SandboxRequest, name: string): string {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
}

function withinTolerance(state: KingdeeState, timestamp: string): boolean {
  const n = Number(timestamp);
  if (!Number.isFinite(n) || n <= 0) return false;
  // Spec 3.5 step 4: Python signs with seconds, Java and .NET with milliseconds; accept both.
  const ms = n > 1e12 ? n : n * 1000;
  return Math.abs(state.clock.nowMs() - ms) <= state.options.signatureToleranceMs;
}

/** Verifies the headers of spec 3.5 against the received path; returns who is calling. */
function verifySignature(
  state: KingdeeState,
  req: SandboxRequest,
): { user: KingdeeUser; orgId: number; lcid: number } {
  const fail = (why: string) => new KdFailure(MsgCode.noPermission, `第三方系统登录授权验证失败：${why}`);
  const appId = header(req, 'X-Kd-Appkey');
  const app = state.tenant.apps.find((a) => a.appId === appId);
  if (!app) throw fail('应用ID不存在');
  const appData = Buffer.from(header(req, 'X-Kd-Appdata'), 'base64').toString('utf8');
  if (!safeEqual(header(req, 'X-Kd-Signature'), hmacB64(appId + appData, app.appSecret))) {
    throw fail('X-Kd-Signature 签名错误');
  }
  const underscore = appId.indexOf('_');
  if (underscore > 0) {
    const clientId = appId.slice(0, underscore);
    const encoded = appId.slice(underscore + 1);
    const timestamp = header(req, 'x-api-timestamp');
    const nonce = header(req, 'x-api-nonce');
    if (header(req, 'X-Api-ClientID') !== clientId) throw fail('X-Api-ClientID 与应用ID不符');
    if (!withinTolerance(state, timestamp)) throw fail('时间戳已过期');
    // Spec 9.3: verify X-Api-Signature when the appId's encoded part is 32 chars; .NET signs the
    // path and query string, the others the path only — both accepted.
    if (encoded.length === 32) {
      const given = header(req, 'X-Api-Signature');
      const rawPath = req.path;
      const query = req.query.toString();
      const paths = [rawPath, ...(query ? [`${rawPath}?${query}`] : [])];
      const ok = clientSecrets(encoded).some((sec) =>
        paths.some((p) => safeEqual(given, hmacB64(stringToSign(encodePath(p), nonce, timestamp), sec))),
      );
      if (!ok) throw fail('X-Api-Signature 签名错误');
    }
  }
  const [acctId, userName, lcidText, orgNum] = appData.split(',');
  if (acctId !== state.tenant.acctId) throw fail(`数据中心无法获取到（${acctId}）`);
  const user = state.tenant.users.find((u) => u.name === userName);
  if (!user) throw fail(`用户“${userName}”不存在`);
  const gate = userGate(state, user);
  if (gate) throw new KdFailure(MsgCode.noPermission, gate.message);
  let orgId = defaultOrgId(state);
  if (orgNum && orgNum !== '0') {
    const org =
      state.db.byNumber('ORG_Organizations', orgNum) ?? state.db.get('ORG_Organizations', Number(orgNum));
    if (org) orgId = org.id;
  }
  return { user, orgId, lcid: lcidOf(lcidText) };
}
