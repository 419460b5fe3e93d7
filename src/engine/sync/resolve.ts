/**
 * Resolving a review, shared by the API (`POST /api/reviews/{id}/resolve`) and the CLI
 * (`qiao review resolve`): the decision is checked against what the review holds, then stored once
 * with its audit row. Delivering the `review.resolved` event to the waiting run is the caller's part:
 * the API ingests it at once; otherwise the engine's reconciler finds it (`qiao` connector `reconcile`).
 */
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { ReviewRow, Store } from '../../store/store.ts';
import { type ReviewDecision, type ReviewDetail, type ReviewResolution, resolveDetail } from './review.ts';

/** The review is not open any more (already resolved): nothing to decide. */
export class ReviewClosedError extends ValidationError {
  constructor(review: ReviewRow) {
    super(
      [{ path: 'status', message: `review ${review.id} is ${review.status}, not open` }],
      `review ${review.id} is already ${review.status}${review.resolvedBy ? ` (by ${review.resolvedBy})` : ''}`,
    );
    this.name = 'ReviewClosedError';
  }
}

export async function resolveReview(
  store: Store,
  id: string,
  decision: ReviewDecision,
  actor: string,
): Promise<ReviewRow> {
  const review = await store.getReview(id);
  if (!review) throw new NotFoundError(`review ${id} does not exist`);
  if (review.status !== 'open') throw new ReviewClosedError(review);
  const result = resolveDetail(review.detail as unknown as ReviewDetail, decision);
  const resolution: ReviewResolution = { ...decision, result };
  try {
    return await store.resolveReview(
      id,
      { resolution: resolution as unknown as Record<string, unknown>, by: actor },
      {
        actor,
        action: 'review.resolve',
        target: `review:${id}`,
        detail: {
          pair: review.pair,
          key: review.key,
          choose: decision.choose ?? null,
          values: decision.values ?? null,
          writes: result.writes,
        },
      },
    );
  } catch (err) {
    // Someone else resolved it between our read and our write.
    const now = await store.getReview(id);
    if (now && now.status !== 'open') throw new ReviewClosedError(now);
    throw err;
  }
}
