import type { FlowDef } from '../core/flow.ts';
import type { NextAction } from '../store/store.ts';

/** What follows step `idx` of a flow: the next step, or the run's successful end. */
export function nextAfter(flow: FlowDef, idx: number, availableAt?: number): NextAction {
  const s = flow.steps[idx + 1];
  return s ? { step: { idx: idx + 1, name: s.id, kind: s.kind, availableAt } } : { finish: 'completed' };
}

/** The first step of a run (a flow with no steps completes at once). */
export function firstStep(flow: FlowDef): NextAction {
  return nextAfter(flow, -1);
}
