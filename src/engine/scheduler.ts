/**
 * Poll and cron triggers. Only the leader runs them (PostgreSQL: an advisory lock; SQLite: the one
 * process), and even two leaders could not fire a slot twice: a cron slot is an inbox event keyed by
 * its time, and a poll page's records are inbox events keyed by record version.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Cursor } from '../core/connector.ts';
import { toQiaoError } from '../core/errors.ts';
import type { FlowRow } from '../store/store.ts';
import type { Engine } from './engine.ts';

/** A cron slot missed by more than this (the hub was down) is not fired late. */
const CRON_GRACE_MS = 5 * 60_000;
/** At most this many pages per poll tick, so one busy flow cannot starve the others. */
const MAX_PAGES_PER_TICK = 50;

export class Scheduler {
  private readonly engine: Engine;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private leader = false;
  private readonly nextPoll = new Map<string, number>();
  private readonly lastSlot = new Map<string, number>();
  private nextReconcile = 0;

  private readonly embedded: boolean;

  constructor(engine: Engine, embedded: boolean) {
    this.engine = engine;
    this.embedded = embedded;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), 250);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Forget poll schedules (flows changed): every poll flow polls at the next tick. */
  reset(): void {
    this.nextPoll.clear();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      // An embedded store has one process by definition: it leads without asking, so a restart after
      // a crash does not wait for the dead process's lease to run out.
      this.leader =
        this.embedded || (await this.engine.store.tryLead('scheduler', this.engine.workerId, 15_000));
      if (!this.leader) return;
      const now = Date.now();
      if (now >= this.nextReconcile) {
        this.nextReconcile = now + this.engine.reconcileIntervalMs;
        await this.engine.reconcile();
      }
      for (const row of this.engine.flows.enabled()) {
        const t = row.definition.trigger;
        if (t.type === 'poll' && (this.nextPoll.get(row.id) ?? 0) <= now) await this.poll(row);
        else if (t.type === 'schedule') await this.cron(row, now);
      }
    } catch (err) {
      this.engine.log.error('scheduler tick failed', { error: (err as Error).message });
    } finally {
      this.busy = false;
    }
  }

  /** Reads pages until the trigger says there is no more, storing each page with its cursor. */
  async poll(row: FlowRow): Promise<number> {
    const flow = row.definition;
    if (flow.trigger.type !== 'poll') return 0;
    const t = flow.trigger;
    let records = 0;
    try {
      const conn = this.engine.connections.require(t.connection);
      const spec = conn.connector.triggers[t.trigger];
      if (spec?.kind !== 'poll')
        throw new Error(`connection '${t.connection}' has no poll trigger '${t.trigger}'`);
      const params = spec.params.parse(t.params);
      let cursor: Cursor | null = (await this.engine.store.getCursor(flow.id)) ?? null;
      for (let page = 0; page < MAX_PAGES_PER_TICK; page++) {
        const result = await this.engine.connections.guarded(conn, `poll:${t.trigger}`, () =>
          spec.poll(params, cursor, { signal: AbortSignal.timeout(60_000), log: this.engine.log }),
        );
        await this.engine.ingestPage(flow, row.version, result.records, result.cursor);
        records += result.records.length;
        cursor = result.cursor ?? cursor;
        if (!result.more) break;
      }
      this.nextPoll.set(row.id, Date.now() + t.intervalMs);
    } catch (err) {
      const e = toQiaoError(err);
      const wait =
        e.errorClass === 'rate_limited' && e.retryAfterMs ? e.retryAfterMs : Math.max(t.intervalMs, 5_000);
      this.nextPoll.set(row.id, Date.now() + wait);
      this.engine.log.warn('poll failed', {
        flow: flow.id,
        class: e.errorClass,
        error: e.message,
        retryInMs: wait,
      });
    }
    return records;
  }

  private async cron(row: FlowRow, now: number): Promise<void> {
    const t = row.definition.trigger;
    if (t.type !== 'schedule') return;
    const it = CronExpressionParser.parse(t.cron, { currentDate: new Date(now), tz: t.timezone });
    const slot = it.prev().getTime();
    if (slot === this.lastSlot.get(row.id) || now - slot > CRON_GRACE_MS) return;
    this.lastSlot.set(row.id, slot);
    const at = new Date(slot).toISOString();
    await this.engine.startFlow(row.id, { scheduledAt: at }, `cron:${at}`);
  }
}
