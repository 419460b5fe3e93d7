/** Opens the store a configuration asks for: PostgreSQL when `database` is a URL, else SQLite in dataDir. */
import { join } from 'node:path';
import { PostgresDb } from './postgres/postgres-db.ts';
import { SqlStore } from './sql-store.ts';
import { SqliteDb } from './sqlite/sqlite-db.ts';
import type { Store } from './store.ts';

export async function openStore(options: { database?: string; dataDir: string }): Promise<Store> {
  const db = options.database
    ? new PostgresDb(options.database)
    : new SqliteDb(join(options.dataDir, 'qiao.db'));
  const store = new SqlStore(db);
  await store.migrate();
  return store;
}
