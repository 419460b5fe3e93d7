/**
 * The review queue's logic, as pure functions: what a review holds, how a later change joins an open
 * review, and what a person's decision — one side's values, or values they type — makes of the record.
 * The store keeps reviews (`reviews` table); the `qiao` connector opens them from flows; the API
 * (`/api/reviews`) and the CLI (`qiao review`) resolve them.
 */

import type { InboundEvent } from '../../core/connector.ts';
import { ValidationError, type ValidationProblem } from '../../core/errors.ts';
import type { ReviewRow } from '../../store/store.ts';
import { type ConflictResolver, merge, type Owner, same, type Values } from './merge.ts';

/** What a review holds (`ReviewRow.detail`). */
export interface ReviewDetail {
  /** The two sides; the first is the side whose change opened the review. */
  sides: [string, string];
  fields: Record<string, Owner>;
  /** The values agreed at the last sync (absent before the first). */
  base?: Values;
  /** Each side's latest values. */
  values: Record<string, Values>;
  defaults?: Values;
  /** Each side's record id. */
  ids: Record<string, string>;
  /** Fields changed on both sides to different values. */
  conflicts: string[];
}

/** A person's decision: every conflicting field from one side, and/or values typed for fields. */
export interface ReviewDecision {
  choose?: string;
  values?: Values;
}

/** What resolving makes of the record: the values both sides will hold, and the writes per side. */
export interface ReviewResult {
  values: Values;
  writes: Record<string, Values>;
}

/** `ReviewRow.resolution`. */
export interface ReviewResolution extends ReviewDecision {
  result: ReviewResult;
}

export const REVIEW_RESOLVED = 'review.resolved';

function mergeOf(d: ReviewDetail, resolve?: ConflictResolver) {
  const [a, b] = d.sides;
  return merge(
    {
      side: a,
      otherSide: b,
      fields: d.fields,
      record: d.values[a] ?? {},
      other: d.values[b] ?? {},
      base: d.base,
      defaults: d.defaults,
    },
    resolve,
  );
}

/**
 * A later change of one side joins the open review: that side's values are replaced by the newer ones
 * and the conflicts computed again, so the person decides on the latest state of both records.
 */
export function joinReview(
  d: ReviewDetail,
  change: { side: string; record: Values; ids?: Record<string, string> },
): ReviewDetail {
  const next: ReviewDetail = {
    ...d,
    values: { ...d.values, [change.side]: change.record },
    ids: { ...d.ids, ...definedIds(change.ids) },
  };
  next.conflicts = mergeOf(next).conflicts;
  return next;
}

export function definedIds(ids: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ids ?? {}))
    if (v !== undefined && v !== null && v !== '') out[k] = String(v);
  return out;
}

/**
 * Applies a decision to a review. `choose` takes every conflicting field from that side; `values` gives
 * fields explicitly (and overrides any other field too). Every conflicting field must be decided.
 * Throws a ValidationError naming each problem.
 */
export function resolveDetail(d: ReviewDetail, decision: ReviewDecision): ReviewResult {
  const problems: ValidationProblem[] = [];
  const given = decision.values ?? {};
  if (decision.choose === undefined && decision.values === undefined) {
    problems.push({ path: '', message: `give choose (${d.sides.join(' or ')}) or values` });
  }
  if (decision.choose !== undefined && !d.sides.includes(decision.choose)) {
    problems.push({ path: 'choose', message: `must be ${d.sides.join(' or ')}; got '${decision.choose}'` });
  }
  for (const f of Object.keys(given)) {
    if (!Object.hasOwn(d.fields, f)) {
      problems.push({
        path: `values.${f}`,
        message: `not a field of this record (fields: ${Object.keys(d.fields).join(', ')})`,
      });
    }
  }
  if (problems.length === 0 && decision.choose === undefined) {
    for (const f of d.conflicts) {
      if (!Object.hasOwn(given, f)) problems.push({ path: `values.${f}`, message: 'conflicts: decide it' });
    }
  }
  if (problems.length) throw new ValidationError(problems);
  const chosen = decision.choose === undefined ? undefined : (d.values[decision.choose] ?? {});
  const m = mergeOf(d, (f) => {
    if (Object.hasOwn(given, f)) return { value: given[f] };
    return chosen ? { value: chosen[f] } : undefined;
  });
  const values: Values = { ...m.values };
  for (const [f, v] of Object.entries(given)) {
    if (v === null || v === undefined || v === '') delete values[f];
    else values[f] = v;
  }
  const writes: Record<string, Values> = {};
  for (const side of d.sides) {
    const current = d.values[side] ?? {};
    const w: Values = {};
    for (const f of Object.keys(d.fields)) {
      if (!same(values[f], current[f])) w[f] = values[f] ?? null;
    }
    writes[side] = w;
  }
  return { values, writes };
}

/** Per conflicting field: the value agreed last time and each side's value now (what a person sees). */
export function conflictView(d: ReviewDetail): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const f of d.conflicts) {
    out[f] = { base: d.base?.[f] ?? null };
    for (const side of d.sides) out[f][side] = d.values[side]?.[f] ?? null;
  }
  return out;
}

/**
 * The event a resolution sends to the run waiting for it (`wait: { event: review.resolved }`, keyed by
 * review id): the inbox stores it once however often it is delivered (the API at once, the reconciler
 * later), so the resolution is applied once.
 */
export function resolvedEvent(review: ReviewRow): InboundEvent {
  const r = review.resolution as ReviewResolution | undefined;
  return {
    key: `${REVIEW_RESOLVED}:${review.id}`,
    type: REVIEW_RESOLVED,
    correlation: review.id,
    data: {
      reviewId: review.id,
      pair: review.pair,
      key: review.key,
      choose: r?.choose ?? null,
      values: r?.result.values ?? {},
      writes: r?.result.writes ?? {},
      resolvedBy: review.resolvedBy ?? null,
      resolvedAt: review.resolvedAt ?? null,
    },
  };
}
