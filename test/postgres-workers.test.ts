/**
 * Scale-out on PostgreSQL: two worker processes share 10,000 steps. None is run by both (the HTTP
 * target saw each idempotency key delivered once), all complete, and both workers took a share.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretBox } from '../src/core/secret-box.ts';
import { firstStep } from '../src/engine/next-step.ts';
import { startHub } from '../src/hub.ts';
import { startHttpTarget } from '../src/sandbox/http-target/index.ts';
import { startPostgres } from './support/postgres.ts';
import { spawnScript } from './support/spawn.ts';
import { WORKER_FLOW } from './support/worker-flow.ts';

const WORKER = new URL('./support/worker-process.ts', import.meta.url).pathname;
const N = 10_000;

test('two PostgreSQL workers: 10,000 steps, none run by both, all complete', async () => {
  const pg = await startPostgres();
  const target = await startHttpTarget();
  const dir = mkdtempSync(join(tmpdir(), 'qiao-pgw-'));
  const key = randomBytes(32);
  try {
    const setup = await startHub({
      dataDir: dir,
      database: pg.url,
      box: new SecretBox([key]),
      serve: false,
      runWorkers: false,
      runScheduler: false,
    });
    await setup.connections.save(
      {
        id: 'target',
        type: 'http',
        settings: { baseUrl: target.baseUrl, auth: { type: 'bearer', token: 'qiao-target-token' } },
        origin: 'api',
      },
      'test',
    );
    const flow = await setup.saveFlow(WORKER_FLOW, 'crash-test.yaml', 'api', 'test');
    const row = (await setup.store.getFlow(flow.id))!;
    for (let i = 0; i < N; i += 1_000) {
      const events = Array.from({ length: 1_000 }, (_, j) => ({
        key: `e${i + j}`,
        type: 'webhook',
        data: { i: i + j },
        runs: [{ id: randomUUID(), flowId: flow.id, flowVersion: row.version, first: firstStep(flow) }],
        resumes: [],
      }));
      await setup.store.ingest({ source: `flow:${flow.id}`, events });
    }
    const env = {
      QIAO_DATA_DIR: dir,
      QIAO_DATABASE: pg.url,
      QIAO_MASTER_KEY: key.toString('base64'),
      TARGET_URL: target.baseUrl,
    };
    const workers = [spawnScript(WORKER, env), spawnScript(WORKER, env)];
    await Promise.all(workers.map((w) => w.waitFor((l) => l.ready === true)));
    const end = Date.now() + 240_000;
    for (;;) {
      const c = await setup.store.counters();
      if ((c.runs_completed ?? 0) >= N) break;
      if (Date.now() > end) throw new Error(`only ${c.runs_completed} of ${N} runs completed`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const w of workers) w.child.kill('SIGTERM');
    const done = await Promise.all(workers.map((w) => w.waitFor((l) => l.done === true)));
    await Promise.all(workers.map((w) => w.exited));
    await setup.close();

    assert.equal(target.effects.size, N, 'every step reached the target');
    const doubled = [...target.deliveries.entries()].filter(([, n]) => n !== 1);
    assert.deepEqual(doubled, [], 'no step was run by both workers');
    const shares = done.map((d) => d.steps as number);
    assert.equal(shares[0] + shares[1], N);
    assert.ok(
      shares.every((s) => s > 0),
      `both workers took a share (${shares.join(' / ')})`,
    );
    process.stdout.write(`# worker shares: ${shares.join(' / ')}\n`);
  } finally {
    await target.close();
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
