import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineSuite } from './engine.cases.ts';

runEngineSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-engine-'));
  return {
    storeOptions: () => ({ dataDir: dir }),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
