/**
 * Kingdee's error table (spec 5.2, 5.3, 7): what a response means for the engine. Business failures
 * arrive as HTTP 200 with `Result.ResponseStatus` (inside `[[…]]` for queries); this maps `MsgCode`,
 * the message text and the transport to the QiaoError classes, keeping Kingdee's own code, message and
 * `FieldName` in `partner`.
 */
import {
  type PartnerDetail,
  PermanentError,
  type QiaoError,
  RateLimitedError,
  scrubSecrets,
  TransientError,
} from '../../core/errors.ts';

export interface KdErrorItem {
  FieldName?: string | null;
  Message?: string | null;
  DIndex?: number;
}

/** `Result.ResponseStatus`, tolerant of the string-typed doc templates (spec 4.1 "Response field typing"). */
export interface KdResponseStatus {
  ErrorCode?: number | string;
  IsSuccess?: boolean | string;
  Errors?: KdErrorItem[];
  SuccessEntitys?: Array<{ Id?: number | string; Number?: string; DIndex?: number }>;
  MsgCode?: number | string;
}

export interface ErrorContext {
  operation: string;
  formId?: string;
  httpStatus?: number;
  secrets: Array<string | undefined>;
  callLimitWaitMs: number;
}

export function isFailure(s: KdResponseStatus | null | undefined): s is KdResponseStatus {
  if (!s) return false;
  return s.IsSuccess === false || String(s.IsSuccess).toLowerCase() === 'false';
}

const SESSION_LOST = /会话信息已丢失|Session information is lost|context.*lost/i;

/** Spec 3.4 / 7: MsgCode 1, or the message, means the session is gone (re-login once, replay). */
export function isSessionLost(s: KdResponseStatus): boolean {
  if (Number(s.MsgCode) === 1) return true;
  return (s.Errors ?? []).some((e) => SESSION_LOST.test(e.Message ?? ''));
}

/** Spec 4.2 / 7: auditing an audited bill ("已经审核") is an idempotent success for Audit. */
export function isAlreadyAudited(s: KdResponseStatus): boolean {
  return (
    (s.Errors ?? []).length > 0 && (s.Errors ?? []).every((e) => /已经审核|已审核/.test(e.Message ?? ''))
  );
}

/** Spec 4.1: a uniqueness violation, e.g. "违反字段唯一性要求：编码唯一。[X]在当前系统中已经被使用。" */
export function isDuplicateNumber(s: KdResponseStatus): boolean {
  return (s.Errors ?? []).some((e) => /唯一性|已经被使用|already (been )?used/i.test(e.Message ?? ''));
}

function describe(ctx: ErrorContext): string {
  return `Kingdee ${ctx.operation}${ctx.formId ? ` ${ctx.formId}` : ''}`;
}

/** Classifies a failed ResponseStatus. Session loss is handled by the client before this is called. */
export function classifyStatus(s: KdResponseStatus, ctx: ErrorContext): QiaoError {
  const errors = s.Errors ?? [];
  const first = errors[0];
  const scrub = (t: string) => scrubSecrets(t, ctx.secrets);
  const text = scrub(first?.Message ?? 'the call failed without a message');
  const field = first?.FieldName || undefined;
  const code = s.MsgCode === undefined || s.MsgCode === '' ? undefined : Number(s.MsgCode);
  const partner: PartnerDetail = {
    system: 'kingdee',
    code,
    message: text,
    field,
    httpStatus: ctx.httpStatus,
    operation: ctx.operation,
  };
  const more =
    errors.length > 1
      ? ` (+${errors.length - 1} more: ${errors
          .slice(1, 4)
          .map((e) => scrub(e.Message ?? ''))
          .join('; ')})`
      : '';
  const message = `${describe(ctx)} failed: ${text}${field ? ` [${field}]` : ''}${more}`;
  const allText = errors.map((e) => e.Message ?? '').join('\n');
  // Message-based rules first: they hold whatever MsgCode a server version puts next to them.
  if (/业务对象不存在/.test(allText)) return new PermanentError(message, { partner, fault: 'user' });
  if (/网控|network control/i.test(allText) && code !== 11) return new TransientError(message, { partner });
  switch (code) {
    case 13: // network-control conflict: the record is locked by someone else for now
    case 4: // server exception
    case 6: // database operation failed
      return new TransientError(message, { partner });
    case 14: // call limit (调用限制); no wait is documented
      return new RateLimitedError(message, { partner, retryAfterMs: ctx.callLimitWaitMs });
    case 2: // no permission
    case 7: // licence
    case 15: // administrator login forbidden
      return new PermanentError(message, { partner, fault: 'user' });
    case 3: // operation identifier empty
    case 5: // form identifier empty
    case 8: // parameter error
      return new PermanentError(message, { partner, fault: 'user' });
    default:
      // 9 unknown field, 10 not found, 11 validation, 12 not allowed, and anything unlisted: the input
      // or the document's state must change first, so a retry cannot help.
      return new PermanentError(message, { partner, fault: 'user' });
  }
}

/** Spec 5.3: HTTP statuses other than 200/206, HTML error pages, `response_error:` bodies. */
export function classifyTransport(
  ctx: ErrorContext,
  detail: { status?: number; body?: string; cause?: unknown; retryAfter?: string | null },
): QiaoError {
  const scrub = (t: string) => scrubSecrets(t, ctx.secrets);
  const status = detail.status;
  const snippet = scrub(
    (detail.body ?? '')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 300),
  );
  let kdMessage = snippet;
  if (detail.body?.startsWith('response_error:')) {
    try {
      const ex = JSON.parse(detail.body.slice('response_error:'.length)) as { Message?: string };
      if (ex.Message) kdMessage = scrub(ex.Message);
    } catch {
      // keep the raw snippet
    }
  }
  const partner: PartnerDetail = {
    system: 'kingdee',
    httpStatus: status,
    operation: ctx.operation,
    message: kdMessage || (detail.cause instanceof Error ? scrub(detail.cause.message) : undefined),
  };
  const what = describe(ctx);
  if (detail.cause !== undefined) {
    const reason = detail.cause instanceof Error ? detail.cause.message : String(detail.cause);
    return new TransientError(`${what}: no answer (${scrub(reason)})`, { partner, cause: detail.cause });
  }
  if (status === 429) {
    const seconds = Number(detail.retryAfter);
    return new RateLimitedError(`${what}: HTTP 429 ${kdMessage}`.trim(), {
      partner,
      retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : ctx.callLimitWaitMs,
    });
  }
  if (status !== undefined && (status >= 500 || status === 408 || status === 200)) {
    // 200 here means an unreadable body or a `response_error:` exception: the server's problem.
    return new TransientError(
      `${what}: ${status === 200 ? 'server exception' : `HTTP ${status}`} ${kdMessage}`.trim(),
      {
        partner,
      },
    );
  }
  return new PermanentError(`${what}: HTTP ${status} ${kdMessage} (check baseUrl)`.trim(), {
    partner,
    fault: 'user',
  });
}
