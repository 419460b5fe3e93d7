/**
 * The generic HTTP client and its error table. HTTP has no partner-specific body codes, so the table
 * is the status code (and Retry-After) only:
 *
 * | response                          | class        |
 * |-----------------------------------|--------------|
 * | network error, timeout            | transient    |
 * | 408, 425, 500, 502, 503, 504      | transient    |
 * | 429, or 503 with Retry-After      | rate_limited (wait = Retry-After, default 30 s) |
 * | 401, 403                          | permanent (static credentials cannot be refreshed) |
 * | other 4xx                         | permanent, with the body's message |
 */
import {
  PermanentError,
  type QiaoError,
  RateLimitedError,
  scrubSecrets,
  TransientError,
} from '../../core/errors.ts';

export interface HttpSettings {
  baseUrl: string;
  headers?: Record<string, string>;
  auth?: { type: 'bearer'; token: string } | { type: 'basic'; username: string; password: string };
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const TRANSIENT = new Set([408, 425, 500, 502, 503, 504]);

export class HttpClient {
  private readonly settings: HttpSettings;
  private readonly secrets: string[];

  constructor(settings: HttpSettings) {
    this.settings = settings;
    const a = settings.auth;
    this.secrets = a ? (a.type === 'bearer' ? [a.token] : [a.password]) : [];
  }

  async request(
    method: string,
    path: string,
    opts: {
      query?: Record<string, string | number>;
      headers?: Record<string, string>;
      body?: unknown;
      signal?: AbortSignal;
    } = {},
  ): Promise<HttpResponse> {
    const url = new URL(
      path.replace(/^\//, ''),
      this.settings.baseUrl.endsWith('/') ? this.settings.baseUrl : `${this.settings.baseUrl}/`,
    );
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...this.settings.headers,
      ...opts.headers,
    };
    const a = this.settings.auth;
    if (a?.type === 'bearer') headers.authorization = `Bearer ${a.token}`;
    if (a?.type === 'basic')
      headers.authorization = `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    const signals = [
      AbortSignal.timeout(this.settings.timeoutMs ?? 30_000),
      ...(opts.signal ? [opts.signal] : []),
    ];
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body, signal: AbortSignal.any(signals) });
    } catch (err) {
      const e = err as Error;
      throw new TransientError(
        this.scrub(`${method} ${url.pathname}: ${e.name === 'TimeoutError' ? 'timed out' : e.message}`),
        {
          partner: { system: 'http', message: e.message, operation: `${method} ${url.pathname}` },
        },
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    const out: HttpResponse = { status: res.status, headers: Object.fromEntries(res.headers), body: parsed };
    if (res.status < 400) return out;
    throw this.classify(method, url.pathname, out);
  }

  classify(method: string, path: string, r: HttpResponse): QiaoError {
    const b = r.body as { message?: unknown; error?: unknown; field?: unknown } | string;
    const partnerMessage = this.scrub(
      typeof b === 'string' ? b.slice(0, 500) : String(b?.message ?? b?.error ?? `HTTP ${r.status}`),
    );
    const partner = {
      system: 'http',
      code: r.status,
      httpStatus: r.status,
      message: partnerMessage,
      field: typeof b === 'object' && typeof b?.field === 'string' ? b.field : undefined,
      operation: `${method} ${path}`,
    };
    const message = `${method} ${path} answered ${r.status}: ${partnerMessage}`;
    const retryAfter = parseRetryAfter(r.headers['retry-after']);
    if (r.status === 429 || (r.status === 503 && retryAfter !== undefined)) {
      return new RateLimitedError(message, { partner, retryAfterMs: retryAfter ?? 30_000 });
    }
    if (TRANSIENT.has(r.status)) return new TransientError(message, { partner });
    return new PermanentError(message, { partner });
  }

  private scrub(s: string): string {
    return scrubSecrets(s, this.secrets);
  }
}

/** Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}
