/**
 * Connects a started hub to started sandboxes, as an operator would connect it to the real systems:
 * the connections by the conventional ids of flows/qiao.example.yaml (`kingdee`, `neocrm`, `wecom`,
 * `dingtalk`) with the sandboxes' credentials, the partners' callbacks pointed at the hub (the WeCom
 * app's callback URL, the Kingdee BOS plugin's push target; DingTalk Stream is opened by the hub
 * itself and awaited), then the shipped flow templates of flows/ loaded by name. `qiao demo` and the
 * scenario tests (test/support/scenario-hub.ts) share it, with the admin-surface callers and the
 * run-waiting they both use.
 *
 * Only types are taken from the hub and the store: the hub is the caller's, started however it likes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionLimits } from '../core/connector.ts';
import type { Hub } from '../hub.ts';
import type { RunRow, RunStatus, StepRow } from '../store/store.ts';
import type { SandboxHandle } from './common/server.ts';

type Json = Record<string, any>;

/** The systems a hub is connected to, by connection id (= connection type). */
export const HUB_SYSTEMS = ['kingdee', 'neocrm', 'wecom', 'dingtalk'] as const;
export type HubSystem = (typeof HUB_SYSTEMS)[number];

/**
 * Qiao's own connections, by the ids of flows/qiao.example.yaml: `hub` (type qiao: the two-way sync
 * and its review queue, scenario 1) and `qiao-api` (type http: this hub's own REST API, which
 * alerts-failures reads and the Neocrm push flow calls).
 */
export const OWN_CONNECTIONS = ['hub', 'qiao-api'] as const;
export type OwnConnection = (typeof OWN_CONNECTIONS)[number];

/** The shipped flow templates' folder. */
export const FLOWS_DIR = join(import.meta.dirname, '..', '..', 'flows');

/** The sandboxes have no rate limit: the partners' documented budgets would only slow a hub down here. */
export const SANDBOX_LIMITS: ConnectionLimits = { rate: { perSecond: 500, burst: 500 } };

/** The Neocrm objects flows/qiao.example.yaml lists: the standard ones and the tenant's project__c. */
export const NEOCRM_OBJECTS = [
  'account',
  'contact',
  'opportunity',
  'contract',
  'order',
  'product',
  'paymentApplicationPlan',
  'paymentApplication',
  'project__c',
];

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** JSON to an admin surface (or any JSON endpoint); throws with the answer on a non-2xx status. */
export async function adminCall(url: string, body?: unknown, method?: string): Promise<any> {
  const verb = method ?? (body === undefined ? 'GET' : 'POST');
  const res = await fetch(url, {
    method: verb,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${verb} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** `base` and `path` with exactly one slash between (the sandboxes' admin URLs differ on a trailing one). */
const under = (base: string, path: string) => `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;

/** Waits on a condition over state, checked every 20 ms; throws naming `what` after `ms` (15 s). */
export async function waitFor(what: string, fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(20);
  }
}

/**
 * Waits on the store until the newest run of `flowId` picked by `which` — an event-key prefix such as
 * `contract:<id>#`, or a predicate — has one of `statuses` (20 s at most). The error names the run's
 * status and its steps' statuses and errors.
 */
export async function waitRun(
  hub: Pick<Hub, 'store'>,
  flowId: string,
  which: string | ((r: RunRow) => boolean),
  statuses: readonly RunStatus[],
  ms = 20_000,
): Promise<{ run: RunRow; steps: StepRow[] }> {
  const pick = typeof which === 'string' ? (r: RunRow) => Boolean(r.eventKey?.startsWith(which)) : which;
  const what = typeof which === 'string' ? which : 'the awaited event';
  const end = Date.now() + ms;
  for (;;) {
    const run = (await hub.store.listRuns({ flowId, limit: 1000 })).find(pick);
    const got = run && (await hub.store.getRun(run.id));
    if (got && statuses.includes(got.run.status)) return got;
    if (Date.now() > end) {
      const steps = got?.steps.map((s) => [s.name, s.status, s.error?.message]);
      throw new Error(
        `${flowId}: the run of ${what} is ${got?.run.status ?? 'not started'}, not ${statuses.join(' or ')}${steps ? `: ${JSON.stringify(steps)}` : ''}`,
      );
    }
    await pause(25);
  }
}

/** Loads a shipped flow template (flows/<name>.yaml) as `qiao start --config flows/qiao.example.yaml` would. */
export async function loadShippedFlow(
  hub: Pick<Hub, 'saveFlow'>,
  name: string,
  actor = 'sandbox',
): Promise<void> {
  const text = readFileSync(join(FLOWS_DIR, `${name}.yaml`), 'utf8');
  await hub.saveFlow(text, `flows/${name}.yaml`, 'config', actor);
}

export interface ConnectHubOptions {
  /** Limits of every connection. Default SANDBOX_LIMITS (no partner budget to respect). */
  limits?: ConnectionLimits;
  /** Settings laid over a system's defaults, e.g. `{ dingtalk: { ingress: 'http' } }`. */
  settings?: Partial<Record<HubSystem, Json>>;
  /** Shipped flows (flows/<name>.yaml) to load once connected; a poll flow polls at once. */
  flows?: readonly string[];
  /**
   * Kingdee's BOS plugin: which forms' operations are pushed to the hub (`/hooks/kingdee/kingdee`),
   * e.g. `{ forms: ['ER_ExpReimbursement'], operations: ['Pay'] }`. Default none (polls only).
   */
  kingdeePush?: { forms: string[]; operations: string[] };
  /**
   * The WeCom sandbox's callback delivery: a short timeout and quick retries (default 2 s, 50 ms × 3)
   * rather than its seeded 5 s and 1–4 s, so a failed delivery is retried while a test or the demo waits.
   */
  wecomDelivery?: { timeoutMs: number; retryDelaysMs: number[] };
  /**
   * Qiao's own connections to save too (OWN_CONNECTIONS; `qiao-api` needs a serving hub, and points
   * at its URL). Saved before `flows` load, as flows are checked against the connections. Default none.
   */
  own?: readonly OwnConnection[];
  /** Who the audit log names for the connections and flows saved. Default `sandbox`. */
  actor?: string;
}

/** A hub connected to sandboxes: their admin surfaces, and the hub's flows and runs. */
export interface HubWiring {
  hub: Hub;
  /** Neocrm's admin surface, e.g. `crm('/records/account?limit=1000')`. */
  crm(path: string, body?: unknown, method?: string): Promise<any>;
  /** WeCom's admin surface, e.g. `wecom('approvals/<spNo>/agree', { userid })`. */
  wecom(path: string, body?: unknown, method?: string): Promise<any>;
  /** Kingdee's admin surface, e.g. `erp('records/SAL_SaleOrder?limit=10000')`. */
  erp(path: string, body?: unknown, method?: string): Promise<any>;
  /** DingTalk's admin surface by its path on the server, e.g. `ding('GET', '/__sandbox/cards')`. */
  ding(method: string, path: string, body?: unknown): Promise<any>;
  /** Loads a shipped flow (flows/<name>.yaml); a poll flow polls at once. */
  load(name: string): Promise<void>;
  /** `waitRun` on this hub. */
  waitRun(
    flowId: string,
    which: string | ((r: RunRow) => boolean),
    statuses: readonly RunStatus[],
    ms?: number,
  ): Promise<{ run: RunRow; steps: StepRow[] }>;
}

/** The connection settings of a system for its sandbox, as `qiao sandbox` describes it. */
function settingsOf(system: HubSystem, h: SandboxHandle): Json {
  switch (system) {
    case 'neocrm':
      return { baseUrl: h.baseUrl, ...h.credentials, objects: NEOCRM_OBJECTS };
    case 'dingtalk':
      return { ...h.credentials, oapiUrl: h.urls.oapi, apiUrl: h.urls.api, ingress: 'stream' };
    default:
      return { baseUrl: h.baseUrl, ...h.credentials };
  }
}

/**
 * Connects `hub` to the given sandboxes (any of the four; `startSandboxes().handles` fits): saves a
 * connection per sandbox (and Qiao's own ones asked for), points WeCom's callback at the hub (URL
 * verification runs first) and the Kingdee push when asked, waits until the hub's DingTalk Stream
 * connection is open, then loads `flows`. Needs a serving hub when WeCom, the Kingdee push or
 * `qiao-api` is wired. Connecting a restarted hub (same data folder) again saves the same again.
 */
export async function connectHub(
  hub: Hub,
  sandboxes: Partial<Record<HubSystem, SandboxHandle>>,
  opts: ConnectHubOptions = {},
): Promise<HubWiring> {
  const actor = opts.actor ?? 'sandbox';
  const admin = (system: HubSystem) => {
    const h = sandboxes[system];
    if (!h) throw new Error(`no ${system} sandbox is connected to this hub`);
    return h.urls.admin;
  };
  const wiring: HubWiring = {
    hub,
    crm: (p, b, m) => adminCall(under(admin('neocrm'), p), b, m),
    wecom: (p, b, m) => adminCall(under(admin('wecom'), p), b, m),
    erp: (p, b, m) => adminCall(under(admin('kingdee'), p), b, m),
    ding: (m, p, b) => adminCall(under(admin('dingtalk'), p), b, m),
    load: (name) => loadShippedFlow(hub, name, actor),
    waitRun: (flowId, which, statuses, ms) => waitRun(hub, flowId, which, statuses, ms),
  };

  const pushed = [sandboxes.wecom && 'wecom', sandboxes.kingdee && opts.kingdeePush && 'kingdee'];
  const needsUrl = pushed.filter(Boolean).join(' and ');
  if (needsUrl && !hub.url) throw new Error(`${needsUrl} callbacks need a hub that serves HTTP`);
  const own = new Set(opts.own ?? []);
  if (own.has('qiao-api') && !hub.url)
    throw new Error('the qiao-api connection needs a hub that serves HTTP');
  const hooks = (system: HubSystem) => `${hub.url}/hooks/${system}/${system}`;
  const settings: Partial<Record<HubSystem, Json>> = {};
  for (const s of HUB_SYSTEMS) {
    const h = sandboxes[s];
    if (h) settings[s] = { ...settingsOf(s, h), ...opts.settings?.[s] };
  }
  // In parallel, as the hub opens its configured connections: each save refreshes a schema.
  await Promise.all(
    Object.entries(settings).map(([id, s]) =>
      hub.connections.save(
        { id, type: id, settings: s, limits: opts.limits ?? SANDBOX_LIMITS, origin: 'api' },
        actor,
      ),
    ),
  );
  if (own.has('hub')) {
    await hub.connections.save({ id: 'hub', type: 'qiao', settings: {}, origin: 'api' }, actor);
  }
  if (own.has('qiao-api')) {
    await hub.connections.save(
      { id: 'qiao-api', type: 'http', settings: { baseUrl: `${hub.url}/api/` }, origin: 'api' },
      actor,
    );
  }
  if (sandboxes.wecom) {
    await wiring.wecom(
      'callback-settings',
      opts.wecomDelivery ?? { timeoutMs: 2_000, retryDelaysMs: [50, 50, 50] },
    );
    const cb = await wiring.wecom('callback', { url: hooks('wecom') });
    if (!cb.ok) throw new Error(`the WeCom sandbox refused the hub's callback URL: ${JSON.stringify(cb)}`);
  }
  if (sandboxes.kingdee && opts.kingdeePush) {
    await wiring.erp('notify', { url: hooks('kingdee'), ...opts.kingdeePush });
  }
  if (settings.dingtalk?.ingress === 'stream') {
    await waitFor(
      'the DingTalk Stream connection',
      async () => (await wiring.ding('GET', '/__sandbox/stream')).connections.length >= 1,
    );
  }
  for (const name of opts.flows ?? []) await wiring.load(name);
  return wiring;
}
