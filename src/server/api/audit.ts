/**
 * `/api/audit`: the append-only, hash-chained audit log, and its verification (the same check as
 * `qiao audit verify`).
 */
import { z } from 'zod';
import type { Hub } from '../../hub.ts';
import type { ApiRoutes } from './route.ts';
import { auditRow, items, limitParam } from './schemas.ts';

const query = z.strictObject({
  afterSeq: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .describe('Only rows after this sequence number: pass the last `seq` of the previous page.'),
  limit: limitParam(10_000),
});

const verdict = z.union([
  z.strictObject({ ok: z.literal(true), count: z.number().int() }),
  z.strictObject({ ok: z.literal(false), seq: z.number().int(), reason: z.string() }),
]);

export function registerAudit(api: ApiRoutes, hub: Hub): void {
  api.add({
    method: 'GET',
    url: '/audit',
    operationId: 'listAudit',
    tag: 'audit',
    summary: 'Audit rows in order',
    query,
    responses: { 200: { description: 'A page of audit rows, oldest first.', schema: items(auditRow) } },
    async handler({ query: q }) {
      return { items: await hub.store.listAudit(q) };
    },
  });

  api.add({
    method: 'GET',
    url: '/audit/verify',
    operationId: 'verifyAudit',
    tag: 'audit',
    summary: 'Verify the hash chain',
    description: 'Answers 200 either way; `ok: false` names the first row that does not fit the chain.',
    responses: { 200: { description: 'The verdict.', schema: verdict } },
    async handler() {
      return hub.store.verifyAudit();
    },
  });
}
