/**
 * Test support: a Neocrm sandbox with a connector connected to it and a small admin-surface client.
 * Used by the connector's tests, the end-to-end tests and the bench.
 */
import { silentLogger } from '../../core/logger.ts';
import {
  type NeocrmSandboxHandle,
  type NeocrmSandboxOptions,
  startNeocrmSandbox,
} from '../../sandbox/neocrm/index.ts';
import { createNeocrmConnector, type NeocrmConnector } from './index.ts';
import { type NeocrmSettings, neocrmSettings } from './settings.ts';

export interface NeocrmFixture {
  sandbox: NeocrmSandboxHandle;
  settings: NeocrmSettings;
  connector: NeocrmConnector;
  /** Calls the admin surface; throws with the answer on a non-2xx status. */
  admin<T = any>(path: string, body?: unknown, method?: string): Promise<T>;
  close(): Promise<void>;
}

export async function startNeocrmFixture(
  options: NeocrmSandboxOptions = {},
  settingsOverride: Partial<NeocrmSettings> = {},
): Promise<NeocrmFixture> {
  const sandbox = await startNeocrmSandbox(options);
  const settings = neocrmSettings.parse({
    baseUrl: sandbox.baseUrl,
    ...sandbox.credentials,
    ...settingsOverride,
  });
  const connector = createNeocrmConnector(settings, silentLogger);
  const admin = async (path: string, body?: unknown, method = body === undefined ? 'GET' : 'POST') => {
    const res = await fetch(`${sandbox.urls.admin}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`admin ${method} ${path} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { sandbox, settings, connector, admin, close: () => sandbox.close() };
}
