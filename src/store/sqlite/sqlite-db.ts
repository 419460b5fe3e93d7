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
      PRAGMA wal_autocheckpoint = 10000;
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

  /** Reads run directly: node:sqlite is synchronous, so a read never interleaves inside a statement. */
  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.stmt(sql).all(...(params as never[])) as T[];
  }

  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return this.stmt(sql).get(...(params as never[])) as T | undefined;
  }

  /** A write outside a transaction is its own transaction, taken in turn with the others. */
  async run(sql: string, params: Param[] = []): Promise<{ changes: number }> {
    return this.transaction(async (tx) => tx.run(sql, params));
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  /**
   * Transactions take turns through the mutex. `fn` gets a handle bound to this transaction: its calls
   * run inside it, and its `transaction()` joins it. Everyone else's calls wait for the mutex, so two
   * async callers can never share (or commit) one another's transaction.
   */
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const release = await this.mutex.lock();
    const direct = (sql: string, params: Param[]) => ({
      changes: Number(this.stmt(sql).run(...(params as never[])).changes),
    });
    const tx: Db = {
      dialect: 'sqlite',
      all: this.all.bind(this),
      get: this.get.bind(this),
      run: async (sql, params = []) => direct(sql, params),
      exec: this.exec.bind(this),
      transaction: (inner) => inner(tx),
      close: async () => {},
    };
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(tx);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    } finally {
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
