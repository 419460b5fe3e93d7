/**
 * `/api/links`: the id map, `(connection, object, externalId) ↔ linkId`. Records sharing a linkId are
 * one record seen in several systems (DESIGN.md, "Two-way sync").
 */
import { z } from 'zod';
import type { Hub } from '../../hub.ts';
import type { ApiRoutes } from './route.ts';
import { items, limitParam, link } from './schemas.ts';

const text = (what: string) => z.string().min(1).max(200).optional().describe(what);

const query = z.strictObject({
  connection: text('Connection id.'),
  object: text('Object name, e.g. `BD_Customer`, `account`.'),
  externalId: text("The record's id in that system."),
  linkId: text('All ids of one record across systems.'),
  limit: limitParam(1000),
});

export function registerLinks(api: ApiRoutes, hub: Hub): void {
  api.add({
    method: 'GET',
    url: '/links',
    operationId: 'listLinks',
    tag: 'links',
    summary: 'Query the id map',
    description: 'Every filter is optional; give `linkId` to see one record in every system.',
    query,
    responses: { 200: { description: 'Matching links, newest first.', schema: items(link) } },
    async handler({ query: q }) {
      return { items: await hub.store.findLinks(q) };
    },
  });
}
