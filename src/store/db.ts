/**
 * The small SQL surface both stores are written against (the idea of Kysely's dialects, at our size):
 * one set of queries in `sql-store.ts`, two drivers. Queries use `?` placeholders; the PostgreSQL driver
 * numbers them. Timestamps are epoch milliseconds (BIGINT), JSON is TEXT, ids are TEXT — portable on both.
 */
export type Dialect = 'sqlite' | 'postgres';
export type Param = string | number | bigint | null | Uint8Array;

export interface Db {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: Param[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: Param[]): Promise<T | undefined>;
  run(sql: string, params?: Param[]): Promise<{ changes: number }>;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Runs DDL (several statements). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A FIFO async mutex. SQLite has one writer and node:sqlite one connection per database handle, so
 * transactions are serialised in the process; `await`s inside a transaction are store calls only.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const prev = this.tail;
    this.tail = prev.then(() => next);
    return prev.then(() => release);
  }
}
