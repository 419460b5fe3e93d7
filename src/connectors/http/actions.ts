import { z } from 'zod';
import type { ActionSpec } from '../../core/connector.ts';
import type { HttpClient } from './client.ts';

const requestInput = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
  path: z.string().min(1),
  query: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.unknown().optional(),
  /** Names the record written, so the id map links it: `{ object: 'item', idField: 'id' }`. */
  link: z.strictObject({ object: z.string(), idField: z.string().default('id') }).optional(),
});

export function httpActions(client: HttpClient): Record<string, ActionSpec> {
  return {
    request: {
      description:
        'Sends one HTTP request. The step idempotency key goes in the Idempotency-Key header, so a retried write is applied once by any service that honours it.',
      input: requestInput,
      async run(input: z.infer<typeof requestInput>, ctx) {
        const r = await client.request(input.method, input.path, {
          query: input.query,
          headers: { 'idempotency-key': ctx.idempotencyKey, ...input.headers },
          body: input.body,
          signal: ctx.signal,
        });
        const id =
          input.link && r.body && typeof r.body === 'object'
            ? (r.body as Record<string, unknown>)[input.link.idField]
            : undefined;
        return {
          output: { status: r.status, body: r.body },
          links: input.link && id !== undefined ? [{ object: input.link.object, id: String(id) }] : undefined,
        };
      },
    },
  };
}
