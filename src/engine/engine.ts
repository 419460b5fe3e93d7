/**
 * The engine: durable runs over the store. Trigger events enter through `ingest()` (inbox first:
 * dedupe by key, stored before anything else happens), become runs whose steps wait in the store's
 * queue, and are executed by this process's worker loop (and, on PostgreSQL, by every `qiao worker`).
 * Each step's outcome commits in one transaction with its id links, the next step and its audit row.
 */
import { createHash, randomUUID } from 'node:crypto';
import { type Cursor, type InboundEvent, typesHeardBy, typesResumedBy } from '../core/connector.ts';
import { PermanentError, type SerializedError, toQiaoError } from '../core/errors.ts';
import type { FlowDef, WaitStep } from '../core/flow.ts';
import type { Logger } from '../core/logger.ts';
import { type ExprContext, evaluateExpression, evaluateTemplate } from '../flow/expr.ts';
import { retryDelayMs, shouldRetry } from '../flow/retry-policy.ts';
import {
  type IngestEvent,
  type IngestOutcome,
  LeaseLostError,
  type NewRun,
  type ResumeWait,
  type RunRow,
  type StepRow,
  type Store,
  type TimerRow,
} from '../store/store.ts';
import type { ConnectionManager } from './connections.ts';
import { FlowCache } from './flow-cache.ts';
import type { EngineMetrics } from './metrics.ts';
import { firstStep, nextAfter } from './next-step.ts';
import { Scheduler } from './scheduler.ts';
import { runContext, StepExecutor, StepFailure } from './step-executor.ts';
import { holdBack, summaryFigures, suppressSite } from './suppress.ts';

export interface EngineOptions {
  store: Store;
  connections: ConnectionManager;
  log: Logger;
  metrics?: EngineMetrics;
  /** Unique per process; names lease owners. */
  workerId?: string;
  /** Steps executed at once by this process. Default 32. */
  concurrency?: number;
  /** How long a claimed step is ours before another worker may take it back. Default 30 s. */
  leaseMs?: number;
  /** Whether this process runs steps (false for an API-only process). Default true. */
  runWorkers?: boolean;
  /** Whether this process may lead the scheduler (poll and cron triggers). Default true. */
  runScheduler?: boolean;
  /** An embedded (single-process) store: steps left running by a dead process are ours to retake. */
  embedded?: boolean;
  actionTimeoutMs?: number;
  /** How often the reconciler asks partners about waits whose callback never came. Default 60 s. */
  reconcileIntervalMs?: number;
  /** A wait younger than this is left to its callback. Default 30 s. */
  reconcileAfterMs?: number;
}

/** Rate-limit waits never use up a step's attempts, but a step is not kept forever either. */
const MAX_RATE_LIMITED_WAITS = 200;

export class Engine {
  readonly store: Store;
  readonly connections: ConnectionManager;
  readonly flows: FlowCache;
  readonly log: Logger;
  readonly workerId: string;
  private readonly metrics?: EngineMetrics;
  private readonly executor: StepExecutor;
  private readonly scheduler: Scheduler;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly opts: EngineOptions;
  private running = false;
  private inFlight = new Map<string, StepRow>();
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private housekeeping: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.connections = opts.connections;
    this.log = opts.log;
    this.metrics = opts.metrics;
    this.workerId = opts.workerId ?? `w-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.concurrency = opts.concurrency ?? 32;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.flows = new FlowCache(opts.store);
    this.executor = new StepExecutor({
      store: opts.store,
      connections: opts.connections,
      actionTimeoutMs: opts.actionTimeoutMs,
    });
    this.scheduler = new Scheduler(this, opts.embedded === true);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.flows.refresh();
    if (this.opts.embedded) {
      const n = await this.store.releaseAllLeases();
      if (n) this.log.warn('steps left running by a previous process were requeued', { steps: n });
    }
    this.unlisten = await this.store.onWork(() => this.kick());
    if (this.opts.runWorkers !== false) this.loopDone = this.loop();
    this.housekeeping = setInterval(
      () => void this.housekeep(),
      Math.max(250, Math.min(5_000, this.leaseMs / 3)),
    );
    this.housekeeping.unref();
    if (this.opts.runScheduler !== false) this.scheduler.start();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.scheduler.stop();
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.kick();
    await this.loopDone;
    await this.unlisten?.();
  }

  /** Wakes the worker loop (new work was committed). */
  kick(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Re-reads flow definitions (after the API or config changed them). */
  async reloadFlows(): Promise<void> {
    await this.flows.refresh();
    this.scheduler.reset();
  }

  // ── ingest ─────────────────────────────────────────────────────────────────────────────────────

  /**
   * Stores events that arrived on a connection (callback, Stream, chat) and, in the same transaction,
   * starts the runs of the flows they trigger and resumes the runs waiting for them. Duplicates (same
   * key) are acknowledged, counted and dropped.
   */
  async ingest(connectionId: string, events: InboundEvent[]): Promise<IngestOutcome[]> {
    const batch: IngestEvent[] = [];
    for (const ev of events) {
      const runs = await this.runsFor(connectionId, ev);
      const resumes = ev.correlation ? await this.resumesFor(connectionId, ev) : [];
      batch.push({ key: ev.key, type: ev.type, correlation: ev.correlation, data: ev.data, runs, resumes });
    }
    const out = await this.store.ingest({
      source: connectionId,
      events: batch,
      claimFor: this.claimFor(batch.length),
    });
    this.count(connectionId, out);
    this.runClaimed(out);
    return out;
  }

  /** Starts a flow by hand or from its webhook. `key` dedupes (default: a hash of the data). */
  async startFlow(flowId: string, data: unknown, key?: string): Promise<IngestOutcome> {
    let row = this.flows.get(flowId);
    if (!row) {
      // Saved by another process (the API of a scale-out deployment) since our last refresh.
      await this.flows.refresh();
      row = this.flows.get(flowId);
    }
    if (!row) throw new PermanentError(`flow '${flowId}' does not exist`);
    if (!row.enabled) throw new PermanentError(`flow '${flowId}' is disabled`);
    const eventKey =
      key ??
      createHash('sha256')
        .update(JSON.stringify(data ?? null))
        .digest('hex');
    const run = await this.newRun(row.id, row.version, row.definition, data);
    const source = `flow:${flowId}`;
    const [out] = await this.store.ingest({
      source,
      events: [{ key: eventKey, type: row.definition.trigger.type, data, runs: [run], resumes: [] }],
      claimFor: this.claimFor(1),
    });
    this.count(source, [out]);
    this.runClaimed([out]);
    return out;
  }

  /** Stores one poll page's records and the cursor after them in one transaction. */
  async ingestPage(
    flow: FlowDef,
    version: number,
    records: Array<{ key: string; data: unknown }>,
    cursor: Cursor | null,
  ): Promise<IngestOutcome[]> {
    const events: IngestEvent[] = [];
    for (const r of records) {
      events.push({
        key: r.key,
        type: 'record',
        data: r.data,
        runs: [await this.newRun(flow.id, version, flow, r.data)],
        resumes: [],
      });
    }
    const source = `poll:${flow.id}`;
    const out = await this.store.ingest({
      source,
      events,
      cursor: cursor ? { flowId: flow.id, cursor } : undefined,
    });
    this.count(source, out);
    return out;
  }

  /** Lease new steps to this worker at once when it has room for `n` more. */
  private claimFor(n: number): { owner: string; leaseMs: number } | undefined {
    if (!this.running || this.opts.runWorkers === false || this.inFlight.size + n > this.concurrency)
      return undefined;
    return { owner: this.workerId, leaseMs: this.leaseMs };
  }

  private runClaimed(out: IngestOutcome[]): void {
    for (const o of out) for (const s of o.claimed ?? []) this.dispatch(s);
  }

  private dispatch(step: StepRow, cached?: { run: RunRow; steps: StepRow[] }): void {
    this.inFlight.set(step.id, step);
    void this.runStep(step, cached).finally(() => {
      this.inFlight.delete(step.id);
      if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      this.kick();
    });
  }

  private count(source: string, out: IngestOutcome[]): void {
    const dup = out.filter((o) => o.duplicate).length;
    if (dup) this.metrics?.received(source, true, dup);
    if (out.length - dup) this.metrics?.received(source, false, out.length - dup);
  }

  private async newRun(flowId: string, version: number, flow: FlowDef, data: unknown): Promise<NewRun> {
    const t = flow.trigger;
    let source: NewRun['source'];
    if ('source' in t && t.source) {
      const id = await evaluateExpression(t.source.id, { event: data, vars: flow.vars });
      if (id !== undefined && id !== null && id !== '') {
        source = {
          connection: 'connection' in t ? t.connection : `flow:${flowId}`,
          object: t.source.object,
          externalId: String(id),
        };
      }
    }
    const run: NewRun = { id: randomUUID(), flowId, flowVersion: version, source, first: firstStep(flow) };
    if (flow.serialize !== undefined) {
      const key = await evaluateExpression(flow.serialize, { event: data, vars: flow.vars });
      // An event without a key (e.g. a record not created yet) does not wait for anyone.
      if (key !== undefined && key !== null && key !== '') run.serialKey = String(key);
    }
    return run;
  }

  private async runsFor(connectionId: string, ev: InboundEvent): Promise<NewRun[]> {
    const runs: NewRun[] = [];
    const conn = this.connections.get(connectionId);
    for (const row of this.flows.enabled()) {
      const t = row.definition.trigger;
      if ((t.type !== 'event' && t.type !== 'chat' && t.type !== 'file') || t.connection !== connectionId)
        continue;
      const spec = conn?.connector.triggers[t.trigger];
      if (spec?.kind !== 'event' || spec.eventType !== ev.type) continue;
      if (spec.matches && !spec.matches(ev, spec.params.parse(t.params))) continue;
      runs.push(await this.newRun(row.id, row.version, row.definition, ev.data));
    }
    return runs;
  }

  private async resumesFor(connectionId: string, ev: InboundEvent): Promise<ResumeWait[]> {
    const out: ResumeWait[] = [];
    for (const type of typesResumedBy(this.connections.get(connectionId)?.connector, ev.type)) {
      for (const w of await this.store.findWaits(connectionId, type, ev.correlation!)) {
        const r = await this.resumeFor(w.runId, w.stepId, ev.data);
        if (r) out.push(r);
      }
    }
    return out;
  }

  /** The resumption of a waiting step by an event, if the event satisfies the wait's `until`. */
  private async resumeFor(
    runId: string,
    stepId: string,
    eventData: unknown,
  ): Promise<ResumeWait | undefined> {
    const got = await this.store.getRun(runId);
    const step = got?.steps.find((s) => s.id === stepId);
    if (!got || !step || step.status !== 'waiting') return undefined;
    const flow = await this.flows.version(got.run.flowId, got.run.flowVersion);
    const def = flow.steps[step.idx] as WaitStep;
    const ctx = runContext(got.run, got.steps, flow, step.idx);
    if (!(await this.executor.satisfies(def, ctx, eventData))) return undefined;
    return { runId, stepId, output: eventData, next: nextAfter(flow, step.idx) };
  }

  // ── the worker loop ────────────────────────────────────────────────────────────────────────────

  private async loop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inFlight.size;
      let claimed: StepRow[] = [];
      if (free > 0) {
        try {
          claimed = await this.store.claimSteps(this.workerId, Math.min(free, 64), this.leaseMs);
        } catch (err) {
          this.log.error('claiming steps failed', { error: (err as Error).message });
          await sleep(500);
        }
      }
      for (const s of claimed) this.dispatch(s);
      if (claimed.length === 0 || this.inFlight.size >= this.concurrency) {
        const full = this.inFlight.size >= this.concurrency;
        const next = full ? undefined : await this.store.nextWakeAt().catch(() => undefined);
        // Something is due but nothing was claimable: a timer. Fire it here rather than spin.
        if (!full && next !== undefined && next <= Date.now()) await this.fireTimers().catch(() => 0);
        // Never less than 1 ms: with node:sqlite every store call resolves at once, and a loop of
        // microtasks alone would starve the event loop (sockets, intervals) of its turn.
        const delay = full || next === undefined ? 1_000 : Math.max(1, Math.min(1_000, next - Date.now()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    // Let steps in flight finish (their results commit; leases would otherwise expire).
    while (this.inFlight.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /**
   * Runs one leased step and commits its outcome. When the next step is due now it is leased to this
   * worker in the same commit and run straight after, with the run's context carried in memory.
   */
  private async runStep(step: StepRow, cached?: { run: RunRow; steps: StepRow[] }): Promise<void> {
    const started = performance.now();
    let flow: FlowDef | undefined;
    try {
      const got = cached ?? (await this.store.getRun(step.runId));
      if (!got) throw new StepFailure(new PermanentError(`run ${step.runId} is missing`));
      flow = await this.flows.version(got.run.flowId, got.run.flowVersion);
      const ctx = runContext(got.run, got.steps, flow, step.idx);
      const outcome = await this.executor.execute(step, got.run, flow, ctx);
      const attempt = {
        attempt: step.attempt + 1,
        at: Date.now(),
        durationMs: Math.round(performance.now() - started),
      };
      if (outcome.type === 'wait') {
        await this.store.completeStep({
          stepId: step.id,
          runId: step.runId,
          owner: this.workerId,
          status: 'waiting',
          input: outcome.input,
          attempt: { ...attempt, outcome: 'waiting' },
          wait: outcome.wait,
        });
        this.metrics?.step(step.kind, 'waiting', performance.now() - started);
        // Close the race with an event that arrived between our inbox check and the commit.
        const early = await this.store.findInboxByCorrelation(
          outcome.wait.connection,
          outcome.wait.eventType,
          outcome.wait.correlation,
          got.run.startedAt,
        );
        for (const ev of early) {
          const r = await this.resumeFor(step.runId, step.id, ev.data);
          if (r && (await this.store.resumeWait(r))) break;
        }
        return;
      }
      const next = await this.store.completeStep({
        claimNextFor: this.running ? { owner: this.workerId, leaseMs: this.leaseMs } : undefined,
        stepId: step.id,
        runId: step.runId,
        owner: this.workerId,
        status: outcome.status,
        input: outcome.input,
        output: outcome.output,
        attempt: { ...attempt, outcome: outcome.status },
        links: outcome.links,
        contentHash: outcome.contentHash,
        audit: outcome.audit,
        next: outcome.filtered ? { finish: 'filtered' } : nextAfter(flow, step.idx),
      });
      this.metrics?.step(step.kind, outcome.status, performance.now() - started);
      if (next) {
        // A run that just got its first link has a new link key: read it back rather than guess.
        const stale = (outcome.links?.length ?? 0) > 0 && !got.run.linkKey;
        const done: StepRow = {
          ...step,
          status: outcome.status,
          input: outcome.input,
          output: outcome.output,
        };
        this.dispatch(
          next,
          stale
            ? undefined
            : { run: got.run, steps: [...got.steps.filter((s) => s.id !== step.id), done, next] },
        );
      }
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.log.warn('a step outlived its lease; another worker owns it now', { step: step.id });
        return;
      }
      const failure = err instanceof StepFailure ? err : new StepFailure(toQiaoError(err), step.input);
      await this.fail(step, flow, failure, performance.now() - started).catch((e) => {
        if (!(e instanceof LeaseLostError))
          this.log.error('recording a step failure failed', { step: step.id, error: (e as Error).message });
      });
    }
  }

  private async fail(step: StepRow, flow: FlowDef | undefined, f: StepFailure, ms: number): Promise<void> {
    const e = f.error;
    const def = flow?.steps[step.idx];
    const err: SerializedError = e.toJSON();
    const counted = e.errorClass !== 'rate_limited';
    const attemptNo = step.attempt + (counted ? 1 : 0);
    const record = { attempt: attemptNo, at: Date.now(), durationMs: Math.round(ms), error: err };
    const rateWaits = step.history.filter((h) => h.error?.errorClass === 'rate_limited').length;
    const retry =
      def &&
      (e.errorClass === 'rate_limited'
        ? rateWaits < MAX_RATE_LIMITED_WAITS
        : shouldRetry(def.retry, e.errorClass, attemptNo, step.error?.errorClass));
    if (retry && def) {
      const delay = retryDelayMs(def.retry, e, Math.max(1, attemptNo));
      await this.store.retryStep({
        stepId: step.id,
        owner: this.workerId,
        input: f.input,
        availableAt: Date.now() + delay,
        attempt: { ...record, outcome: 'retry' },
        error: err,
        countAttempt: counted,
      });
      this.metrics?.step(step.kind, 'retry', ms);
      this.log.info('step will be retried', {
        step: step.name,
        run: step.runId,
        class: e.errorClass,
        delayMs: delay,
        error: e.message,
      });
      return;
    }
    // Notify steps are best effort: the message is dead-lettered, the run goes on.
    const next =
      def?.kind === 'notify' && flow ? nextAfter(flow, step.idx) : { finish: 'failed' as const, error: err };
    await this.store.deadLetterStep({
      stepId: step.id,
      runId: step.runId,
      owner: this.workerId,
      flowId: flow?.id ?? 'unknown',
      stepName: step.name,
      connection: f.connection,
      action: f.action,
      input: f.input,
      error: err,
      attempt: { ...record, outcome: 'dead' },
      deadLetterId: randomUUID(),
      next,
      audit: {
        actor: `flow:${flow?.id ?? 'unknown'}`,
        action: 'dead-letter',
        target: `run:${step.runId}`,
        detail: { step: step.name, error: e.message, partner: e.partner ?? null },
      },
    });
    this.metrics?.step(step.kind, 'dead', ms);
    this.log.warn('step dead-lettered', {
      step: step.name,
      run: step.runId,
      class: e.errorClass,
      error: e.message,
    });
  }

  // ── housekeeping: leases, timers ───────────────────────────────────────────────────────────────

  private housekeepingBusy = false;

  private async housekeep(): Promise<void> {
    if (this.housekeepingBusy || !this.running) return;
    this.housekeepingBusy = true;
    try {
      if (this.inFlight.size)
        await this.store.extendLeases(this.workerId, [...this.inFlight.keys()], this.leaseMs);
      const recovered = await this.store.recoverLeases();
      if (recovered) this.log.warn('steps whose worker died were requeued', { steps: recovered });
      await this.fireTimers();
    } catch (err) {
      this.log.error('housekeeping failed', { error: (err as Error).message });
    } finally {
      this.housekeepingBusy = false;
    }
  }

  /** Fires due timers: wait timeouts, reminders and escalations. Each fires once. */
  async fireTimers(): Promise<number> {
    const timers = await this.store.claimTimers(this.workerId, 50);
    for (const t of timers) {
      try {
        await this.fireTimer(t);
        await this.store.finishTimer(t.id);
      } catch (err) {
        const e = toQiaoError(err);
        if (e.errorClass !== 'permanent' && t.attempt < 8) {
          await this.store.rescheduleTimer(t.id, Date.now() + Math.min(300_000, 1_000 * 2 ** t.attempt));
        } else {
          await this.store.finishTimer(t.id);
          await this.store.appendAudit([
            {
              actor: 'engine',
              action: 'timer.failed',
              target: `run:${t.runId}`,
              detail: { timer: t.id, error: e.message },
            },
          ]);
        }
        this.log.warn('timer failed', { timer: t.id, error: e.message });
      }
    }
    return timers.length;
  }

  private async fireTimer(t: TimerRow): Promise<void> {
    if (t.kind === 'suppress') return this.sendSummary(t);
    if (!t.runId || !t.stepId) return;
    const got = await this.store.getRun(t.runId);
    const step = got?.steps.find((s) => s.id === t.stepId);
    if (!got || !step || step.status !== 'waiting') return;
    const flow = await this.flows.version(got.run.flowId, got.run.flowVersion);
    const def = flow.steps[step.idx] as WaitStep;
    if (t.kind === 'timeout') {
      const p = t.payload as { onTimeout: 'fail' | 'continue'; timeoutMs: number };
      const error = new PermanentError(`wait '${def.id}' timed out after ${p.timeoutMs} ms`).toJSON();
      await this.store.resumeWait({
        runId: t.runId,
        stepId: t.stepId,
        output: { timedOut: true },
        next: p.onTimeout === 'continue' ? nextAfter(flow, step.idx) : { finish: 'failed', error },
      });
      return;
    }
    const index = (t.payload as { index: number }).index;
    const spec = def.wait.timers[index];
    if (!spec) return;
    const ctx = { ...runContext(got.run, got.steps, flow, step.idx), wait: step.input };
    const input = await evaluateTemplate(spec.input, ctx);
    let suppress: { key: string; window: string } | undefined;
    if (spec.suppress) {
      const d = await holdBack(
        this.store,
        spec.suppress,
        { connection: spec.connection, action: spec.action, input, idempotencyKey: t.id },
        ctx,
        {
          flowId: flow.id,
          flowVersion: got.run.flowVersion,
          runId: t.runId,
          stepIdx: step.idx,
          timer: index,
        },
      );
      if (d.held) {
        await this.store.appendAudit([d.audit]);
        return;
      }
      suppress = { key: d.key, window: d.window };
    }
    await this.connections.call(spec.connection, spec.action, input, {
      idempotencyKey: `${t.id}`,
      attempt: t.attempt,
      linkKey: got.run.linkKey,
    });
    await this.store.appendAudit([
      {
        actor: `flow:${flow.id}`,
        action: `notify:${spec.connection}.${spec.action}`,
        target: `run:${t.runId}`,
        detail: { timer: t.id, ...(suppress ? { suppress } : {}) },
      },
    ]);
  }

  /**
   * A suppression window ended: one summary of what it held back, through the operation that opened it
   * (src/engine/suppress.ts). The timer fires once across workers; its idempotency key is the window's,
   * so a summary fired again after a crash is not posted twice where the partner dedupes.
   */
  private async sendSummary(t: TimerRow): Promise<void> {
    const w = await this.store.closeSuppressWindow((t.payload as { window: string }).window);
    if (!w || w.messages === 0) return;
    const flow = await this.flows.version(w.origin.flowId, w.origin.flowVersion);
    const site = suppressSite(flow, w.origin);
    const got = await this.store.getRun(w.origin.runId);
    const ctx: ExprContext = got
      ? runContext(got.run, got.steps, flow, w.origin.stepIdx)
      : { vars: flow.vars, steps: {} };
    if (w.origin.timer !== undefined) {
      ctx.wait = got?.steps.find((s) => s.idx === w.origin.stepIdx)?.input;
    }
    const input = await evaluateTemplate(site.suppress.summary, { ...ctx, suppressed: summaryFigures(w) });
    await this.connections.call(site.call.connection, site.call.action, input, {
      idempotencyKey: t.id,
      attempt: t.attempt,
      linkKey: got?.run.linkKey,
    });
    await this.store.appendAudit([
      {
        actor: `flow:${flow.id}`,
        action: `summary:${site.call.connection}.${site.call.action}`,
        target: `suppress:${w.id}`,
        detail: { key: w.key, suppressed: w.suppressed, messages: w.messages, runId: w.origin.runId },
      },
    ]);
  }

  // ── the reconciler ─────────────────────────────────────────────────────────────────────────────

  /**
   * Asks each partner that can answer (`Connector.reconcile`) about runs still waiting for it, and
   * stores what it says like a callback. A lost callback then delays a result; it never loses it.
   * Returns the number of runs resumed.
   */
  async reconcile(opts: { olderThanMs?: number } = {}): Promise<number> {
    const before = Date.now() - (opts.olderThanMs ?? this.opts.reconcileAfterMs ?? 30_000);
    let resumed = 0;
    for (const c of this.connections.list()) {
      if (!c.connector.reconcile) continue;
      const waits = await this.store.listWaits({ connection: c.row.id, createdBefore: before, limit: 500 });
      // Each wait is asked about under every type it hears (alsoResumes): a DingTalk task's wait is
      // answered by its instance's end when the instance was withdrawn with no task event.
      const byType = new Map<string, Set<string>>();
      for (const w of waits)
        for (const type of typesHeardBy(c.connector, w.eventType)) {
          const set = byType.get(type) ?? new Set<string>();
          byType.set(type, set.add(w.correlation));
        }
      for (const [eventType, correlations] of byType) {
        try {
          const ask = c.connector.reconcile.bind(c.connector);
          const events = await this.connections.guarded(c, `reconcile:${eventType}`, () =>
            ask(eventType, [...correlations], AbortSignal.timeout(60_000)),
          );
          if (events.length === 0) continue;
          const out = await this.ingest(c.row.id, events);
          resumed += out.reduce((n, o) => n + o.resumed.length, 0);
        } catch (err) {
          const e = toQiaoError(err);
          this.log.warn('reconciling waits failed', { connection: c.row.id, eventType, error: e.message });
        }
      }
    }
    if (resumed) this.log.info('reconciler resumed waiting runs', { runs: resumed });
    return resumed;
  }

  get reconcileIntervalMs(): number {
    return this.opts.reconcileIntervalMs ?? 60_000;
  }

  // ── dead letters ───────────────────────────────────────────────────────────────────────────────

  async replay(deadLetterId: string, actor: string): Promise<void> {
    await this.store.replayDeadLetter(deadLetterId, {
      actor,
      action: 'dead-letter.replay',
      target: `dead-letter:${deadLetterId}`,
    });
    this.kick();
  }

  /** Resolves when nothing is queued, running or due (for tests and `demo --once`). */
  async drain(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const d = await this.store.depth();
      const next = await this.store.nextWakeAt();
      const busy = (d.steps.queued ?? 0) + (d.steps.running ?? 0) + this.inFlight.size;
      if (busy === 0 && (next === undefined || next > Date.now() + 60_000)) return;
      if (Date.now() > until)
        throw new Error(`engine not idle after ${timeoutMs} ms: ${JSON.stringify(d.steps)}`);
      await sleep(20);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
