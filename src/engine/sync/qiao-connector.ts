/**
 * The `qiao` connector: Qiao's own two-way sync and review queue, offered to flows like any partner's
 * actions, so a sync is written with the steps flows already have (docs/flows.md, "Scenarios"):
 *
 * - `sync.check`  — given one side's changed record and the other side's current one, decides by the
 *   fields' owners what to write where, or `skip` (an echo of Qiao's own write, or nothing to do), or
 *   `conflict` (both sides changed a field between two syncs);
 * - `review.open` — puts a conflict in the review queue (a later change of the same record joins it);
 *   the run then waits for `review.resolved`, which a person sends through the API or the CLI;
 * - `sync.commit` — records the values both sides now hold: the next change is measured against them,
 *   and a record arriving with exactly these values is Qiao's own write coming back.
 *
 * It keeps its state in the hub's store, so it is engine-provided rather than a partner connector: a
 * hub binds its services to the `qiao` connector type (`bindQiaoServices`); until then its actions fail
 * as transient (and are retried).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type {
  ActionSpec,
  Connector,
  ConnectorContext,
  ConnectorDescriptor,
  InboundEvent,
} from '../../core/connector.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { Store } from '../../store/store.ts';
import { BOTH, decide, type MergeInput, project, type Values, valuesHash } from './merge.ts';
import { definedIds, joinReview, REVIEW_RESOLVED, type ReviewDetail, resolvedEvent } from './review.ts';

/** What a hub lends its `qiao` connections. */
export interface QiaoServices {
  store: Store;
}

export type QiaoSettings = Record<string, never>;

/** The `qiao` descriptor, with the slot its hub fills. */
export interface QiaoDescriptor extends ConnectorDescriptor<QiaoSettings> {
  /** Lends this hub's services to every connection of this type (`undefined` takes them back). */
  bind(services: QiaoServices | undefined): void;
}

/**
 * Lends a hub's services to its `qiao` connector type. Each hub has its own descriptors (one
 * `builtinConnectors()` call), so two hubs in one process never share a store.
 */
export function bindQiaoServices(
  connections: { descriptor(type: string): ConnectorDescriptor | undefined },
  services: QiaoServices | undefined,
): boolean {
  const d = connections.descriptor('qiao') as Partial<QiaoDescriptor> | undefined;
  if (typeof d?.bind !== 'function') return false;
  d.bind(services);
  return true;
}

const name = z
  .string()
  .regex(/^[a-z][a-z0-9_-]*$/, 'lower-case letters, digits, `_` or `-`, starting with a letter');
const values = z.record(z.string(), z.unknown());
const ids = z.record(z.string(), z.union([z.string(), z.number(), z.null()])).optional();
const pairKey = {
  /** The sync pair, e.g. `customer`. */
  pair: name,
  /** The record's key within the pair, e.g. the customer number. */
  key: z.union([z.string().min(1).max(200), z.number()]),
};
const trace = {
  /** The run (`=run.id`) and flow (`=run.flowId`), kept with the state and the review. */
  run: z.string().optional(),
  flow: z.string().optional(),
};

const checkInput = z
  .object({
    ...pairKey,
    /** The side whose record changed, and the side it syncs to. */
    side: name,
    otherSide: name,
    /** Owner of each canonical field: a side's name, or `both`. */
    fields: z.record(z.string().min(1), z.string().min(1)),
    /** The changed side's current values. */
    record: values,
    /** The other side's current values; absent or null when it has no record yet. */
    other: values.nullable().optional(),
    /** Values for fields neither side has yet (e.g. a number rule for new records). */
    defaults: values.optional(),
    /** Each side's record id, kept with the state. */
    ids,
    ...trace,
  })
  .superRefine((v, ctx) => {
    if (v.side === v.otherSide)
      ctx.addIssue({ code: 'custom', path: ['otherSide'], message: 'must differ from side' });
    for (const [f, owner] of Object.entries(v.fields)) {
      if (owner !== BOTH && owner !== v.side && owner !== v.otherSide) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', f],
          message: `owner must be ${v.side}, ${v.otherSide} or ${BOTH}; got '${owner}'`,
        });
      }
    }
  });

const reviewDetail = z.object({
  sides: z.tuple([name, name]),
  fields: z.record(z.string(), z.string()),
  base: values.optional(),
  values: z.record(z.string(), values),
  defaults: values.optional(),
  ids: z.record(z.string(), z.string()),
  conflicts: z.array(z.string()),
});

const openInput = z.object({
  ...pairKey,
  /** The `detail` of a `sync.check` that answered `conflict`. */
  detail: reviewDetail,
  ...trace,
});

const commitInput = z.object({
  ...pairKey,
  /** The pair's fields (their owners do not matter here). */
  fields: z.record(z.string().min(1), z.string().min(1)),
  /** The values both sides hold now. */
  values,
  ids,
  ...trace,
});

/** A review id stable across retries of one step, so a retried `review.open` finds its own review. */
function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  // RFC 9562 version 8 (custom), variant 10.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((Number.parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function qiaoConnector(): QiaoDescriptor {
  let services: QiaoServices | undefined;
  const need = (): QiaoServices => {
    if (!services) {
      throw new TransientError(
        'the qiao connection is not bound to a hub yet (it keeps sync state and reviews in the hub store)',
      );
    }
    return services;
  };
  return {
    type: 'qiao',
    title: { 'zh-CN': '桥（同步与复核）', en: 'Qiao (sync and reviews)' },
    settings: z.strictObject({}) as unknown as z.ZodType<QiaoSettings>,
    secretFields: [],
    limits: {},
    bind(s) {
      services = s;
    },
    create: (ctx) => createQiao(ctx, need),
  };
}

function createQiao(ctx: ConnectorContext<QiaoSettings>, need: () => QiaoServices): Connector {
  const actions: Record<string, ActionSpec> = {
    'sync.check': {
      description:
        "Decides one changed record's sync by the fields' owners: write (with the writes per side), skip (echo of Qiao's own write, or already in step) or conflict (changed on both sides since the last sync).",
      input: checkInput,
      async run(input: z.output<typeof checkInput>) {
        const { store } = need();
        const state = await store.getSyncState(input.pair, String(input.key));
        const merging: MergeInput = {
          side: input.side,
          otherSide: input.otherSide,
          fields: input.fields,
          record: input.record,
          other: input.other ?? null,
          base: state?.base,
          defaults: input.defaults,
        };
        const d = decide(merging);
        const [open] = await store.listReviews({
          status: 'open',
          pair: input.pair,
          key: String(input.key),
          limit: 1,
        });
        const idsNow = { ...state?.ids, ...definedIds(input.ids) };
        const names = Object.keys(input.fields);
        const out: Omit<typeof d, 'reason'> & {
          pair: string;
          key: string;
          reason: string;
          review: string | null;
        } = { pair: input.pair, key: String(input.key), ...d, review: null };
        if (open) {
          // The record waits for a person: this change joins the review instead of being synced.
          out.action = 'conflict';
          out.reason = 'review-open';
          out.review = open.id;
        } else if (d.action === 'skip' && d.reason === 'in-sync') {
          // Both sides already agree (e.g. both were changed alike): remember it as agreed.
          const hash = valuesHash(d.values, names);
          if (!state || state.hash !== hash) {
            await store.saveSyncState({
              pair: input.pair,
              key: String(input.key),
              base: project(d.values, names),
              hash,
              ids: idsNow,
              runId: input.run,
            });
          }
        }
        const detail: ReviewDetail | null =
          out.action === 'conflict'
            ? {
                sides: [input.side, input.otherSide],
                fields: input.fields,
                ...(state ? { base: state.base } : {}),
                values: {
                  [input.side]: project(input.record, names),
                  [input.otherSide]: project(input.other ?? {}, names),
                },
                ...(input.defaults ? { defaults: input.defaults } : {}),
                ids: idsNow,
                conflicts: d.conflicts,
              }
            : null;
        return { output: { ...out, detail } };
      },
    },

    'review.open': {
      description:
        'Puts a conflict in the review queue, or joins the review already open for the record; `created` says which.',
      input: openInput,
      async run(input: z.output<typeof openInput>, actx) {
        const { store } = need();
        const id = stableUuid(`review:${actx.idempotencyKey}`);
        const detail = input.detail as ReviewDetail;
        const { review } = await store.openReview(
          {
            id,
            pair: input.pair,
            key: String(input.key),
            connection: ctx.connectionId,
            flowId: input.flow,
            runId: input.run,
            detail: detail as unknown as Record<string, unknown>,
          },
          {
            actor: input.flow ? `flow:${input.flow}` : `connection:${ctx.connectionId}`,
            action: 'review.open',
            target: `review:${id}`,
            detail: {
              pair: input.pair,
              key: String(input.key),
              conflicts: detail.conflicts,
              run: input.run ?? null,
            },
          },
        );
        const created = review.id === id;
        let conflicts = (review.detail as unknown as ReviewDetail).conflicts;
        if (!created) {
          const side = detail.sides[0];
          const joined = joinReview(review.detail as unknown as ReviewDetail, {
            side,
            record: detail.values[side] ?? {},
            ids: detail.ids,
          });
          await store.updateReview(review.id, joined as unknown as Record<string, unknown>);
          conflicts = joined.conflicts;
        }
        return { output: { id: review.id, created, conflicts } };
      },
    },

    'review.get': {
      description:
        'One review: what both sides hold, the conflicting fields and, once resolved, the decision.',
      input: z.object({ id: z.string().min(1) }),
      async run(input: { id: string }) {
        const review = await need().store.getReview(input.id);
        if (!review) throw new PermanentError(`review ${input.id} does not exist`, { fault: 'user' });
        return { output: review };
      },
    },

    'sync.commit': {
      description:
        'Records the values both sides hold after the writes: the next change is measured against them, and an identical record coming back is an echo.',
      input: commitInput,
      async run(input: z.output<typeof commitInput>) {
        const { store } = need();
        const names = Object.keys(input.fields);
        const prev = await store.getSyncState(input.pair, String(input.key));
        const saved = await store.saveSyncState({
          pair: input.pair,
          key: String(input.key),
          base: project(input.values as Values, names),
          hash: valuesHash(input.values as Values, names),
          ids: { ...prev?.ids, ...definedIds(input.ids) },
          runId: input.run,
        });
        return { output: { pair: saved.pair, key: saved.key, version: saved.version, hash: saved.hash } };
      },
    },
  };

  return {
    async check() {
      const { store } = need();
      return { ok: true, detail: `sync state and reviews in the hub's ${store.kind} store` };
    },
    actions,
    triggers: {
      [REVIEW_RESOLVED]: {
        kind: 'event',
        description: 'A person resolved a review (through the API or the CLI).',
        eventType: REVIEW_RESOLVED,
        params: z.object({ pair: z.string().optional() }),
        matches: (ev: InboundEvent, p: { pair?: string }) =>
          !p.pair || (ev.data as { pair?: string } | undefined)?.pair === p.pair,
      },
    },
    schema: { objects: {} },
    /** Reviews resolved while the hub could not deliver the event (e.g. resolved with `qiao review`). */
    async reconcile(eventType: string, correlations: string[]): Promise<InboundEvent[]> {
      if (eventType !== REVIEW_RESOLVED || correlations.length === 0) return [];
      const rows = await need().store.listReviews({ ids: correlations, status: 'resolved', limit: 1000 });
      return rows.map(resolvedEvent);
    },
  };
}
