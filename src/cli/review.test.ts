/** `qiao review list|show|resolve` as a user runs it: `node bin/qiao.js` on a real store. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../store/open-store.ts';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'qiao.js');

function qiao(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, QIAO_LOG: 'error', QIAO_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

describe('qiao review', () => {
  let dir: string;
  const id = randomUUID();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-cli-review-'));
    const store = await openStore({ dataDir: join(dir, '.qiao') });
    await store.openReview({
      id,
      pair: 'customer',
      key: 'C0001',
      connection: 'hub',
      runId: 'run-1',
      detail: {
        sides: ['crm', 'erp'],
        fields: { name: 'crm', address: 'both' },
        base: { name: '华锐', address: '星湖街328号' },
        values: {
          crm: { name: '华锐', address: '星湖街330号' },
          erp: { name: '华锐', address: '金鸡湖大道1号' },
        },
        ids: {},
        conflicts: ['address'],
      },
    });
    await store.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the open reviews and shows the values to choose from', async () => {
    const list = await qiao(['review', 'list'], dir);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID +PAIR +KEY +STATUS +CREATED +CONFLICTS\n/);
    assert.match(list.stdout, new RegExp(`${id} +customer +C0001 +open +\\S+ \\S+ +address\\n`));
    const show = await qiao(['review', 'show', id], dir);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /FIELD +AGREED +CRM +ERP\naddress +星湖街328号 +星湖街330号 +金鸡湖大道1号\n/);
    assert.match(show.stdout, /qiao review resolve \S+ --choose crm\|erp/);
  });

  it('resolves once, and says what a bad decision or a second one is', async () => {
    const bad = await qiao(['review', 'resolve', id, '--values', '{"name":"x"}'], dir);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /values\.address: conflicts: decide it/);
    const ok = await qiao(['review', 'resolve', id, '--choose', 'erp', '--actor', '李娜'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /writes to crm: \{"address":"金鸡湖大道1号"\}\n {2}writes to erp: nothing\n/);
    const again = await qiao(['review', 'resolve', id, '--choose', 'crm'], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is resolved, not open/);
    const list = await qiao(['review', 'list', '--status', 'resolved', '--json'], dir);
    const [r] = JSON.parse(list.stdout);
    assert.equal(r.resolvedBy, '李娜');
    assert.equal(r.resolution.choose, 'erp');
    assert.equal((await qiao(['review', 'show', 'nope'], dir)).code, 1);
  });
});
