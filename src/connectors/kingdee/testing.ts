/**
 * Test support: a Kingdee sandbox with a connector connected to it, a small admin-surface client, and a
 * stand-in for the hub's server that hands the plugin's pushes to the connector's hook.
 * Used by the connector's tests, the end-to-end tests and the bench.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HookRequest, HookSpec, InboundEvent } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import {
  type KingdeeSandbox,
  type KingdeeSandboxOptions,
  startKingdeeSandbox,
} from '../../sandbox/kingdee/index.ts';
import { createKingdeeConnector, type KingdeeConnector } from './index.ts';
import { type KingdeeSettings, kingdeeSettings } from './settings.ts';

export interface KingdeeFixture {
  sandbox: KingdeeSandbox;
  settings: KingdeeSettings;
  connector: KingdeeConnector;
  /** Calls the sandbox's admin surface; throws with the answer on a non-2xx status. */
  admin<T = any>(path: string, body?: unknown, method?: string): Promise<T>;
  close(): Promise<void>;
}

export function sandboxSettings(
  sandbox: KingdeeSandbox,
  override: Record<string, unknown> = {},
): KingdeeSettings {
  return kingdeeSettings.parse({ baseUrl: sandbox.baseUrl, ...sandbox.credentials, ...override });
}

export async function adminCall<T = any>(
  sandbox: KingdeeSandbox,
  path: string,
  body?: unknown,
  method?: string,
): Promise<T> {
  const res = await fetch(`${sandbox.urls.admin}${path}`, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${path}: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function startKingdeeFixture(
  options: KingdeeSandboxOptions = {},
  override: Record<string, unknown> = {},
): Promise<KingdeeFixture> {
  const sandbox = await startKingdeeSandbox(options);
  const settings = sandboxSettings(sandbox, override);
  const connector = createKingdeeConnector(settings, silentLogger);
  return {
    sandbox,
    settings,
    connector,
    admin: (path, body, method) => adminCall(sandbox, path, body, method),
    close: () => sandbox.close(),
  };
}

/** A loopback server handing each raw request to `hook`, keeping the events and statuses it answered. */
export interface HookServer {
  url: string;
  events: InboundEvent[];
  statuses: number[];
  close(): Promise<void>;
}

export async function startHookServer(hook: HookSpec): Promise<HookServer> {
  const events: InboundEvent[] = [];
  const statuses: number[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const hr: HookRequest = {
        method: req.method ?? 'POST',
        path: '',
        query: {},
        headers: req.headers as Record<string, string | undefined>,
        rawBody: Buffer.concat(chunks),
      };
      const out = await hook.handle(hr);
      events.push(...(out.events ?? []));
      statuses.push(out.status);
      res.writeHead(out.status, out.headers);
      res.end(out.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/kingdee/erp`,
    events,
    statuses,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // The plugin's keep-alive connections would hold close() open for seconds.
        server.closeAllConnections();
      }),
  };
}
