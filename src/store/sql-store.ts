/**
 * The Store written once in portable SQL over a `Db` driver (SQLite or PostgreSQL). The only dialect
 * differences are the queue claim (PostgreSQL: `FOR UPDATE SKIP LOCKED`), the wake-up channel
 * (LISTEN/NOTIFY vs. an in-process emitter) and leader election (an advisory lock vs. "the one process").
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { auditHash, GENESIS_HASH, verifyChain } from '../core/audit-hash.ts';
import type { Cursor } from '../core/connector.ts';
import { NotFoundError, TransientError, ValidationError } from '../core/errors.ts';
import type { FlowDef } from '../core/flow.ts';
import type { Db, Param } from './db.ts';
import type { PostgresDb } from './postgres/postgres-db.ts';
import { migrate } from './schema.ts';
import {
  type AttemptRecord,
  type AuditInput,
  type AuditRow,
  type AuditVerdict,
  type ConnectionRow,
  type DeadLetterRow,
  type FlowRow,
  type InboxRow,
  type IngestBatch,
  type IngestOutcome,
  LeaseLostError,
  type LinkRow,
  type NextAction,
  type ResumeWait,
  type ReviewRow,
  type ReviewStatus,
  type RunRow,
  type RunStatus,
  type StepCompletion,
  type StepDeadLetter,
  type StepRetry,
  type StepRow,
  type Store,
  type SuppressDecision,
  type SuppressOrigin,
  type SuppressRequest,
  type SuppressWindowRow,
  type SyncStateRow,
  type TimerRow,
  type WaitRow,
} from './store.ts';

const j = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const pj = <T>(v: unknown): T | undefined =>
  v === null || v === undefined ? undefined : (JSON.parse(String(v)) as T);
const n = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

type Row = Record<string, unknown>;

/**
 * A firing timer whose worker died is fired again after this: longer than a claimed batch can take
 * (`Engine.fireTimers` fires up to 50 in turn, each call timing out after 60 s), so a live worker's
 * timer is never taken from it.
 */
const TIMER_LEASE_MS = 60 * 60_000;

export class SqlStore implements Store {
  readonly kind: 'sqlite' | 'postgres';
  private readonly db: Db;
  private readonly events = new EventEmitter();
  /** Audit chains written side by side (see `audit`). */
  private readonly auditLanes: number;
  private leaderClient:
    | { release(): void; query(sql: string, p?: unknown[]): Promise<{ rows: Row[] }> }
    | undefined;

  constructor(db: Db) {
    this.db = db;
    this.kind = db.dialect;
    this.auditLanes = db.dialect === 'postgres' ? 8 : 1;
    this.events.setMaxListeners(100);
  }

  async migrate(): Promise<void> {
    await migrate(this.db);
  }

  async close(): Promise<void> {
    this.leaderClient?.release();
    this.leaderClient = undefined;
    await this.db.close();
  }

  async onWork(fn: () => void): Promise<() => Promise<void>> {
    this.events.on('work', fn);
    let unlisten: (() => Promise<void>) | undefined;
    if (this.db.dialect === 'postgres') {
      unlisten = await (this.db as PostgresDb).listen('qiao_work', fn);
    }
    return async () => {
      this.events.off('work', fn);
      await unlisten?.();
    };
  }

  /** Runs a write transaction, then wakes local workers (PostgreSQL also NOTIFYs others at commit). */
  private async write<T>(
    fn: (tx: Db) => Promise<T>,
    wake: boolean | ((result: T) => boolean) = false,
  ): Promise<T> {
    let woke = false;
    const out = await this.db.transaction(async (tx) => {
      const r = await fn(tx);
      woke = typeof wake === 'function' ? wake(r) : wake;
      if (woke && this.db.dialect === 'postgres') await tx.run("SELECT pg_notify('qiao_work', '')");
      return r;
    });
    if (woke) this.events.emit('work');
    return out;
  }

  // ── configuration ──────────────────────────────────────────────────────────────────────────────

  async saveConnection(
    row: Omit<ConnectionRow, 'version' | 'updatedAt'>,
    audit: AuditInput,
  ): Promise<ConnectionRow> {
    const now = Date.now();
    return this.write(async (tx) => {
      const prev = await tx.get<Row>('SELECT version FROM connections WHERE id = ?', [row.id]);
      const version = prev ? Number(prev.version) + 1 : 1;
      await tx.run(
        `INSERT INTO connections (id, type, settings, limits, origin, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET type = excluded.type, settings = excluded.settings, limits = excluded.limits,
           origin = excluded.origin, version = excluded.version, updated_at = excluded.updated_at`,
        [row.id, row.type, j(row.settings), j(row.limits), row.origin, version, now],
      );
      await this.audit(tx, [audit]);
      return { ...row, version, updatedAt: now };
    });
  }

  async getConnection(id: string): Promise<ConnectionRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM connections WHERE id = ?', [id]);
    return r && toConnection(r);
  }

  async listConnections(): Promise<ConnectionRow[]> {
    return (await this.db.all<Row>('SELECT * FROM connections ORDER BY id')).map(toConnection);
  }

  async deleteConnection(id: string, audit: AuditInput): Promise<boolean> {
    return this.write(async (tx) => {
      const r = await tx.run('DELETE FROM connections WHERE id = ?', [id]);
      if (r.changes) await this.audit(tx, [audit]);
      return r.changes > 0;
    });
  }

  async saveFlow(row: Omit<FlowRow, 'version' | 'updatedAt'>, audit: AuditInput): Promise<FlowRow> {
    const now = Date.now();
    return this.write(async (tx) => {
      const prev = await tx.get<Row>('SELECT version FROM flows WHERE id = ?', [row.id]);
      const version = prev ? Number(prev.version) + 1 : 1;
      await tx.run(
        `INSERT INTO flows (id, definition, yaml, origin, enabled, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, yaml = excluded.yaml, origin = excluded.origin,
           enabled = excluded.enabled, version = excluded.version, updated_at = excluded.updated_at`,
        [row.id, j(row.definition), row.yaml ?? null, row.origin, row.enabled ? 1 : 0, version, now],
      );
      // Runs remember the version they started on, so a waiting run finishes the flow it began.
      await tx.run(
        'INSERT INTO flow_versions (flow_id, version, definition, created_at) VALUES (?, ?, ?, ?)',
        [row.id, version, j(row.definition), now],
      );
      await this.audit(tx, [audit]);
      return { ...row, version, updatedAt: now };
    }, true);
  }

  async getFlow(id: string): Promise<FlowRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM flows WHERE id = ?', [id]);
    return r && toFlow(r);
  }

  async getFlowVersion(id: string, version: number): Promise<FlowDef | undefined> {
    const r = await this.db.get<Row>(
      'SELECT definition FROM flow_versions WHERE flow_id = ? AND version = ?',
      [id, version],
    );
    return pj<FlowDef>(r?.definition);
  }

  async listFlows(): Promise<FlowRow[]> {
    return (await this.db.all<Row>('SELECT * FROM flows ORDER BY id')).map(toFlow);
  }

  async deleteFlow(id: string, audit: AuditInput): Promise<boolean> {
    return this.write(async (tx) => {
      const r = await tx.run('DELETE FROM flows WHERE id = ?', [id]);
      if (r.changes) await this.audit(tx, [audit]);
      return r.changes > 0;
    });
  }

  // ── ingest: inbox, runs, resumptions, cursor — one transaction ──────────────────────────────────

  async ingest(batch: IngestBatch): Promise<IngestOutcome[]> {
    const now = Date.now();
    let queued = false;
    return this.write(
      async (tx) => {
        const out: IngestOutcome[] = [];
        for (const ev of batch.events) {
          const ins = await tx.run(
            `INSERT INTO inbox (source, key, type, correlation, data, received_at, runs, resumed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (source, key) DO NOTHING`,
            [
              batch.source,
              ev.key,
              ev.type,
              ev.correlation ?? null,
              j(ev.data),
              now,
              ev.runs.length,
              ev.resumes.length,
            ],
          );
          if (ins.changes === 0) {
            await tx.run('UPDATE inbox SET duplicates = duplicates + 1 WHERE source = ? AND key = ?', [
              batch.source,
              ev.key,
            ]);
            await this.bump(tx, 'inbox_duplicates', 1);
            out.push({ key: ev.key, duplicate: true, runIds: [], resumed: [] });
            continue;
          }
          const runIds: string[] = [];
          const claimed: StepRow[] = [];
          for (const r of ev.runs) {
            let linkKey: string | undefined;
            if (r.source) {
              const { connection, object, externalId } = r.source;
              linkKey = (await this.linkIdTx(tx, connection, object, externalId)) ?? randomUUID();
              await tx.run(
                `INSERT INTO id_links (connection, object, external_id, link_id, flow_id, run_id, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection, object, external_id) DO NOTHING`,
                [connection, object, externalId, linkKey, r.flowId, r.id, now, now],
              );
            }
            await tx.run(
              `INSERT INTO runs (id, flow_id, flow_version, status, event_source, event_key, link_key, serial_key, event, started_at, updated_at)
             VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)`,
              [
                r.id,
                r.flowId,
                r.flowVersion,
                batch.source,
                ev.key,
                linkKey ?? null,
                r.serialKey ?? null,
                j(ev.data),
                now,
                now,
              ],
            );
            // A run whose key another run holds waits its turn: its first step is stored blocked.
            const blocked =
              r.serialKey !== undefined &&
              'step' in r.first &&
              !(await this.acquireSerial(tx, r.flowId, r.serialKey, r.id));
            const n = await this.applyNext(tx, r.id, r.first, now, batch.claimFor, blocked);
            if (n.claimed) claimed.push(n.claimed);
            if (n.queued) queued = true;
            runIds.push(r.id);
          }
          const resumed: string[] = [];
          for (const w of ev.resumes) {
            if (await this.resumeTx(tx, w, now)) {
              resumed.push(w.runId);
              queued = true;
            }
          }
          out.push({ key: ev.key, duplicate: false, runIds, resumed, claimed });
        }
        if (batch.cursor) {
          await tx.run(
            `INSERT INTO cursors (flow_id, cursor, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (flow_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
            [batch.cursor.flowId, j(batch.cursor.cursor), now],
          );
        }
        return out;
      },
      () => queued,
    );
  }

  async getInbox(source: string, key: string): Promise<InboxRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM inbox WHERE source = ? AND key = ?', [source, key]);
    return r && toInbox(r);
  }

  async findInboxByCorrelation(
    source: string,
    type: string,
    correlation: string,
    since = 0,
  ): Promise<InboxRow[]> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM inbox WHERE source = ? AND type = ? AND correlation = ? AND received_at >= ? ORDER BY received_at',
      [source, type, correlation, since],
    );
    return rows.map(toInbox);
  }

  async findWaits(connection: string, eventType: string, correlation: string): Promise<WaitRow[]> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM waits WHERE connection = ? AND event_type = ? AND correlation = ?',
      [connection, eventType, correlation],
    );
    return rows.map(toWait);
  }

  async listWaits(q: { connection?: string; createdBefore?: number; limit?: number }): Promise<WaitRow[]> {
    const where = ['created_at < ?'];
    const params: Param[] = [q.createdBefore ?? Date.now() + 1];
    if (q.connection) where.push('connection = ?') && params.push(q.connection);
    params.push(Math.min(q.limit ?? 500, 5_000));
    const rows = await this.db.all<Row>(
      `SELECT * FROM waits WHERE ${where.join(' AND ')} ORDER BY created_at LIMIT ?`,
      params,
    );
    return rows.map(toWait);
  }

  // ── the queue ──────────────────────────────────────────────────────────────────────────────────

  async claimSteps(owner: string, limit: number, leaseMs: number): Promise<StepRow[]> {
    const now = Date.now();
    const ready = await this.db.get<Row>(
      `SELECT id FROM steps WHERE status = 'queued' AND available_at <= ? LIMIT 1`,
      [now],
    );
    if (!ready) return [];
    return this.db.transaction(async (tx) => {
      const pick =
        this.db.dialect === 'postgres'
          ? `SELECT id FROM steps WHERE status = 'queued' AND available_at <= ? ORDER BY available_at LIMIT ? FOR UPDATE SKIP LOCKED`
          : `SELECT id FROM steps WHERE status = 'queued' AND available_at <= ? ORDER BY available_at LIMIT ?`;
      const ids = (await tx.all<Row>(pick, [now, limit])).map((r) => String(r.id));
      if (ids.length === 0) return [];
      const marks = ids.map(() => '?').join(', ');
      await tx.run(
        `UPDATE steps SET status = 'running', lease_owner = ?, lease_until = ?, started_at = COALESCE(started_at, ?)
         WHERE id IN (${marks})`,
        [owner, now + leaseMs, now, ...ids],
      );
      return (await tx.all<Row>(`SELECT * FROM steps WHERE id IN (${marks}) ORDER BY available_at`, ids)).map(
        toStep,
      );
    });
  }

  async extendLeases(owner: string, stepIds: string[], leaseMs: number): Promise<void> {
    if (stepIds.length === 0) return;
    await this.db.run(
      `UPDATE steps SET lease_until = ? WHERE status = 'running' AND lease_owner = ? AND id IN (${stepIds.map(() => '?').join(', ')})`,
      [Date.now() + leaseMs, owner, ...stepIds],
    );
  }

  async recoverLeases(): Promise<number> {
    const now = Date.now();
    const r = await this.write(async (tx) => {
      const steps = await tx.run(
        `UPDATE steps SET status = 'queued', lease_owner = NULL, lease_until = NULL
           WHERE status = 'running' AND lease_until < ?`,
        [now],
      );
      // A timer whose worker died while firing it (a summary, a reminder) fires again.
      await tx.run(`UPDATE timers SET status = 'pending' WHERE status = 'firing' AND lease_until < ?`, [now]);
      return steps;
    }, true);
    return r.changes;
  }

  async releaseAllLeases(): Promise<number> {
    const r = await this.write(
      (tx) =>
        tx.run(
          `UPDATE steps SET status = 'queued', lease_owner = NULL, lease_until = NULL WHERE status = 'running'`,
        ),
      true,
    );
    await this.db.run(`UPDATE timers SET status = 'pending' WHERE status = 'firing'`);
    return r.changes;
  }

  async completeStep(c: StepCompletion): Promise<StepRow | undefined> {
    const now = Date.now();
    let queued = false;
    return this.write(
      async (tx) => {
        const status = c.status;
        const r = await tx.run(
          `UPDATE steps SET status = ?, input = ?, output = ?, error = NULL, lease_owner = NULL, lease_until = NULL,
           finished_at = ?, history = ${this.appendJson('history')}
         WHERE id = ? AND status = 'running' AND lease_owner = ?`,
          [
            status,
            j(c.input),
            j(c.output),
            status === 'waiting' ? null : now,
            j(c.attempt),
            c.stepId,
            c.owner,
          ],
        );
        if (r.changes === 0) throw new LeaseLostError(c.stepId);
        if (c.links?.length) await this.writeLinks(tx, c, now);
        let claimed: StepRow | undefined;
        if (status === 'waiting' && c.wait) {
          await tx.run(
            'INSERT INTO waits (step_id, run_id, connection, event_type, correlation, created_at) VALUES (?, ?, ?, ?, ?, ?)',
            [c.stepId, c.runId, c.wait.connection, c.wait.eventType, c.wait.correlation, now],
          );
          for (const t of c.wait.timers) await this.insertTimer(tx, t);
          // A waiting run (for a person, maybe for days) gives its serial key to the next run.
          const run = await this.updateRun(tx, c.runId, `status = 'waiting', updated_at = ?`, [now]);
          if (run?.serial_key != null)
            queued = await this.releaseSerial(tx, String(run.flow_id), String(run.serial_key), c.runId, now);
        } else if (c.next) {
          const n = await this.applyNext(tx, c.runId, c.next, now, c.claimNextFor);
          queued = n.queued;
          claimed = n.claimed;
        }
        // Last, so the audit chain's lock (PostgreSQL) is held for as short a time as possible.
        if (c.audit) await this.audit(tx, [c.audit]);
        return claimed;
      },
      () => queued,
    );
  }

  async retryStep(r: StepRetry): Promise<void> {
    await this.write(async (tx) => {
      const u = await tx.run(
        `UPDATE steps SET status = 'queued', available_at = ?, attempt = attempt + ?, input = ?, error = ?,
           lease_owner = NULL, lease_until = NULL, history = ${this.appendJson('history')}
         WHERE id = ? AND status = 'running' AND lease_owner = ?`,
        [r.availableAt, r.countAttempt ? 1 : 0, j(r.input), j(r.error), j(r.attempt), r.stepId, r.owner],
      );
      if (u.changes === 0) throw new LeaseLostError(r.stepId);
      await this.bump(tx, 'step_retries', 1);
    }, true);
  }

  async deadLetterStep(d: StepDeadLetter): Promise<void> {
    const now = Date.now();
    await this.write(async (tx) => {
      const u = await tx.run(
        `UPDATE steps SET status = 'dead', input = ?, error = ?, lease_owner = NULL, lease_until = NULL, finished_at = ?,
           history = ${this.appendJson('history')}
         WHERE id = ? AND status = 'running' AND lease_owner = ?`,
        [j(d.input), j(d.error), now, j(d.attempt), d.stepId, d.owner],
      );
      if (u.changes === 0) throw new LeaseLostError(d.stepId);
      const step = await tx.get<Row>('SELECT history FROM steps WHERE id = ?', [d.stepId]);
      await tx.run(
        `INSERT INTO dead_letters (id, run_id, step_id, flow_id, step_name, connection, action, input, error, history, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
        [
          d.deadLetterId,
          d.runId,
          d.stepId,
          d.flowId,
          d.stepName,
          d.connection ?? null,
          d.action ?? null,
          j(d.input),
          j(d.error),
          String(step?.history ?? '[]'),
          now,
          now,
        ],
      );
      if (d.audit) await this.audit(tx, [d.audit]);
      await this.applyNext(tx, d.runId, d.next, now);
    }, true);
  }

  async resumeWait(r: ResumeWait): Promise<boolean> {
    return this.write((tx) => this.resumeTx(tx, r, Date.now()), true);
  }

  private async resumeTx(tx: Db, r: ResumeWait, now: number): Promise<boolean> {
    const attempt: AttemptRecord = { attempt: 1, at: now, durationMs: 0, outcome: 'completed' };
    const u = await tx.run(
      `UPDATE steps SET status = 'completed', output = ?, finished_at = ?, history = ${this.appendJson('history')}
       WHERE id = ? AND status = 'waiting'`,
      [j(r.output), now, j(attempt), r.stepId],
    );
    if (u.changes === 0) return false;
    await tx.run('DELETE FROM waits WHERE step_id = ?', [r.stepId]);
    await tx.run(
      `UPDATE timers SET status = 'cancelled' WHERE step_id = ? AND status IN ('pending', 'firing')`,
      [r.stepId],
    );
    const run = await this.updateRun(tx, r.runId, `status = 'running', updated_at = ?`, [now]);
    // A resumed run takes its turn for its serial key again, behind the runs stored meanwhile.
    const blocked =
      run?.serial_key != null &&
      'step' in r.next &&
      !(await this.acquireSerial(tx, String(run.flow_id), String(run.serial_key), r.runId));
    await this.applyNext(tx, r.runId, r.next, now, undefined, blocked);
    return true;
  }

  /**
   * Enqueues the next step or finishes the run. With `claim`, a step due now is inserted already
   * leased to that worker, which runs it at once: no claim round trip, no wake-up latency, and the
   * same crash safety (a dead worker's lease runs out like any other).
   */
  private async applyNext(
    tx: Db,
    runId: string,
    next: NextAction,
    now: number,
    claim?: { owner: string; leaseMs: number },
    blocked = false,
  ): Promise<{ claimed?: StepRow; queued: boolean }> {
    if ('step' in next) {
      const s = next.step;
      const availableAt = s.availableAt ?? now;
      const row: StepRow = {
        id: randomUUID(),
        runId,
        idx: s.idx,
        name: s.name,
        kind: s.kind,
        status: blocked ? 'blocked' : 'queued',
        attempt: 0,
        availableAt,
        idempotencyKey: `${runId}:${s.idx}`,
        history: [],
      };
      // A blocked step is not claimable: the run holding the serial key queues it (releaseSerial).
      if (!blocked && claim && availableAt <= now) {
        Object.assign(row, {
          status: 'running',
          leaseOwner: claim.owner,
          leaseUntil: now + claim.leaseMs,
          startedAt: now,
        });
      }
      await tx.run(
        `INSERT INTO steps (id, run_id, idx, name, kind, status, attempt, available_at, idempotency_key, lease_owner, lease_until, started_at)
         VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
        [
          row.id,
          runId,
          s.idx,
          s.name,
          s.kind,
          row.status,
          availableAt,
          row.idempotencyKey,
          row.leaseOwner ?? null,
          row.leaseUntil ?? null,
          row.startedAt ?? null,
        ],
      );
      // The run is already `running`: it was just inserted, or resumed, or had this step's predecessor.
      if (row.status === 'running') return { claimed: row, queued: false };
      return { queued: !blocked };
    } else {
      const run = await this.updateRun(tx, runId, 'status = ?, finished_at = ?, updated_at = ?, error = ?', [
        next.finish,
        now,
        now,
        j(next.error),
      ]);
      // No counter row here: every finishing run would queue on that one row's lock. `counters()`
      // counts runs by status instead.
      if (run?.serial_key == null) return { queued: false };
      return {
        queued: await this.releaseSerial(tx, String(run.flow_id), String(run.serial_key), runId, now),
      };
    }
  }

  /**
   * Updates a run and reads back its flow and serial key (what a run that ends or waits gives up). One
   * round trip on PostgreSQL (RETURNING); on SQLite a second statement, which node:sqlite runs several
   * times faster than an UPDATE … RETURNING — this is on every run's last commit.
   */
  private async updateRun(tx: Db, runId: string, set: string, params: Param[]): Promise<Row | undefined> {
    if (this.db.dialect === 'postgres') {
      return tx.get<Row>(`UPDATE runs SET ${set} WHERE id = ? RETURNING flow_id, serial_key`, [
        ...params,
        runId,
      ]);
    }
    await tx.run(`UPDATE runs SET ${set} WHERE id = ?`, [...params, runId]);
    return tx.get<Row>('SELECT flow_id, serial_key FROM runs WHERE id = ?', [runId]);
  }

  // ── serial keys: runs of a flow with the same key take turns ───────────────────────────────────

  /**
   * Takes a run's turn for (flow, key): true when it holds the key now, false when it was put in line
   * (in the order of these calls: the upsert locks the key's row until commit, on both databases).
   */
  private async acquireSerial(tx: Db, flowId: string, key: string, runId: string): Promise<boolean> {
    const row = await tx.get<Row>(
      `INSERT INTO serial_keys (flow_id, serial_key, holder, seq) VALUES (?, ?, ?, 0)
       ON CONFLICT (flow_id, serial_key) DO UPDATE SET seq = serial_keys.seq + 1,
         holder = COALESCE(serial_keys.holder, excluded.holder)
       RETURNING holder, seq`,
      [flowId, key, runId],
    );
    if (!row || String(row.holder) === runId) return true;
    await tx.run('INSERT INTO serial_waiting (flow_id, serial_key, seq, run_id) VALUES (?, ?, ?, ?)', [
      flowId,
      key,
      Number(row.seq),
      runId,
    ]);
    return false;
  }

  /**
   * Gives up (flow, key) when `runId` holds it: the next run in line gets it and its blocked step is
   * queued. Returns whether a step was queued. A run in line that has nothing blocked any more (it
   * cannot proceed from the line) is passed over, so a key is never stuck.
   */
  private async releaseSerial(
    tx: Db,
    flowId: string,
    key: string,
    runId: string,
    now: number,
  ): Promise<boolean> {
    const held = await tx.run(
      'UPDATE serial_keys SET holder = NULL WHERE flow_id = ? AND serial_key = ? AND holder = ?',
      [flowId, key, runId],
    );
    if (held.changes === 0) return false;
    for (;;) {
      const next = await tx.get<Row>(
        'SELECT seq, run_id FROM serial_waiting WHERE flow_id = ? AND serial_key = ? ORDER BY seq LIMIT 1',
        [flowId, key],
      );
      if (!next) {
        await tx.run('DELETE FROM serial_keys WHERE flow_id = ? AND serial_key = ? AND holder IS NULL', [
          flowId,
          key,
        ]);
        return false;
      }
      await tx.run('DELETE FROM serial_waiting WHERE flow_id = ? AND serial_key = ? AND seq = ?', [
        flowId,
        key,
        next.seq as Param,
      ]);
      const u = await tx.run(
        `UPDATE steps SET status = 'queued', available_at = ? WHERE run_id = ? AND status = 'blocked'`,
        [now, String(next.run_id)],
      );
      if (u.changes === 0) continue;
      await tx.run('UPDATE serial_keys SET holder = ? WHERE flow_id = ? AND serial_key = ?', [
        String(next.run_id),
        flowId,
        key,
      ]);
      return true;
    }
  }

  /** JSON array append, in each dialect's words. */
  private appendJson(col: string): string {
    return this.db.dialect === 'postgres'
      ? `(${col}::jsonb || jsonb_build_array(?::jsonb))::text`
      : `json_insert(${col}, '$[#]', json(?))`;
  }

  // ── timers ─────────────────────────────────────────────────────────────────────────────────────

  private async insertTimer(
    tx: Db,
    t: { id: string; dueAt: number; kind: string; runId?: string; stepId?: string; payload: unknown },
  ) {
    await tx.run(
      `INSERT INTO timers (id, due_at, kind, run_id, step_id, payload, status) VALUES (?, ?, ?, ?, ?, ?, 'pending')
       ON CONFLICT (id) DO NOTHING`,
      [t.id, t.dueAt, t.kind, t.runId ?? null, t.stepId ?? null, j(t.payload)],
    );
  }

  async claimTimers(owner: string, limit: number): Promise<TimerRow[]> {
    void owner;
    const now = Date.now();
    return this.db.transaction(async (tx) => {
      const pick =
        this.db.dialect === 'postgres'
          ? `SELECT id FROM timers WHERE status = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED`
          : `SELECT id FROM timers WHERE status = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?`;
      const ids = (await tx.all<Row>(pick, [now, limit])).map((r) => String(r.id));
      if (ids.length === 0) return [];
      const marks = ids.map(() => '?').join(', ');
      await tx.run(
        `UPDATE timers SET status = 'firing', attempt = attempt + 1, lease_until = ? WHERE id IN (${marks})`,
        [now + TIMER_LEASE_MS, ...ids],
      );
      return (await tx.all<Row>(`SELECT * FROM timers WHERE id IN (${marks}) ORDER BY due_at`, ids)).map(
        toTimer,
      );
    });
  }

  async finishTimer(id: string): Promise<void> {
    await this.db.run(`UPDATE timers SET status = 'fired' WHERE id = ?`, [id]);
  }

  async rescheduleTimer(id: string, dueAt: number): Promise<void> {
    await this.write(
      (tx) => tx.run(`UPDATE timers SET status = 'pending', due_at = ? WHERE id = ?`, [dueAt, id]),
      true,
    );
  }

  // ── alert suppression ──────────────────────────────────────────────────────────────────────────

  async decideSuppression(r: SuppressRequest): Promise<SuppressDecision> {
    return this.write(async (tx) => {
      // The decision row first: a second asker with the same idempotency key (a retry, or a step whose
      // lease ran out while it decided) waits for the first one's commit and reads its decision.
      const mine = await tx.run(
        `INSERT INTO suppress_decisions (idempotency_key, window_id, held, held_back, decided_at)
         VALUES (?, '', 0, 0, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
        [r.idempotencyKey, Date.now()],
      );
      if (mine.changes === 0) {
        const d = await tx.get<Row>(
          `SELECT d.window_id, d.held, d.held_back, w.ends_at FROM suppress_decisions d
           LEFT JOIN suppress_windows w ON w.id = d.window_id WHERE d.idempotency_key = ?`,
          [r.idempotencyKey],
        );
        return {
          send: Number(d?.held) !== 1,
          windowId: String(d?.window_id ?? ''),
          endsAt: Number(d?.ends_at ?? 0),
          heldBack: Number(d?.held_back ?? 0),
        };
      }
      const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
      // Two workers opening a window for the same key at once: one insert wins, the other finds its
      // window on the next turn (PostgreSQL makes it wait for the winner's commit).
      for (let turn = 0; turn < 5; turn++) {
        const w = await tx.get<Row>(
          `SELECT id, ends_at, suppressed FROM suppress_windows WHERE scope = ? AND skey = ? AND status = 'open'${lock}`,
          [r.scope, r.key],
        );
        // Read after the lock: a window whose summary timer closed it meanwhile is not found above.
        const now = Date.now();
        if (w && Number(w.ends_at) > now) {
          const heldBack = Number(w.suppressed) + r.count;
          await tx.run(
            `UPDATE suppress_windows SET suppressed = suppressed + ?, messages = messages + 1,
               first_at = COALESCE(first_at, ?), last_at = ?, last = ? WHERE id = ?`,
            [r.count, now, now, j(r.message), String(w.id)],
          );
          await tx.run(
            'UPDATE suppress_decisions SET window_id = ?, held = 1, held_back = ? WHERE idempotency_key = ?',
            [String(w.id), heldBack, r.idempotencyKey],
          );
          return { send: false, windowId: String(w.id), endsAt: Number(w.ends_at), heldBack };
        }
        // An ended window keeps its figures for its summary timer; this message opens the next one.
        if (w) await tx.run(`UPDATE suppress_windows SET status = 'closed' WHERE id = ?`, [String(w.id)]);
        const id = randomUUID();
        const endsAt = now + r.windowMs;
        const opened = await tx.run(
          `INSERT INTO suppress_windows (id, scope, skey, status, window_ms, opened_at, ends_at, origin)
           VALUES (?, ?, ?, 'open', ?, ?, ?, ?) ON CONFLICT (scope, skey) WHERE status = 'open' DO NOTHING`,
          [id, r.scope, r.key, r.windowMs, now, endsAt, j(r.origin)],
        );
        if (opened.changes === 0) continue;
        await this.insertTimer(tx, {
          id: `suppress:${id}`,
          dueAt: endsAt,
          kind: 'suppress',
          payload: { window: id },
        });
        await tx.run('UPDATE suppress_decisions SET window_id = ? WHERE idempotency_key = ?', [
          id,
          r.idempotencyKey,
        ]);
        return { send: true, windowId: id, endsAt, heldBack: 0 };
      }
      throw new TransientError(`suppression window for '${r.key}' is contended; deciding again`);
    });
  }

  async closeSuppressWindow(id: string): Promise<SuppressWindowRow | undefined> {
    return this.write(async (tx) => {
      // Waits for a decision holding the window (PostgreSQL): its count is in the figures read next.
      await tx.run(`UPDATE suppress_windows SET status = 'closed' WHERE id = ? AND status = 'open'`, [id]);
      const r = await tx.get<Row>('SELECT * FROM suppress_windows WHERE id = ?', [id]);
      return r && toSuppressWindow(r);
    });
  }

  async getSuppressWindow(id: string): Promise<SuppressWindowRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM suppress_windows WHERE id = ?', [id]);
    return r && toSuppressWindow(r);
  }

  async nextWakeAt(): Promise<number | undefined> {
    const a = await this.db.get<Row>(`SELECT min(available_at) AS t FROM steps WHERE status = 'queued'`);
    const b = await this.db.get<Row>(`SELECT min(due_at) AS t FROM timers WHERE status = 'pending'`);
    const ts = [n(a?.t), n(b?.t)].filter((x): x is number => x !== undefined);
    return ts.length ? Math.min(...ts) : undefined;
  }

  // ── runs ───────────────────────────────────────────────────────────────────────────────────────

  async getRun(id: string): Promise<{ run: RunRow; steps: StepRow[] } | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM runs WHERE id = ?', [id]);
    if (!r) return undefined;
    const steps = (await this.db.all<Row>('SELECT * FROM steps WHERE run_id = ? ORDER BY idx', [id])).map(
      toStep,
    );
    return { run: toRun(r), steps };
  }

  async listRuns(q: {
    flowId?: string;
    status?: RunStatus;
    limit?: number;
    before?: number;
  }): Promise<RunRow[]> {
    const rows = await this.select(
      'runs',
      [
        ['flow_id = ?', q.flowId],
        ['status = ?', q.status],
        ['started_at < ?', q.before || undefined],
      ],
      'started_at DESC, id',
      Math.min(q.limit ?? 100, 1000),
    );
    return rows.map(toRun);
  }

  /** `SELECT *` with the filters whose value is given, ANDed, ordered and limited. */
  private select(
    table: string,
    filters: Array<[string, Param | undefined]>,
    orderBy: string,
    limit: number,
  ): Promise<Row[]> {
    const given = filters.filter((f): f is [string, Param] => f[1] !== undefined && f[1] !== '');
    const where = given.length ? `WHERE ${given.map((f) => f[0]).join(' AND ')}` : '';
    return this.db.all<Row>(`SELECT * FROM ${table} ${where} ORDER BY ${orderBy} LIMIT ?`, [
      ...given.map((f) => f[1]),
      limit,
    ]);
  }

  // ── dead letters ───────────────────────────────────────────────────────────────────────────────

  async getDeadLetter(id: string): Promise<DeadLetterRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM dead_letters WHERE id = ?', [id]);
    return r && toDeadLetter(r);
  }

  async listDeadLetters(q: {
    status?: DeadLetterRow['status'];
    flowId?: string;
    limit?: number;
  }): Promise<DeadLetterRow[]> {
    const rows = await this.select(
      'dead_letters',
      [
        ['status = ?', q.status],
        ['flow_id = ?', q.flowId],
      ],
      'created_at DESC, id',
      Math.min(q.limit ?? 100, 1000),
    );
    return rows.map(toDeadLetter);
  }

  private async openDeadLetter(tx: Db, id: string): Promise<DeadLetterRow> {
    const r = await tx.get<Row>('SELECT * FROM dead_letters WHERE id = ?', [id]);
    if (!r) throw new NotFoundError(`dead letter ${id} does not exist`);
    const dl = toDeadLetter(r);
    if (dl.status !== 'open') {
      throw new ValidationError([{ path: 'status', message: `dead letter ${id} is ${dl.status}, not open` }]);
    }
    return dl;
  }

  async editDeadLetter(id: string, input: unknown, audit: AuditInput): Promise<DeadLetterRow> {
    return this.write(async (tx) => {
      const dl = await this.openDeadLetter(tx, id);
      const now = Date.now();
      await tx.run('UPDATE dead_letters SET input = ?, updated_at = ? WHERE id = ?', [j(input), now, id]);
      await this.audit(tx, [{ ...audit, detail: { ...audit.detail, before: dl.input, after: input } }]);
      return { ...dl, input, updatedAt: now };
    });
  }

  async replayDeadLetter(id: string, audit: AuditInput): Promise<DeadLetterRow> {
    return this.write(async (tx) => {
      const dl = await this.openDeadLetter(tx, id);
      const now = Date.now();
      await tx.run(`UPDATE dead_letters SET status = 'replayed', updated_at = ? WHERE id = ?`, [now, id]);
      // The same step row, hence the same idempotency key: a replay can never do the effect twice.
      await tx.run(
        `UPDATE steps SET status = 'queued', attempt = 0, available_at = ?, input = ?, error = NULL,
           lease_owner = NULL, lease_until = NULL, finished_at = NULL WHERE id = ?`,
        [now, j(dl.input), dl.stepId],
      );
      // Steps after a notify's dead letter may already exist; a replayed notify must not move the run.
      const later = await tx.get<Row>(
        'SELECT count(*) AS c FROM steps WHERE run_id = ? AND idx > (SELECT idx FROM steps WHERE id = ?)',
        [dl.runId, dl.stepId],
      );
      if (Number(later?.c ?? 0) === 0) {
        const run = await this.updateRun(
          tx,
          dl.runId,
          `status = 'running', finished_at = NULL, error = NULL, updated_at = ?`,
          [now],
        );
        // The failed run gave up its serial key; replayed, it takes its turn again.
        if (
          run?.serial_key != null &&
          !(await this.acquireSerial(tx, String(run.flow_id), String(run.serial_key), dl.runId))
        ) {
          await tx.run(`UPDATE steps SET status = 'blocked' WHERE id = ?`, [dl.stepId]);
        }
      }
      await this.audit(tx, [audit]);
      await this.bump(tx, 'dead_letters_replayed', 1);
      return { ...dl, status: 'replayed' as const, updatedAt: now };
    }, true);
  }

  async discardDeadLetter(id: string, audit: AuditInput): Promise<DeadLetterRow> {
    return this.write(async (tx) => {
      const dl = await this.openDeadLetter(tx, id);
      const now = Date.now();
      await tx.run(`UPDATE dead_letters SET status = 'discarded', updated_at = ? WHERE id = ?`, [now, id]);
      await this.audit(tx, [audit]);
      return { ...dl, status: 'discarded' as const, updatedAt: now };
    });
  }

  // ── id map ─────────────────────────────────────────────────────────────────────────────────────

  private async linkIdTx(
    tx: Db,
    connection: string,
    object: string,
    externalId: string,
  ): Promise<string | undefined> {
    const r = await tx.get<Row>(
      'SELECT link_id FROM id_links WHERE connection = ? AND object = ? AND external_id = ?',
      [connection, object, externalId],
    );
    return r ? String(r.link_id) : undefined;
  }

  findLinkId(connection: string, object: string, externalId: string): Promise<string | undefined> {
    return this.linkIdTx(this.db, connection, object, externalId);
  }

  /**
   * Joins the records a step wrote to its run's link (one entity, one record per system and object):
   * - a record already linked elsewhere brings its link along: the two links are merged into the run's,
   *   unless they hold different records of one system and object (then the record keeps its own link);
   * - several records of one system and object written by one step (a batch) cannot all be the run's
   *   record: each keeps or gets a link of its own.
   */
  private async writeLinks(tx: Db, c: StepCompletion, now: number): Promise<void> {
    const run = await tx.get<Row>('SELECT flow_id, link_key FROM runs WHERE id = ?', [c.runId]);
    const flowId = run?.flow_id == null ? null : String(run.flow_id);
    let runLink = run?.link_key ? String(run.link_key) : undefined;
    const kinds = new Map<string, number>();
    for (const l of c.links ?? [])
      kinds.set(`${l.connection}\0${l.object}`, (kinds.get(`${l.connection}\0${l.object}`) ?? 0) + 1);
    for (const l of c.links ?? []) {
      const existing = await this.linkIdTx(tx, l.connection, l.object, l.externalId);
      let linkId: string;
      if ((kinds.get(`${l.connection}\0${l.object}`) ?? 0) > 1) linkId = existing ?? randomUUID();
      else if (!runLink) linkId = runLink = existing ?? randomUUID();
      else if (existing && existing !== runLink && (await this.mergeLinks(tx, existing, runLink)))
        linkId = runLink;
      else linkId = existing ?? runLink;
      await tx.run(
        `INSERT INTO id_links (connection, object, external_id, link_id, flow_id, run_id, content_hash, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (connection, object, external_id) DO UPDATE SET run_id = excluded.run_id,
           content_hash = COALESCE(excluded.content_hash, id_links.content_hash), updated_at = excluded.updated_at`,
        [l.connection, l.object, l.externalId, linkId, flowId, c.runId, c.contentHash ?? null, now, now],
      );
    }
    if (!run?.link_key && runLink)
      await tx.run('UPDATE runs SET link_key = ? WHERE id = ?', [runLink, c.runId]);
  }

  /**
   * Moves every record of link `from` into link `into`, and the runs still under way or replayable (a
   * failed run's dead letter) with it, unless the
   * two hold different records of one system and object (two entities, not one): then nothing changes.
   */
  private async mergeLinks(tx: Db, from: string, into: string): Promise<boolean> {
    const rows = await tx.all<Row>(
      'SELECT link_id, connection, object, external_id FROM id_links WHERE link_id IN (?, ?)',
      [from, into],
    );
    const held = new Map<string, string>();
    for (const r of rows.filter((r) => String(r.link_id) === into))
      held.set(`${r.connection}\0${r.object}`, String(r.external_id));
    for (const r of rows.filter((r) => String(r.link_id) === from)) {
      const other = held.get(`${r.connection}\0${r.object}`);
      if (other !== undefined && other !== String(r.external_id)) return false;
    }
    await tx.run('UPDATE id_links SET link_id = ? WHERE link_id = ?', [into, from]);
    await tx.run(
      "UPDATE runs SET link_key = ? WHERE link_key = ? AND status IN ('running', 'waiting', 'failed')",
      [into, from],
    );
    return true;
  }

  async findExternalId(linkId: string, connection: string, object: string): Promise<string | undefined> {
    const r = await this.db.get<Row>(
      'SELECT external_id FROM id_links WHERE link_id = ? AND connection = ? AND object = ? ORDER BY updated_at DESC LIMIT 1',
      [linkId, connection, object],
    );
    return r ? String(r.external_id) : undefined;
  }

  async findLinks(q: {
    linkId?: string;
    connection?: string;
    object?: string;
    externalId?: string;
    limit?: number;
  }): Promise<LinkRow[]> {
    const rows = await this.select(
      'id_links',
      [
        ['link_id = ?', q.linkId],
        ['connection = ?', q.connection],
        ['object = ?', q.object],
        ['external_id = ?', q.externalId],
      ],
      'updated_at DESC',
      Math.min(q.limit ?? 100, 1000),
    );
    return rows.map((r) => ({
      connection: String(r.connection),
      object: String(r.object),
      externalId: String(r.external_id),
      linkId: String(r.link_id),
      flowId: str(r.flow_id),
      runId: str(r.run_id),
      contentHash: str(r.content_hash),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
    }));
  }

  async getCursor(flowId: string): Promise<Cursor | undefined> {
    const r = await this.db.get<Row>('SELECT cursor FROM cursors WHERE flow_id = ?', [flowId]);
    return pj<Cursor>(r?.cursor);
  }

  // ── audit: append-only, hash-chained ───────────────────────────────────────────────────────────

  /**
   * Appends hash-chained audit rows. On PostgreSQL the log is AUDIT_LANES chains ("lanes") so that
   * concurrent workers do not all queue on one lock: a transaction takes the first free lane's
   * transaction-scoped advisory lock. A row's global `seq` is laneSeq × lanes + lane; each lane is
   * verified on its own (a changed, inserted or deleted row breaks its lane). SQLite, one writer, has
   * one lane, where `seq` is simply 1, 2, 3…
   */
  private async audit(tx: Db, entries: AuditInput[]): Promise<void> {
    if (entries.length === 0) return;
    const lanes = this.auditLanes;
    let lane = 0;
    if (this.db.dialect === 'postgres') {
      const first = Math.floor(Math.random() * lanes);
      lane = -1;
      for (let i = 0; i < lanes && lane < 0; i++) {
        const l = (first + i) % lanes;
        const r = await tx.get<Row>('SELECT pg_try_advisory_xact_lock(724312, ?::int) AS ok', [l]);
        if (r?.ok) lane = l;
      }
      if (lane < 0) {
        lane = first;
        await tx.run('SELECT pg_advisory_xact_lock(724312, ?::int)', [lane]);
      }
    }
    const key = auditHeadKey(lane, lanes);
    const head = await tx.get<Row>('SELECT value FROM qiao_meta WHERE key = ?', [key]);
    let { seq, hash } = head
      ? (JSON.parse(String(head.value)) as { seq: number; hash: string })
      : { seq: 0, hash: GENESIS_HASH };
    let laneSeq = (seq - lane) / lanes;
    if (!head) laneSeq = 0;
    const at = Date.now();
    for (const e of entries) {
      laneSeq += 1;
      seq = laneSeq * lanes + lane;
      const entry = {
        seq: laneSeq,
        at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        detail: e.detail ?? {},
      };
      const h = auditHash(hash, entry);
      await tx.run(
        'INSERT INTO audit (seq, at, actor, action, target, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [seq, at, e.actor, e.action, e.target, j(entry.detail), hash, h],
      );
      hash = h;
    }
    await tx.run(
      'INSERT INTO qiao_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, JSON.stringify({ seq, hash })],
    );
  }

  async appendAudit(entries: AuditInput[]): Promise<void> {
    await this.write((tx) => this.audit(tx, entries));
  }

  async listAudit(q: { afterSeq?: number; limit?: number }): Promise<AuditRow[]> {
    const rows = await this.db.all<Row>('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?', [
      q.afterSeq ?? 0,
      Math.min(q.limit ?? 100, 10_000),
    ]);
    return rows.map(toAudit);
  }

  async verifyAudit(): Promise<AuditVerdict> {
    const lanes = this.auditLanes;
    const byLane: AuditRow[][] = Array.from({ length: lanes }, () => []);
    let after = 0;
    for (;;) {
      const page = await this.listAudit({ afterSeq: after, limit: 10_000 });
      for (const r of page) byLane[r.seq % lanes].push({ ...r, seq: (r.seq - (r.seq % lanes)) / lanes });
      if (page.length < 10_000) break;
      after = page[page.length - 1].seq;
    }
    let count = 0;
    for (let lane = 0; lane < lanes; lane++) {
      const h = await this.db.get<Row>('SELECT value FROM qiao_meta WHERE key = ?', [
        auditHeadKey(lane, lanes),
      ]);
      const head = h ? (JSON.parse(String(h.value)) as { seq: number; hash: string }) : undefined;
      const verdict = verifyChain(byLane[lane], head && { seq: (head.seq - lane) / lanes, hash: head.hash });
      if (!verdict.ok) return { ...verdict, seq: verdict.seq * lanes + lane };
      count += verdict.count;
    }
    return { ok: true, count };
  }

  // ── counters, depth, leadership ───────────────────────────────────────────────────────────────

  private async bump(tx: Db, name: string, by: number): Promise<void> {
    await tx.run(
      `INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value`,
      [name, by],
    );
  }

  async addCounter(name: string, by: number): Promise<void> {
    await this.write((tx) => this.bump(tx, name, by));
  }

  /** Durable counters, plus `runs_<status>`: how many runs are in each status now. */
  async counters(): Promise<Record<string, number>> {
    const rows = await this.db.all<Row>('SELECT name, value FROM counters');
    const runs = await this.db.all<Row>('SELECT status, count(*) AS c FROM runs GROUP BY status');
    return {
      ...Object.fromEntries(rows.map((r) => [String(r.name), Number(r.value)])),
      ...Object.fromEntries(runs.map((r) => [`runs_${String(r.status)}`, Number(r.c)])),
    };
  }

  async depth(): Promise<{ steps: Record<string, number>; deadLetters: number; waits: number }> {
    const rows = await this.db.all<Row>('SELECT status, count(*) AS c FROM steps GROUP BY status');
    const dl = await this.db.get<Row>(`SELECT count(*) AS c FROM dead_letters WHERE status = 'open'`);
    const w = await this.db.get<Row>('SELECT count(*) AS c FROM waits');
    return {
      steps: Object.fromEntries(rows.map((r) => [String(r.status), Number(r.c)])),
      deadLetters: Number(dl?.c ?? 0),
      waits: Number(w?.c ?? 0),
    };
  }

  async tryLead(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (this.db.dialect === 'postgres') {
      // A session-level advisory lock, held on a dedicated connection for as long as this process lives:
      // if the process dies, PostgreSQL releases it and another worker's next try wins.
      if (this.leaderClient) return true;
      const client = await (this.db as PostgresDb).pool.connect();
      const r = await client.query('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [`qiao:${name}`]);
      if (r.rows[0]?.ok) {
        this.leaderClient = client;
        return true;
      }
      client.release();
      return false;
    }
    const now = Date.now();
    const r = await this.db.run(
      `INSERT INTO leases (name, holder, until) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
       WHERE leases.holder = excluded.holder OR leases.until < ?`,
      [name, holder, now + ttlMs, now],
    );
    return r.changes > 0;
  }

  // ── two-way sync: agreed values per pair, the review queue ─────────────────────────────────────

  async getSyncState(pair: string, key: string): Promise<SyncStateRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM sync_state WHERE pair = ? AND sync_key = ?', [pair, key]);
    return r && this.toSyncState(r);
  }

  async saveSyncState(s: Omit<SyncStateRow, 'version' | 'updatedAt'>): Promise<SyncStateRow> {
    const now = Date.now();
    return this.write(async (tx) => {
      const prev = await tx.get<Row>('SELECT version FROM sync_state WHERE pair = ? AND sync_key = ?', [
        s.pair,
        s.key,
      ]);
      const version = prev ? Number(prev.version) + 1 : 1;
      await tx.run(
        `INSERT INTO sync_state (pair, sync_key, base, hash, ids, run_id, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (pair, sync_key) DO UPDATE SET base = excluded.base, hash = excluded.hash, ids = excluded.ids,
           run_id = excluded.run_id, version = excluded.version, updated_at = excluded.updated_at`,
        [s.pair, s.key, j(s.base), s.hash, j(s.ids), s.runId ?? null, version, now],
      );
      return { ...s, version, updatedAt: now };
    });
  }

  async openReview(
    r: Omit<ReviewRow, 'status' | 'createdAt' | 'updatedAt' | 'resolution' | 'resolvedBy' | 'resolvedAt'>,
    audit?: AuditInput,
  ): Promise<{ review: ReviewRow; created: boolean }> {
    const now = Date.now();
    return this.write(async (tx) => {
      // The partial unique index keeps one open review per pair and key, even for two writers at once.
      const ins = await tx.run(
        `INSERT INTO reviews (id, pair, sync_key, status, connection, flow_id, run_id, detail, created_at, updated_at)
         VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
         ON CONFLICT (pair, sync_key) WHERE status = 'open' DO NOTHING`,
        [r.id, r.pair, r.key, r.connection, r.flowId ?? null, r.runId ?? null, j(r.detail), now, now],
      );
      if (ins.changes > 0 && audit) await this.audit(tx, [audit]);
      const row = await tx.get<Row>(
        `SELECT * FROM reviews WHERE pair = ? AND sync_key = ? AND status = 'open'`,
        [r.pair, r.key],
      );
      if (!row) throw new Error(`review of ${r.pair}/${r.key} vanished while it was opened`);
      return { review: this.toReview(row), created: ins.changes > 0 };
    });
  }

  async updateReview(id: string, detail: Record<string, unknown>): Promise<boolean> {
    const r = await this.write((tx) =>
      tx.run(`UPDATE reviews SET detail = ?, updated_at = ? WHERE id = ? AND status = 'open'`, [
        j(detail),
        Date.now(),
        id,
      ]),
    );
    return r.changes > 0;
  }

  async getReview(id: string): Promise<ReviewRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM reviews WHERE id = ?', [id]);
    return r && this.toReview(r);
  }

  async listReviews(q: {
    status?: ReviewStatus;
    pair?: string;
    key?: string;
    ids?: string[];
    limit?: number;
  }): Promise<ReviewRow[]> {
    const where: string[] = [];
    const params: Param[] = [];
    if (q.status) where.push('status = ?') && params.push(q.status);
    if (q.pair) where.push('pair = ?') && params.push(q.pair);
    if (q.key) where.push('sync_key = ?') && params.push(q.key);
    if (q.ids) {
      if (q.ids.length === 0) return [];
      where.push(`id IN (${q.ids.map(() => '?').join(', ')})`);
      params.push(...q.ids);
    }
    params.push(Math.min(q.limit ?? 100, 1000));
    const rows = await this.db.all<Row>(
      `SELECT * FROM reviews ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT ?`,
      params,
    );
    return rows.map((r) => this.toReview(r));
  }

  async resolveReview(
    id: string,
    r: { resolution: Record<string, unknown>; by: string },
    audit: AuditInput,
  ): Promise<ReviewRow> {
    const now = Date.now();
    return this.write(async (tx) => {
      const row = await tx.get<Row>('SELECT * FROM reviews WHERE id = ?', [id]);
      if (!row) throw new NotFoundError(`review ${id} does not exist`);
      // Only an open review changes: a second resolution (another person, a retried request) is refused.
      const u = await tx.run(
        `UPDATE reviews SET status = 'resolved', resolution = ?, resolved_by = ?, resolved_at = ?, updated_at = ?
         WHERE id = ? AND status = 'open'`,
        [j(r.resolution), r.by, now, now, id],
      );
      if (u.changes === 0) {
        throw new ValidationError([{ path: 'status', message: `review ${id} is ${row.status}, not open` }]);
      }
      await this.audit(tx, [audit]);
      return {
        ...this.toReview(row),
        status: 'resolved' as const,
        resolution: r.resolution,
        resolvedBy: r.by,
        resolvedAt: now,
        updatedAt: now,
      };
    });
  }

  private toSyncState(r: Row): SyncStateRow {
    return {
      pair: String(r.pair),
      key: String(r.sync_key),
      base: pj(r.base) ?? {},
      hash: String(r.hash),
      ids: pj(r.ids) ?? {},
      runId: str(r.run_id),
      version: Number(r.version),
      updatedAt: Number(r.updated_at),
    };
  }

  private toReview(r: Row): ReviewRow {
    return {
      id: String(r.id),
      pair: String(r.pair),
      key: String(r.sync_key),
      status: r.status as ReviewStatus,
      connection: String(r.connection),
      flowId: str(r.flow_id),
      runId: str(r.run_id),
      detail: pj(r.detail) ?? {},
      resolution: pj(r.resolution),
      resolvedBy: str(r.resolved_by),
      createdAt: Number(r.created_at),
      updatedAt: Number(r.updated_at),
      resolvedAt: n(r.resolved_at),
    };
  }
}

function toConnection(r: Row): ConnectionRow {
  return {
    id: String(r.id),
    type: String(r.type),
    settings: pj(r.settings) ?? {},
    limits: pj(r.limits),
    origin: r.origin as ConnectionRow['origin'],
    version: Number(r.version),
    updatedAt: Number(r.updated_at),
  };
}

function toFlow(r: Row): FlowRow {
  return {
    id: String(r.id),
    definition: pj(r.definition)!,
    yaml: str(r.yaml),
    origin: r.origin as FlowRow['origin'],
    enabled: Number(r.enabled) === 1,
    version: Number(r.version),
    updatedAt: Number(r.updated_at),
  };
}

function toInbox(r: Row): InboxRow {
  return {
    source: String(r.source),
    key: String(r.key),
    type: String(r.type),
    correlation: str(r.correlation),
    data: pj(r.data),
    receivedAt: Number(r.received_at),
    duplicates: Number(r.duplicates),
  };
}

function toRun(r: Row): RunRow {
  return {
    id: String(r.id),
    flowId: String(r.flow_id),
    flowVersion: Number(r.flow_version),
    status: r.status as RunStatus,
    eventSource: str(r.event_source),
    eventKey: str(r.event_key),
    linkKey: str(r.link_key),
    serialKey: str(r.serial_key),
    event: pj(r.event),
    startedAt: Number(r.started_at),
    updatedAt: Number(r.updated_at),
    finishedAt: n(r.finished_at),
    error: pj(r.error),
  };
}

function toStep(r: Row): StepRow {
  return {
    id: String(r.id),
    runId: String(r.run_id),
    idx: Number(r.idx),
    name: String(r.name),
    kind: r.kind as StepRow['kind'],
    status: r.status as StepRow['status'],
    attempt: Number(r.attempt),
    availableAt: Number(r.available_at),
    leaseOwner: str(r.lease_owner),
    leaseUntil: n(r.lease_until),
    idempotencyKey: String(r.idempotency_key),
    input: pj(r.input),
    output: pj(r.output),
    error: pj(r.error),
    history: pj(r.history) ?? [],
    startedAt: n(r.started_at),
    finishedAt: n(r.finished_at),
  };
}

function auditHeadKey(lane: number, lanes: number): string {
  return lanes === 1 ? 'audit_head' : `audit_head:${lane}`;
}

function toWait(r: Row): WaitRow {
  return {
    stepId: String(r.step_id),
    runId: String(r.run_id),
    connection: String(r.connection),
    eventType: String(r.event_type),
    correlation: String(r.correlation),
    createdAt: Number(r.created_at),
  };
}

function toSuppressWindow(r: Row): SuppressWindowRow {
  return {
    id: String(r.id),
    scope: String(r.scope),
    key: String(r.skey),
    status: r.status as SuppressWindowRow['status'],
    windowMs: Number(r.window_ms),
    openedAt: Number(r.opened_at),
    endsAt: Number(r.ends_at),
    suppressed: Number(r.suppressed),
    messages: Number(r.messages),
    firstAt: n(r.first_at),
    lastAt: n(r.last_at),
    last: pj(r.last),
    origin: pj<SuppressOrigin>(r.origin)!,
  };
}

function toTimer(r: Row): TimerRow {
  return {
    id: String(r.id),
    dueAt: Number(r.due_at),
    kind: r.kind as TimerRow['kind'],
    runId: str(r.run_id),
    stepId: str(r.step_id),
    payload: pj(r.payload),
    status: r.status as TimerRow['status'],
    attempt: Number(r.attempt),
  };
}

function toDeadLetter(r: Row): DeadLetterRow {
  return {
    id: String(r.id),
    runId: String(r.run_id),
    stepId: String(r.step_id),
    flowId: String(r.flow_id),
    stepName: String(r.step_name),
    connection: str(r.connection),
    action: str(r.action),
    input: pj(r.input),
    error: pj(r.error)!,
    history: pj(r.history) ?? [],
    status: r.status as DeadLetterRow['status'],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toAudit(r: Row): AuditRow {
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actor: String(r.actor),
    action: String(r.action),
    target: String(r.target),
    detail: pj(r.detail) ?? {},
    prevHash: String(r.prev_hash),
    hash: String(r.hash),
  };
}
