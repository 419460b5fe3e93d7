/**
 * Helpers shared by the DingTalk tests: a sandbox with a connector wired to it, a hook server that
 * mounts the connector's HookSpecs the way the hub does (`/hooks/dingtalk/{id}{path}`), and waiting
 * for a condition without timing assertions.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HookSpec, InboundEvent } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import { type DingtalkSandbox, startDingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { createDingtalkConnector, type DingtalkConnector, type DingtalkCreateOptions } from './index.ts';
import { dingtalkSettings } from './settings.ts';

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function connectorFor(
  sb: DingtalkSandbox,
  overrides: Record<string, unknown> = {},
  options: DingtalkCreateOptions = {},
): DingtalkConnector {
  const settings = dingtalkSettings.parse({
    ...sb.credentials,
    oapiUrl: sb.urls.oapi,
    apiUrl: sb.urls.api,
    ...overrides,
  });
  return createDingtalkConnector({ connectionId: 'dt-test', settings, log: silentLogger }, options);
}

/** Serves HookSpecs like the hub: events go to `stored` before the answer is sent. */
export async function startHookServer(hooks: HookSpec[], stored: InboundEvent[] = []) {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://hooks');
    const prefix = '/hooks/dingtalk/dt-test';
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
    const hook = hooks.find((h) => h.method === req.method && h.path === path);
    if (!hook) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const r = await hook.handle({
      method: req.method ?? 'POST',
      path,
      query: Object.fromEntries(url.searchParams),
      headers,
      rawBody: Buffer.concat(chunks),
    });
    if (r.events) stored.push(...r.events);
    res.writeHead(r.status, r.headers).end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/dingtalk/dt-test`;
  return {
    stored,
    eventsUrl: base,
    robotUrl: `${base}/robot`,
    cardUrl: `${base}/card`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export { startDingtalkSandbox };
