/**
 * The WeCom API client of one connection (= one self-built app): the access_token cache with
 * single-flight and proactive refresh, "refresh once and retry once" on 40014/42001/41001, the error
 * table (error-table.ts), and the documented rate budgets kept locally so a 45009 ban is waited out
 * without a single call (spec §2, §8, §9). It never sleeps and never retries anything else: it throws
 * the classified error and the engine decides.
 */
import { PermanentError, RateLimitedError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { fromErrcode, fromHttpStatus, MINUTE_BAN_MS, networkError, TOKEN_ERRORS } from './error-table.ts';
import { secretsOf, type WecomSettings } from './settings.ts';

export type WecomJson = Record<string, any> & { errcode: number; errmsg: string };

/** Documented per-minute limits (spec §3, §6.3, §9), enforced locally before a call is made. */
export const BUDGETS_PER_MINUTE: Record<string, number> = {
  '/cgi-bin/oa/applyevent': 60,
  '/cgi-bin/oa/gettemplatedetail': 600,
  '/cgi-bin/oa/getapprovalinfo': 600,
  '/cgi-bin/oa/getapprovaldetail': 600,
  robot: 20,
  '*': 10_000,
};

export interface WecomClientOptions {
  settings: WecomSettings;
  log: Logger;
  /** Clock, injectable for tests (token expiry, ban ends). */
  now?: () => number;
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  query?: Record<string, string>;
  body?: unknown;
  signal?: AbortSignal;
}

interface CachedToken {
  value: string;
  expiresAt: number;
  /** From here on a refresh starts (in the background while the token is still valid). */
  refreshAt: number;
}

export class WecomClient {
  readonly settings: WecomSettings;
  readonly #log: Logger;
  readonly #now: () => number;
  #token: CachedToken | undefined;
  #refreshing: Promise<string> | undefined;
  /** Ends of 45009 bans: `*` for the connection, `robot:<name>` for one robot. */
  readonly #bans = new Map<string, number>();
  readonly #windows = new Map<string, number[]>();
  /** What went over the wire, for tests and metrics. */
  readonly stats = { gettoken: 0, calls: 0, refusedLocally: 0 };

  constructor(opts: WecomClientOptions) {
    this.settings = opts.settings;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
  }

  get secrets(): string[] {
    return [...secretsOf(this.settings), ...(this.#token ? [this.#token.value] : [])];
  }

  /** A call with the app's access_token; refreshes once and retries once on a token error. */
  async call(operation: string, path: string, opts: CallOptions = {}): Promise<WecomJson> {
    for (let attempt = 1; ; attempt++) {
      this.#guard(operation, path, '*');
      const token = await this.token();
      const res = await this.#send(operation, path, {
        ...opts,
        query: { ...opts.query, access_token: token },
      });
      if (res.errcode === 0) return res;
      if (TOKEN_ERRORS.has(res.errcode) && attempt === 1) {
        this.#log.info('wecom token refused, refreshing once', { errcode: res.errcode, operation });
        if (this.#token?.value === token) this.#token = undefined;
        continue;
      }
      throw this.#fail(operation, res, '*');
    }
  }

  /** The group robot webhook: the key is the credential, no access_token (spec §6.3). */
  async robot(name: string, body: unknown, signal?: AbortSignal): Promise<WecomJson> {
    const key = this.settings.robots[name];
    if (!key) {
      throw new PermanentError(`no robot named "${name}" in this connection's robots`, {
        partner: { system: 'wecom', operation: 'webhook/send', message: `robot ${name} is not configured` },
      });
    }
    const scope = `robot:${name}`;
    this.#guard('webhook/send', 'robot', scope);
    const res = await this.#send('webhook/send', '/cgi-bin/webhook/send', {
      method: 'POST',
      query: { key },
      body,
      signal,
    });
    if (res.errcode === 0) return res;
    throw this.#fail('webhook/send', res, scope);
  }

  /**
   * The cached access_token. One refresh at a time however many callers wait (single flight);
   * from `expires_in − margin` on, a refresh starts while the current token keeps being used.
   */
  async token(): Promise<string> {
    const t = this.#token;
    const now = this.#now();
    if (t && now < t.refreshAt) return t.value;
    if (t && now < t.expiresAt) {
      this.#refresh().catch((err) =>
        this.#log.warn('wecom proactive token refresh failed', { error: (err as Error).message }),
      );
      return t.value;
    }
    return this.#refresh();
  }

  /** Forgets the token (e.g. after rotating the secret). */
  dropToken(): void {
    this.#token = undefined;
  }

  #refresh(): Promise<string> {
    this.#refreshing ??= this.#fetchToken().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #fetchToken(): Promise<string> {
    this.#guard('gettoken', '/cgi-bin/gettoken', '*');
    this.stats.gettoken++;
    const res = await this.#send('gettoken', '/cgi-bin/gettoken', {
      method: 'GET',
      query: { corpid: this.settings.corpId, corpsecret: this.settings.secret },
    });
    if (res.errcode !== 0 || typeof res.access_token !== 'string') throw this.#fail('gettoken', res, '*');
    const ttl = Number(res.expires_in) > 0 ? Number(res.expires_in) : 7200;
    // Refresh early: one SDK caches for expires_in − 1500 s (spec §2); short test TTLs keep a quarter.
    const margin = Math.min(1500, ttl / 4);
    const now = this.#now();
    this.#token = {
      value: res.access_token,
      expiresAt: now + ttl * 1000,
      refreshAt: now + (ttl - margin) * 1000,
    };
    return res.access_token;
  }

  /** Refuses locally, without a call, during a ban or when the documented budget is used up. */
  #guard(operation: string, path: string, scope: string): void {
    const now = this.#now();
    for (const key of new Set(['*', scope])) {
      const until = this.#bans.get(key);
      if (until !== undefined && until > now) {
        this.stats.refusedLocally++;
        throw new RateLimitedError(
          `WeCom ${operation}: still banned for ${Math.ceil((until - now) / 1000)} s after 45009`,
          {
            partner: {
              system: 'wecom',
              code: 45009,
              operation,
              message: 'waiting out the ban WeCom imposed',
            },
            retryAfterMs: until - now,
          },
        );
      }
    }
    const budgetKey = path === 'robot' ? scope : path;
    const limit = BUDGETS_PER_MINUTE[path] ?? BUDGETS_PER_MINUTE['*'];
    const win = this.#windows.get(budgetKey) ?? [];
    while (win.length && win[0] <= now - 60_000) win.shift();
    if (win.length >= limit) {
      this.stats.refusedLocally++;
      throw new RateLimitedError(
        `WeCom ${operation}: the documented ${limit}/min for ${budgetKey} is used up`,
        {
          partner: {
            system: 'wecom',
            operation,
            message: `documented limit ${limit}/min reached; not calling`,
          },
          retryAfterMs: win[0] + 60_000 - now,
        },
      );
    }
    win.push(now);
    this.#windows.set(budgetKey, win);
  }

  #fail(operation: string, res: WecomJson, scope: string) {
    const err = fromErrcode(Number(res.errcode), String(res.errmsg ?? ''), {
      operation,
      secrets: this.secrets,
      banMs: this.settings.rateLimitWaitMs,
    });
    if (err.errorClass === 'rate_limited') {
      // Wait the ban out as a whole: no call on this connection (or robot) until it ends (spec §9).
      this.#bans.set(scope, this.#now() + (err.retryAfterMs ?? MINUTE_BAN_MS));
      this.#log.warn('wecom rate limit: banned', { operation, scope, retryAfterMs: err.retryAfterMs });
    }
    return err;
  }

  async #send(operation: string, path: string, opts: CallOptions): Promise<WecomJson> {
    const url = new URL(path, this.settings.baseUrl);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const method = opts.method ?? (opts.body === undefined ? 'GET' : 'POST');
    const signals = [AbortSignal.timeout(this.settings.timeoutMs)];
    if (opts.signal) signals.push(opts.signal);
    const ctx = { operation, secrets: this.secrets };
    this.stats.calls++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: opts.body === undefined ? undefined : { 'content-type': 'application/json' },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.any(signals),
      });
      text = await res.text();
    } catch (err) {
      throw networkError(err, ctx);
    }
    if (res.status !== 200) throw fromHttpStatus(res.status, text, { ...ctx, httpStatus: res.status });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // HTTP 200 without JSON: a proxy or captive portal in between; worth another try later.
      throw fromHttpStatus(502, text, { ...ctx, httpStatus: 200 });
    }
    if (typeof json !== 'object' || json === null || typeof (json as WecomJson).errcode !== 'number') {
      throw fromHttpStatus(502, text, { ...ctx, httpStatus: 200 });
    }
    return json as WecomJson;
  }
}
