/**
 * WeCom's error envelope (spec §1, §10.1): always HTTP 200 with `{errcode, errmsg}`; error messages
 * carry the `, hint: [...], from ip: ..., more info at ...?e=<code>` tail; the code is also mirrored
 * in the (undocumented, optional) `Error-Code` / `Error-Msg` headers.
 */
import { randomInt } from 'node:crypto';
import type { SandboxReply } from '../common/server.ts';

/** Default messages, as WeCom words them (global error codes, spec §8 and [S2]). */
export const ERRMSG: Record<number, string> = {
  [-1]: 'system busy',
  40001: 'invalid credential',
  40003: 'invalid userid',
  40008: 'invalid message type',
  40013: 'invalid corpid',
  40014: 'invalid access_token',
  40056: 'invalid agentid',
  40057: 'invalid callbackurl',
  40058: 'invalid parameter',
  40063: 'some parameters are empty',
  40091: 'secret is invalid',
  41001: 'access_token missing',
  41002: 'corpid missing',
  41004: 'corpsecret missing',
  41010: 'url missing',
  41033: 'description missing',
  42001: 'access_token expired',
  42014: 'invalid task_id',
  42015: 'agentid not match',
  42016: 'task_id not exist',
  42017: 'button key not exist',
  42018: 'invalid button key',
  42019: 'button key missing',
  42020: 'button replace_name missing',
  44004: 'empty content',
  45002: 'content size out of limit',
  45009: 'api freq out of limit',
  45033: 'api concurrent out of limit',
  46004: 'user no exist',
  47001: 'data format error',
  48002: 'api forbidden',
  60011: 'no privilege to access/modify contact/party/agent',
  60111: 'userid not found',
  60123: 'invalid party id',
  81013: 'user & party & tag all invalid',
  93000: 'invalid webhook url',
  93004: 'robot is disabled',
  93008: 'robot not in chat',
  301025: 'param error',
  301026: 'internal error',
  301055: 'no approval permission',
  301056: 'approval app is disabled',
  301057: 'apply event failed',
};

/** Thrown by handlers; the router turns it into the partner's envelope. */
export class WecomApiError extends Error {
  readonly errcode: number;
  constructor(errcode: number, detail?: string) {
    super(detail ? `${ERRMSG[errcode] ?? 'error'}: ${detail}` : (ERRMSG[errcode] ?? 'error'));
    this.errcode = errcode;
  }
}

export function errorReply(errcode: number, message: string, ip: string): SandboxReply {
  const hint = `${Math.floor(Date.now() / 1000)}${String(randomInt(1e9, 1e10 - 1))}${String(randomInt(1e6, 1e7 - 1))}`;
  const errmsg = `${message}, hint: [${hint}], from ip: ${ip || '127.0.0.1'}, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
  return {
    status: 200,
    headers: { 'error-code': String(errcode), 'error-msg': asciiOnly(ERRMSG[errcode] ?? 'error') },
    body: { errcode, errmsg },
  };
}

export function ok(body: Record<string, unknown> = {}): SandboxReply {
  return {
    status: 200,
    headers: { 'error-code': '0', 'error-msg': 'ok' },
    body: { errcode: 0, errmsg: 'ok', ...body },
  };
}

function asciiOnly(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
