/**
 * `qiao demo` (`npm run demo`): the engine end to end on a fresh machine, with no network and no
 * configuration. It starts every sandbox and a hub with an embedded store in `.qiao-demo/`, wires the
 * built-in scenario (demo-scenario.ts), delivers its orders through the hub's own webhook while steps
 * tick live, prints a summary and the URLs to look at, then keeps running until Ctrl-C.
 *
 * `--once` stops after the summary and exits 0 only when everything went as expected; `--json` prints
 * the summary as one JSON object. Every order has a stable event key, so running the demo again on the
 * same folder creates nothing twice: the inbox recognises every order as already seen.
 */
import { resolve } from 'node:path';
import { createLogger, type Logger } from '../core/logger.ts';
import { type Hub, startHub } from '../hub.ts';
import type { HttpTargetHandle } from '../sandbox/http-target/index.ts';
import { type Sandboxes, startSandboxes } from '../sandbox/index.ts';
import {
  checkDemo,
  DEMO_CONNECTION,
  DEMO_FLOW,
  DEMO_FLOW_ID,
  type DemoOrder,
  demoEvents,
  eventKey,
  INVALID_ORDER_CUSTOMER,
  type ScenarioSummary,
} from './demo-scenario.ts';
import { CliError, positiveInt, say, table } from './output.ts';
import { untilSignal } from './signals.ts';

export const DEMO_PORT = 8780;
export const DEMO_DATA_DIR = '.qiao-demo';

export interface DemoSummary {
  status: 'ok' | 'failed';
  elapsedMs: number;
  hub: string;
  dataDir: string;
  scenarios: ScenarioSummary[];
}

interface DemoOptions {
  once?: boolean;
  json?: boolean;
  dataDir?: string;
  port?: string;
}

/** A hub on the demo port, or on a free one when that is taken (another demo, another service). */
async function startDemoHub(dataDir: string, port: number, log: Logger): Promise<Hub> {
  try {
    return await startHub({ dataDir, port, host: '127.0.0.1', log });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return startHub({ dataDir, port: 0, host: '127.0.0.1', log });
  }
}

/** One status line, rewritten in place on a terminal: events delivered, runs finished, steps done. */
function progressLine(p: {
  delivered: number;
  total: number;
  duplicates: number;
  counts: Record<string, number>;
  steps: number;
}): string {
  const width = 24;
  const finished = (p.counts.completed ?? 0) + (p.counts.failed ?? 0) + p.duplicates;
  const filled = Math.min(width, Math.round((finished / Math.max(1, p.total)) * width));
  return (
    `  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.delivered}/${p.total} events · ` +
    `${p.counts.completed ?? 0} completed · ${p.counts.failed ?? 0} dead-lettered · ${p.duplicates} duplicate · ` +
    `${p.steps} steps done`
  );
}

async function play(
  hub: Hub,
  orders: DemoOrder[],
  opts: { live: boolean; paceMs: number },
): Promise<{ runIds: string[]; duplicates: number }> {
  const runIds: string[] = [];
  let duplicates = 0;
  let delivered = 0;
  let stop = false;
  const tty = opts.live && process.stdout.isTTY;
  const paint = async () => {
    const counts: Record<string, number> = {};
    let steps = 0;
    for (const id of runIds) {
      const got = await hub.store.getRun(id);
      if (!got) continue;
      counts[got.run.status] = (counts[got.run.status] ?? 0) + 1;
      steps += got.steps.filter((s) => s.status === 'completed' || s.status === 'dead').length;
    }
    process.stdout.write(`\r${progressLine({ delivered, total: orders.length, duplicates, counts, steps })}`);
  };
  const ticker = (async () => {
    while (tty && !stop) {
      await paint();
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    for (const o of orders) {
      const res = await fetch(`${hub.url}/hooks/http/${DEMO_FLOW_ID}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': eventKey(o) },
        body: JSON.stringify(o),
      });
      if (res.status !== 202 && res.status !== 200) {
        throw new Error(`the webhook answered ${res.status}: ${await res.text()}`);
      }
      const body = (await res.json()) as { duplicate: boolean; runIds: string[] };
      if (body.duplicate) duplicates += 1;
      runIds.push(...body.runIds);
      delivered += 1;
      if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
    }
    await hub.engine.drain(60_000);
  } finally {
    stop = true;
    await ticker;
    if (tty) {
      await paint();
      process.stdout.write('\n');
    }
  }
  return { runIds, duplicates };
}

export function summaryTable(s: DemoSummary): string {
  return table([
    ['SCENARIO', 'STATUS', 'EVENTS', 'RUNS', 'COMPLETED', 'DEAD LETTERS', 'WRITTEN', 'DUPLICATES', 'MS'],
    ...s.scenarios.map((x) => [
      x.scenario,
      x.status,
      String(x.events),
      String(x.runs),
      String(x.completed),
      String(x.deadLetters),
      String(x.recordsWritten),
      String(x.duplicates),
      String(x.elapsedMs),
    ]),
  ]);
}

export async function demoCommand(opts: DemoOptions): Promise<number> {
  const started = performance.now();
  const dataDir = resolve(opts.dataDir ?? DEMO_DATA_DIR);
  const port = opts.port === '0' ? 0 : (positiveInt('--port', opts.port, 65535) ?? DEMO_PORT);
  const quiet = Boolean(opts.json);
  const log = createLogger({}, { level: (process.env.QIAO_LOG as 'warn' | undefined) ?? 'error' });
  const note = (line: string) => {
    if (!quiet) say(line);
  };

  let sandboxes: Sandboxes | undefined;
  let hub: Hub | undefined;
  try {
    try {
      sandboxes = await startSandboxes({});
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const target = sandboxes.handles['http-target'] as HttpTargetHandle;
    hub = await startDemoHub(dataDir, port, log);
    note(`Qiao demo: hub ${hub.url}, data in ${dataDir}`);

    // The target's address changes with every start; the connection follows it.
    await hub.connections.save(
      {
        id: DEMO_CONNECTION,
        type: 'http',
        settings: { baseUrl: target.baseUrl, auth: { type: 'bearer', token: 'qiao-target-token' } },
        origin: 'api',
      },
      'demo',
    );
    await hub.saveFlow(DEMO_FLOW, 'demo-orders.yaml', 'api', 'demo');

    const orders = demoEvents();
    note(`Playing ${orders.length} sales orders into ${hub.url}/hooks/http/${DEMO_FLOW_ID} …`);
    const t0 = performance.now();
    const played = await play(hub, orders, { live: !quiet, paceMs: opts.once ? 0 : 25 });
    const { problems, runs } = await checkDemo(hub.store, target.effects);
    const mine = new Set(played.runIds);
    const ran = runs.filter((r) => mine.has(r.id));
    const deadLetters = (await hub.store.listDeadLetters({ flowId: DEMO_FLOW_ID, limit: 1000 })).filter((d) =>
      mine.has(d.runId),
    );
    if (played.runIds.length + played.duplicates !== orders.length) {
      problems.push(
        `${orders.length} events gave ${played.runIds.length} runs and ${played.duplicates} duplicates`,
      );
    }
    const scenario: ScenarioSummary = {
      scenario: DEMO_FLOW_ID,
      status: problems.length ? 'failed' : 'ok',
      events: orders.length,
      runs: played.runIds.length,
      completed: ran.filter((r) => r.status === 'completed').length,
      failed: ran.filter((r) => r.status === 'failed').length,
      recordsWritten: target.items.size,
      duplicates: played.duplicates,
      deadLetters: deadLetters.length,
      elapsedMs: Math.round(performance.now() - t0),
      problems,
    };
    const summary: DemoSummary = {
      status: scenario.status,
      elapsedMs: Math.round(performance.now() - started),
      hub: hub.url!,
      dataDir,
      scenarios: [scenario],
    };

    if (opts.json) say(JSON.stringify(summary));
    else {
      say();
      say(summaryTable(summary));
      say();
      if (scenario.runs === 0 && scenario.duplicates === scenario.events) {
        say(`Every order was already in ${dataDir}: nothing was created twice.`);
      }
    }
    for (const p of problems) process.stderr.write(`demo: ${p}\n`);
    if (opts.once) return summary.status === 'ok' ? 0 : 1;

    const u = hub.url;
    say('Look at:');
    say(`  runs          ${u}/api/runs`);
    say(`  dead letters  ${u}/api/dead-letters`);
    say(`  id links      ${u}/api/links?connection=${DEMO_CONNECTION}`);
    say(`  metrics       ${u}/metrics`);
    say(`  the API       ${u}/api/openapi.json`);
    const open = await hub.store.listDeadLetters({ flowId: DEMO_FLOW_ID, status: 'open', limit: 1 });
    if (open[0]) {
      const input = open[0].input as { body?: Record<string, unknown> } | undefined;
      const fixed = { ...input, body: { ...input?.body, name: INVALID_ORDER_CUSTOMER } };
      say();
      say('One order carried its customer as a number and was dead-lettered. Fix and replay it:');
      say(
        `  curl -X PATCH ${u}/api/dead-letters/${open[0].id} -H 'content-type: application/json' -d '${JSON.stringify({ input: fixed })}'`,
      );
      say(`  curl -X POST ${u}/api/dead-letters/${open[0].id}/replay`);
    }
    say();
    say('The partner sandboxes are running too (base URLs and credentials: `qiao sandbox` prints them):');
    for (const [system, d] of Object.entries(sandboxes.describe())) {
      if (system !== 'http-target') say(`  ${system.padEnd(9)} ${d.baseUrl}`);
    }
    say();
    say(
      'This interim demo runs the engine against a generic REST target. The partner scenarios ' +
        '(Kingdee ⇄ Neocrm customers, contract approvals in WeCom/DingTalk, receipts, expenses…) arrive with a later issue.',
    );
    say('Ctrl-C stops the demo.');
    await untilSignal();
    say('stopping…');
    return 0;
  } finally {
    await hub?.close().catch(() => {});
    await sandboxes?.close().catch(() => {});
  }
}
