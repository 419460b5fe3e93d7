/**
 * What the scenario tests share beyond the wiring of src/sandbox/connect-hub.ts: the sandboxes and a
 * serving hub started in-process in a temporary folder (a throwaway secret key, silent logs unless
 * QIAO_LOG says otherwise), connected to each other, and stopped again with the folder removed; plus
 * the waits the tests do on the store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cursor } from '../../src/core/connector.ts';
import { createLogger } from '../../src/core/logger.ts';
import { SecretBox } from '../../src/core/secret-box.ts';
import { type HubOptions, startHub } from '../../src/hub.ts';
import {
  type ConnectHubOptions,
  connectHub,
  type HubSystem,
  type HubWiring,
} from '../../src/sandbox/connect-hub.ts';
import type { DingtalkSandbox } from '../../src/sandbox/dingtalk/index.ts';
import { startSandboxes } from '../../src/sandbox/index.ts';
import type { KingdeeSandbox } from '../../src/sandbox/kingdee/index.ts';
import type { NeocrmSandboxHandle } from '../../src/sandbox/neocrm/index.ts';
import type { WecomSandbox } from '../../src/sandbox/wecom/index.ts';
import type { RunRow } from '../../src/store/store.ts';

export { adminCall as call, waitFor } from '../../src/sandbox/connect-hub.ts';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each system's sandbox handle, as its own starter types it. */
export interface SandboxOf {
  kingdee: KingdeeSandbox;
  neocrm: NeocrmSandboxHandle;
  wecom: WecomSandbox;
  dingtalk: DingtalkSandbox;
}

export interface ScenarioHubOptions<S extends HubSystem> extends ConnectHubOptions {
  /** The sandboxes to start and connect. */
  systems: readonly S[];
  /** Names the temporary folder (`qiao-scenario-<name>-…`). */
  name: string;
  /** Hub options beyond the folder, key, port and log: worker concurrency, reconciler timing… */
  hub?: Omit<HubOptions, 'config' | 'dataDir' | 'box' | 'serve' | 'port' | 'host' | 'log'>;
  /** The hub's data folder inside the temporary one (e.g. `.qiao`); default the folder itself. */
  dataSubdir?: string;
}

export interface ScenarioHub<S extends HubSystem> extends HubWiring {
  /** The temporary folder; removed by `close`. */
  dir: string;
  sandboxes: Pick<SandboxOf, S>;
  /**
   * Polls now, as the scheduler does at its next interval (reloading the flows resets their schedule),
   * and gives the scheduler's 250 ms tick time to start it; what follows waits on state.
   */
  pollNow(): Promise<void>;
  /**
   * One poll of a poll flow, as the scheduler's (from the stored cursor, through the connection's
   * limits and breaker, the cursor stored with each page), for tests that drive polls themselves
   * (`hub: { runScheduler: false }`). Returns how many events were new (a run each); a failed poll
   * throws rather than looking like a quiet one.
   */
  pollOnce(flowId: string): Promise<number>;
  /** Waits until `flowId` has at least `n` runs and none is still running; returns them (newest first). */
  settled(flowId: string, n: number, ms?: number): Promise<RunRow[]>;
  /**
   * Reads a poll flow's records again from the very beginning (as after a lost cursor) through its
   * trigger into the inbox, without touching its cursor; returns how many events were new (a run each).
   */
  repoll(flowId: string): Promise<number>;
  /**
   * Stops the hub and starts a new one on the same data folder and key (the store is all that
   * carries over), connected again as at the start; `hub` and the wiring are the new hub's afterwards.
   * `whileDown` runs between the two, with no hub running.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts `systems`' sandboxes and a serving hub on loopback in a new temporary folder, and connects
 * them (connectHub: connections, callbacks, Stream, `flows`). On a failure, what started is stopped.
 */
export async function startScenarioHub<S extends HubSystem>(
  opts: ScenarioHubOptions<S>,
): Promise<ScenarioHub<S>> {
  const dir = mkdtempSync(join(tmpdir(), `qiao-scenario-${opts.name}-`));
  const box = new SecretBox([randomBytes(32)]);
  const started = await startSandboxes({ only: opts.systems });
  const openHub = () =>
    startHub({
      ...opts.hub,
      dataDir: opts.dataSubdir ? join(dir, opts.dataSubdir) : dir,
      box,
      port: 0,
      host: '127.0.0.1',
      log: createLogger({}, { level: (process.env.QIAO_LOG as 'warn' | undefined) ?? 'silent' }),
    });
  const hub = await openHub().catch(async (err) => {
    await started.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const close = async () => {
    await env.hub.close();
    await started.close();
    rmSync(dir, { recursive: true, force: true });
  };
  /** Reads a poll flow's trigger from `cursor` to its last page into the inbox; new events. */
  const readPoll = async (flowId: string, from: 'start' | 'cursor'): Promise<number> => {
    const { hub } = env;
    const row = await hub.store.getFlow(flowId);
    const t = row?.definition.trigger;
    if (!row || t?.type !== 'poll') throw new Error(`${flowId} is not a poll flow`);
    const conn = hub.connections.require(t.connection);
    const spec = conn.connector.triggers[t.trigger];
    if (spec?.kind !== 'poll') throw new Error(`${t.connection} has no poll trigger ${t.trigger}`);
    const params = spec.params.parse(t.params);
    let cursor: Cursor | null = from === 'cursor' ? ((await hub.store.getCursor(flowId)) ?? null) : null;
    let fresh = 0;
    for (;;) {
      const page = await hub.connections.guarded(conn, `poll:${t.trigger}`, () =>
        spec.poll(params, cursor, { signal: AbortSignal.timeout(60_000), log: hub.log }),
      );
      const stored = from === 'cursor' ? page.cursor : null;
      const out = await hub.engine.ingestPage(row.definition, row.version, page.records, stored);
      fresh += out.filter((o) => !o.duplicate).length;
      cursor = page.cursor ?? cursor;
      if (!page.more) return fresh;
    }
  };
  let wiring: HubWiring;
  try {
    wiring = await connectHub(hub, started.handles, opts);
  } catch (err) {
    await hub.close();
    await started.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const env: ScenarioHub<S> = {
    ...wiring,
    dir,
    sandboxes: started.handles as unknown as Pick<SandboxOf, S>,
    async pollNow() {
      await env.hub.engine.reloadFlows();
      await pause(300);
    },
    pollOnce: (flowId) => readPoll(flowId, 'cursor'),
    async settled(flowId, n, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const all = await env.hub.store.listRuns({ flowId, limit: 1000 });
        if (all.length >= n && all.every((r) => r.status !== 'running')) return all;
        if (Date.now() > end) {
          throw new Error(
            `${flowId} has ${all.length} of ${n} runs: ${JSON.stringify(all.map((r) => [r.status, r.error]))}`,
          );
        }
        await pause(20);
      }
    },
    repoll: (flowId) => readPoll(flowId, 'start'),
    async restart(whileDown) {
      await env.hub.close();
      await whileDown?.();
      env.hub = await openHub();
      Object.assign(env, await connectHub(env.hub, started.handles, opts));
    },
    close,
  };
  return env;
}
