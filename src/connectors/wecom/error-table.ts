/**
 * WeCom's error table (spec §8, §9): HTTP status and `errcode` → the engine's error classes. The
 * partner's own code and message stay on the error; secrets are scrubbed where the error is made.
 */
import {
  AuthExpiredError,
  PermanentError,
  type QiaoError,
  RateLimitedError,
  scrubSecrets,
  TransientError,
} from '../../core/errors.ts';

/** Token errors: drop the cached token, refresh once, retry the call once (spec §2). */
export const TOKEN_ERRORS = new Set([40014, 42001, 41001]);

/** "Not found" answers a look-up treats as an empty result rather than a failure (spec §8). */
export const NOT_FOUND = new Set([60111, 46004]);

/** A block lasts as long as the window exceeded: a per-minute limit blocks for 60 s (spec §9). */
export const MINUTE_BAN_MS = 60_000;
/** Too many wrong secrets block the calling IP for an hour (spec §2, 45009 on gettoken). */
export const HOUR_BAN_MS = 3_600_000;

type Rule = { kind: 'transient' | 'rate_limited' | 'auth_expired' | 'permanent'; hint?: string };

const RULES: Record<number, Rule> = {
  [-1]: { kind: 'transient', hint: 'WeCom is busy' },
  40001: { kind: 'permanent', hint: 'check the app secret (wrong, reset, or the app is disabled)' },
  40013: { kind: 'permanent', hint: 'check corpId' },
  40091: { kind: 'permanent', hint: 'the secret belongs to another corp' },
  40014: { kind: 'auth_expired' },
  42001: { kind: 'auth_expired' },
  41001: { kind: 'auth_expired' },
  45009: { kind: 'rate_limited' },
  // A per-API concurrency limit: lower concurrency and retry with jittered backoff (spec §8).
  45033: { kind: 'transient', hint: 'too many concurrent calls to this API' },
  48002: { kind: 'permanent', hint: 'this API is not enabled for the app' },
  60020: { kind: 'permanent', hint: "add this server's IP to the app's trusted IPs" },
  60011: { kind: 'permanent', hint: "the member or department is outside the app's visible range" },
  60111: { kind: 'permanent', hint: 'no such member (or outside the visible range)' },
  46004: { kind: 'permanent', hint: 'no member with that mobile or email' },
  40056: { kind: 'permanent', hint: 'check agentId' },
  81013: { kind: 'permanent', hint: 'none of the recipients is valid' },
  42014: { kind: 'permanent', hint: 'task_id invalid or already used' },
  301025: { kind: 'permanent', hint: 'the approval request does not match the template' },
  // Internal failures of the approval service: retry with backoff (spec §8).
  301026: { kind: 'transient', hint: 'approval service internal failure' },
  301055: { kind: 'permanent', hint: 'add the app to 审批 → 可调用接口的应用, or widen its visible range' },
  301056: { kind: 'permanent', hint: 'the approval app is disabled' },
  // Submission failed internally; the action looks the application up before resubmitting.
  301057: { kind: 'transient', hint: 'approval submit failed internally' },
  93000: { kind: 'permanent', hint: 'robot webhook key invalid, or the robot was removed from its group' },
  93004: { kind: 'permanent', hint: 'robot disabled' },
  93008: { kind: 'permanent', hint: 'robot not in the group' },
};

export interface ErrorContext {
  operation: string;
  /** The wait after 45009 (settings.rateLimitWaitMs, default 60 s). */
  banMs?: number;
  secrets: string[];
  httpStatus?: number;
}

/** The class for a business error (`errcode` ≠ 0). Unknown codes are permanent: a person must look. */
export function fromErrcode(errcode: number, errmsg: string, ctx: ErrorContext): QiaoError {
  const rule = RULES[errcode] ?? { kind: 'permanent' };
  // Keep WeCom's own text but drop the diagnostic tail after ", hint:" from our summary line.
  const own = scrubSecrets(errmsg, ctx.secrets);
  const short = own.split(', hint:')[0];
  const partner = {
    system: 'wecom',
    code: errcode,
    message: own,
    operation: ctx.operation,
    httpStatus: ctx.httpStatus ?? 200,
  };
  const message = `WeCom ${ctx.operation} failed: ${errcode} ${short}${rule.hint ? ` (${rule.hint})` : ''}`;
  switch (rule.kind) {
    case 'transient':
      return new TransientError(message, { partner });
    case 'auth_expired':
      return new AuthExpiredError(message, { partner });
    case 'rate_limited':
      return new RateLimitedError(message, {
        partner,
        retryAfterMs: ctx.operation === 'gettoken' ? HOUR_BAN_MS : (ctx.banMs ?? MINUTE_BAN_MS),
      });
    default:
      return new PermanentError(message, { partner });
  }
}

/** The class for a non-200 HTTP answer (a gateway in front of WeCom, or a wrong baseUrl). */
export function fromHttpStatus(status: number, body: string, ctx: ErrorContext): QiaoError {
  const text = scrubSecrets(body.slice(0, 200), ctx.secrets);
  const partner = {
    system: 'wecom',
    code: status,
    message: text || `HTTP ${status}`,
    operation: ctx.operation,
    httpStatus: status,
  };
  const message = `WeCom ${ctx.operation} answered HTTP ${status}`;
  if (status === 429) return new RateLimitedError(message, { partner, retryAfterMs: MINUTE_BAN_MS });
  if (status >= 500 || status === 408) return new TransientError(message, { partner });
  return new PermanentError(`${message} (check baseUrl)`, { partner });
}

export function networkError(err: unknown, ctx: ErrorContext): QiaoError {
  const e = err as Error;
  const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError';
  const message = scrubSecrets(
    `WeCom ${ctx.operation} ${timedOut ? 'timed out' : `failed: ${e?.message ?? String(err)}`}`,
    ctx.secrets,
  );
  return new TransientError(message, {
    partner: { system: 'wecom', operation: ctx.operation, message },
    cause: err,
  });
}
