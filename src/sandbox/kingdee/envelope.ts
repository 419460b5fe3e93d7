/**
 * K/3 Cloud's answer shapes (spec 5): business outcomes are HTTP 200 with `Result.ResponseStatus`;
 * queries answer with bare arrays and wrap their failures in `[[{"Result": …}]]` (spec 4.4).
 */

/** MsgCode values from the official appendix (spec 5.2). */
export const MsgCode = {
  ok: 0,
  sessionLost: 1,
  noPermission: 2,
  operationEmpty: 3,
  exception: 4,
  formEmpty: 5,
  databaseFailed: 6,
  licence: 7,
  parameter: 8,
  fieldNotFound: 9,
  notFound: 10,
  validation: 11,
  notAllowed: 12,
  networkControl: 13,
  callLimit: 14,
  adminForbidden: 15,
} as const;

export interface KdError {
  FieldName: string | null;
  Message: string;
  DIndex: number;
}

export interface SuccessEntity {
  Id: number;
  Number: string;
  DIndex: number;
}

export interface ResponseStatus {
  ErrorCode?: number;
  IsSuccess: boolean;
  Errors: KdError[];
  SuccessEntitys: SuccessEntity[];
  SuccessMessages: KdError[];
  MsgCode: number;
}

export function okStatus(entities: SuccessEntity[] = []): ResponseStatus {
  return { IsSuccess: true, Errors: [], SuccessEntitys: entities, SuccessMessages: [], MsgCode: MsgCode.ok };
}

export function failStatus(
  msgCode: number,
  errors: KdError[],
  entities: SuccessEntity[] = [],
): ResponseStatus {
  return {
    ErrorCode: 500,
    IsSuccess: false,
    Errors: errors,
    SuccessEntitys: entities,
    SuccessMessages: [],
    MsgCode: msgCode,
  };
}

/** A failure of one operation as a value, before it is put into an envelope. */
export class KdFailure extends Error {
  readonly msgCode: number;
  readonly errors: KdError[];
  constructor(msgCode: number, message: string, fieldName: string | null = null, dIndex = 0) {
    super(message);
    this.msgCode = msgCode;
    this.errors = [{ FieldName: fieldName, Message: message, DIndex: dIndex }];
  }

  static many(msgCode: number, errors: KdError[]): KdFailure {
    const f = new KdFailure(msgCode, errors[0]?.Message ?? '');
    f.errors.splice(0, 1, ...errors);
    return f;
  }
}

/** `{"Result":{"ResponseStatus":…}}` — the operation envelope (spec 5.1). */
export function operationEnvelope(status: ResponseStatus, extra: Record<string, unknown> = {}): object {
  return { Result: { ResponseStatus: status, ...extra } };
}

/** A failure envelope as the given method returns it: queries wrap it in `[[…]]` (spec 4.4). */
export function failureBody(method: string, failure: KdFailure): object {
  const status = failStatus(failure.msgCode, failure.errors);
  const m = method.toLowerCase();
  if (m === 'executebillquery' || m === 'billquery') return [[operationEnvelope(status)]];
  if (m === 'save' || m === 'draft' || m === 'batchsave') {
    return operationEnvelope(status, { Id: '', Number: '', NeedReturnData: [{}] });
  }
  if (m === 'view') return operationEnvelope(status, { Result: null });
  return operationEnvelope(status);
}

/** Spec 3.4: the session-lost envelope, message as a zh-CN server words it. */
export function sessionLost(): KdFailure {
  return new KdFailure(MsgCode.sessionLost, '会话信息已丢失，请重新登录');
}

/**
 * Spec 5.3: a server exception surfaces as a non-JSON body prefixed `response_error:` carrying a
 * serialised .NET exception.
 */
export function responseErrorBody(message: string): string {
  return `response_error:${JSON.stringify({ Message: message, InnerExWrapper: null, InnerException: null })}`;
}
