/**
 * Response envelopes, which differ by endpoint family and so does the type of `code` (spec 3):
 * v2.0 (xobjects, XOQL, describe, busiType) sends `"code": "200"` (a string) with `data`; query v2 and
 * bulk send `"code": 200` (a number) with `result`; legacy v1 sends bare payloads and
 * `{"error_code", "message"}` failures.
 */
import type { SandboxReply } from '../common/server.ts';
import type { NeoFailure, Tenant } from './state.ts';

export function ok(data: unknown, extra: Record<string, unknown> = {}): SandboxReply {
  return { status: 200, body: { code: '200', msg: null, errorInfo: null, debugInfo: null, data, ...extra } };
}

/** Query v2 / bulk success: numeric code, payload under `result` (spec 3.2, 3.4). */
export function okResult(result: unknown): SandboxReply {
  return { status: 200, body: { code: 200, msg: '操作成功', result } };
}

export type Family = 'v2.0' | 'query' | 'bulk' | 'v1';

/** A failure in the family's own shape; HTTP status per `errorStatusMode` (spec 3.1 allows both). */
export function failure(t: Tenant, err: NeoFailure, family: Family): SandboxReply {
  const status = t.config.errorStatusMode === 'http' ? err.httpStatus : 200;
  if (family === 'v1') return { status: 200, body: { error_code: Number(err.code), message: err.message } };
  if (family === 'query' || family === 'bulk') {
    return { status, body: { code: Number(err.code), msg: err.message, result: null } };
  }
  return {
    status,
    body: {
      code: err.code,
      msg: err.message,
      errorInfo: err.field ? { field: err.field, errorCode: err.code, errorMsg: err.message } : null,
      debugInfo: null,
      data: null,
    },
  };
}
