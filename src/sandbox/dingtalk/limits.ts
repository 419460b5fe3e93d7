/**
 * DingTalk's throttles (spec §13, §14, §15.6): 20 calls/s per app per API (90018 /
 * 403 QpsLimitForAppkeyAndApi), the global per-API limit (90002 / QpsLimitForApi), the
 * standard-edition monthly quota (90020 / ApiCountLimitForOrg), and the per-IP limit of 10000 calls
 * in 20 s that bans the IP for 5 minutes and answers with an HTML page (or the x5 JSON body) instead
 * of JSON. The per-app QPS and IP limits are enforced as documented; every limit can also be forced
 * on from the admin surface so tests need not make 10000 calls.
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { admin, bad, ok, type SandboxContext, type Surface } from './context.ts';
import { apiError, ipv4, isObject, num, oapiError, parseNewBody } from './http-util.ts';
import { hex } from './ids.ts';

export type ForcedLimit = 'qps' | 'globalQps' | 'quota' | 'busy' | 'gatewayTimeout';

export interface LimitsState {
  forced: ForcedLimit | null;
  enforceQps: boolean;
  qpsPerApi: number;
  qpsWindows: Map<string, { second: number; count: number }>;
  /** Standard edition: calls per month (null = unlimited, the default). */
  monthlyQuota: number | null;
  used: number;
  usedMonth: string;
  ipLimit: { calls: number; windowMs: number } | null;
  ipWindows: Map<string, { start: number; count: number }>;
  bans: Map<string, number>;
  banMs: number;
  banFormat: 'html' | 'json';
  banStatus: number;
  limited: number;
}

export function createLimits(ctx: SandboxContext): LimitsState {
  const state: LimitsState = defaults();
  ctx.quotaExhausted = () =>
    state.forced === 'quota' || (state.monthlyQuota !== null && state.used >= state.monthlyQuota);

  admin(ctx, 'GET', /^\/__sandbox\/limits$/, () => ok(describe(state)));
  admin(ctx, 'POST', /^\/__sandbox\/limits$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    if ('forced' in body) {
      const f = body.forced;
      if (f !== null && !['qps', 'globalQps', 'quota', 'busy', 'gatewayTimeout'].includes(String(f))) {
        return bad('forced: qps | globalQps | quota | busy | gatewayTimeout | null');
      }
      state.forced = (f as ForcedLimit | null) ?? null;
    }
    if (typeof body.enforceQps === 'boolean') state.enforceQps = body.enforceQps;
    const qps = num(body.qpsPerApi);
    if (qps !== undefined && qps > 0) state.qpsPerApi = qps;
    if ('monthlyQuota' in body) {
      const q = num(body.monthlyQuota);
      state.monthlyQuota = q === undefined ? null : q;
      if (typeof body.used === 'number') state.used = body.used;
    }
    if ('ipLimit' in body) {
      const l = body.ipLimit;
      state.ipLimit =
        isObject(l) && num(l.calls) && num(l.windowMs)
          ? { calls: num(l.calls)!, windowMs: num(l.windowMs)! }
          : null;
      state.ipWindows.clear();
    }
    const banMs = num(body.banMs);
    if (banMs !== undefined && banMs > 0) state.banMs = banMs;
    if (body.banFormat === 'html' || body.banFormat === 'json') state.banFormat = body.banFormat;
    const banStatus = num(body.banStatus);
    if (banStatus !== undefined) state.banStatus = banStatus;
    // Starts the 5-minute IP ban now for the caller's IP (or every IP with `ip: "*"`).
    if (body.ipBan === true)
      state.bans.set(typeof body.ip === 'string' ? body.ip : '*', Date.now() + state.banMs);
    if (body.ipBan === false) state.bans.clear();
    return ok(describe(state));
  });
  // Back to the documented defaults, with no ban, no forced limit and no quota.
  admin(ctx, 'DELETE', /^\/__sandbox\/limits$/, () => {
    Object.assign(state, defaults(), { limited: state.limited });
    return ok(describe(state));
  });
  return state;
}

function defaults(): LimitsState {
  return {
    forced: null,
    enforceQps: true,
    qpsPerApi: 20,
    qpsWindows: new Map(),
    monthlyQuota: null,
    used: 0,
    usedMonth: month(Date.now()),
    ipLimit: { calls: 10_000, windowMs: 20_000 },
    ipWindows: new Map(),
    bans: new Map(),
    banMs: 300_000,
    banFormat: 'html',
    banStatus: 200,
    limited: 0,
  };
}

function describe(s: LimitsState) {
  const now = Date.now();
  return {
    forced: s.forced,
    enforceQps: s.enforceQps,
    qpsPerApi: s.qpsPerApi,
    monthlyQuota: s.monthlyQuota,
    used: s.used,
    ipLimit: s.ipLimit,
    banMs: s.banMs,
    banFormat: s.banFormat,
    banStatus: s.banStatus,
    bans: Object.fromEntries([...s.bans].filter(([, until]) => until > now)),
    limited: s.limited,
  };
}

function month(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 7);
}

/** The page DingTalk's gateway serves a banned IP (spec §13 "IP limit": HTML, or the x5 JSON body). */
function banReply(s: LimitsState, until: number): SandboxReply {
  const waitMin = Math.max(1, Math.ceil((until - Date.now()) / 60_000));
  if (s.banFormat === 'json') {
    return {
      status: s.banStatus,
      body: { status: 1111, wait: waitMin, source: 'x5', punish: 'deny', uuid: hex(16) },
    };
  }
  return {
    status: s.banStatus,
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body:
      '<!DOCTYPE html><html><head><meta charset="utf-8"><title>访问被拒绝</title></head>' +
      `<body><h1>访问过于频繁</h1><p>您的IP调用频率超过限制，请${waitMin}分钟后再试。</p></body></html>`,
  };
}

/**
 * Runs before a partner route. Undefined lets the call through. `key` names the API for the
 * per-API QPS window; `metered` routes count against QPS and the monthly quota.
 */
export function gate(
  s: LimitsState,
  req: SandboxRequest,
  surface: Surface,
  key: string,
  metered: boolean,
): SandboxReply | undefined {
  const now = Date.now();
  const ip = ipv4(req.ip);
  const banned = Math.max(s.bans.get(ip) ?? 0, s.bans.get('*') ?? 0);
  if (banned > now) {
    s.limited += 1;
    return banReply(s, banned);
  }
  if (s.ipLimit) {
    const w = s.ipWindows.get(ip);
    if (!w || now - w.start >= s.ipLimit.windowMs) s.ipWindows.set(ip, { start: now, count: 1 });
    else if (++w.count > s.ipLimit.calls) {
      const until = now + s.banMs;
      s.bans.set(ip, until);
      s.limited += 1;
      return banReply(s, until);
    }
  }
  if (!metered) return undefined;
  const limited = (oapi: SandboxReply, api: SandboxReply) => {
    s.limited += 1;
    return surface === 'oapi' ? oapi : api;
  };
  switch (s.forced) {
    case 'qps':
      return limited(qpsApp(), qpsAppNew());
    case 'globalQps':
      return limited(
        oapiError(90002, '您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了'),
        apiError(403, 'Forbidden.AccessDenied.QpsLimitForApi', '调用该接口的总QPS已超过限制'),
      );
    case 'quota':
      return limited(quotaOld(), quotaNew());
    case 'busy':
      return limited(oapiError(-1, '系统繁忙'), apiError(429, 'systemBusy', '系统繁忙，请稍后再试'));
    case 'gatewayTimeout':
      return limited(
        oapiError(88, 'ding talk error[subcode=,submsg=]', { sub_code: '', sub_msg: '' }),
        apiError(504, 'GatewayTimeout', 'gateway timeout'),
      );
    default:
  }
  if (s.monthlyQuota !== null) {
    const m = month(now);
    if (m !== s.usedMonth) {
      s.usedMonth = m;
      s.used = 0;
    }
    if (s.used >= s.monthlyQuota) return limited(quotaOld(), quotaNew());
    s.used += 1;
  }
  if (s.enforceQps) {
    const second = Math.floor(now / 1000);
    const w = s.qpsWindows.get(key);
    if (!w || w.second !== second) s.qpsWindows.set(key, { second, count: 1 });
    else if (++w.count > s.qpsPerApi) return limited(qpsApp(), qpsAppNew());
  }
  return undefined;
}

const qpsApp = () => oapiError(90018, '当前应用调用该接口的频率已超过限制，请稍后再试');
const qpsAppNew = () =>
  apiError(403, 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', '当前应用调用该接口的QPS已超过限制');
const quotaOld = () => oapiError(90020, '当前企业本月的API调用量已超过限制');
const quotaNew = () =>
  apiError(403, 'Forbidden.AccessDenied.ApiCountLimitForOrg', '当前企业本月的API调用量已超过限制');
