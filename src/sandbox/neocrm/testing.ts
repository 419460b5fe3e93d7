/**
 * Test support for the sandbox's own tests: a password-grant login and raw calls, with nothing of the
 * connector in between, so the tests see exactly what the wire carries.
 */
import type { NeocrmSandboxHandle } from './index.ts';

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed plainly (ids above 2^53 lose digits here: assert on `text` for those). */
  json: any;
}

export async function raw(url: string, init: RequestInit = {}): Promise<RawAnswer> {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Password grant on the unified endpoint; returns the access token. */
export async function login(
  sb: NeocrmSandboxHandle,
  overrides: Record<string, string> = {},
): Promise<string> {
  const c = sb.credentials as Record<string, string>;
  const form = new URLSearchParams({
    grant_type: 'password',
    client_id: c.clientId,
    client_secret: c.clientSecret,
    redirect_uri: c.redirectUri,
    username: c.username,
    password: c.password + c.securityToken,
    ...overrides,
  });
  const r = await raw(`${sb.baseUrl}/auc/oauth2/token`, { method: 'POST', body: form });
  if (r.status !== 200) throw new Error(`login failed: ${r.text}`);
  return r.json.access_token;
}

/** A data call with `Bearer` and `xsy-criteria: 10` unless told otherwise. */
export function call(
  sb: NeocrmSandboxHandle,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<RawAnswer> {
  const h: Record<string, string> = { authorization: `Bearer ${token}`, 'xsy-criteria': '10', ...headers };
  let payload: string | undefined;
  if (body instanceof URLSearchParams) payload = body.toString();
  else if (typeof body === 'string') payload = body;
  else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  return raw(`${sb.baseUrl}${path}`, { method, headers: h, body: payload });
}

export async function admin(
  sb: NeocrmSandboxHandle,
  path: string,
  body?: unknown,
  method?: string,
): Promise<any> {
  const r = await raw(`${sb.urls.admin}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status !== 200) throw new Error(`admin ${path}: ${r.status} ${r.text}`);
  return r.json;
}
