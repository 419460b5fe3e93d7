/**
 * The scenario demo's runner: the sandboxes, a hub with its store in the data folder, the connections by
 * the conventional ids of flows/qiao.example.yaml (kingdee, neocrm, wecom, dingtalk) pointed at the
 * sandboxes, the shipped flows loaded from flows/, then each scene plays its people's actions through
 * the sandboxes' admin surfaces (the calls the scenario tests use) and checks the sandboxes' records.
 *
 * The sandboxes keep their records in memory, the store does not: a second run on the same folder starts
 * fresh sandboxes whose seeded ids match, so each scene's trigger event is already in the inbox and the
 * scene writes nothing (a duplicate), exactly like the interim demo's second run.
 */
import type { Hub } from '../../hub.ts';
import { connectHub } from '../../sandbox/connect-hub.ts';
import type { Sandboxes } from '../../sandbox/index.ts';

export { waitFor, waitRun } from '../../sandbox/connect-hub.ts';

type Json = Record<string, any>;

export interface DemoContext {
  hub: Hub;
  /** When this demo run started (ms since the epoch): runs before it belong to an earlier demo run. */
  startedAt: number;
  crm(path: string, body?: unknown, method?: string): Promise<Json>;
  wecom(path: string, body?: unknown): Promise<Json>;
  erp(path: string, body?: unknown, method?: string): Promise<Json>;
  ding(method: string, path: string, body?: unknown): Promise<Json>;
  /** Loads a shipped flow (flows/<name>.yaml); its poll runs at once. */
  load(name: string): Promise<void>;
  /** Whether an earlier demo run on this data folder already ran `flowId` (its events are in the inbox). */
  playedBefore(flowId: string): Promise<boolean>;
  /** A line of live progress. */
  step(line: string): void;
  /** The demo's data folder (set by run.ts): scenes keep their files in it, beside the store. */
  dataDir?: string;
}

export interface SceneResult {
  runs: number;
  duplicates: number;
  /** Records written per system by the hub. */
  written: Record<string, number>;
  problems: string[];
}

export interface Scene {
  id: string;
  title: string;
  /** The shipped flow files (flows/<name>.yaml) the scene needs loaded. */
  flows: string[];
  play(ctx: DemoContext): Promise<SceneResult>;
}

export interface SceneSummary {
  scenario: string;
  status: 'ok' | 'failed';
  runs: number;
  written: Record<string, number>;
  duplicates: number;
  elapsedMs: number;
  problems: string[];
}

/** Points the conventional connections at the sandboxes and their callbacks at the hub (connect-hub.ts). */
export async function wire(hub: Hub, sandboxes: Sandboxes, step: (l: string) => void): Promise<DemoContext> {
  const w = await connectHub(hub, sandboxes.handles, { actor: 'demo' });
  const ctx: DemoContext = {
    ...w,
    startedAt: Date.now(),
    playedBefore: async (flowId) =>
      (await hub.store.listRuns({ flowId, limit: 10_000 })).some((r) => r.startedAt < ctx.startedAt),
    step,
  };
  return ctx;
}

/** Plays one scene and sums it up; a thrown error is a failed scene, not a crashed demo. */
export async function playScene(scene: Scene, ctx: DemoContext): Promise<SceneSummary> {
  const t0 = performance.now();
  let r: SceneResult;
  try {
    r = await scene.play(ctx);
  } catch (err) {
    r = { runs: 0, duplicates: 0, written: {}, problems: [(err as Error).message] };
  }
  return {
    scenario: scene.id,
    status: r.problems.length ? 'failed' : 'ok',
    runs: r.runs,
    written: r.written,
    duplicates: r.duplicates,
    elapsedMs: Math.round(performance.now() - t0),
    problems: r.problems,
  };
}
