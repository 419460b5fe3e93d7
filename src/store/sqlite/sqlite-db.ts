/**
 * The embedded driver: Node's built-in `node:sqlite` (real SQLite, no native build step), in WAL mode.
 * `synchronous = NORMAL` with WAL keeps every commit durable against a process crash (the guarantee
 * the engine needs: a SIGKILL loses nothing committed); only an OS crash may lose the last commits.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { type Db, Mutex, type Param } from '../db.ts';

export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private readonly statements = new Map<string, StatementSync>();
  private readonly mutex = new Mutex();
  private inTx = false;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new DatabaseSync(file);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      PRAGMA foreign_keys = ON;
      PRAGMA temp_store = MEMORY;
      PRAGMA cache_size = -32000;
    `);
  }

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.stmt(sql).all(...(params as never[])) as T[];
  }

  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return this.stmt(sql).get(...(params as never[])) as T | undefined;
  }

  async run(sql: string, params: Param[] = []): Promise<{ changes: number }> {
    if (this.inTx) return { changes: Number(this.stmt(sql).run(...(params as never[])).changes) };
    return this.transaction(async (tx) => tx.run(sql, params));
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    if (this.inTx) return fn(this); // nested: join the outer transaction
    const release = await this.mutex.lock();
    this.inTx = true;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.inTx = false;
      release();
    }
  }

  async close(): Promise<void> {
    const release = await this.mutex.lock();
    try {
      this.statements.clear();
      if (this.db.isOpen) this.db.close();
    } finally {
      release();
    }
  }
}
