/**
 * Access tokens on both surfaces (spec §2): `GET /gettoken` (query only) and
 * `POST /v1.0/oauth2/accessToken` (JSON). One app-level token: asking again while it is valid returns
 * the same token and extends it (§2.1, §2.2); the token is accepted on both surfaces (§2.2 calls this
 * common practice but [uncertain], so the sandbox accepts it). Old APIs read only `?access_token`, new
 * APIs only the `x-acs-dingtalk-access-token` header (§2.3), each with its own invalid-token reply (§2.4).
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import { apiError, apiOk, isObject, num, oapiError, parseNewBody } from './http-util.ts';
import { hex } from './ids.ts';

export interface AuthState {
  tokens: Map<string, { expiresAt: number }>;
  current?: string;
  lifetimeMs: number;
  /** How the old API reports an unknown/expired token (spec §2.4, §16.4). */
  oldStyle: 'sub40014' | '40014' | '42001';
  /** HTTP status of the new API's InvalidAuthentication (400 documented; some clients assume 401). */
  newStatus: 400 | 401;
  issued: number;
}

export function createAuth(ctx: SandboxContext): AuthState {
  const state: AuthState = {
    tokens: new Map(),
    lifetimeMs: 7_200_000,
    oldStyle: 'sub40014',
    newStatus: 400,
    issued: 0,
  };

  const issue = (): { token: string; expiresIn: number } => {
    const now = Date.now();
    const cur = state.current ? state.tokens.get(state.current) : undefined;
    if (state.current && cur && cur.expiresAt > now) {
      cur.expiresAt = now + state.lifetimeMs;
      return { token: state.current, expiresIn: Math.round(state.lifetimeMs / 1000) };
    }
    const token = hex(16);
    state.tokens.set(token, { expiresAt: now + state.lifetimeMs });
    state.current = token;
    state.issued += 1;
    return { token, expiresIn: Math.round(state.lifetimeMs / 1000) };
  };

  route(
    ctx.routes.oapi,
    'GET',
    '/gettoken',
    (req) => {
      const appkey = req.query.get('appkey');
      const appsecret = req.query.get('appsecret');
      // Parameters must be in the query; a form body is ignored and answers 40035 (spec §2.1).
      if (!appkey || !appsecret) return oapiError(40035, '缺少参数 corpid or appkey');
      if (appkey !== ctx.app.appKey || appsecret !== ctx.app.appSecret) {
        return oapiError(40096, '不合法的appKey或appSecret');
      }
      const t = issue();
      return {
        status: 200,
        body: { errcode: 0, errmsg: 'ok', access_token: t.token, expires_in: t.expiresIn },
      };
    },
    { auth: false, metered: false },
  );

  route(
    ctx.routes.api,
    'POST',
    '/v1.0/oauth2/accessToken',
    (req) => {
      const body = parseNewBody(req);
      if (!body) return apiError(400, 'InvalidParameter', '请求体不是合法的JSON');
      if (typeof body.appKey !== 'string' || !body.appKey) {
        return apiError(400, 'MissingappKey', 'appKey is mandatory for this action.');
      }
      if (typeof body.appSecret !== 'string' || !body.appSecret) {
        return apiError(400, 'MissingappSecret', 'appSecret is mandatory for this action.');
      }
      if (body.appKey !== ctx.app.appKey || body.appSecret !== ctx.app.appSecret) {
        return apiError(400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
      }
      const t = issue();
      return apiOk({ accessToken: t.token, expireIn: t.expiresIn });
    },
    { auth: false, metered: false },
  );

  admin(ctx, 'GET', /^\/__sandbox\/tokens$/, () =>
    ok({
      current: state.current ?? null,
      issued: state.issued,
      lifetimeMs: state.lifetimeMs,
      oldStyle: state.oldStyle,
      newStatus: state.newStatus,
      valid: [...state.tokens].filter(([, t]) => t.expiresAt > Date.now()).map(([token]) => token),
    }),
  );
  // Revokes every token now: the next call with one gets the invalid-token reply of its surface.
  admin(ctx, 'POST', /^\/__sandbox\/tokens\/revoke$/, () => {
    const n = state.tokens.size;
    state.tokens.clear();
    state.current = undefined;
    return ok({ revoked: n });
  });
  admin(ctx, 'POST', /^\/__sandbox\/tokens\/config$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const lifetime = num(body.lifetimeMs);
    if (lifetime !== undefined && lifetime > 0) state.lifetimeMs = lifetime;
    if (body.oldStyle === 'sub40014' || body.oldStyle === '40014' || body.oldStyle === '42001') {
      state.oldStyle = body.oldStyle;
    }
    if (body.newStatus === 400 || body.newStatus === 401) state.newStatus = body.newStatus;
    return ok({ lifetimeMs: state.lifetimeMs, oldStyle: state.oldStyle, newStatus: state.newStatus });
  });

  return state;
}

function valid(state: AuthState, token: string): boolean {
  const t = state.tokens.get(token);
  return !!t && t.expiresAt > Date.now();
}

/** Old API token check (spec §2.3, §2.4, §15.5). Undefined when the token is good. */
export function checkOldToken(state: AuthState, req: SandboxRequest): SandboxReply | undefined {
  const token = req.query.get('access_token');
  if (!token) {
    return oapiError(88, 'ding talk error[subcode=40000,submsg=access_token is blank]', {
      sub_code: '40000',
      sub_msg: 'access_token is blank',
    });
  }
  if (valid(state, token)) return undefined;
  if (state.oldStyle === '40014') return oapiError(40014, '不合法的access_token');
  if (state.oldStyle === '42001') return oapiError(42001, 'access_token超时');
  return oapiError(88, 'ding talk error[subcode=40014,submsg=不合法的access_token]', {
    sub_code: '40014',
    sub_msg: '不合法的access_token',
  });
}

/** New API token check: only the header counts (spec §2.3). */
export function checkNewToken(state: AuthState, req: SandboxRequest): SandboxReply | undefined {
  const token = req.headers['x-acs-dingtalk-access-token'];
  if (typeof token !== 'string' || !token) {
    return apiError(400, 'AuthenticationFailed.MissingParameter', '缺少参数：x-acs-dingtalk-access-token');
  }
  if (valid(state, token)) return undefined;
  return apiError(state.newStatus, 'InvalidAuthentication', '不合法的access_token');
}
