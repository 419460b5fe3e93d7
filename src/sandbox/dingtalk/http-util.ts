/**
 * The two error styles of DingTalk's two API generations (spec §1.1, §3): the "oapi" surface
 * answers HTTP 200 with `errcode`/`errmsg` (+ `request_id` on `/topapi`), the "api" surface answers
 * the business object on success and `{code, message, requestid}` with a 4xx/5xx on failure.
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { parseJson } from '../common/server.ts';
import { apiRequestId, requestId } from './ids.ts';

export type Json = Record<string, unknown>;

export function oapiOk(fields: Json = {}): SandboxReply {
  return { status: 200, body: { errcode: 0, errmsg: 'ok', ...fields, request_id: requestId() } };
}

export function oapiError(errcode: number, errmsg: string, extra: Json = {}): SandboxReply {
  return { status: 200, body: { errcode, errmsg, ...extra, request_id: requestId() } };
}

export function apiOk(body: Json): SandboxReply {
  return { status: 200, body };
}

export function apiError(status: number, code: string, message: string): SandboxReply {
  return { status, body: { code, message, requestid: apiRequestId() } };
}

/**
 * Old `/topapi/*` bodies arrive as JSON or as `application/x-www-form-urlencoded` whose object
 * parameters are JSON strings (spec §3, §15.2). Returns undefined when neither parses.
 */
export function parseOldBody(req: SandboxRequest): Json | undefined {
  const type = String(req.headers['content-type'] ?? '');
  const text = req.rawBody.toString('utf8');
  if (type.includes('application/x-www-form-urlencoded')) {
    const out: Json = {};
    for (const [k, v] of new URLSearchParams(text)) {
      const t = v.trim();
      if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
        const parsed = parseJson(t);
        out[k] = parsed === undefined ? v : parsed;
      } else out[k] = v;
    }
    return out;
  }
  const parsed = parseJson(text);
  if (parsed === undefined && !text.trim()) return {};
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : undefined;
}

/** New-API bodies are JSON only. */
export function parseNewBody(req: SandboxRequest): Json | undefined {
  const parsed = parseJson(req.rawBody);
  if (parsed === undefined && !req.rawBody.toString('utf8').trim()) return {};
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Json) : undefined;
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export function isObject(v: unknown): v is Json {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Comma-separated lists (`userid_list`, `approvers`) to arrays, dropping blanks. */
export function commaList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).filter(Boolean);
  if (typeof v !== 'string') return [];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `2020-12-21 15:30:26` in China time (UTC+8), the old API's date style (spec §10.4). */
export function chinaDateTime(ms: number): string {
  const d = new Date(ms + 8 * 3600_000);
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** `2022-08-31T11:52Z`: the new API's UTC minute-precision date style (spec §10.2). */
export function utcMinute(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/** IPv4 of a socket address (`::ffff:127.0.0.1` → `127.0.0.1`). */
export function ipv4(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip === '::1' ? '127.0.0.1' : ip;
}

export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const toInt = (s: string) => s.split('.').reduce((acc, p) => (acc << 8) + (Number(p) & 255), 0) >>> 0;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || !/^\d+\.\d+\.\d+\.\d+$/.test(base)) return false;
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}

/** A JSON object body, or undefined. */
export function parseJsonObject(buf: Buffer | string): Json | undefined {
  const v = parseJson(buf);
  return isObject(v) ? v : undefined;
}
