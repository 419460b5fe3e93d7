/**
 * The tables, written once for both databases. `BIGINT` is epoch milliseconds or a counter; JSON is
 * TEXT. Migrations are numbered and applied in order inside one transaction each; `qiao_meta` records
 * the schema version so an upgrade applies only what is new.
 */
import type { Db } from './db.ts';

const MIGRATIONS: string[] = [
  `
  CREATE TABLE qiao_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE connections (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, settings TEXT NOT NULL, limits TEXT,
    origin TEXT NOT NULL, version INTEGER NOT NULL, updated_at BIGINT NOT NULL);

  CREATE TABLE flows (
    id TEXT PRIMARY KEY, definition TEXT NOT NULL, yaml TEXT, origin TEXT NOT NULL,
    enabled INTEGER NOT NULL, version INTEGER NOT NULL, updated_at BIGINT NOT NULL);

  CREATE TABLE flow_versions (
    flow_id TEXT NOT NULL, version INTEGER NOT NULL, definition TEXT NOT NULL, created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, version));

  CREATE TABLE inbox (
    source TEXT NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL, correlation TEXT,
    data TEXT NOT NULL, received_at BIGINT NOT NULL, duplicates INTEGER NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0, resumed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, key));
  CREATE INDEX inbox_correlation ON inbox (source, type, correlation);

  CREATE TABLE runs (
    id TEXT PRIMARY KEY, flow_id TEXT NOT NULL, flow_version INTEGER NOT NULL, status TEXT NOT NULL,
    event_source TEXT, event_key TEXT, link_key TEXT, event TEXT NOT NULL,
    started_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, finished_at BIGINT, error TEXT);
  CREATE INDEX runs_flow ON runs (flow_id, started_at);
  CREATE INDEX runs_status ON runs (status, started_at);

  CREATE TABLE steps (
    id TEXT PRIMARY KEY, run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,
    available_at BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT,
    idempotency_key TEXT NOT NULL, input TEXT, output TEXT, error TEXT,
    history TEXT NOT NULL DEFAULT '[]', started_at BIGINT, finished_at BIGINT,
    UNIQUE (run_id, idx));
  CREATE INDEX steps_ready ON steps (available_at) WHERE status = 'queued';
  CREATE INDEX steps_running ON steps (lease_until) WHERE status = 'running';

  CREATE TABLE waits (
    step_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, connection TEXT NOT NULL, event_type TEXT NOT NULL,
    correlation TEXT NOT NULL, created_at BIGINT NOT NULL);
  CREATE INDEX waits_correlation ON waits (connection, event_type, correlation);

  CREATE TABLE timers (
    id TEXT PRIMARY KEY, due_at BIGINT NOT NULL, kind TEXT NOT NULL, run_id TEXT, step_id TEXT,
    payload TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0);
  CREATE INDEX timers_due ON timers (due_at) WHERE status = 'pending';
  CREATE INDEX timers_step ON timers (step_id);

  CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY, run_id TEXT NOT NULL, step_id TEXT NOT NULL, flow_id TEXT NOT NULL,
    step_name TEXT NOT NULL, connection TEXT, action TEXT, input TEXT, error TEXT NOT NULL,
    history TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
  CREATE INDEX dead_letters_status ON dead_letters (status, created_at);

  CREATE TABLE id_links (
    connection TEXT NOT NULL, object TEXT NOT NULL, external_id TEXT NOT NULL, link_id TEXT NOT NULL,
    flow_id TEXT, run_id TEXT, content_hash TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (connection, object, external_id));
  CREATE INDEX id_links_link ON id_links (link_id, connection, object);

  CREATE TABLE cursors (flow_id TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at BIGINT NOT NULL);

  CREATE TABLE audit (
    seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    target TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);

  CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL);

  CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
  `,
  // 2: two-way sync (src/engine/sync): the values last agreed per record pair, and the review queue of
  // changes made on both sides between two syncs. At most one open review per pair (the partial index),
  // so both directions of a sync that see the same conflict meet in one review.
  `
  CREATE TABLE sync_state (
    pair TEXT NOT NULL, sync_key TEXT NOT NULL, base TEXT NOT NULL, hash TEXT NOT NULL, ids TEXT NOT NULL,
    run_id TEXT, version INTEGER NOT NULL, updated_at BIGINT NOT NULL,
    PRIMARY KEY (pair, sync_key));

  CREATE TABLE reviews (
    id TEXT PRIMARY KEY, pair TEXT NOT NULL, sync_key TEXT NOT NULL, status TEXT NOT NULL,
    connection TEXT NOT NULL, flow_id TEXT, run_id TEXT, detail TEXT NOT NULL, resolution TEXT,
    resolved_by TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, resolved_at BIGINT);
  CREATE UNIQUE INDEX reviews_open ON reviews (pair, sync_key) WHERE status = 'open';
  CREATE INDEX reviews_status ON reviews (status, created_at);
  `,
  // 3: serial runs and alert suppression.
  // - `serial_keys` holds one row per (flow, serial key) in use: the run holding it and the last turn
  //   number handed out; `serial_waiting` the runs waiting their turn (their first step is `blocked`).
  //   A key nobody holds has no row, so the tables hold only what is in flight.
  // - `suppress_windows`: at most one open window per (scope, key) (the partial index), so two workers
  //   deciding at once meet on one row; closed windows keep their figures for the summary timer.
  //   `suppress_decisions` remembers each idempotency key's decision, so a retried step gets the same.
  // - timers get a lease, so a timer whose worker died while firing it fires again (PostgreSQL).
  `
  ALTER TABLE runs ADD COLUMN serial_key TEXT;

  CREATE TABLE serial_keys (
    flow_id TEXT NOT NULL, serial_key TEXT NOT NULL, holder TEXT, seq BIGINT NOT NULL,
    PRIMARY KEY (flow_id, serial_key));

  CREATE TABLE serial_waiting (
    flow_id TEXT NOT NULL, serial_key TEXT NOT NULL, seq BIGINT NOT NULL, run_id TEXT NOT NULL,
    PRIMARY KEY (flow_id, serial_key, seq));

  CREATE TABLE suppress_windows (
    id TEXT PRIMARY KEY, scope TEXT NOT NULL, skey TEXT NOT NULL, status TEXT NOT NULL,
    window_ms BIGINT NOT NULL, opened_at BIGINT NOT NULL, ends_at BIGINT NOT NULL,
    suppressed BIGINT NOT NULL DEFAULT 0, messages BIGINT NOT NULL DEFAULT 0,
    first_at BIGINT, last_at BIGINT, last TEXT, origin TEXT NOT NULL);
  CREATE UNIQUE INDEX suppress_windows_open ON suppress_windows (scope, skey) WHERE status = 'open';

  CREATE TABLE suppress_decisions (
    idempotency_key TEXT PRIMARY KEY, window_id TEXT NOT NULL, held INTEGER NOT NULL,
    held_back BIGINT NOT NULL, decided_at BIGINT NOT NULL);

  ALTER TABLE timers ADD COLUMN lease_until BIGINT;
  CREATE INDEX timers_firing ON timers (lease_until) WHERE status = 'firing'
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    if (db.dialect === 'postgres') {
      // Two processes starting at once must not both migrate.
      await tx.run('SELECT pg_advisory_xact_lock(724311)');
    }
    const exists = await tx.get<{ n: number }>(
      db.dialect === 'sqlite'
        ? "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'qiao_meta'"
        : "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'qiao_meta' AND table_schema = current_schema()",
    );
    let version = 0;
    if (exists && Number(exists.n) > 0) {
      const row = await tx.get<{ value: string }>("SELECT value FROM qiao_meta WHERE key = 'schema_version'");
      version = row ? Number(row.value) : 0;
    }
    if (version > MIGRATIONS.length) {
      throw new Error(
        `the database schema is version ${version}, newer than this Qiao (${MIGRATIONS.length}): upgrade Qiao`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      for (const stmt of MIGRATIONS[v]
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean)) {
        await tx.run(stmt);
      }
    }
    if (version !== MIGRATIONS.length) {
      await tx.run(
        "INSERT INTO qiao_meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [String(MIGRATIONS.length)],
      );
    }
  });
}
