/**
 * The Neocrm HTTP client: OAuth with a cached token, single-flight login, proactive refresh and one
 * re-login-and-replay on an expired or revoked token (spec 2.6, 2.7); the partner's error table (spec 3,
 * 8) mapping HTTP status and body codes to Qiao's error classes; exact 64-bit ids (spec 1.2).
 *
 * It never sleeps or retries on its own apart from that one re-login: transient and rate-limited
 * failures are thrown, classified, for the engine to retry with backoff.
 */
import {
  AuthExpiredError,
  type PartnerDetail,
  PermanentError,
  type QiaoError,
  RateLimitedError,
  scrubSecrets,
  TransientError,
} from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { parseNeocrmJson, stringifyNeocrm } from './json.ts';
import { defaultLoginUrl, type NeocrmSettings } from './settings.ts';

export interface NeocrmRequest {
  /** Names the partner operation in errors and logs, e.g. `create account`, `query`. */
  operation: string;
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string>;
  /** A JSON body; `idFields` go out as exact integers. */
  json?: unknown;
  idFields?: ReadonlySet<string>;
  /** A form body (token, XOQL, scroll: spec 1.2). */
  form?: Record<string, string>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A parsed answer: status, headers and the body (ids as strings). */
export interface NeocrmResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

interface TokenState {
  value: string;
  /** Local time after which the token is refreshed before use. */
  refreshAt: number;
  refreshToken?: string;
  userId?: string;
  tenantId?: string;
}

export interface NeocrmClientOptions {
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
  /** Local clock for token expiry, ms. */
  now?: () => number;
}

/** The partner's success codes: `"200"`/`200`, and `"0"`/`0` on the metadata list (spec 3.1). */
export function isSuccessCode(code: unknown): boolean {
  const c = String(code);
  return c === '200' || c === '0';
}

/** Whether an answer says "not logged in / token invalid" (spec 2.7): HTTP 401/403, or error_code 20000002. */
export function isAuthFailure(status: number, body: any): boolean {
  if (status === 401 || status === 403) return true;
  if (body && typeof body === 'object') {
    if (Number(body.error_code) === 20000002) return true;
    if (status < 300 && String(body.code) === '401') return true;
  }
  return false;
}

/** `Retry-After` in seconds or as an HTTP date, in ms. */
function retryAfterMs(headers: Headers): number | undefined {
  const v = headers.get('retry-after');
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return Math.max(1, secs) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(1000, at - Date.now()) : undefined;
}

export class NeocrmClient {
  readonly settings: NeocrmSettings;
  private readonly log: Logger;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private token: TokenState | undefined;
  private login: Promise<TokenState> | undefined;
  /** The data host: `baseUrl`, or the pod named by `instance_uri` (spec 1.1). */
  private apiBase: string;
  /** Number of token requests made (for tests and metrics). */
  tokenRequests = 0;

  constructor(settings: NeocrmSettings, log: Logger, options: NeocrmClientOptions = {}) {
    this.settings = settings;
    this.log = log;
    this.fetchImpl = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    this.apiBase = settings.baseUrl;
  }

  /** Every secret this client knows, for scrubbing. */
  secrets(): string[] {
    const s = this.settings;
    return [
      s.clientSecret,
      s.password,
      s.securityToken,
      s.password + s.securityToken,
      this.token?.value,
      this.token?.refreshToken,
    ].filter((x): x is string => !!x);
  }

  /** The authenticated user's id and tenant, once logged in. */
  identity(): { userId?: string; tenantId?: string; apiBase: string } {
    return { userId: this.token?.userId, tenantId: this.token?.tenantId, apiBase: this.apiBase };
  }

  /** Forgets the cached token (the next call logs in again). */
  resetToken(): void {
    this.token = undefined;
  }

  /**
   * A valid token: the cached one until its proactive refresh time, else one login shared by every
   * caller waiting at that moment (single flight).
   */
  async accessToken(signal?: AbortSignal): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    return (await this.relogin(this.token?.value, signal)).value;
  }

  /** Logs in again unless someone already replaced `stale` meanwhile; concurrent callers share one login. */
  private relogin(stale: string | undefined, signal?: AbortSignal): Promise<TokenState> {
    if (this.token && this.token.value !== stale && this.now() < this.token.refreshAt)
      return Promise.resolve(this.token);
    if (!this.login) {
      const previous = this.token;
      this.login = this.fetchToken(previous, signal)
        .then((t) => {
          this.token = t;
          return t;
        })
        .finally(() => {
          this.login = undefined;
        });
    }
    return this.login;
  }

  private async fetchToken(previous: TokenState | undefined, signal?: AbortSignal): Promise<TokenState> {
    const s = this.settings;
    if (previous?.refreshToken) {
      try {
        return await this.tokenCall(
          { grant_type: 'refresh_token', refresh_token: previous.refreshToken },
          signal,
        );
      } catch (err) {
        // A refused refresh token falls back to the password grant (spec 2.4: refresh tokens are optional).
        this.log.debug('neocrm refresh grant failed, using the password grant', {
          error: (err as Error).message,
        });
      }
    }
    return this.tokenCall(
      {
        grant_type: 'password',
        username: s.username,
        // The password immediately followed by the security token (spec 2.1).
        password: s.password + s.securityToken,
        redirect_uri: s.redirectUri,
      },
      signal,
    );
  }

  private async tokenCall(grant: Record<string, string>, signal?: AbortSignal): Promise<TokenState> {
    const s = this.settings;
    const unified = s.authEndpoint === 'unified';
    const url = unified
      ? `${s.loginUrl ?? defaultLoginUrl(s.baseUrl)}/auc/oauth2/token`
      : `${s.baseUrl}/oauth2/token.action`;
    const form: Record<string, string> = { ...grant, client_id: s.clientId, client_secret: s.clientSecret };
    if (grant.grant_type === 'refresh_token') form.redirect_uri = s.redirectUri;
    this.tokenRequests += 1;
    const res = await this.send('token', url, { method: 'POST', form }, signal);
    const b = res.body;
    if (res.status === 200 && b && typeof b.access_token === 'string' && b.access_token) {
      // Refresh at min(expires_in, 3600) − 60 s after issue; 1 h when no expires_in (spec 2.6). Local
      // receipt time, not `issued_at`, so a skewed server clock cannot make a token look fresh.
      const ttl = Math.min(Number(b.expires_in) > 0 ? Number(b.expires_in) : 3600, 3600);
      if (unified && s.followInstanceUri && typeof b.instance_uri === 'string' && b.instance_uri) {
        const scheme = new URL(s.baseUrl).protocol;
        this.apiBase = `${scheme}//${b.instance_uri.replace(/^https?:\/\//, '').replace(/\/+$/, '')}`;
      }
      return {
        value: b.access_token,
        refreshAt: this.now() + Math.max(ttl - 60, 30) * 1000,
        refreshToken: typeof b.refresh_token === 'string' && b.refresh_token ? b.refresh_token : undefined,
        userId: b.id !== undefined ? String(b.id) : undefined,
        tenantId: b.tenant_id !== undefined ? String(b.tenant_id) : undefined,
      };
    }
    throw this.classify(res, 'token', true);
  }

  /**
   * Calls a data endpoint with the token; on an authentication failure logs in again once and replays
   * the call once (spec 2.6). Returns the successful answer or throws a classified QiaoError.
   */
  async request(req: NeocrmRequest): Promise<NeocrmResponse> {
    let token = await this.accessToken(req.signal);
    let res = await this.dataCall(req, token);
    if (isAuthFailure(res.status, res.body)) {
      this.log.info('neocrm token rejected, logging in again', {
        operation: req.operation,
        status: res.status,
      });
      token = (await this.relogin(token, req.signal)).value;
      res = await this.dataCall(req, token);
      if (isAuthFailure(res.status, res.body)) throw this.classify(res, req.operation, false);
    }
    if (res.status >= 300 || !res.body || typeof res.body !== 'object' || !this.succeeded(res.body)) {
      throw this.classify(res, req.operation, false);
    }
    return res;
  }

  private succeeded(body: any): boolean {
    if ('error_code' in body) return false;
    // Bodies without `code` are bare payloads (legacy v1, spec 3.3).
    return !('code' in body) || isSuccessCode(body.code);
  }

  private dataCall(req: NeocrmRequest, token: string): Promise<NeocrmResponse> {
    const url = new URL(this.apiBase + req.path);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...req.headers };
    if (this.settings.adminCriteria) headers['xsy-criteria'] = '10';
    return this.send(
      req.operation,
      url.toString(),
      { method: req.method, headers, json: req.json, idFields: req.idFields, form: req.form },
      req.signal,
    );
  }

  private async send(
    operation: string,
    url: string,
    init: {
      method: string;
      headers?: Record<string, string>;
      json?: unknown;
      idFields?: ReadonlySet<string>;
      form?: Record<string, string>;
    },
    signal?: AbortSignal,
  ): Promise<NeocrmResponse> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = stringifyNeocrm(init.json, init.idFields);
    }
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await this.fetchImpl(url, {
        method: init.method,
        headers,
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      text = await res.text();
    } catch (err) {
      const what = timeout.aborted ? `timed out after ${this.settings.timeoutMs} ms` : (err as Error).message;
      throw new TransientError(this.scrub(`Neocrm ${operation}: network error: ${what}`), {
        partner: { system: 'neocrm', operation, message: what },
        cause: err,
      });
    }
    let parsed: any;
    try {
      parsed = text.trim() ? parseNeocrmJson(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  }

  private scrub(text: string): string {
    return scrubSecrets(text, this.secrets());
  }

  /**
   * The error table (spec 3, 7, 8). In order: throttling (HTTP 429 or body code 429) → rate_limited;
   * authentication failures → auth_expired (data calls, after the one re-login) or permanent (the token
   * endpoint refusing credentials: fail fast, spec 8); HTTP 5xx, 408, a non-JSON answer, or a body code
   * 5xx → transient; any other non-200 `code`, `error_code` or OAuth `error` → permanent, keeping
   * Neocrm's `code`, `msg` and blamed field.
   */
  classify(res: NeocrmResponse, operation: string, tokenEndpoint: boolean): QiaoError {
    const b = res.body && typeof res.body === 'object' ? res.body : undefined;
    const code: string | number | undefined = b?.error ?? b?.error_code ?? b?.code ?? undefined;
    const rawMessage: string | undefined =
      b?.error_description ?? b?.msg ?? b?.message ?? (b?.error ? String(b.error) : undefined) ?? undefined;
    const message =
      rawMessage !== undefined && rawMessage !== null ? this.scrub(String(rawMessage)) : undefined;
    const field = b?.errorInfo?.field ?? undefined;
    const partner: PartnerDetail = {
      system: 'neocrm',
      ...(code !== undefined && code !== null ? { code } : {}),
      message: message ?? (this.scrub(res.text.slice(0, 200)) || `HTTP ${res.status}`),
      ...(field ? { field: String(field) } : {}),
      httpStatus: res.status,
      operation,
    };
    const text = this.scrub(
      `Neocrm ${operation} failed (HTTP ${res.status}${code !== undefined ? `, code ${code}` : ''}): ${partner.message}`,
    );
    const bodyCode = String(code ?? '');
    if (res.status === 429 || bodyCode === '429') {
      return new RateLimitedError(text, {
        partner,
        retryAfterMs: retryAfterMs(res.headers) ?? this.settings.rateLimitWaitMs,
      });
    }
    // A body that is not JSON on a 2xx/3xx answer is a proxy or gateway page: transient. On a 4xx it is
    // a wrong URL or method: permanent, below.
    if (res.status >= 500 || res.status === 408 || (!b && res.status < 400) || /^5\d\d$/.test(bodyCode)) {
      if (!(tokenEndpoint && b?.error)) return new TransientError(text, { partner });
    }
    if (tokenEndpoint) return new PermanentError(text, { partner, fault: 'user' });
    if (isAuthFailure(res.status, b)) return new AuthExpiredError(text, { partner });
    return new PermanentError(text, { partner, fault: 'user' });
  }
}
