/**
 * `/api/reviews`: the review queue of two-way sync (src/engine/sync). A record changed on both sides
 * between two syncs is not overwritten: its sync run opens a review and waits. A person resolves it here,
 * choosing one side's values or typing the values to keep; the decision is stored once, and the waiting
 * run gets it at once as a `review.resolved` event (keyed by the review, so it is applied once) and
 * writes both systems.
 *
 * Registering these routes also lends the hub's store to its `qiao` connector type, which keeps sync
 * state and reviews there.
 */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import { bindQiaoServices } from '../../engine/sync/qiao-connector.ts';
import { ReviewClosedError, resolveReview } from '../../engine/sync/resolve.ts';
import { conflictView, type ReviewDetail, resolvedEvent } from '../../engine/sync/review.ts';
import type { Hub } from '../../hub.ts';
import type { ReviewRow } from '../../store/store.ts';
import { ConflictError } from './errors.ts';
import type { ApiRoutes } from './route.ts';
import { idParams, items, limitParam, uuid } from './schemas.ts';

export const REVIEW_STATUSES = ['open', 'resolved'] as const;

const values = z.record(z.string(), z.unknown());

export const review = z.strictObject({
  id: z.string(),
  pair: z.string().describe('The sync pair, e.g. `customer`.'),
  key: z.string().describe("The record's key in the pair, e.g. the customer number."),
  status: z.enum(REVIEW_STATUSES),
  connection: z.string().describe('The `qiao` connection whose flow opened it.'),
  flowId: z.string().optional(),
  runId: z.string().optional().describe('The run waiting for the decision.'),
  conflicts: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .describe('Per conflicting field: `base` (agreed at the last sync) and each side’s value now.'),
  detail: values.describe('Owners of the fields, agreed values, both sides’ values, record ids.'),
  resolution: values
    .optional()
    .describe('The decision (`choose`, `values`) and its `result`: the values kept and the writes per side.'),
  resolvedBy: z.string().optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  resolvedAt: z.number().int().optional(),
});

/** A review as the API shows it: the row and, per conflicting field, the values to choose from. */
export function reviewView(r: ReviewRow) {
  return { ...r, conflicts: conflictView(r.detail as unknown as ReviewDetail) };
}

const listQuery = z.strictObject({
  status: z.enum(REVIEW_STATUSES).optional().describe('Default: every status.'),
  pair: z.string().min(1).max(100).optional(),
  key: z.string().min(1).max(200).optional(),
  limit: limitParam(1000),
});

const resolveBody = z.strictObject({
  choose: z
    .string()
    .min(1)
    .optional()
    .describe('Keep this side’s value of every conflicting field (e.g. `crm` or `erp`).'),
  values: values
    .optional()
    .describe('Values to keep, by field: every conflicting field unless `choose` is given; may set others.'),
});

const params = idParams(uuid('review'));

export function registerReviews(api: ApiRoutes, hub: Hub): void {
  bindQiaoServices(hub.connections, { store: hub.store });

  api.add({
    method: 'GET',
    url: '/reviews',
    operationId: 'listReviews',
    tag: 'reviews',
    summary: 'List reviews (changes made on both sides of a sync), newest first',
    query: listQuery,
    responses: { 200: { description: 'Reviews.', schema: items(review) } },
    async handler({ query }) {
      return { items: (await hub.store.listReviews(query)).map(reviewView) };
    },
  });

  api.add({
    method: 'GET',
    url: '/reviews/:id',
    operationId: 'getReview',
    tag: 'reviews',
    summary: 'One review',
    params,
    responses: { 200: { description: 'The review.', schema: review } },
    async handler({ params: p }) {
      const r = await hub.store.getReview(p.id);
      if (!r) throw new NotFoundError(`review ${p.id} does not exist`);
      return reviewView(r);
    },
  });

  api.add({
    method: 'POST',
    url: '/reviews/:id/resolve',
    operationId: 'resolveReview',
    tag: 'reviews',
    summary: 'Resolve a review: one side’s values, or the values to keep',
    description:
      'The decision is stored once (a second one is 409) with an audit row naming the actor, and the run ' +
      'waiting for it resumes at once and writes both systems. A decision that leaves a conflicting field ' +
      'undecided, or names an unknown side or field, is 422.',
    params,
    body: resolveBody,
    mutates: true,
    responses: {
      200: { description: 'The review, now `resolved`, with its result.', schema: review },
      409: { description: 'Already resolved.' },
      422: { description: 'The decision does not fit the review.' },
    },
    async handler({ params: p, body, actor }) {
      let resolved: ReviewRow;
      try {
        resolved = await resolveReview(hub.store, p.id, body, actor);
      } catch (err) {
        if (err instanceof ReviewClosedError) throw new ConflictError(err.message);
        throw err;
      }
      // Delivered now; had this failed, the engine's reconciler would deliver it later (same key).
      if (hub.connections.get(resolved.connection)) {
        await hub.engine.ingest(resolved.connection, [resolvedEvent(resolved)]).catch((err: Error) => {
          hub.log.warn('review resolved; its event waits for the reconciler', {
            review: resolved.id,
            error: err.message,
          });
        });
      }
      return reviewView(resolved);
    },
  });
}
