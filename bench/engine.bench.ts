/**
 * The engine benchmark (DESIGN.md, "Speed we aim for"): webhook → map three fields → HTTP POST to a
 * local target, every event and step committed to the store, on SQLite and on PostgreSQL. Each figure
 * is printed beside the raw HTTP ceiling to the same target measured in the same run.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox } from '../src/core/secret-box.ts';
import { startHub } from '../src/hub.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { closedLoop, figure, fixedRate, percentile } from './support/load.ts';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 4_000);
const RATE = Number(process.env.BENCH_RATE ?? 500);
const RATE_MS = Number(process.env.BENCH_RATE_MS ?? 4_000);
const CONCURRENCY = 32;
const TOKEN = { authorization: 'Bearer qiao-target-token', 'content-type': 'application/json' };

const FLOW = `id: bench
name: bench
trigger: { type: webhook }
steps:
  - id: pick
    map: { name: '=event.customer', amount: '=event.amount', region: '=event.region' }
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: '=steps.pick' }
    retry: { initialInterval: 100ms, maximumAttempts: 20 }
`;

async function startTarget(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, [new URL('./support/target-process.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve) =>
    child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()).url)),
  );
  return { url, stop: () => child.kill('SIGTERM') };
}

const body = (i: number) =>
  JSON.stringify({ customer: `客户${i}`, amount: i * 10, region: '华东', noise: 'x' });

async function rawCeiling(url: string): Promise<{ perSecond: number; p50: number; p99: number }> {
  const ms = await closedLoop(EVENTS, CONCURRENCY, async (i) => {
    const r = await fetch(`${url}/items`, {
      method: 'POST',
      headers: { ...TOKEN, 'idempotency-key': `raw-${Date.now()}-${i}` },
      body: body(i),
    });
    await r.arrayBuffer();
  });
  const lat: number[] = [];
  await fixedRate(RATE, RATE_MS, async (i) => {
    const t = performance.now();
    const r = await fetch(`${url}/items`, {
      method: 'POST',
      headers: { ...TOKEN, 'idempotency-key': `rawlat-${Date.now()}-${i}` },
      body: body(i),
    });
    await r.arrayBuffer();
    lat.push(performance.now() - t);
  });
  return { perSecond: (EVENTS / ms) * 1000, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function hubRun(
  label: string,
  target: string,
  ceiling: { perSecond: number; p50: number; p99: number },
  database?: string,
) {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-bench-'));
  const hub = await startHub({
    dataDir: dir,
    database,
    box: new SecretBox([randomBytes(32)]),
    concurrency: 64,
  });
  try {
    await hub.connections.save(
      {
        id: 'target',
        type: 'http',
        settings: { baseUrl: target, auth: { type: 'bearer', token: 'qiao-target-token' } },
        origin: 'api',
      },
      'bench',
    );
    await hub.saveFlow(FLOW, 'bench.yaml', 'api', 'bench');
    const hook = `${hub.url}/hooks/http/bench`;
    const send = async (i: number, tag: string) => {
      const r = await fetch(hook, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${tag}-${i}` },
        body: body(i),
      });
      if (r.status !== 202) throw new Error(`webhook answered ${r.status}: ${await r.text()}`);
      return ((await r.json()) as { runIds: string[] }).runIds[0];
    };
    const completed = async () => (await hub.store.counters()).runs_completed ?? 0;

    // Throughput: events completed per second, counted when the last one reached the target.
    const t0 = performance.now();
    await closedLoop(EVENTS, CONCURRENCY, async (i) => void (await send(i, 'tp')));
    while ((await completed()) < EVENTS) await new Promise((r) => setTimeout(r, 25));
    const perSecond = (EVENTS / (performance.now() - t0)) * 1000;

    // Latency at a fixed rate: webhook accepted → the run committed as completed.
    const sent = new Map<string, number>();
    await fixedRate(RATE, RATE_MS, async (i) => {
      const t = performance.now();
      sent.set(await send(i, 'lat'), t);
    });
    await hub.engine.drain(120_000);
    const lat: number[] = [];
    for (const [runId, t] of sent) {
      const got = await hub.store.getRun(runId);
      if (got?.run.finishedAt) lat.push(got.run.finishedAt - (performance.timeOrigin + t));
    }
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(
      figure(`engine ${label} webhook→map→HTTP`, perSecond, 'events/s', ceiling.perSecond, 'req/s raw HTTP'),
    );
    console.log(
      figure(
        `engine ${label} p50 latency at ${RATE}/s`,
        percentile(lat, 50),
        'ms',
        ceiling.p50,
        'ms raw HTTP',
      ),
    );
    console.log(
      figure(
        `engine ${label} p99 latency at ${RATE}/s`,
        percentile(lat, 99),
        'ms',
        ceiling.p99,
        'ms raw HTTP',
      ),
    );
    console.log(
      `engine ${label} p99 added latency at ${RATE}/s: ${(percentile(lat, 99) - ceiling.p99).toFixed(1)} ms`,
    );
    console.log(figure(`engine ${label} peak RSS`, rss, 'MB'));
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const target = await startTarget();
try {
  const ceiling = await rawCeiling(target.url);
  console.log(figure('engine raw HTTP to the target', ceiling.perSecond, 'req/s'));
  await hubRun('sqlite', target.url, ceiling);
  if (process.env.BENCH_SKIP_PG !== '1') {
    const pg = await startPostgres();
    try {
      await hubRun('postgres', target.url, ceiling, pg.url);
    } finally {
      await pg.stop();
    }
  }
} finally {
  target.stop();
}
