/**
 * Test-only: serves a connector's hooks over real loopback HTTP the way the hub's server mounts them
 * (`/hooks/wecom/{connectionId}`), recording the events it would store in the inbox.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HookSpec, InboundEvent } from '../../core/connector.ts';

export interface HookServer {
  url: string;
  events: InboundEvent[];
  /** Every answer: status and body, in order. */
  answers: Array<{ method: string; status: number; body: string }>;
  close(): Promise<void>;
}

export async function serveHooks(hooks: HookSpec[], connectionId = 'wecom-test'): Promise<HookServer> {
  const events: InboundEvent[] = [];
  const answers: HookServer['answers'] = [];
  const prefix = `/hooks/wecom/${connectionId}`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const u = new URL(req.url ?? '/', 'http://hub');
      const path = u.pathname.startsWith(prefix) ? u.pathname.slice(prefix.length) : u.pathname;
      const hook = hooks.find((h) => h.method === req.method && h.path === path);
      if (!hook) {
        res.writeHead(404).end();
        return;
      }
      const out = await hook.handle({
        method: req.method ?? 'GET',
        path,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers as Record<string, string | undefined>,
        rawBody: Buffer.concat(chunks),
      });
      // Stored before the answer, as the hub's server does.
      events.push(...(out.events ?? []));
      const body = out.body === undefined ? '' : out.body.toString();
      answers.push({ method: req.method ?? '', status: out.status, body });
      res.writeHead(out.status, out.headers).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    events,
    answers,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function sandboxAdmin(
  baseUrl: string,
  path: string,
  body?: unknown,
  method?: string,
): Promise<any> {
  const res = await fetch(`${baseUrl}/__sandbox/${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  return { status: res.status, ...json };
}
