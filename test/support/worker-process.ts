/**
 * A hub in a child process, for the cross-process tests (crash recovery, two PostgreSQL workers).
 * Configured by environment: QIAO_DATA_DIR, QIAO_DATABASE (optional), QIAO_MASTER_KEY, TARGET_URL,
 * SETUP=1 (save the connection and flow), INGEST=N (start N runs keyed e0…eN-1; repeats are dropped
 * by the inbox), EXIT_WHEN_DRAINED=1. Prints JSON lines: {"ready"}, {"ingested"}, {"done", steps}.
 */
import { startHub } from '../../src/hub.ts';
import { WORKER_FLOW } from './worker-flow.ts';

const env = process.env;
const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const hub = await startHub({
  dataDir: env.QIAO_DATA_DIR!,
  database: env.QIAO_DATABASE || undefined,
  serve: false,
  leaseMs: Number(env.LEASE_MS ?? 2_000),
  concurrency: Number(env.CONCURRENCY ?? 16),
});
let steps = 0;
const countSteps = async () => {
  const m = await hub.metrics.registry.getSingleMetric('qiao_steps_total')?.get();
  return (m?.values ?? []).filter((v) => v.labels.outcome === 'completed').reduce((a, v) => a + v.value, 0);
};
if (env.SETUP === '1') {
  await hub.connections.save(
    {
      id: 'target',
      type: 'http',
      settings: { baseUrl: env.TARGET_URL!, auth: { type: 'bearer', token: 'qiao-target-token' } },
      origin: 'api',
    },
    'test',
  );
  await hub.saveFlow(WORKER_FLOW, 'crash-test.yaml', 'api', 'test');
}
say({ ready: true, worker: hub.engine.workerId });
const n = Number(env.INGEST ?? 0);
for (let i = 0; i < n; i++) await hub.engine.startFlow('crash-test', { i }, `e${i}`);
if (n) say({ ingested: n });
if (env.EXIT_WHEN_DRAINED === '1') {
  await hub.engine.drain(600_000);
  steps = await countSteps();
  say({ done: true, steps });
  await hub.close();
  process.exit(0);
}
const stop = async () => {
  steps = await countSteps();
  say({ done: true, steps });
  await hub.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
