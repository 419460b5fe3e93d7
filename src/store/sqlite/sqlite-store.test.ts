import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreSuite } from '../store.cases.ts';
import { SqliteDb } from './sqlite-db.ts';

runStoreSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-store-'));
  const file = join(dir, 'qiao.db');
  return {
    open: async () => new SqliteDb(file),
    reopen: async () => new SqliteDb(file),
    concurrentConnections: false,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
