/**
 * Test support: a Kingdee sandbox with a connector connected to it and a small admin-surface client.
 * Used by the connector's tests, the end-to-end tests and the bench.
 */
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
