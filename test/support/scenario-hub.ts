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
  /** Waits until `flowId` has at least `n` runs and none is still running; returns them (newest first). */
  settled(flowId: string, n: number, ms?: number): Promise<RunRow[]>;
  /**
   * Reads a poll flow's records again from the very beginning (as after a lost cursor) through its
   * trigger into the inbox, without touching its cursor; returns how many events were new (a run each).
   */
  repoll(flowId: string): Promise<number>;
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
  const started = await startSandboxes({ only: opts.systems });
  const hub = await startHub({
    ...opts.hub,
    dataDir: opts.dataSubdir ? join(dir, opts.dataSubdir) : dir,
    box: new SecretBox([randomBytes(32)]),
    port: 0,
    host: '127.0.0.1',
    log: createLogger({}, { level: (process.env.QIAO_LOG as 'warn' | undefined) ?? 'silent' }),
  }).catch(async (err) => {
    await started.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  const close = async () => {
    await hub.close();
    await started.close();
    rmSync(dir, { recursive: true, force: true });
  };
  let wiring: HubWiring;
  try {
    wiring = await connectHub(hub, started.handles, opts);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    ...wiring,
    dir,
    sandboxes: started.handles as unknown as Pick<SandboxOf, S>,
    async pollNow() {
      await hub.engine.reloadFlows();
      await pause(300);
    },
    async settled(flowId, n, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const all = await hub.store.listRuns({ flowId, limit: 1000 });
        if (all.length >= n && all.every((r) => r.status !== 'running')) return all;
        if (Date.now() > end) {
          throw new Error(
            `${flowId} has ${all.length} of ${n} runs: ${JSON.stringify(all.map((r) => [r.status, r.error]))}`,
          );
        }
        await pause(20);
      }
    },
    async repoll(flowId) {
      const row = await hub.store.getFlow(flowId);
      const t = row?.definition.trigger;
      if (!row || t?.type !== 'poll') throw new Error(`${flowId} is not a poll flow`);
      const spec = hub.connections.require(t.connection).connector.triggers[t.trigger];
      if (spec?.kind !== 'poll') throw new Error(`${t.connection} has no poll trigger ${t.trigger}`);
      const params = spec.params.parse(t.params);
      let cursor: Cursor | null = null;
      let fresh = 0;
      for (;;) {
        const page = await spec.poll(params, cursor, { signal: AbortSignal.timeout(60_000), log: hub.log });
        const out = await hub.engine.ingestPage(row.definition, row.version, page.records, null);
        fresh += out.filter((o) => !o.duplicate).length;
        cursor = page.cursor ?? cursor;
        if (!page.more) return fresh;
      }
    },
    close,
  };
}
