/**
 * What the API tests share: an in-process hub on SQLite in a temp folder, serving on loopback, the REST
 * target sandbox, and `call()` for real HTTP requests with fetch. Responses are checked against their
 * declared schemas (QIAO_API_CHECK_RESPONSES, route.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../core/logger.ts';
import { SecretBox } from '../../core/secret-box.ts';
import { type Hub, startHub } from '../../hub.ts';
import { type HttpTargetHandle, startHttpTarget } from '../../sandbox/http-target/index.ts';
import type { RunStatus } from '../../store/store.ts';

process.env.QIAO_API_CHECK_RESPONSES = '1';

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export interface ApiKit {
  hub: Hub;
  target: HttpTargetHandle;
  url: string;
  dataDir: string;
  /** A JSON request (a string body is sent as is, with `content-type` from headers or JSON). */
  call<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer<T>>;
  /** Settings of an http connection to the target. */
  targetSettings(): Record<string, unknown>;
  /** Resolves when the run is in one of the statuses. */
  until(runId: string, statuses: RunStatus[]): Promise<void>;
  close(): Promise<void>;
}

export async function startApiKit(opts: { bodyLimit?: number } = {}): Promise<ApiKit> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qiao-api-'));
  const target = await startHttpTarget();
  const hub = await startHub({
    dataDir,
    box: new SecretBox([randomBytes(32)]),
    log: silentLogger,
    ...(opts.bodyLimit
      ? {
          config: {
            file: join(dataDir, 'qiao.yaml'),
            dir: dataDir,
            dataDir,
            server: { port: 0, host: '127.0.0.1', bodyLimit: opts.bodyLimit },
            connections: {},
            flows: [],
            workers: { concurrency: 8 },
          },
        }
      : {}),
  });
  const url = `${hub.url}/api`;
  const targetSettings = () => ({
    baseUrl: target.baseUrl,
    auth: { type: 'bearer', token: 'qiao-target-token' },
  });
  return {
    hub,
    target,
    url,
    dataDir,
    targetSettings,
    async call(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed as any };
    },
    async until(runId, statuses) {
      const end = Date.now() + 15_000;
      for (;;) {
        const got = await hub.store.getRun(runId);
        if (got && statuses.includes(got.run.status)) return;
        if (Date.now() > end)
          throw new Error(`run ${runId} is ${got?.run.status}, not ${statuses.join('/')}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      await hub.close();
      await target.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
