/**
 * Alert suppression for any action, notify or wait timer (DESIGN.md scenario 7: "a storm becomes one
 * message"; the format in docs/flows.md, "Suppression"). The decision "send or hold back" is the
 * store's, atomic on every worker (`Store.decideSuppression`): the first message of a key opens a
 * window and is sent; the others until the window ends are held back (their step completes with an
 * output saying so) and counted; a durable `suppress` timer due when the window ends sends one summary,
 * an input of the same operation evaluated with the window's figures — none when nothing was held back.
 */

import { PermanentError } from '../core/errors.ts';
import type { ActionStep, FlowDef, NotifyStep, SuppressDef, WaitTimer } from '../core/flow.ts';
import { type ExprContext, evaluateExpression, evaluateTemplate } from '../flow/expr.ts';
import type {
  AuditInput,
  Store,
  SuppressDecision,
  SuppressOrigin,
  SuppressWindowRow,
} from '../store/store.ts';

/** What a held-back message's step outputs (and `qiao run show` shows). */
export interface HeldBack {
  suppressed: true;
  key: string;
  /** The window it was counted in; its summary timer is `suppress:<window>`. */
  window: string;
  windowEndsAt: number;
  /** Alerts held back in this window so far, this one included. */
  heldBack: number;
}

/**
 * Which window a message belongs to: its connection, and its robot when the input names one (both
 * WeCom and DingTalk `robot.send` do), so two groups never share a window; then the key.
 */
export function suppressScope(connection: string, input: unknown): string {
  const robot = (input as { robot?: unknown } | null)?.robot;
  return typeof robot === 'string' ? `${connection}/${robot}` : connection;
}

/**
 * What the store decided: held back (the step's output and audit row), or to be sent — the message
 * opened its window, or is a retry of one that did (the same idempotency key gets the same decision).
 */
export type SuppressOutcome =
  | { held: true; output: HeldBack; audit: AuditInput }
  | { held: false; key: string; window: string };

/** Asks the store whether a message is sent or held back. */
export async function holdBack(
  store: Store,
  s: SuppressDef,
  call: { connection: string; action: string; input: unknown; idempotencyKey: string },
  ctx: ExprContext,
  origin: SuppressOrigin,
): Promise<SuppressOutcome> {
  const key = await suppressKey(s, ctx);
  const count = await suppressCount(s, ctx);
  const d: SuppressDecision = await store.decideSuppression({
    scope: suppressScope(call.connection, call.input),
    key,
    windowMs: s.windowMs,
    count,
    idempotencyKey: call.idempotencyKey,
    message: call.input,
    origin,
  });
  if (d.send) return { held: false, key, window: d.windowId };
  return {
    held: true,
    output: { suppressed: true, key, window: d.windowId, windowEndsAt: d.endsAt, heldBack: d.heldBack },
    audit: {
      actor: `flow:${origin.flowId}`,
      action: `suppressed:${call.connection}.${call.action}`,
      target: `suppress:${d.windowId}`,
      detail: { runId: origin.runId, key, count, heldBack: d.heldBack, idempotencyKey: call.idempotencyKey },
    },
  };
}

async function suppressKey(s: SuppressDef, ctx: ExprContext): Promise<string> {
  const v = await evaluateTemplate(s.key, ctx);
  if (v === undefined || v === null || v === '' || typeof v === 'object') {
    throw new PermanentError(`suppress.key gave ${v === '' ? 'empty text' : JSON.stringify(v ?? null)}`);
  }
  return String(v);
}

async function suppressCount(s: SuppressDef, ctx: ExprContext): Promise<number> {
  if (s.count === undefined) return 1;
  const v = typeof s.count === 'number' ? s.count : await evaluateExpression(s.count, ctx);
  const n = Number(v);
  // A check that found nothing still stands for the message itself.
  return Number.isFinite(n) && n >= 1 ? Math.round(n) : 1;
}

/** The figures a summary reads as `suppressed`. */
export function summaryFigures(w: SuppressWindowRow): Record<string, unknown> {
  return {
    key: w.key,
    count: w.suppressed,
    messages: w.messages,
    windowMs: w.windowMs,
    openedAt: w.openedAt,
    endsAt: w.endsAt,
    firstAt: w.firstAt,
    lastAt: w.lastAt,
    last: w.last,
  };
}

/** The operation (and its suppression) that opened a window: an action or notify step, or a wait timer. */
export function suppressSite(
  flow: FlowDef,
  origin: SuppressOrigin,
): { call: ActionStep | NotifyStep | WaitTimer; suppress: SuppressDef } {
  const step = flow.steps[origin.stepIdx];
  const call =
    step?.kind === 'wait' && origin.timer !== undefined
      ? step.wait.timers[origin.timer]
      : step?.kind === 'action' || step?.kind === 'notify'
        ? step
        : undefined;
  if (!call?.suppress) {
    const where = origin.timer === undefined ? '' : ` timer #${origin.timer}`;
    throw new PermanentError(`flow ${flow.id} has no suppression at step #${origin.stepIdx}${where}`);
  }
  return { call, suppress: call.suppress };
}
