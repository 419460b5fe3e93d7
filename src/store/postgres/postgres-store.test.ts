import { startPostgres } from '../../../test/support/postgres.ts';
import { runStoreSuite } from '../store.cases.ts';
import { PostgresDb } from './postgres-db.ts';

runStoreSuite('postgres', async () => {
  const pg = await startPostgres();
  return {
    open: async () => new PostgresDb(pg.url),
    reopen: async () => new PostgresDb(pg.url),
    concurrentConnections: true,
    close: () => pg.stop(),
  };
});
