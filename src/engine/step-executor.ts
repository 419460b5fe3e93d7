/**
 * Executes one claimed step and says what happened; it writes nothing itself. The engine commits the
 * outcome (step result, id links, next step, audit row) in one store transaction.
 */
import { createHash } from 'node:crypto';
import { typesHeardBy } from '../core/connector.ts';
import { PermanentError, type QiaoError, toQiaoError } from '../core/errors.ts';
import type { ActionStep, FlowDef, LookupStep, NotifyStep, StepDef, WaitStep } from '../core/flow.ts';
import { type ExprContext, evaluateExpression, evaluateTemplate } from '../flow/expr.ts';
import { evaluateRoute, truthy } from '../flow/route.ts';
import type { AuditInput, InboxRow, LinkInput, RunRow, StepRow, Store, TimerInput } from '../store/store.ts';
import type { ConnectionManager } from './connections.ts';
import { holdBack } from './suppress.ts';

export type StepOutcome =
  | {
      type: 'done';
      status: 'completed' | 'skipped';
      input?: unknown;
      output: unknown;
      links?: LinkInput[];
      contentHash?: string;
      audit?: AuditInput;
      /** A filter that did not pass ends the run as `filtered`. */
      filtered?: boolean;
    }
  | {
      type: 'wait';
      input: unknown;
      wait: { connection: string; eventType: string; correlation: string; timers: TimerInput[] };
    };

/** A failed step: the error, and the input it was given (kept on the dead letter for editing). */
export class StepFailure extends Error {
  readonly error: QiaoError;
  readonly input?: unknown;
  readonly connection?: string;
  readonly action?: string;

  constructor(error: QiaoError, input?: unknown, connection?: string, action?: string) {
    super(error.message);
    this.error = error;
    this.input = input;
    this.connection = connection;
    this.action = action;
  }
}

export function runContext(run: RunRow, steps: StepRow[], flow: FlowDef, idx: number): ExprContext {
  const outputs: Record<string, unknown> = {};
  let last: unknown;
  for (const s of steps) {
    if (s.idx < idx && (s.status === 'completed' || s.status === 'skipped' || s.status === 'dead')) {
      outputs[s.name] = s.output ?? null;
      last = s.output ?? null;
    }
  }
  return {
    event: run.event,
    steps: outputs,
    last,
    vars: flow.vars,
    run: { id: run.id, flowId: run.flowId, linkKey: run.linkKey },
  };
}

export class StepExecutor {
  private readonly store: Store;
  private readonly connections: ConnectionManager;
  private readonly actionTimeoutMs: number;

  constructor(opts: { store: Store; connections: ConnectionManager; actionTimeoutMs?: number }) {
    this.store = opts.store;
    this.connections = opts.connections;
    this.actionTimeoutMs = opts.actionTimeoutMs ?? 60_000;
  }

  async execute(step: StepRow, run: RunRow, flow: FlowDef, ctx: ExprContext): Promise<StepOutcome> {
    const def = flow.steps[step.idx];
    if (!def)
      throw new StepFailure(new PermanentError(`flow ${flow.id} has no step #${step.idx} (${step.name})`));
    try {
      if (def.if !== undefined && !truthy(await evaluateExpression(def.if, ctx))) {
        return { type: 'done', status: 'skipped', output: null };
      }
      return await this.executeKind(def, step, run, ctx);
    } catch (err) {
      if (err instanceof StepFailure) throw err;
      throw new StepFailure(toQiaoError(err), step.input);
    }
  }

  private async executeKind(
    def: StepDef,
    step: StepRow,
    run: RunRow,
    ctx: ExprContext,
  ): Promise<StepOutcome> {
    switch (def.kind) {
      case 'map': {
        const output = await evaluateTemplate(def.map, ctx, def.tables);
        return { type: 'done', status: 'completed', output };
      }
      case 'filter': {
        const pass = truthy(await evaluateExpression(def.filter, ctx));
        return { type: 'done', status: 'completed', output: { passed: pass }, filtered: !pass };
      }
      case 'route': {
        const output = await evaluateRoute(def.route, ctx);
        if (output === null) {
          throw new StepFailure(
            new PermanentError(`no row of route '${def.id}' matched and it has no default`),
          );
        }
        return { type: 'done', status: 'completed', output };
      }
      case 'lookup':
        return this.lookup(def, step, run, ctx);
      case 'action':
      case 'notify':
        return this.action(def, step, run, ctx);
      case 'wait':
        return this.wait(def, step, run, ctx);
    }
  }

  private async lookup(def: LookupStep, step: StepRow, run: RunRow, ctx: ExprContext): Promise<StepOutcome> {
    let output: unknown;
    if ('link' in def.lookup) {
      const { connection, object } = def.lookup.link;
      const id = run.linkKey ? await this.store.findExternalId(run.linkKey, connection, object) : undefined;
      output = id === undefined ? null : { id, connection, object };
    } else {
      const { connection, action } = def.lookup;
      const input = step.input ?? (await evaluateTemplate(def.lookup.input, ctx));
      try {
        const r = await this.connections.call(connection, action, input, {
          idempotencyKey: step.idempotencyKey,
          attempt: step.attempt + 1,
          linkKey: run.linkKey,
          timeoutMs: this.actionTimeoutMs,
        });
        output = r.output ?? null;
      } catch (err) {
        throw new StepFailure(toQiaoError(err), input, connection, action);
      }
    }
    const empty = output === null || (Array.isArray(output) && output.length === 0);
    if (empty && def.required) {
      throw new StepFailure(new PermanentError(`lookup '${def.id}' found nothing`));
    }
    return { type: 'done', status: 'completed', output };
  }

  private async action(
    def: ActionStep | NotifyStep,
    step: StepRow,
    run: RunRow,
    ctx: ExprContext,
  ): Promise<StepOutcome> {
    // A replayed or retried step keeps the input it was first given (or the one a person edited).
    const input = step.input !== undefined ? step.input : await evaluateTemplate(def.input, ctx);
    try {
      // A message that opened a suppression window names it in its audit row.
      let suppress: { key: string; window: string } | undefined;
      if (def.suppress) {
        const d = await holdBack(
          this.store,
          def.suppress,
          { connection: def.connection, action: def.action, input, idempotencyKey: step.idempotencyKey },
          ctx,
          { flowId: run.flowId, flowVersion: run.flowVersion, runId: run.id, stepIdx: step.idx },
        );
        if (d.held) return { type: 'done', status: 'completed', input, output: d.output, audit: d.audit };
        suppress = { key: d.key, window: d.window };
      }
      const r = await this.connections.call(def.connection, def.action, input, {
        idempotencyKey: step.idempotencyKey,
        attempt: step.attempt + 1,
        linkKey: run.linkKey,
        timeoutMs: this.actionTimeoutMs,
      });
      const links = (r.links ?? []).map((l) => ({
        connection: def.connection,
        object: l.object,
        externalId: l.id,
      }));
      return {
        type: 'done',
        status: 'completed',
        input,
        output: r.output ?? null,
        links,
        contentHash: links.length ? contentHash(input) : undefined,
        audit: {
          actor: `flow:${run.flowId}`,
          action: `${def.kind === 'notify' ? 'notify' : 'write'}:${def.connection}.${def.action}`,
          target: links.length
            ? links.map((l) => `${l.connection}/${l.object}/${l.externalId}`).join(',')
            : `${def.connection}`,
          detail: {
            runId: run.id,
            step: def.id,
            idempotencyKey: step.idempotencyKey,
            ...(suppress ? { suppress } : {}),
          },
        },
      };
    } catch (err) {
      throw new StepFailure(toQiaoError(err), input, def.connection, def.action);
    }
  }

  private async wait(def: WaitStep, step: StepRow, run: RunRow, ctx: ExprContext): Promise<StepOutcome> {
    const w = def.wait;
    const correlation = await evaluateExpression(w.correlation, ctx);
    if (correlation === undefined || correlation === null || correlation === '') {
      throw new StepFailure(new PermanentError(`wait '${def.id}': the correlation expression gave nothing`));
    }
    const key = String(correlation);
    // The event may have come before the wait was stored (an approver faster than our commit).
    // Only events of this run's lifetime: an old reply with the same key (the same cashier's last
    // "确认付款") must not answer a new question.
    const early: InboxRow[] = [];
    for (const type of typesHeardBy(this.connections.get(w.connection)?.connector, w.event))
      early.push(...(await this.store.findInboxByCorrelation(w.connection, type, key, run.startedAt)));
    early.sort((a, b) => a.receivedAt - b.receivedAt);
    const hit = await this.firstSatisfying(def, ctx, early);
    if (hit) return { type: 'done', status: 'completed', input: { correlation: key }, output: hit.data };
    const now = Date.now();
    const timers: TimerInput[] = [];
    if (w.timeoutMs !== undefined) {
      timers.push({
        id: `${step.id}:timeout`,
        dueAt: now + w.timeoutMs,
        kind: 'timeout',
        runId: run.id,
        stepId: step.id,
        payload: { onTimeout: w.onTimeout, timeoutMs: w.timeoutMs },
      });
    }
    w.timers.forEach((t, i) => {
      timers.push({
        id: `${step.id}:timer:${i}`,
        dueAt: now + t.afterMs,
        kind: 'timer',
        runId: run.id,
        stepId: step.id,
        payload: { index: i },
      });
    });
    return {
      type: 'wait',
      input: { correlation: key },
      wait: { connection: w.connection, eventType: w.event, correlation: key, timers },
    };
  }

  /** The first inbox event that satisfies the wait's `until` (every event does when there is none). */
  async firstSatisfying(def: WaitStep, ctx: ExprContext, events: InboxRow[]): Promise<InboxRow | undefined> {
    for (const ev of events) {
      if (await this.satisfies(def, ctx, ev.data)) return ev;
    }
    return undefined;
  }

  async satisfies(def: WaitStep, ctx: ExprContext, eventData: unknown): Promise<boolean> {
    if (def.wait.until === undefined) return true;
    return truthy(await evaluateExpression(def.wait.until, { ...ctx, event: eventData, trigger: ctx.event }));
  }
}

/** Hash of what Qiao wrote, kept on the id link: a later change with the same content is our own echo. */
export function contentHash(value: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(value ?? null))
    .digest('hex')
    .slice(0, 32);
}
