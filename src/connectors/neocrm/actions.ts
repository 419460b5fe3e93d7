/**
 * Neocrm actions: `query` (query v2 or XOQL, paged or scrolled), `get`, `create`, `update`, `upsert` (by
 * id, id link or unique fields), `delete` and `batch`. Writes are made idempotent the way DESIGN.md asks:
 * find by id link or natural key, else create.
 */
import { z } from 'zod';
import type { ActionContext, ActionSpec } from '../../core/connector.ts';
import { PermanentError, QiaoError } from '../../core/errors.ts';
import { literal, type NeocrmApi, queryName, type Rec } from './api.ts';
import { type SchemaCache, STATIC_SCHEMA } from './schema.ts';

const objectName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'an object apiKey such as account or project__c' });
/** Ids are 64-bit: carried as decimal strings (numbers are accepted only while exact). */
const recordId = z.union([
  z.string().regex(/^\d{1,20}$/, { error: 'a numeric Neocrm id' }),
  z
    .number()
    .int()
    .positive()
    .refine(Number.isSafeInteger, { error: 'ids above 2^53 must be given as strings' })
    .transform(String),
]);
const data = z.record(z.string(), z.unknown());

/** Rows a `query` returns when the step does not say: a guard against loading a whole tenant into one step. */
const DEFAULT_MAX_RECORDS = 10_000;

/** Whether a failure is Neocrm's "record not found" (code 404 in the sandbox, HTTP 404). */
function isNotFound(err: unknown): boolean {
  return (
    err instanceof QiaoError &&
    err.errorClass === 'permanent' &&
    (String(err.partner?.code) === '404' || err.partner?.httpStatus === 404)
  );
}

async function withEntityType(api: NeocrmApi, object: string, d: Rec, signal: AbortSignal): Promise<Rec> {
  if (d.entityType !== undefined && d.entityType !== null) return d;
  // entityType is effectively required on create (spec 4.1): the object's default business type.
  const entityType = await api.defaultEntityType(object, signal);
  return entityType ? { entityType, ...d } : d;
}

/** Ids of records whose `fields` equal the given values (XOQL: any field type may be compared, spec 4.11). */
async function findBy(api: NeocrmApi, object: string, values: Rec, signal: AbortSignal): Promise<string[]> {
  const known = api.schema.known(object);
  const cond = Object.entries(values)
    .map(([f, v]) => `${f} = ${literal(v, known?.fields[f]?.type === 'ref' || f === 'id')}`)
    .join(' and ');
  const page = await api.xoql(`select id from ${queryName(object)} where ${cond} limit 0,2`, signal);
  return page.records.map((r) => String(r.id));
}

function uniqueValues(unique: string | string[] | undefined, d: Rec): Rec | undefined {
  if (!unique) return undefined;
  const keys = Array.isArray(unique) ? unique : [unique];
  const out: Rec = {};
  for (const k of keys) {
    const v = d[k];
    if (v === undefined || v === null || v === '') {
      throw new PermanentError(`unique field ${k} has no value in data`, {
        fault: 'user',
        partner: { system: 'neocrm', field: k, message: `unique field ${k} has no value` },
      });
    }
    out[k] = v;
  }
  return out;
}

function ambiguous(object: string, values: Rec): PermanentError {
  const what = Object.entries(values)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');
  return new PermanentError(
    `Neocrm ${object}: more than one record has ${what}; cannot choose one to update`,
    {
      fault: 'user',
      partner: {
        system: 'neocrm',
        operation: `upsert ${object}`,
        message: `more than one record matches ${what}`,
      },
    },
  );
}

/**
 * The fields a write names, for `qiao flow validate`. Custom objects and fields (`xxx__c`) are the
 * tenant's own (spec 5.2): only describe knows them, so until the object is described (the CLI
 * validates without calling the partner) they are left out of the check rather than refused.
 */
const writeFieldsOf =
  (schema: SchemaCache) =>
  (input: Record<string, unknown>): { object: string; fields: string[] } | undefined => {
    const d = input.data;
    if (typeof input.object !== 'string' || !d || typeof d !== 'object') return undefined;
    const fields = Object.keys(d as Rec);
    if (schema.isDescribed(input.object)) return { object: input.object, fields };
    if (!STATIC_SCHEMA.objects[input.object]) return undefined;
    return { object: input.object, fields: fields.filter((k) => !k.endsWith('__c')) };
  };

const queryInput = z
  .object({
    /** A query v2 statement (spec 4.10); without `limit` it is paged through by `order by id`. */
    q: z.string().min(1).optional(),
    /** An XOQL statement (spec 4.11); without `limit` it is read with xoqlScroll (spec 4.12). */
    xoql: z.string().min(1).optional(),
    maxRecords: z.number().int().positive().max(1_000_000).default(DEFAULT_MAX_RECORDS),
    batchCount: z.number().int().min(1).max(5000).default(2000),
  })
  .refine((v) => !!v.q !== !!v.xoql, { error: 'give exactly one of q (query v2) or xoql' });

const upsertInput = z.object({
  object: objectName,
  data,
  /** Update this record. */
  id: recordId.optional(),
  /** An id-link key: the record this connection already has for it is updated. */
  link: z.string().min(1).optional(),
  /** Field(s) whose values identify the record (e.g. `accountName`, `taxNumber__c`). */
  unique: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
});

export function neocrmActions(
  api: NeocrmApi,
  settings: { queryPageSize: number },
): Record<string, ActionSpec> {
  const writeFields = writeFieldsOf(api.schema);
  /** "Find by id link or natural key, else create" (DESIGN.md, effectively once). */
  async function upsert(input: z.infer<typeof upsertInput>, ctx: ActionContext) {
    const { object, data: d } = input;
    const signal = ctx.signal;
    let id = input.id;
    if (!id && input.link) id = await ctx.links.find(object, input.link);
    if (id) {
      try {
        if (Object.keys(d).length) await api.update(object, id, d, signal);
        return { output: { id, created: false }, links: [{ object, id }] };
      } catch (err) {
        // A linked record deleted in the CRM is recreated; an explicit id is not.
        if (input.id || !isNotFound(err)) throw err;
      }
    }
    const values = uniqueValues(input.unique, d);
    if (values) {
      const found = await findBy(api, object, values, signal);
      if (found.length > 1) throw ambiguous(object, values);
      if (found.length === 1) {
        await api.update(object, found[0], d, signal);
        return { output: { id: found[0], created: false }, links: [{ object, id: found[0] }] };
      }
    }
    const created = await api.create(object, await withEntityType(api, object, d, signal), signal);
    return { output: { id: created, created: true }, links: [{ object, id: created }] };
  }

  const actions: Record<string, ActionSpec> = {
    query: {
      description:
        'Reads records with query v2 (q, paged by id) or XOQL (xoql, scrolled); returns up to maxRecords.',
      input: queryInput,
      async run(input: z.infer<typeof queryInput>, ctx) {
        const records: Rec[] = [];
        let totalSize: number | undefined;
        let truncated = false;
        const limited = (s: string) => /\blimit\s+\d/i.test(s);
        const take = (rows: Rec[]) => {
          for (const r of rows) {
            if (records.length >= input.maxRecords) {
              truncated = true;
              return false;
            }
            records.push(r);
          }
          return true;
        };
        if (input.q) {
          if (limited(input.q)) {
            const p = await api.queryV2(input.q, ctx.signal);
            totalSize = p.totalSize;
            take(p.records);
          } else {
            for await (const p of api.queryAll(input.q, settings.queryPageSize, ctx.signal)) {
              totalSize = p.totalSize;
              if (!take(p.records)) break;
            }
          }
        } else if (input.xoql) {
          if (limited(input.xoql)) {
            const p = await api.xoql(input.xoql, ctx.signal);
            totalSize = p.totalSize;
            take(p.records);
          } else {
            for await (const rows of api.scroll(input.xoql, input.batchCount, ctx.signal))
              if (!take(rows)) break;
          }
        }
        return {
          output: {
            records,
            count: records.length,
            ...(totalSize !== undefined ? { totalSize } : {}),
            truncated,
          },
        };
      },
    },
    get: {
      description: 'Reads one record by id (xobjects get).',
      input: z.object({ object: objectName, id: recordId }),
      async run(input: { object: string; id: string }, ctx) {
        return { output: await api.get(input.object, input.id, ctx.signal) };
      },
    },
    create: {
      description:
        'Creates a record; with `unique` (or `link`) it first looks for an existing one and returns it instead, so a retry never creates twice.',
      input: z.object({
        object: objectName,
        data,
        unique: upsertInput.shape.unique,
        link: z.string().min(1).optional(),
      }),
      fieldsOf: writeFields,
      async run(input: { object: string; data: Rec; unique?: string | string[]; link?: string }, ctx) {
        const { object, data: d } = input;
        if (input.link) {
          const linked = await ctx.links.find(object, input.link);
          if (linked) return { output: { id: linked, created: false }, links: [{ object, id: linked }] };
        }
        const values = uniqueValues(input.unique, d);
        if (values) {
          const found = await findBy(api, object, values, ctx.signal);
          if (found.length > 1) throw ambiguous(object, values);
          if (found.length === 1)
            return { output: { id: found[0], created: false }, links: [{ object, id: found[0] }] };
        }
        const id = await api.create(object, await withEntityType(api, object, d, ctx.signal), ctx.signal);
        return { output: { id, created: true }, links: [{ object, id }] };
      },
    },
    update: {
      description: 'Updates the given fields of one record (partial update).',
      input: z.object({ object: objectName, id: recordId, data }),
      fieldsOf: writeFields,
      async run(input: { object: string; id: string; data: Rec }, ctx) {
        await api.update(input.object, input.id, input.data, ctx.signal);
        return { output: { id: input.id }, links: [{ object: input.object, id: input.id }] };
      },
    },
    upsert: {
      description: 'Updates the record found by id, id link or unique fields, or creates it.',
      input: upsertInput,
      fieldsOf: writeFields,
      run: upsert,
    },
    delete: {
      description: 'Deletes one record; a record already gone counts as deleted on a retry.',
      input: z.object({ object: objectName, id: recordId }),
      async run(input: { object: string; id: string }, ctx) {
        try {
          await api.remove(input.object, input.id, ctx.signal);
          return { output: { id: input.id, deleted: true } };
        } catch (err) {
          // A retry after a crash between the delete and its commit finds nothing left to delete.
          if (ctx.attempt > 1 && isNotFound(err))
            return { output: { id: input.id, deleted: false, alreadyGone: true } };
          throw err;
        }
      },
    },
    batch: {
      description:
        'Creates, updates (each item has id) or deletes records in batches (xobjects batch, xsy-execmode); per-item results. Not idempotent for create: prefer upsert for sync.',
      input: z.object({
        object: objectName,
        operation: z.enum(['create', 'update', 'delete']),
        records: z.array(data).min(1),
        execMode: z.enum(['continue', 'stop']).default('continue'),
        /** Items per call; the maximum is not documented (spec 4.5). */
        chunkSize: z.number().int().min(1).max(1000).default(100),
      }),
      fieldsOf: (input) => {
        const recs = input.records;
        if (typeof input.object !== 'string' || !Array.isArray(recs)) return undefined;
        return {
          object: input.object,
          fields: [...new Set(recs.flatMap((r) => Object.keys((r ?? {}) as Rec)))],
        };
      },
      async run(
        input: {
          object: string;
          operation: 'create' | 'update' | 'delete';
          records: Rec[];
          execMode: 'continue' | 'stop';
          chunkSize: number;
        },
        ctx,
      ) {
        const results: Array<{ index: number; ok: boolean; id?: string; code: string; msg: string | null }> =
          [];
        let stopped = false;
        const entityType =
          input.operation === 'create' ? await api.defaultEntityType(input.object, ctx.signal) : undefined;
        for (let start = 0; start < input.records.length; start += input.chunkSize) {
          const chunk = input.records.slice(start, start + input.chunkSize).map((r) => {
            if (
              input.operation === 'create' &&
              entityType &&
              (r.entityType === undefined || r.entityType === null)
            ) {
              return { entityType, ...r };
            }
            if (input.operation !== 'create' && r.id !== undefined) return { ...r, id: String(r.id) };
            return r;
          });
          if (stopped) {
            for (let i = 0; i < chunk.length; i++)
              results.push({
                index: start + i,
                ok: false,
                code: '-1',
                msg: 'not executed: an earlier item failed',
              });
            continue;
          }
          const rs = await api.batch(input.object, input.operation, chunk, input.execMode, ctx.signal);
          for (const r of rs) results.push({ ...r, index: start + r.index });
          if (input.execMode === 'stop' && rs.some((r) => !r.ok)) stopped = true;
        }
        const failed = results.filter((r) => !r.ok).length;
        return {
          output: { results, succeeded: results.length - failed, failed },
          links: results.filter((r) => r.ok && r.id).map((r) => ({ object: input.object, id: r.id! })),
        };
      },
    },
  };
  return actions;
}
