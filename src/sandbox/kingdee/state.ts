/**
 * Everything one sandbox instance holds. Nothing lives at module level, so several sandboxes run side
 * by side in one process (tests start them on port 0).
 */
import { randomBytes } from 'node:crypto';
import { createClock, type SandboxClock } from './clock.ts';
import { KingdeeDb } from './db.ts';

export interface KingdeeUser {
  userId: number;
  /** The login name (K/3 logs in by user name, e.g. `administrator`, `杨帆`). */
  name: string;
  password: string;
  /** Listed under 允许调用WebAPI接口用户 (spec 3.1). */
  webApiAllowed: boolean;
  locked: boolean;
  failures: number;
  /** Forces a LoginResultType (spec 3.2), e.g. -3 "password must be changed"; set by the admin surface. */
  loginResultType?: number;
  /** A K/3 administrator; MsgCode 15 forbids its WebAPI use when `adminForbidden`. */
  isAdmin?: boolean;
}

/** A 第三方系统登录授权 registration (spec 3.3, 3.5). */
export interface KingdeeApp {
  appId: string;
  appSecret: string;
}

export interface Session {
  /** `KDSVCSessionId`, echoed as the `kdservice-sessionid` cookie/header. */
  kdsvcId: string;
  /** `Context.SessionId`, echoed as the `ASP.NET_SessionId` cookie. */
  aspId: string;
  userId: number;
  userName: string;
  orgId: number;
  lcid: number;
  createdMs: number;
  lastUsedMs: number;
  via: 'ValidateUser' | 'ValidateUserByOrgNumber' | 'LoginByAppSecret' | 'LoginBySign' | 'signature';
}

/** Partner-specific faults (the generic ones live in the shared server). All default to off. */
export interface PartnerFaults {
  /** The next N form calls answer "session lost" and drop their session. */
  sessionLossNext: number;
  /** The next N writes fail with MsgCode 13 (network-control conflict). */
  lockNext: number;
  /** The next `msgCodeNext` form calls fail with `msgCode` (e.g. 4 server exception, 6 database). */
  msgCodeNext: number;
  msgCode: number;
  /** The next N form calls answer a `response_error:` body (spec 5.3). */
  responseErrorNext: number;
  /** Every form call fails with MsgCode 14 until turned off. */
  callLimit: boolean;
  /** A rate budget: more than this many form calls in one second fail with MsgCode 14. 0 = off. */
  ratePerSecond: number;
}

export const NO_PARTNER_FAULTS: PartnerFaults = {
  sessionLossNext: 0,
  lockNext: 0,
  msgCodeNext: 0,
  msgCode: 4,
  responseErrorNext: 0,
  callLimit: false,
  ratePerSecond: 0,
};

export interface Stats {
  /** Successful logins of any kind, including sessions opened by signature headers. */
  logins: number;
  loginFailures: number;
  sessionLost: number;
  /** Calls per method name (`Save`, `ExecuteBillQuery`, …). */
  calls: Record<string, number>;
}

export interface KingdeeOptions {
  /** Idle time after which a session is lost. Undocumented (spec 3.4, 8); default 20 minutes. */
  sessionIdleMs: number;
  /** Highest `Limit` honoured by ExecuteBillQuery/BillQuery: 10000 (current docs) or 2000 (older). */
  queryLimitMax: number;
  /** When true (default) Audit needs a submitted bill (B); false lets Audit take A/D too (spec 9.6). */
  auditRequiresSubmit: boolean;
  /** Signature timestamps further than this from the server clock are refused. */
  signatureToleranceMs: number;
  /** Failed password logins in a row before the user is locked (~5, spec 3.2). */
  lockAfterFailures: number;
  /** Whether MsgCode 15 forbids administrator logins. */
  adminForbidden: boolean;
}

export interface Tenant {
  acctId: string;
  dataCenterName: string;
  dataCenterNumber: string;
  /** The seeded API user's name. */
  apiUser: string;
  users: KingdeeUser[];
  apps: KingdeeApp[];
}

/** A change to a record, for the optional push notifications (see notify.ts). */
export interface ChangeEvent {
  formId: string;
  operation: string;
  id: number;
  number: string;
  documentStatus: string;
  modifyDate: string | null;
  approveDate: string | null;
  /** `api` for WebAPI calls, `ui` for people acting through the admin surface. */
  via: 'api' | 'ui';
  userName: string;
  /** For `Pay`: the payment bill (AP_PAYBILL) that paid the document. */
  payBill?: { id: number; number: string };
}

export interface KingdeeState {
  clock: SandboxClock;
  db: KingdeeDb;
  tenant: Tenant;
  options: KingdeeOptions;
  sessions: Map<string, Session>;
  faults: PartnerFaults;
  stats: Stats;
  /** Network-control locks held by someone in the UI: `${formId lower}:${id}` → who holds it. */
  locks: Map<string, string>;
  /** Rate budget window. */
  rateWindow: { startMs: number; count: number };
  /** Async-mode tasks (spec 3.6). */
  tasks: Map<string, object>;
  /** Listeners told about every committed change. */
  onChange: Array<(e: ChangeEvent) => void>;
}

export interface TenantOverrides {
  acctId?: string;
  apiUser?: string;
  password?: string;
  appId?: string;
  appSecret?: string;
}

export function createState(
  options: Partial<KingdeeOptions> & { utcOffsetMinutes?: number } = {},
  overrides: TenantOverrides = {},
): KingdeeState {
  const apiUser = overrides.apiUser ?? 'qiao.api';
  // appId: a numeric client id, `_`, a 32-char base64 string; appSecret: 32 hex chars (spec 3.5).
  const appId =
    overrides.appId ?? `${240000 + randomBytes(2).readUInt16BE(0)}_${randomBytes(24).toString('base64')}`;
  const appSecret = overrides.appSecret ?? randomBytes(16).toString('hex');
  return {
    clock: createClock(options.utcOffsetMinutes ?? 480),
    db: new KingdeeDb(),
    tenant: {
      acctId: overrides.acctId ?? randomBytes(7).toString('hex'),
      dataCenterName: '青禾智能正式账套',
      dataCenterNumber: '001',
      apiUser,
      users: [],
      apps: [{ appId, appSecret }],
    },
    options: {
      sessionIdleMs: options.sessionIdleMs ?? 20 * 60_000,
      queryLimitMax: options.queryLimitMax ?? 10_000,
      auditRequiresSubmit: options.auditRequiresSubmit ?? true,
      signatureToleranceMs: options.signatureToleranceMs ?? 15 * 60_000,
      lockAfterFailures: options.lockAfterFailures ?? 5,
      adminForbidden: options.adminForbidden ?? true,
    },
    sessions: new Map(),
    faults: { ...NO_PARTNER_FAULTS },
    stats: { logins: 0, loginFailures: 0, sessionLost: 0, calls: {} },
    locks: new Map(),
    rateWindow: { startMs: 0, count: 0 },
    tasks: new Map(),
    onChange: [],
  };
}

export function emitChange(state: KingdeeState, e: ChangeEvent): void {
  for (const l of state.onChange) l(e);
}
