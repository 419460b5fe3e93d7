/**
 * The `kingdee` triggers.
 *
 * `poll` reads changes by `FModifyDate` (or `FApproveDate` for "audited since", spec 4.4 "Incremental
 * sync") with a (time, id) cursor: each page asks for rows after the cursor in (time, id) order, so a
 * page boundary inside thousands of equal timestamps neither skips nor repeats a row. The overlap
 * window handles documents whose stamp is older than their commit: rows stamped within `overlapMs` of
 * now are delivered but the cursor does not pass them at the end of a pass, so the next pass reads
 * them again (the inbox drops the repeat by key) and a late commit inside the window is still seen.
 *
 * `change` is the push path: events from the BOS plugin through the hook (hooks.ts).
 */
import { z } from 'zod';
import type { Cursor, InboundEvent, PolledRecord, PollPage, TriggerSpec } from '../../core/connector.ts';
import { PermanentError } from '../../core/errors.ts';
import type { KingdeeClient } from './client.ts';
import { assertFieldKey } from './lookup.ts';
import { canonicalField, formKeys, formSchema } from './schema.ts';
import { type KingdeeSettings, offsetMinutes } from './settings.ts';

export const pollParams = z.object({
  formId: z.string().min(1),
  /** Which stamp to follow: FModifyDate (every save), FApproveDate (audits), FCreateDate (creations). */
  timeField: z.enum(['FModifyDate', 'FApproveDate', 'FCreateDate']).default('FModifyDate'),
  /** Header field keys to read besides id, number, the stamp and FDocumentStatus. */
  fields: z.array(z.string().min(1)).default([]),
  /** Part of the trigger: a FilterString, e.g. `FDocumentStatus = 'C'` for "audited receipts only". */
  filter: z.string().optional(),
  /** Rows per call; default the connection's pageSize (2000). */
  pageSize: z.number().int().min(1).max(10_000).optional(),
  /** Rows stamped within this window of now are read again by the next pass. */
  overlapMs: z.number().int().min(0).default(30_000),
  /** Where the first poll starts (ISO 8601 or `yyyy-MM-dd`); default the beginning. */
  since: z.string().optional(),
});

export type PollParams = z.output<typeof pollParams>;

/** Kingdee local `yyyy-MM-ddTHH:mm:ss[.fff]` → ISO 8601 UTC with milliseconds. */
export function toUtc(local: string, offsetMin: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$/.exec(local.trim());
  if (!m) throw new PermanentError(`not a Kingdee date: ${local}`, { fault: 'bug' });
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms) - offsetMin * 60_000;
  return new Date(utc).toISOString();
}

/** ISO 8601 UTC → a FilterString literal in Kingdee local time, `yyyy-MM-dd HH:mm:ss.fff`. */
export function toLocal(iso: string, offsetMin: number): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new PermanentError(`not a date: ${iso}`, { fault: 'user' });
  return new Date(t + offsetMin * 60_000).toISOString().slice(0, 23).replace('T', ' ');
}

/** Cursor ids are internal ids zero-padded so they sort as strings (connector.ts `Cursor`). */
const padId = (id: number) => String(id).padStart(12, '0');

const after = (a: Cursor, b: Cursor | null) => !b || a.time > b.time || (a.time === b.time && a.id > b.id);

export function kingdeeTriggers(
  client: KingdeeClient,
  settings: KingdeeSettings,
): Record<string, TriggerSpec> {
  const offset = offsetMinutes(settings.utcOffset);
  return {
    poll: {
      kind: 'poll',
      description:
        'Documents of one form changed (FModifyDate), audited (FApproveDate) or created since the cursor, optionally filtered.',
      params: pollParams,
      async poll(params: PollParams, cursor, ctx): Promise<PollPage> {
        const { idField, numberField } = formKeys(params.formId);
        const tf = params.timeField;
        const schema = formSchema(params.formId);
        for (const f of params.fields) {
          assertFieldKey(f);
          // Entry fields would give one row per entry line and break the (time, id) order.
          const base = f.split('.')[0].toLowerCase();
          const inEntry =
            schema &&
            !canonicalField(schema, base) &&
            Object.values(schema.fields).some(
              (x) => x.type === 'array' && Object.keys(x.fields ?? {}).some((k) => k.toLowerCase() === base),
            );
          if (inEntry) {
            throw new PermanentError(
              `poll ${params.formId}: ${f} is an entry field; poll reads header fields only`,
              {
                fault: 'user',
              },
            );
          }
        }
        const keys = [...new Set([idField, numberField, tf, 'FDocumentStatus', ...params.fields])];
        let where: string;
        if (cursor) {
          const t = toLocal(cursor.time, offset);
          where = `(${tf} > '${t}' OR (${tf} = '${t}' AND ${idField} > ${Number(cursor.id)}))`;
        } else if (params.since) {
          where = `${tf} >= '${toLocal(/^\d{4}-\d{2}-\d{2}$/.test(params.since) ? `${params.since}T00:00:00${settings.utcOffset}` : params.since, offset)}'`;
        } else where = `${tf} > '1900-01-01 00:00:00'`;
        if (params.filter?.trim()) where += ` AND (${params.filter})`;
        const pageSize = params.pageSize ?? settings.pageSize;
        const rows = await client.executeBillQuery(
          {
            FormId: params.formId,
            FieldKeys: keys.join(','),
            FilterString: where,
            OrderString: `${tf} ASC, ${idField} ASC`,
            StartRow: 0,
            Limit: pageSize,
            TopRowCount: 0,
          },
          ctx.signal,
        );
        const records: PolledRecord[] = [];
        for (const r of rows) {
          const data = Object.fromEntries(keys.map((k, i) => [k, r[i]]));
          const stamp = data[tf];
          if (typeof stamp !== 'string' || !stamp) continue;
          const c: Cursor = { time: toUtc(stamp, offset), id: padId(Number(data[idField])) };
          records.push({
            key: `${params.formId}:${Number(data[idField])}@${c.time}`,
            data: { formId: params.formId, ...data },
            cursor: c,
          });
        }
        const more = rows.length >= pageSize;
        let next: Cursor | null = cursor;
        if (more) {
          const last = records[records.length - 1]?.cursor;
          if (last && after(last, next)) next = last;
        } else {
          const horizon = Date.now() - params.overlapMs;
          for (const rec of records)
            if (Date.parse(rec.cursor.time) <= horizon && after(rec.cursor, next)) next = rec.cursor;
        }
        return { records, cursor: next, more };
      },
    },
    change: {
      kind: 'event',
      description:
        'A document changed, pushed by the Kingdee BOS plugin through POST /hooks/kingdee/{connectionId}.',
      eventType: 'kingdee.change',
      params: z.object({
        formId: z.string().optional(),
        operations: z.array(z.string()).optional(),
        documentStatus: z.string().optional(),
      }),
      matches(event: InboundEvent, p: { formId?: string; operations?: string[]; documentStatus?: string }) {
        const d = (event.data ?? {}) as { formId?: string; operation?: string; documentStatus?: string };
        if (p.formId && d.formId?.toLowerCase() !== p.formId.toLowerCase()) return false;
        if (p.operations?.length && !p.operations.some((o) => o.toLowerCase() === d.operation?.toLowerCase()))
          return false;
        if (p.documentStatus && d.documentStatus !== p.documentStatus) return false;
        return true;
      },
    },
  };
}
