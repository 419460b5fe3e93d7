/**
 * The scale-out driver: PostgreSQL through `pg`. Several worker processes share the same tables; the
 * queue claim uses `FOR UPDATE SKIP LOCKED` (see sql-store.ts) and workers are woken by LISTEN/NOTIFY.
 */
import pg from 'pg';
import type { Db, Param } from '../db.ts';

// BIGINT columns hold epoch milliseconds and counters, all far below 2^53: read them as numbers.
pg.types.setTypeParser(20, (v) => Number(v));

function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PgTx implements Db {
  readonly dialect = 'postgres' as const;
  client: pg.PoolClient;

  constructor(client: pg.PoolClient) {
    this.client = client;
  }

  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return (await this.client.query(numbered(sql), params as unknown[])).rows as T[];
  }
  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: Param[] = []): Promise<{ changes: number }> {
    const r = await this.client.query(numbered(sql), params as unknown[]);
    return { changes: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  readonly pool: pg.Pool;

  constructor(url: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
    // An idle client losing its connection must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
  }

  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return (await this.pool.query(numbered(sql), params as unknown[])).rows as T[];
  }
  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: Param[] = []): Promise<{ changes: number }> {
    const r = await this.pool.query(numbered(sql), params as unknown[]);
    return { changes: r.rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      try {
        const out = await fn(new PgTx(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } finally {
      client.release();
    }
  }

  /** Subscribes to a NOTIFY channel on a dedicated connection. */
  async listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>> {
    const client = await this.pool.connect();
    client.on('notification', (m) => {
      if (m.channel === channel) onNotify(m.payload ?? '');
    });
    await client.query(`LISTEN ${channel}`);
    return async () => {
      await client.query(`UNLISTEN ${channel}`).catch(() => {});
      client.release();
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
