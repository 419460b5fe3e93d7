/**
 * OAuth2 (spec 2, 10.2–10.3): the legacy token endpoint on the API host (`/oauth2/token`,
 * `/oauth2/token.action`) and the unified login endpoint (`/auc/oauth2/token`, `/auc/oauth2/authorize`),
 * each taking its parameters from a GET query, a POST query with an empty body or a POST form body;
 * password (= user password + security token), authorization-code and refresh-token grants; token
 * checks on data calls with and without `Bearer`.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import type { Actor } from './records.ts';
import { now, type Tenant, type TokenInfo } from './state.ts';

/** A token in the captured format `<64 hex>.<base64(tenant id)>0` (spec 2.4). */
function mintToken(t: Tenant): string {
  return `${randomBytes(32).toString('hex')}.${Buffer.from(t.tenantId).toString('base64')}0`;
}

function oauthErrorReply(error: string, description: string, status = 400): SandboxReply {
  // Failure body as one client expects it (spec 2.4); the real HTTP status is not captured.
  return { status, body: { error, error_description: description } };
}

function params(req: SandboxRequest): URLSearchParams {
  const p = new URLSearchParams(req.query);
  const text = req.rawBody.toString('utf8');
  if (text.trim()) for (const [k, v] of new URLSearchParams(text)) p.set(k, v);
  return p;
}

/** The passport id of a user (the unified endpoint's `passport_id`): a separate 16-digit number. */
function passportId(userId: string): string {
  return (BigInt(userId) - 4_720_299_254_740_000n).toString();
}

function issue(t: Tenant, userId: string, clientId: string, withRefresh: boolean) {
  const at = now(t);
  const token = mintToken(t);
  const info: TokenInfo = { userId, clientId, issuedAt: at, expiresAt: at + t.config.tokenTtlSeconds * 1000 };
  t.tokens.set(token, info);
  t.stats.tokenIssued += 1;
  let refresh: string | undefined;
  if (withRefresh) {
    refresh = randomBytes(24).toString('hex');
    t.refreshTokens.set(refresh, { userId, clientId });
  }
  return { token, info, refresh };
}

/** Both token endpoints. `unified` selects the `/auc/oauth2/token` response shape. */
export function tokenEndpoint(t: Tenant, req: SandboxRequest, unified: boolean): SandboxReply {
  t.stats.tokenRequests += 1;
  const oauthError = (error: string, description: string, status = 400) =>
    oauthErrorReply(error, description, t.config.tokenFailureStatus ?? status);
  if (req.method !== 'GET' && req.method !== 'POST')
    return oauthError('invalid_request', '不支持的请求方法', 405);
  const p = params(req);
  const grant = p.get('grant_type') ?? '';
  const clientId = p.get('client_id') ?? '';
  if (!['password', 'authorization_code', 'refresh_token'].includes(grant)) {
    return oauthError('unsupported_grant_type', `不支持的授权类型: ${grant || '(空)'}`);
  }
  if (clientId !== t.app.clientId || p.get('client_secret') !== t.app.clientSecret) {
    return oauthError('invalid_client', 'client_id 或 client_secret 错误', 401);
  }
  const redirect = p.get('redirect_uri') ?? '';
  if (grant !== 'refresh_token' && t.config.checkRedirectUri && redirect !== t.app.redirectUri) {
    return oauthError('invalid_grant', 'redirect_uri 与连接应用中注册的回调地址不一致');
  }
  let userId: string;
  let withRefresh = false;
  if (grant === 'password') {
    const login = t.logins.get(p.get('username') ?? '');
    const password = p.get('password') ?? '';
    // The password is the user's password immediately followed by the security token (spec 2.1).
    const good =
      login &&
      (password === login.password + login.securityToken ||
        (!t.config.requireSecurityToken && password === login.password));
    if (!login || !good) return oauthError('invalid_grant', '用户名或密码错误（密码需拼接安全令牌）');
    userId = login.userId;
  } else if (grant === 'authorization_code') {
    const code = t.authCodes.get(p.get('code') ?? '');
    t.authCodes.delete(p.get('code') ?? '');
    if (!code || code.expiresAt <= now(t) || code.clientId !== clientId || code.redirectUri !== redirect) {
      return oauthError('invalid_grant', '授权码无效或已过期');
    }
    userId = code.userId;
    withRefresh = true;
  } else {
    const r = t.refreshTokens.get(p.get('refresh_token') ?? '');
    if (!r || r.clientId !== clientId) return oauthError('invalid_grant', 'refresh_token 无效或已过期');
    userId = r.userId;
    withRefresh = true;
  }
  const { token, info, refresh } = issue(t, userId, clientId, withRefresh);
  const refreshPart = refresh ? { refresh_token: refresh } : {};
  if (!unified) {
    // Legacy shape (spec 2.2): `issued_at` is the issue time in ms, no `expires_in`.
    return {
      status: 200,
      body: {
        id: userId,
        access_token: token,
        issued_at: info.issuedAt,
        token_type: 'Bearer',
        ...refreshPart,
      },
    };
  }
  return {
    status: 200,
    body: {
      access_token: token,
      token_type: 'Bearer',
      expires_in: t.config.tokenTtlSeconds,
      scope: 'all',
      tenant_id: t.tenantId,
      login_type: '',
      encryption_key: '',
      client_id: clientId,
      passport_id: passportId(userId),
      mobile_params: '',
      // A bare host name, no scheme (spec 1.1).
      instance_uri: t.host,
      ...refreshPart,
    },
  };
}

/**
 * `GET /auc/oauth2/authorize` (spec 2.4): the sandbox stands in for the browser login, signing in the
 * user named by `username` (default: the integration user) and redirecting with a one-time code.
 */
export function authorizeEndpoint(t: Tenant, req: SandboxRequest, defaultUser: string): SandboxReply {
  const oauthError = oauthErrorReply;
  const p = req.query;
  if (p.get('response_type') !== 'code')
    return oauthError('unsupported_response_type', 'response_type 必须为 code');
  if (p.get('client_id') !== t.app.clientId) return oauthError('invalid_client', 'client_id 错误', 401);
  const redirect = p.get('redirect_uri') ?? '';
  if (t.config.checkRedirectUri && redirect !== t.app.redirectUri) {
    return oauthError('invalid_request', 'redirect_uri 与连接应用中注册的回调地址不一致');
  }
  const login = t.logins.get(p.get('username') ?? defaultUser);
  if (!login) return oauthError('access_denied', '用户不存在');
  const code = randomBytes(16).toString('hex');
  t.authCodes.set(code, {
    userId: login.userId,
    clientId: t.app.clientId,
    redirectUri: redirect,
    expiresAt: now(t) + 5 * 60_000,
  });
  const url = new URL(redirect);
  url.searchParams.set('code', code);
  if (p.get('state')) url.searchParams.set('state', p.get('state')!);
  return { status: 302, headers: { location: url.toString() }, body: '' };
}

/** The answer to a call without a valid token, in the configured form (spec 2.7, 10.3). */
export function tokenFailure(t: Tenant, legacy = false): SandboxReply {
  t.stats.authFailures += 1;
  if (legacy || t.config.tokenErrorMode === 'errorCode') {
    return { status: 200, body: { error_code: 20000002, message: 'invalid access token' } };
  }
  return {
    status: 401,
    body: {
      code: '401',
      msg: 'access token 无效或已过期，请重新获取',
      errorInfo: null,
      debugInfo: null,
      data: null,
    },
  };
}

/** The caller of a data call, or undefined when the token is missing, unknown or expired. */
export function authenticate(t: Tenant, req: SandboxRequest): Actor | undefined {
  const header = String(req.headers.authorization ?? '').trim();
  // `Bearer <token>` and the bare token both work (spec 2.5).
  const token = header.replace(/^Bearer\s+/i, '');
  if (!token) return undefined;
  const info = t.tokens.get(token);
  if (!info) return undefined;
  if (info.expiresAt <= now(t)) {
    t.tokens.delete(token);
    return undefined;
  }
  return { userId: info.userId, adminCriteria: String(req.headers['xsy-criteria'] ?? '') === '10' };
}

/** Revokes every access token (and, when asked, refresh tokens): "revoke all tokens" of spec 10.3. */
export function revokeTokens(t: Tenant, options: { userId?: string; refreshTokens?: boolean } = {}): number {
  let n = 0;
  for (const [k, v] of t.tokens) {
    if (!options.userId || v.userId === options.userId) {
      t.tokens.delete(k);
      n++;
    }
  }
  if (options.refreshTokens) {
    for (const [k, v] of t.refreshTokens)
      if (!options.userId || v.userId === options.userId) t.refreshTokens.delete(k);
  }
  return n;
}
