/**
 * Request body decoding (spec 2). The server binds a method's parameters positionally or by name and
 * working clients use every variant, so the sandbox accepts all of them:
 * - `{"parameters": [...]}` with `data` as a JSON string or an object (2.1);
 * - `parameters` itself a string holding a JSON array (2.1, Postman "批量保存");
 * - the legacy envelope `{"format":1,"useragent":"ApiClient","rid":…,"parameters":"[...]",…}` (2.1);
 * - named keys, case-insensitive: `{"formid": …, "data": …}`, `{"acctID", "username", "password",
 *   "lcid"}`, `{"FormId", "Data"}` (2.2).
 */

export interface DecodedBody {
  /** Positional parameters when the body used `parameters`. */
  positional?: unknown[];
  /** Named parameters, keys lower-cased. */
  named: Map<string, unknown>;
  /** Async query mode requested in the body (spec 3.6). */
  beginMethod?: string;
}

export class BodyError extends Error {}

export function decodeBody(raw: Buffer): DecodedBody {
  const text = raw.toString('utf8').trim();
  const named = new Map<string, unknown>();
  if (!text) return { named };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BodyError('请求数据不是有效的JSON格式');
  }
  if (Array.isArray(json)) return { positional: json, named };
  if (!json || typeof json !== 'object') throw new BodyError('请求数据不是有效的JSON格式');
  for (const [k, v] of Object.entries(json)) named.set(k.toLowerCase(), v);
  let positional: unknown[] | undefined;
  const params = named.get('parameters');
  if (Array.isArray(params)) positional = params;
  else if (typeof params === 'string') {
    try {
      const parsed = JSON.parse(params);
      positional = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      throw new BodyError('parameters 不是有效的JSON数组');
    }
  }
  const beginMethod = named.get('beginmethod');
  return { positional, named, beginMethod: typeof beginMethod === 'string' ? beginMethod : undefined };
}

/**
 * Picks parameter `index` (positional) or one of `names` (named). Returns undefined when absent.
 */
export function param(body: DecodedBody, index: number, ...names: string[]): unknown {
  if (body.positional) return body.positional[index];
  for (const n of names) {
    const v = body.named.get(n.toLowerCase());
    if (v !== undefined) return v;
  }
  return undefined;
}

/** `data` may be a JSON string or an object (spec 2.1, 2.2). */
export function dataObject(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null || value === '') return {};
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new BodyError('data 参数不是有效的JSON格式');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new BodyError('data 参数格式错误');
    return parsed as Record<string, unknown>;
  }
  if (typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new BodyError('data 参数格式错误');
}

/** Case-insensitive property read on a data object (templates mix `FormId`/`formid`, `Numbers`/`numbers`). */
export function pick(obj: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (n in obj) return obj[n];
  const lower = new Map(Object.keys(obj).map((k) => [k.toLowerCase(), k]));
  for (const n of names) {
    const k = lower.get(n.toLowerCase());
    if (k !== undefined) return obj[k];
  }
  return undefined;
}

/** Booleans arrive as JSON booleans or as the strings "true"/"false" (spec 4). */
export function bool(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.trim().toLowerCase() === 'true' || value.trim() === '1';
  if (typeof value === 'number') return value !== 0;
  return fallback;
}
