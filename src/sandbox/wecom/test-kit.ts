/**
 * Test-only helpers for the WeCom sandbox tests: raw calls to the partner API and the admin surface,
 * and a callback receiver that checks signatures and decrypts with the official `@wecom/crypto`
 * package (so the sandbox's crypto is proven against WeCom's own library, spec §5).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as official from '@wecom/crypto';
import type { WecomSandbox } from './index.ts';
import { CONTROL_IDS } from './seed.ts';

type Json = Record<string, any>;

export async function api(
  sb: WecomSandbox,
  path: string,
  opts: { query?: Record<string, string>; body?: unknown; method?: string } = {},
): Promise<Json> {
  const u = new URL(path, sb.baseUrl);
  for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, v);
  const res = await fetch(u, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: opts.body === undefined ? {} : { 'content-type': 'application/json' },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  return (await res.json()) as Json;
}

export async function token(sb: WecomSandbox, secret = String(sb.credentials.secret)): Promise<string> {
  const r = await api(sb, '/cgi-bin/gettoken', {
    query: { corpid: String(sb.credentials.corpId), corpsecret: secret },
  });
  if (r.errcode !== 0) throw new Error(`gettoken: ${r.errmsg}`);
  return r.access_token;
}

/** A partner call with the seeded app's token. */
export async function call(
  sb: WecomSandbox,
  path: string,
  body?: unknown,
  query: Record<string, string> = {},
): Promise<Json> {
  return api(sb, path, { body, query: { access_token: await token(sb), ...query } });
}

export async function admin(sb: WecomSandbox, path: string, body?: unknown, method?: string): Promise<Json> {
  const res = await fetch(`${sb.baseUrl}/__sandbox/${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, ...((await res.json()) as Json) };
}

export interface Received {
  query: Record<string, string>;
  body: string;
  plaintext: string;
  receiveId: string;
}

/** A receiver that behaves like a correct hub: verifies, decrypts (official library) and answers 200. */
export async function startReceiver(opts: {
  token: string;
  encodingAesKey: string;
  answer?: (n: number) => number | 'hang';
}): Promise<{
  url: string;
  received: Received[];
  verifications: number;
  close(): Promise<void>;
}> {
  const state = { received: [] as Received[], verifications: 0 };
  let n = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const q = Object.fromEntries(u.searchParams);
      if (req.method === 'GET') {
        const sig = official.getSignature(opts.token, q.timestamp, q.nonce, q.echostr);
        if (sig !== q.msg_signature) return res.writeHead(403).end('bad signature');
        state.verifications++;
        return res.writeHead(200).end(official.decrypt(opts.encodingAesKey, q.echostr).message);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const enc =
        /<Encrypt><!\[CDATA\[(.*?)\]\]><\/Encrypt>/.exec(body)?.[1] ?? (JSON.parse(body).encrypt as string);
      if (official.getSignature(opts.token, q.timestamp, q.nonce, enc) !== q.msg_signature)
        return res.writeHead(403).end();
      const d = official.decrypt(opts.encodingAesKey, enc);
      state.received.push({ query: q, body, plaintext: d.message, receiveId: d.id });
      const a = opts.answer?.(++n) ?? 200;
      if (a === 'hang') return; // never answers: the sandbox times out and retries
      res.writeHead(a).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/wecom/test`,
    received: state.received,
    get verifications() {
      return state.verifications;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const C = CONTROL_IDS.contract;

/** A valid 合同审批 form (spec §3.2 value shapes). */
export function contractContents(amount = '128000.00', number = 'HT-2026-001') {
  return [
    { control: 'Text', id: C.number, value: { text: number } },
    { control: 'Text', id: C.customer, value: { text: '苏州华锐精密机械有限公司' } },
    { control: 'Money', id: C.amount, value: { new_money: amount } },
    {
      control: 'Selector',
      id: C.payment,
      value: { selector: { type: 'single', options: [{ key: 'option-170000000000402' }] } },
    },
    { control: 'Date', id: C.signDate, value: { date: { type: 'day', s_timestamp: '1773100800' } } },
    { control: 'Contact', id: C.owner, value: { members: [{ userid: 'zhangwei' }] } },
  ];
}
