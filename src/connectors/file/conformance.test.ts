/**
 * The shared connector conformance suite against a temporary folder. A folder has no server: the
 * transient fault is an EBUSY (a file locked by another program) raised through the client's fault
 * hook, and there is neither authentication nor a rate limit.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runConformance } from '../conformance.ts';
import { clearFaults, injectFault } from './fault-hook.ts';
import { fileConnector } from './index.ts';

runConformance({
  descriptor: fileConnector,
  skip: {
    'auth-refresh': 'a folder has no credentials or sessions: nothing to revoke or refresh',
    'rate-limited': 'a local or shared folder has no rate limit and answers no rate-limit error',
  },
  async start() {
    const root = await mkdtemp(path.join(tmpdir(), 'qiao-file-conformance-'));
    await mkdir(path.join(root, 'inbox'));
    let changes = 0;
    return {
      settings: { root },
      badSettings: { root: path.join(root, 'no-such-folder') },
      write: {
        action: 'write',
        input: (u) => ({
          path: `out/${u}.csv`,
          headers: { 客户名称: 'name', 客户编码: 'number' },
          rows: [{ name: u, number: 'C0001' }],
        }),
        idOf: (o) => (o as { path: string }).path,
      },
      read: {
        action: 'read',
        input: (id) => ({ path: id, headers: { 客户名称: 'name', 客户编码: 'number' } }),
        check: (o, u) => {
          const out = o as { rows: Array<Record<string, unknown>>; count: number };
          assert.equal(out.count, 1);
          assert.deepEqual(out.rows[0], { name: u, number: 'C0001' });
        },
      },
      poll: {
        trigger: 'poll',
        params: { pattern: 'inbox/*.csv', settleMs: 0, pageSize: 10 },
        change: async (n) => {
          for (let i = 0; i < n; i++) {
            changes++;
            await writeFile(
              path.join(root, 'inbox', `c${String(changes).padStart(4, '0')}.csv`),
              `name\nrow ${changes}\n`,
            );
          }
        },
      },
      faults: {
        serverError: async () => injectFault(root, 'EBUSY'),
        revokeAuth: async () => {},
        heal: async () => clearFaults(root),
      },
      close: () => rm(root, { recursive: true, force: true }),
    };
  },
});
