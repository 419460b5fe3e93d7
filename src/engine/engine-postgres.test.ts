import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres } from '../../test/support/postgres.ts';
import { runEngineSuite } from './engine.cases.ts';

runEngineSuite('postgres', async () => {
  const pg = await startPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'qiao-engine-pg-'));
  return {
    storeOptions: () => ({ dataDir: dir, database: pg.url }),
    close: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
