/**
 * Qiao's one failure hierarchy. Every error that crosses a layer is a QiaoError with a class that
 * decides what the engine does with it (DESIGN.md, "Errors are classified values"):
 *
 * - `transient`     retry with exponential backoff and jitter;
 * - `rate_limited`  wait as long as the partner demands (`retryAfterMs`), then retry; the engine also
 *                   stops every call on that connection until the wait is over;
 * - `auth_expired`  the connector already refreshed once and the partner still refuses; retried once
 *                   more after a backoff (credentials may have been rotated), then treated as permanent;
 * - `permanent`     never retried: the step's input goes to a dead letter with the partner's message.
 *
 * `fault` says who is to blame (as n8n does): `operational` (the world), `user` (input, configuration,
 * permissions) or `bug` (Qiao itself). Only bugs deserve a stack trace in logs.
 */
export type ErrorClass = 'transient' | 'rate_limited' | 'auth_expired' | 'permanent';
export type Fault = 'operational' | 'user' | 'bug';

export const ERROR_CLASSES: readonly ErrorClass[] = [
  'transient',
  'rate_limited',
  'auth_expired',
  'permanent',
];

/** What the partner itself said, kept verbatim so a person can act on it. */
export interface PartnerDetail {
  /** Connector type, e.g. `kingdee`, `wecom`. */
  system: string;
  /** The partner's own code: WeCom `errcode`, Kingdee `MsgCode`/`ErrorCode`, Neocrm `code`… */
  code?: string | number;
  /** The partner's own message, e.g. Kingdee `Errors[0].Message`. */
  message?: string;
  /** The field the partner blames, e.g. Kingdee `Errors[0].FieldName`. */
  field?: string;
  httpStatus?: number;
  /** The partner operation that failed, e.g. `Save`, `applyevent`. */
  operation?: string;
}

export interface QiaoErrorOptions {
  errorClass: ErrorClass;
  fault?: Fault;
  partner?: PartnerDetail;
  /** For `rate_limited`: how long the partner asks us to stay away. */
  retryAfterMs?: number;
  cause?: unknown;
}

export class QiaoError extends Error {
  readonly errorClass: ErrorClass;
  readonly fault: Fault;
  readonly partner?: PartnerDetail;
  readonly retryAfterMs?: number;

  constructor(message: string, options: QiaoErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QiaoError';
    this.errorClass = options.errorClass;
    this.fault = options.fault ?? (options.errorClass === 'permanent' ? 'user' : 'operational');
    this.partner = options.partner;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** A plain, JSON-safe form for dead letters, step history and API answers. */
  toJSON(): SerializedError {
    return {
      name: this.name,
      message: this.message,
      errorClass: this.errorClass,
      fault: this.fault,
      ...(this.partner ? { partner: this.partner } : {}),
      ...(this.retryAfterMs !== undefined ? { retryAfterMs: this.retryAfterMs } : {}),
    };
  }
}

export interface SerializedError {
  name: string;
  message: string;
  errorClass: ErrorClass;
  fault: Fault;
  partner?: PartnerDetail;
  retryAfterMs?: number;
}

export class TransientError extends QiaoError {
  constructor(message: string, options: Omit<QiaoErrorOptions, 'errorClass'> = {}) {
    super(message, { ...options, errorClass: 'transient' });
    this.name = 'TransientError';
  }
}

export class RateLimitedError extends QiaoError {
  constructor(message: string, options: Omit<QiaoErrorOptions, 'errorClass'> & { retryAfterMs: number }) {
    super(message, { ...options, errorClass: 'rate_limited' });
    this.name = 'RateLimitedError';
  }
}

export class AuthExpiredError extends QiaoError {
  constructor(message: string, options: Omit<QiaoErrorOptions, 'errorClass'> = {}) {
    super(message, { ...options, errorClass: 'auth_expired' });
    this.name = 'AuthExpiredError';
  }
}

export class PermanentError extends QiaoError {
  constructor(message: string, options: Omit<QiaoErrorOptions, 'errorClass'> = {}) {
    super(message, { ...options, errorClass: 'permanent' });
    this.name = 'PermanentError';
  }
}

/**
 * Bad input from a user or a caller: a flow file, an API body, a CLI argument. `path` locates the
 * problem inside the document (e.g. `steps[2].route.rows[0].when`). Never retried.
 */
export class ValidationError extends QiaoError {
  readonly problems: ValidationProblem[];

  constructor(problems: ValidationProblem[], summary?: string) {
    super(summary ?? problems.map(formatProblem).join('\n'), { errorClass: 'permanent', fault: 'user' });
    this.name = 'ValidationError';
    this.problems = problems;
  }
}

export interface ValidationProblem {
  /** Path inside the document, dotted with [index]: `steps[2].route.rows[0].when`. */
  path: string;
  message: string;
  file?: string;
  line?: number;
}

export function formatProblem(p: ValidationProblem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ''} ` : '';
  return `${where}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Something asked for does not exist (an id in an API path, a connection named by a flow). */
export class NotFoundError extends QiaoError {
  constructor(message: string) {
    super(message, { errorClass: 'permanent', fault: 'user' });
    this.name = 'NotFoundError';
  }
}

/** Turns anything thrown into a QiaoError: unknown errors are bugs, retried as transient. */
export function toQiaoError(err: unknown): QiaoError {
  if (err instanceof QiaoError) return err;
  if (err instanceof Error) {
    const e = new QiaoError(err.message, { errorClass: 'transient', fault: 'bug', cause: err });
    e.stack = err.stack;
    return e;
  }
  return new QiaoError(String(err), { errorClass: 'transient', fault: 'bug' });
}

/** Revives an error stored as JSON (dead letters, step history). */
export function fromSerialized(s: SerializedError): QiaoError {
  const e = new QiaoError(s.message, {
    errorClass: s.errorClass,
    fault: s.fault,
    partner: s.partner,
    retryAfterMs: s.retryAfterMs,
  });
  e.name = s.name;
  return e;
}

/**
 * Replaces every occurrence of each secret (and its URL-encoded form) with `***`. Connectors call it
 * where an error message is made, so tokens and passwords never reach logs, dead letters or the API.
 */
export function scrubSecrets(text: string, secrets: Iterable<string | undefined | null>): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('***');
  }
  return out;
}
