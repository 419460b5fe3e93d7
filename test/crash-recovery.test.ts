/**
 * A worker is killed with SIGKILL in the middle of 2,000 steps that call an HTTP target; after a
 * restart every step completes and the target saw each idempotency key's effect exactly once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startHttpTarget } from '../src/sandbox/http-target/index.ts';
import { spawnScript } from './support/spawn.ts';

const WORKER = new URL('./support/worker-process.ts', import.meta.url).pathname;

test('SIGKILL mid-run: after restart every step completes, each effect once', async () => {
  const target = await startHttpTarget();
  const dir = mkdtempSync(join(tmpdir(), 'qiao-crash-'));
  const env = {
    QIAO_DATA_DIR: dir,
    QIAO_MASTER_KEY: randomBytes(32).toString('base64'),
    TARGET_URL: target.baseUrl,
  };
  try {
    // A little latency keeps calls in flight when the kill lands, between the call and its commit.
    await fetch(`${target.baseUrl}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ latencyMs: 3 }),
    });
    const first = spawnScript(WORKER, { ...env, SETUP: '1', INGEST: '2000' });
    await first.waitFor((l) => l.ingested === 2000, 120_000);
    const killAt = 600 + Math.floor(Math.random() * 400);
    while (target.effects.size < killAt) await new Promise((r) => setTimeout(r, 2));
    first.child.kill('SIGKILL');
    await first.exited;
    const atKill = target.effects.size;
    assert.ok(atKill < 2000, `killed in the middle (${atKill} done)`);

    const second = spawnScript(WORKER, { ...env, INGEST: '2000', EXIT_WHEN_DRAINED: '1', LEASE_MS: '1000' });
    const done = await second.waitFor((l) => l.done === true, 180_000);
    assert.equal(await second.exited, 0, second.stderr());

    assert.equal(target.effects.size, 2000, 'every step reached the target');
    const twice = [...target.effects.entries()].filter(([, n]) => n !== 1);
    assert.deepEqual(twice, [], 'no idempotency key had its effect twice');
    assert.equal(target.items.size, 2000, 'exactly 2,000 items exist');
    assert.ok((done.steps as number) >= 2000 - atKill, 'the restarted worker finished the rest');
    const redelivered = [...target.deliveries.values()].filter((n) => n > 1).length;
    process.stdout.write(
      `# killed after ${atKill} effects; ${redelivered} calls were redelivered after the restart\n`,
    );
  } finally {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
