/**
 * The DingTalk client: access tokens for both API generations (spec §2) with single-flight refresh,
 * "re-authenticate once and retry once" on an invalid or expired token (§2.4), and DingTalk's error
 * table (§13) mapping HTTP status and body codes of both styles — `errcode` on the oapi surface (HTTP
 * 200), `code`/`message` with a 4xx/5xx on the api surface — and the IP-ban page (HTML or the x5 JSON
 * body, §13 "IP limit") to Qiao's error classes. The client never sleeps or retries otherwise: the
 * engine retries transient errors and honours `retryAfterMs` for the whole connection.
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
import { robotSignature } from './crypto.ts';
import { type DingtalkSettings, secretsOf } from './settings.ts';

export type Json = Record<string, unknown>;
export type Surface = 'oapi' | 'api';

/** The documented waits (spec §5.3, §13, §14). */
export const WAITS = {
  /** Per-app / global per-API QPS limits are per second. */
  qpsMs: 1_000,
  /** The per-IP limit bans the egress IP for 5 minutes. */
  ipBanMs: 300_000,
  /** A custom robot over 20 messages a minute is throttled for 10 minutes. */
  robotThrottleMs: 600_000,
  /** Other throttling bans (90001, 90003–90012, 90017) publish no duration. */
  otherBanMs: 60_000,
} as const;

const AUTH_CODES = new Set([40014, 42001, 40001]);
const QPS_CODES = new Set([90002, 90018]);
const OTHER_BANS = new Set([
  90001, 90003, 90004, 90005, 90006, 90007, 90008, 90009, 90010, 90011, 90012, 90017,
]);
const ROBOT_THROTTLE = new Set([410100, 130101, 660026]);
const TRANSIENT_CODES = new Set([-1, 15]);

export interface CallOptions {
  signal?: AbortSignal;
  method?: 'GET' | 'POST' | 'PUT';
  query?: Record<string, string>;
}

/** Milliseconds until the first day of next month, China time: when the monthly quota resets (§14). */
export function msUntilNextMonth(now = Date.now()): number {
  const china = new Date(now + 8 * 3600_000);
  const next = Date.UTC(china.getUTCFullYear(), china.getUTCMonth() + 1, 1) - 8 * 3600_000;
  return Math.max(60_000, next - now);
}

/**
 * Paces calls to at most `perSecond` per API in any one-second window (spec §14: 20 calls/s per app
 * per API). The engine's token bucket spaces steps per connection; this keeps the fan-out inside one
 * step or poll (e.g. a get per listed approval) under the same per-API limit.
 *
 * DingTalk counts a call when it arrives, somewhere between our send and its answer. So a slot is
 * held from the send until one second after the *answer*: then any two calls that could arrive in
 * the same second are both counted, whatever the network jitter, and the limit is never hit. The
 * cost is one round trip per second per slot (a few ms on a good link).
 */
export class ApiPacer {
  private readonly windows = new Map<string, Array<{ end?: number }>>();
  private readonly perSecond: number;
  constructor(perSecond: number) {
    this.perSecond = perSecond;
  }
  /** Waits for a slot; call the returned function when the answer (or the failure) arrives. */
  async take(api: string, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      const now = Date.now();
      const w = (this.windows.get(api) ?? []).filter((e) => e.end === undefined || now - e.end < 1000);
      this.windows.set(api, w);
      if (w.length < this.perSecond) {
        const entry: { end?: number } = {};
        w.push(entry);
        return () => {
          entry.end = Date.now();
        };
      }
      const ends = w.filter((e) => e.end !== undefined).map((e) => e.end as number);
      const wait = ends.length > 0 ? 1000 - (now - Math.min(...ends)) + 1 : 5;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, wait);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    }
  }
}

export class DingtalkClient {
  readonly settings: DingtalkSettings;
  readonly pacer = new ApiPacer(20);
  readonly log: Logger;
  readonly stats = { tokenFetches: 0, calls: 0, reauths: 0 };
  private readonly tokens: Record<Surface, { token: string; expiresAt: number } | undefined> = {
    oapi: undefined,
    api: undefined,
  };
  private readonly refreshing: Record<Surface, Promise<string> | undefined> = {
    oapi: undefined,
    api: undefined,
  };

  constructor(settings: DingtalkSettings, log: Logger) {
    this.settings = settings;
    this.log = log;
  }

  get robotCode(): string {
    return this.settings.robotCode ?? this.settings.appKey;
  }

  /** Removes every secret (settings and live tokens) from a text. */
  scrub(text: string): string {
    return scrubSecrets(text, [...secretsOf(this.settings), this.tokens.oapi?.token, this.tokens.api?.token]);
  }

  /** A valid token for a surface; concurrent callers share one fetch (single flight). */
  async token(surface: Surface): Promise<string> {
    const cur = this.tokens[surface];
    if (cur && cur.expiresAt > Date.now()) return cur.token;
    let p = this.refreshing[surface];
    if (!p) {
      p = this.fetchToken(surface).finally(() => {
        this.refreshing[surface] = undefined;
      });
      this.refreshing[surface] = p;
    }
    return p;
  }

  /** Forgets a token the partner refused, unless a newer one replaced it meanwhile. */
  invalidate(surface: Surface, token: string): void {
    if (this.tokens[surface]?.token === token) this.tokens[surface] = undefined;
  }

  private async fetchToken(surface: Surface): Promise<string> {
    this.stats.tokenFetches += 1;
    const { appKey, appSecret } = this.settings;
    let token: string;
    let expiresIn: number;
    if (surface === 'oapi') {
      // Query parameters only: a form body answers 40035 (spec §2.1).
      const url = `${this.settings.oapiUrl}/gettoken?appkey=${encodeURIComponent(appKey)}&appsecret=${encodeURIComponent(appSecret)}`;
      const body = await this.send('oapi', 'gettoken', url, { method: 'GET' });
      token = String(body.access_token ?? '');
      expiresIn = Number(body.expires_in ?? 7200);
    } else {
      const body = await this.send(
        'api',
        'oauth2.accessToken',
        `${this.settings.apiUrl}/v1.0/oauth2/accessToken`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ appKey, appSecret }),
        },
      );
      token = String(body.accessToken ?? '');
      expiresIn = Number(body.expireIn ?? 7200);
    }
    if (!token) {
      throw new TransientError(`DingTalk ${surface} token endpoint answered without a token`, {
        partner: { system: 'dingtalk', operation: surface === 'oapi' ? 'gettoken' : 'oauth2.accessToken' },
      });
    }
    // Refresh about 5 minutes before expiry, as the SDKs do (spec §2.2).
    const lifetime = expiresIn * 1000;
    const margin = Math.min(300_000, lifetime / 10);
    this.tokens[surface] = { token, expiresAt: Date.now() + lifetime - margin };
    return token;
  }

  /** Calls an old-API (`oapi`) endpoint with `?access_token`. */
  async oapi(operation: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Json> {
    const method = options.method ?? 'POST';
    return this.withAuth('oapi', async (token) => {
      const q = new URLSearchParams({ ...options.query, access_token: token });
      return this.send(
        'oapi',
        operation,
        `${this.settings.oapiUrl}${path}?${q}`,
        method === 'GET'
          ? { method }
          : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) },
        options.signal,
      );
    });
  }

  /** Calls a new-API (`api`) endpoint with the `x-acs-dingtalk-access-token` header. */
  async api(operation: string, path: string, body?: unknown, options: CallOptions = {}): Promise<Json> {
    const method = options.method ?? (body === undefined ? 'GET' : 'POST');
    return this.withAuth('api', async (token) => {
      const q = options.query ? `?${new URLSearchParams(options.query)}` : '';
      const headers: Record<string, string> = {
        'x-acs-dingtalk-access-token': token,
        accept: 'application/json',
      };
      if (body !== undefined) headers['content-type'] = 'application/json';
      return this.send(
        'api',
        operation,
        `${this.settings.apiUrl}${path}${q}`,
        { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
        options.signal,
      );
    });
  }

  /** Posts to a custom group robot's webhook, signed when it has a secret (spec §5.1, §5.2). */
  async robotSend(robotName: string, message: Json, signal?: AbortSignal): Promise<Json> {
    const robot = this.settings.robots[robotName];
    if (!robot) {
      throw new PermanentError(`no robot named "${robotName}" in this connection's settings`, {
        fault: 'user',
        partner: { system: 'dingtalk', operation: 'robot.send' },
      });
    }
    const q = new URLSearchParams({ access_token: robot.accessToken });
    if (robot.secret) {
      const timestamp = String(Date.now());
      q.set('timestamp', timestamp);
      // URLSearchParams percent-encodes the Base64 (+ → %2B, / → %2F, = → %3D), as §5.2 step 4 asks.
      q.set('sign', robotSignature(timestamp, robot.secret));
    }
    return this.send(
      'oapi',
      'robot.send',
      `${this.settings.oapiUrl}/robot/send?${q}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) },
      signal,
    );
  }

  /** Replies on a robot message's `sessionWebhook` (spec §6.2): plain JSON, no extra auth. */
  async sessionSend(sessionWebhook: string, message: Json, signal?: AbortSignal): Promise<Json> {
    // Only DingTalk's own session endpoint is accepted, so a forged message cannot make Qiao post elsewhere.
    const expected = `${this.settings.oapiUrl}/robot/sendBySession`;
    if (!sessionWebhook.startsWith(`${expected}?`)) {
      throw new PermanentError(`sessionWebhook is not a DingTalk session URL (${expected})`, {
        fault: 'user',
        partner: { system: 'dingtalk', operation: 'robot.reply' },
      });
    }
    return this.send(
      'oapi',
      'robot.reply',
      sessionWebhook,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) },
      signal,
    );
  }

  /** Opens a Stream connection ticket (spec §8.1). `Accept: application/json` or the answer may be XML. */
  async openStream(
    subscriptions: Array<{ type: 'EVENT' | 'CALLBACK'; topic: string }>,
    signal?: AbortSignal,
  ) {
    const body = await this.send(
      'api',
      'gateway.connections.open',
      `${this.settings.apiUrl}/v1.0/gateway/connections/open`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          clientId: this.settings.appKey,
          clientSecret: this.settings.appSecret,
          subscriptions,
          ua: 'qiao-dingtalk/0.1',
        }),
      },
      signal,
    );
    const endpoint = typeof body.endpoint === 'string' ? body.endpoint : '';
    const ticket = typeof body.ticket === 'string' ? body.ticket : '';
    if (!endpoint || !ticket) {
      throw new TransientError('DingTalk gateway answered without endpoint or ticket', {
        partner: { system: 'dingtalk', operation: 'gateway.connections.open' },
      });
    }
    return { endpoint, ticket };
  }

  private async withAuth(surface: Surface, fn: (token: string) => Promise<Json>): Promise<Json> {
    const token = await this.token(surface);
    try {
      return await fn(token);
    } catch (err) {
      if (!(err instanceof AuthExpiredError)) throw err;
      // Re-authenticate once and retry once (spec §2.4); a second refusal goes to the engine.
      this.invalidate(surface, token);
      this.stats.reauths += 1;
      this.log.info('dingtalk token refused, re-authenticating', { surface });
      return fn(await this.token(surface));
    }
  }

  private async send(
    surface: Surface,
    operation: string,
    url: string,
    init: RequestInit,
    signal?: AbortSignal,
  ): Promise<Json> {
    // Robot webhooks have their own per-robot limit (§5.3); every other API shares the app's QPS.
    const release =
      operation.startsWith('robot.send') || operation === 'robot.reply'
        ? undefined
        : await this.pacer.take(operation, signal);
    try {
      return await this.sendNow(surface, operation, url, init, signal);
    } finally {
      release?.();
    }
  }

  private async sendNow(
    surface: Surface,
    operation: string,
    url: string,
    init: RequestInit,
    signal?: AbortSignal,
  ): Promise<Json> {
    this.stats.calls += 1;
    const timeout = AbortSignal.timeout(this.settings.timeoutMs);
    let status: number;
    let text: string;
    let contentType: string;
    let retryAfter: string | null;
    try {
      const res = await fetch(url, {
        ...init,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      status = res.status;
      contentType = res.headers.get('content-type') ?? '';
      retryAfter = res.headers.get('retry-after');
      text = await res.text();
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `no answer within ${this.settings.timeoutMs} ms` : e.message;
      throw new TransientError(this.scrub(`DingTalk ${operation}: ${why}`), {
        partner: { system: 'dingtalk', operation },
        cause: err,
      });
    }
    return classify(this, surface, operation, { status, text, contentType, retryAfter });
  }
}

interface RawResponse {
  status: number;
  text: string;
  contentType: string;
  retryAfter: string | null;
}

/**
 * DingTalk's error table (spec §13). Returns the body of a success; throws the classified error
 * with the partner's own code and message otherwise.
 */
export function classify(client: DingtalkClient, surface: Surface, operation: string, r: RawResponse): Json {
  const fail = (
    kind: 'transient' | 'rate' | 'auth' | 'permanent',
    code: string | number | undefined,
    message: string,
    retryAfterMs?: number,
  ): QiaoError => {
    const partnerMessage = client.scrub(message);
    const partner: PartnerDetail = {
      system: 'dingtalk',
      ...(code !== undefined && code !== '' ? { code } : {}),
      message: partnerMessage,
      httpStatus: r.status,
      operation,
    };
    const text = `DingTalk ${operation} failed: ${code !== undefined && code !== '' ? `${code} ` : ''}${partnerMessage}`;
    if (kind === 'transient') return new TransientError(text, { partner });
    if (kind === 'rate')
      return new RateLimitedError(text, { partner, retryAfterMs: retryAfterMs ?? WAITS.qpsMs });
    if (kind === 'auth') return new AuthExpiredError(text, { partner });
    return new PermanentError(text, { partner, fault: 'user' });
  };

  const trimmed = r.text.trimStart();
  let body: Json | undefined;
  try {
    const v = trimmed ? JSON.parse(trimmed) : undefined;
    body = v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    body = undefined;
  }

  if (r.status >= 500) {
    throw fail('transient', body?.code as string | undefined, String(body?.message ?? `HTTP ${r.status}`));
  }
  // The per-IP ban answers an HTML page instead of JSON, or the x5 punish body (spec §13 "IP limit").
  if (!body && (/html/i.test(r.contentType) || /^<(!doctype|html)/i.test(trimmed))) {
    throw fail(
      'rate',
      'ip-ban',
      `IP banned by DingTalk's gateway (HTML page): ${stripHtml(trimmed).slice(0, 120)}`,
      WAITS.ipBanMs,
    );
  }
  if (body && body.punish !== undefined && body.status !== undefined && body.wait !== undefined) {
    const waitMin = Number(body.wait);
    throw fail(
      'rate',
      `x5:${String(body.status)}`,
      `IP banned by DingTalk's gateway (${String(body.punish)})`,
      Number.isFinite(waitMin) && waitMin > 0 ? waitMin * 60_000 : WAITS.ipBanMs,
    );
  }
  if (!body) {
    if (r.status === 429) throw fail('rate', 429, `HTTP 429`, retryAfterMs(r.retryAfter));
    if (r.status >= 200 && r.status < 300)
      throw fail('transient', undefined, `unreadable answer: ${trimmed.slice(0, 80)}`);
    throw fail('permanent', r.status, `HTTP ${r.status}: ${trimmed.slice(0, 120)}`);
  }

  if (surface === 'oapi') {
    const code = body.errcode === undefined ? 0 : Number(body.errcode);
    if (r.status >= 200 && r.status < 300 && code === 0) return body;
    if (r.status === 429)
      throw fail('rate', 429, String(body.errmsg ?? 'HTTP 429'), retryAfterMs(r.retryAfter));
    const msg = String(body.sub_msg || body.errmsg || `HTTP ${r.status}`);
    if (code === 88) {
      // Gateway errors carry the real reason in sub_code (spec §2.4).
      const sub = String(body.sub_code ?? '');
      if (sub === '') throw fail('transient', 88, `gateway timeout: ${String(body.errmsg ?? '')}`);
      if (['40014', '42001', '40001', '40000'].includes(sub)) throw fail('auth', `88/${sub}`, msg);
      throw fail('permanent', `88/${sub}`, msg);
    }
    if (TRANSIENT_CODES.has(code)) throw fail('transient', code, msg);
    if (AUTH_CODES.has(code)) throw fail('auth', code, msg);
    if (QPS_CODES.has(code)) throw fail('rate', code, msg, WAITS.qpsMs);
    if (code === 90020) throw fail('rate', code, msg, msUntilNextMonth());
    if (OTHER_BANS.has(code)) throw fail('rate', code, msg, WAITS.otherBanMs);
    if (ROBOT_THROTTLE.has(code)) throw fail('rate', code, msg, WAITS.robotThrottleMs);
    throw fail('permanent', code, msg);
  }

  if (r.status >= 200 && r.status < 300) return body;
  const code = String(body.code ?? '');
  const msg = String(body.message ?? `HTTP ${r.status}`);
  if (code === 'InvalidAuthentication' || code.startsWith('AuthenticationFailed'))
    throw fail('auth', code, msg);
  if (
    code === 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi' ||
    code === 'Forbidden.AccessDenied.QpsLimitForApi'
  ) {
    throw fail('rate', code, msg, WAITS.qpsMs);
  }
  if (code === 'Forbidden.AccessDenied.ApiCountLimitForOrg')
    throw fail('rate', code, msg, msUntilNextMonth());
  if (r.status === 429 || code === 'system.busy' || code === 'systemBusy') {
    throw fail('rate', code || 429, msg, retryAfterMs(r.retryAfter));
  }
  if (code === 'autoflowLikeTriggerRateLimited') throw fail('rate', code, msg, WAITS.otherBanMs);
  if (r.status === 401) throw fail('auth', code || 401, msg);
  throw fail('permanent', code || r.status, msg);
}

function retryAfterMs(header: string | null): number {
  const n = header ? Number(header) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n * 1000 : WAITS.qpsMs;
}

function stripHtml(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
