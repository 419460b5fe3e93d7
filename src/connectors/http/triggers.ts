import { z } from 'zod';
import type { PollTriggerSpec, TriggerSpec } from '../../core/connector.ts';
import type { HttpClient } from './client.ts';

const pollParams = z.strictObject({
  /** GET path listing records changed after the cursor. */
  path: z.string().min(1),
  idField: z.string().default('id'),
  timeField: z.string().default('updatedAt'),
  /** Query parameter names the service takes for the cursor and page size. */
  sinceParam: z.string().default('since'),
  afterParam: z.string().default('after'),
  limitParam: z.string().default('limit'),
  pageSize: z.number().int().min(1).max(1000).default(100),
});

/**
 * Incremental read of a REST list that answers records after (time, id), oldest first. The service
 * applies the (time, id) order itself, so records sharing a timestamp are paged by id and none is
 * skipped or repeated.
 */
export function httpTriggers(client: HttpClient): Record<string, TriggerSpec> {
  const poll: PollTriggerSpec<z.infer<typeof pollParams>> = {
    kind: 'poll',
    description: 'Polls a REST list for records changed after the cursor (time, id).',
    params: pollParams,
    async poll(p, cursor, ctx) {
      const r = await client.request('GET', p.path, {
        query: {
          [p.sinceParam]: cursor?.time ?? '',
          [p.afterParam]: cursor?.id ?? '',
          [p.limitParam]: p.pageSize,
        },
        signal: ctx.signal,
      });
      const list = Array.isArray(r.body) ? r.body : ((r.body as { items?: unknown[] })?.items ?? []);
      const records = list.map((raw) => {
        const rec = raw as Record<string, unknown>;
        const c = { time: String(rec[p.timeField] ?? ''), id: String(rec[p.idField] ?? '') };
        return { key: `${c.id}@${c.time}`, data: rec, cursor: c };
      });
      return {
        records,
        cursor: records.length ? records[records.length - 1].cursor : cursor,
        more: records.length === p.pageSize,
      };
    },
  };
  return { poll };
}
