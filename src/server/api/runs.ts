/**
 * `/api/runs`: every run, newest first, and one run with its steps, each step's input, output, error
 * and the history of its attempts: the journey of one record (DESIGN.md, "observably").
 */
import { z } from 'zod';
import { NotFoundError } from '../../core/errors.ts';
import type { Hub } from '../../hub.ts';
import type { ApiRoutes } from './route.ts';
import { flowId, idParams, limitParam, RUN_STATUSES, run, step, uuid } from './schemas.ts';

const listQuery = z.strictObject({
  flowId: flowId.optional().describe('Only runs of this flow.'),
  status: z.enum(RUN_STATUSES).optional().describe('Only runs in this status.'),
  limit: limitParam(1000),
  before: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .describe("Only runs started before this time (epoch ms): pass the previous page's `nextBefore`."),
});

const runList = z.strictObject({
  items: z.array(run),
  nextBefore: z.number().optional().describe('When the page is full: `before` for the next page.'),
});

export function registerRuns(api: ApiRoutes, hub: Hub): void {
  api.add({
    method: 'GET',
    url: '/runs',
    operationId: 'listRuns',
    tag: 'runs',
    summary: 'List runs, newest first',
    query: listQuery,
    responses: { 200: { description: 'A page of runs.', schema: runList } },
    async handler({ query }) {
      const limit = query.limit ?? 100;
      const rows = await hub.store.listRuns({ ...query, limit });
      const last = rows.at(-1);
      return { items: rows, ...(rows.length === limit && last ? { nextBefore: last.startedAt } : {}) };
    },
  });

  api.add({
    method: 'GET',
    url: '/runs/:id',
    operationId: 'getRun',
    tag: 'runs',
    summary: 'One run with its steps',
    params: idParams(uuid('run')),
    responses: {
      200: {
        description: 'The run and its steps in order.',
        schema: z.strictObject({ run, steps: z.array(step) }),
      },
    },
    async handler({ params }) {
      const got = await hub.store.getRun(params.id);
      if (!got) throw new NotFoundError(`run ${params.id} does not exist`);
      return got;
    },
  });
}
