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
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hub } from '../../hub.ts';
import type { Sandboxes } from '../../sandbox/index.ts';
import type { RunRow, RunStatus, StepRow } from '../../store/store.ts';

const FLOWS_DIR = join(import.meta.dirname, '..', '..', '..', 'flows');
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** JSON to an admin surface; throws on a non-2xx answer. */
async function call(url: string, body?: unknown, method?: string): Promise<Json> {
  const verb = method ?? (body === undefined ? 'GET' : 'POST');
  const res = await fetch(url, {
    method: verb,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${verb} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

/** Waits on a condition over the sandboxes' state (15 s at most). */
export async function waitFor(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

/** Waits on state until the run picked by `which` has one of `statuses` (20 s at most). */
export async function waitRun(
  hub: Hub,
  flowId: string,
  which: string | ((r: RunRow) => boolean),
  statuses: RunStatus[],
  ms = 20_000,
): Promise<{ run: RunRow; steps: StepRow[] }> {
  const pick = typeof which === 'string' ? (r: RunRow) => Boolean(r.eventKey?.startsWith(which)) : which;
  const prefix = typeof which === 'string' ? which : 'the awaited event';
  const end = Date.now() + ms;
  for (;;) {
    const runs = await hub.store.listRuns({ flowId, limit: 10_000 });
    const run = runs.find(pick);
    const got = run && (await hub.store.getRun(run.id));
    if (got && statuses.includes(got.run.status)) return got;
    if (Date.now() > end) {
      throw new Error(`${flowId}: the run of ${prefix} is ${got?.run.status ?? 'not started'}`);
    }
    await wait(25);
  }
}

/** Points the conventional connections at the sandboxes and the WeCom callback at the hub. */
export async function wire(hub: Hub, sandboxes: Sandboxes, step: (l: string) => void): Promise<DemoContext> {
  const h = sandboxes.handles;
  const kd = h.kingdee!;
  const neo = h.neocrm!;
  const wc = h.wecom!;
  const dt = h.dingtalk!;
  const limits = { rate: { perSecond: 500, burst: 500 } };
  const save = (id: string, settings: Json) =>
    hub.connections.save({ id, type: id, settings, limits, origin: 'api' }, 'demo');
  await save('kingdee', { baseUrl: kd.baseUrl, ...(kd.credentials as Json) });
  await save('neocrm', {
    baseUrl: neo.baseUrl,
    ...(neo.credentials as Json),
    // As flows/qiao.example.yaml lists them: the standard objects and the tenant's project__c.
    objects: [
      'account',
      'contact',
      'opportunity',
      'contract',
      'order',
      'product',
      'paymentApplicationPlan',
      'paymentApplication',
      'project__c',
    ],
  });
  await save('wecom', { baseUrl: wc.baseUrl, ...(wc.credentials as Json) });
  await save('dingtalk', {
    ...(dt.credentials as Json),
    oapiUrl: dt.urls.oapi,
    apiUrl: dt.urls.api,
    ingress: 'stream',
  });
  const ctx: DemoContext = {
    hub,
    startedAt: Date.now(),
    crm: (p, b, m) => call(`${neo.urls.admin}${p}`, b, m),
    wecom: (p, b) => call(`${wc.baseUrl}/__sandbox/${p}`, b),
    erp: (p, b, m) => call(`${kd.urls.admin}${p}`, b, m),
    ding: (m, p, b) =>
      (dt as unknown as { admin(m: string, p: string, b?: unknown): Promise<Json> }).admin(m, p, b),
    load: (name) => loadFlow(hub, name),
    playedBefore: async (flowId) =>
      (await hub.store.listRuns({ flowId, limit: 10_000 })).some((r) => r.startedAt < ctx.startedAt),
    step,
  };
  await ctx.wecom('callback-settings', { timeoutMs: 2_000, retryDelaysMs: [50, 50, 50] });
  await waitFor(
    'the DingTalk Stream connection',
    async () => (await ctx.ding('GET', '/__sandbox/stream')).connections.length === 1,
  );
  const cb = await ctx.wecom('callback', { url: `${hub.url}/hooks/wecom/wecom` });
  if (!cb.ok) throw new Error('the WeCom sandbox did not accept the hub as its callback URL');
  return ctx;
}

/** Loads a shipped flow template as `qiao start --config flows/qiao.example.yaml` would. */
export async function loadFlow(hub: Hub, name: string): Promise<void> {
  const text = readFileSync(join(FLOWS_DIR, `${name}.yaml`), 'utf8');
  await hub.saveFlow(text, `flows/${name}.yaml`, 'config', 'demo');
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
