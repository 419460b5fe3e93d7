/** Raw HTTP helpers for the sandbox's own tests: no connector code, only the spec's shapes. */
import { type DingtalkSandbox, startDingtalkSandbox } from './index.ts';

export type { DingtalkSandbox };
export { startDingtalkSandbox };

export async function json(res: Response): Promise<{ status: number; body: any; type: string }> {
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, type: res.headers.get('content-type') ?? '' };
}

export async function oldToken(sb: DingtalkSandbox): Promise<string> {
  const r = await json(
    await fetch(
      `${sb.urls.oapi}/gettoken?appkey=${sb.credentials.appKey}&appsecret=${sb.credentials.appSecret}`,
    ),
  );
  return r.body.access_token;
}

export async function oapi(sb: DingtalkSandbox, path: string, body: unknown, token?: string) {
  const t = token ?? (await oldToken(sb));
  return json(
    await fetch(`${sb.urls.oapi}${path}?access_token=${t}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

export async function api(sb: DingtalkSandbox, method: string, path: string, body?: unknown, token?: string) {
  const t = token ?? (await oldToken(sb));
  return json(
    await fetch(`${sb.urls.api}${path}`, {
      method,
      headers: {
        'x-acs-dingtalk-access-token': t,
        'content-type': 'application/json',
        accept: 'application/json',
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
}
