/**
 * The `poll` trigger: incremental reads on `updatedAt` (Neocrm has no push, spec 9), with (time, id)
 * cursors, an overlap window and filters.
 *
 * Only documented query features are relied on: query v2 orders by `id` alone (spec 4.10) and reports
 * `totalSize`; XOQL documents no ordering. So a page is built as a *time window* small enough to read
 * whole, sorted locally by (updatedAt, id):
 *
 * 1. ties: records at exactly the cursor's time with a larger id, paged by `id > last order by id`;
 * 2. a probe `updatedAt > T order by id limit 0,N` gives `totalSize`; while the window holds more than a
 *    page, its upper bound is narrowed (a quantile of the probe's sample, else bisection) and probed again;
 * 3. the window is read whole (xoqlScroll, or query v2 paged by id) and sorted; when a single
 *    millisecond holds more than a page, it is paged by id like step 1.
 *
 * A window is closed at a time every record of which is read, so nothing is skipped however many
 * records share a timestamp, and every call moves the cursor forward or reports no more.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Cursor, PolledRecord, PollPage, PollTriggerSpec, TriggerSpec } from '../../core/connector.ts';
import { type NeocrmApi, queryName, type Rec } from './api.ts';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

export const pollParams = z.object({
  /** The object apiKey, e.g. `opportunity`. */
  object: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  /** Fields to read; default every field describe lists. `id` and `updatedAt` are always read. */
  fields: z.array(z.string().min(1)).optional(),
  /** Only records whose fields equal these values (an array: any of them), e.g. `{ status: 2 }` for won. */
  filter: z.record(z.string(), z.union([scalar, z.array(scalar).min(1)])).optional(),
  /**
   * `version` (default): every change of a matching record is an event (key `id@updatedAt`).
   * `transition`: a record is an event once, when it first matches the filter ("became won").
   */
  keyBy: z.enum(['version', 'transition']).default('version'),
  /**
   * A new pass re-reads this far back from the cursor, for changes that became visible late (clock skew,
   * late commits); the inbox drops what it has seen. A few seconds suits a poll every few seconds.
   */
  overlapMs: z.number().int().min(0).max(3_600_000).default(5_000),
  /** Records per page (per poll call). */
  pageSize: z.number().int().min(1).max(5_000).default(500),
  /** Where the first pass starts, ms since the epoch; default the beginning (a full initial load). */
  since: z.number().int().min(0).optional(),
  /** How a window is read: `scroll` (XOQL scroll, 2000 rows a call) or `query` (query v2, ≤100 a call). */
  reader: z.enum(['scroll', 'query']).default('scroll'),
});

export type PollParams = z.infer<typeof pollParams>;

/** Cursor time: epoch ms zero-padded to 13 digits, so it sorts as a string. */
export const cursorTime = (ms: number): string => String(ms).padStart(13, '0');
/** Cursor id: the 64-bit id zero-padded to 20 digits, so ids of any length sort as strings. */
export const cursorId = (id: string): string => id.padStart(20, '0');
const unpadId = (id: string): string => id.replace(/^0+(?=\d)/, '');

/** Compares decimal id strings: longer is larger, then lexical. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

interface Row {
  time: number;
  id: string;
  data: Rec;
}

interface Lower {
  time: number;
  /** Exclusive id at `time`; null takes every record at `time`. */
  id: string | null;
}

function toRow(r: Rec): Row | undefined {
  const time = Number(r.updatedAt);
  if (r.id === undefined || r.id === null || !Number.isFinite(time)) return undefined;
  return { time, id: String(r.id), data: r };
}

const byTimeId = (a: Row, b: Row) => a.time - b.time || compareIds(a.id, b.id);

function matches(filter: PollParams['filter'], r: Rec): boolean {
  if (!filter) return true;
  for (const [field, want] of Object.entries(filter)) {
    const have = r[field];
    const wants = Array.isArray(want) ? want : [want];
    const hit = wants.some((w) =>
      Array.isArray(have)
        ? have.some((h) => String(h) === String(w))
        : have !== undefined && have !== null && String(have) === String(w),
    );
    if (!hit) return false;
  }
  return true;
}

function stableFilter(filter: PollParams['filter']): string {
  const entries = Object.entries(filter ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex').slice(0, 12);
}

export function neocrmTriggers(
  api: NeocrmApi,
  settings: { queryPageSize: number },
): Record<string, TriggerSpec> {
  /** Cursors handed out with `more: true`, per params: the next call with one is a continuation (no overlap). */
  const continuations = new Map<string, string>();
  const ceiling = settings.queryPageSize;

  async function fieldList(p: PollParams): Promise<string[]> {
    const fields = p.fields ?? Object.keys((await api.schema.get(p.object)).fields);
    return [...new Set(['id', 'updatedAt', ...fields])];
  }

  /** Records at exactly `time` with id > `after` (all when null), in id order, at most `limit` (query v2, spec 4.10). */
  async function ties(
    p: PollParams,
    fields: string[],
    time: number,
    after: string | null,
    limit: number,
    signal: AbortSignal,
  ): Promise<Row[]> {
    const out: Row[] = [];
    let last = after;
    while (out.length < limit) {
      const size = Math.min(ceiling, limit - out.length);
      const cond = `updatedAt = ${time}${last ? ` and id > ${last}` : ''}`;
      const page = await api.queryV2(
        `select ${fields.join(',')} from ${queryName(p.object)} where ${cond} order by id asc limit 0,${size}`,
        signal,
      );
      const rows = page.records.map(toRow).filter((r): r is Row => !!r);
      out.push(...rows);
      if (rows.length < size) break;
      last = rows[rows.length - 1].id;
    }
    return out;
  }

  /** Every record with updatedAt in [from, to] (to null: unbounded), sorted by (time, id). */
  async function windowRows(
    p: PollParams,
    fields: string[],
    from: number,
    to: number | null,
    signal: AbortSignal,
  ): Promise<Row[]> {
    const cond = `updatedAt >= ${from}${to !== null ? ` and updatedAt <= ${to}` : ''}`;
    const rows: Row[] = [];
    if (p.reader === 'scroll') {
      for await (const batch of api.scroll(
        `select ${fields.join(', ')} from ${queryName(p.object)} where ${cond}`,
        2000,
        signal,
      )) {
        for (const r of batch) {
          const row = toRow(r);
          if (row) rows.push(row);
        }
      }
    } else {
      let last: string | null = null;
      for (;;) {
        const page = await api.queryV2(
          `select ${fields.join(',')} from ${queryName(p.object)} where ${cond}${last ? ` and id > ${last}` : ''} order by id asc limit 0,${ceiling}`,
          signal,
        );
        const batch = page.records.map(toRow).filter((r): r is Row => !!r);
        rows.push(...batch);
        if (batch.length < ceiling) break;
        last = batch[batch.length - 1].id;
      }
    }
    return rows.sort(byTimeId);
  }

  /**
   * The next records after `lower` in (time, id) order, at most `limit`, and whether that is everything
   * there is now.
   */
  async function next(
    p: PollParams,
    fields: string[],
    lower: Lower,
    limit: number,
    signal: AbortSignal,
  ): Promise<{ rows: Row[]; done: boolean }> {
    const rows: Row[] = [];
    let from = lower.time;
    if (lower.id !== null) {
      rows.push(...(await ties(p, fields, lower.time, lower.id, limit, signal)));
      if (rows.length >= limit) return { rows, done: false };
      from = lower.time + 1;
    }
    const cap = limit - rows.length;
    const probe = (lo: number, hi: number | null) =>
      api.queryV2(
        `select ${fields.join(',')} from ${queryName(p.object)} where updatedAt >= ${lo}${hi !== null ? ` and updatedAt <= ${hi}` : ''} order by id asc limit 0,${ceiling}`,
        signal,
      );
    // The window is [from, to]; `res` probes it (totalSize, and a sample of the first ids).
    let to: number | null = null;
    let res = await probe(from, to);
    if (res.totalSize <= res.records.length && res.totalSize <= cap) {
      // Everything left fits in the probe itself: no second call (the steady state of a frequent poll).
      rows.push(
        ...res.records
          .map(toRow)
          .filter((r): r is Row => !!r)
          .sort(byTimeId),
      );
      return { rows, done: true };
    }
    // Narrow while the window holds more than a page. Each round either lowers `to` or raises `from`,
    // so it ends; the guard only bounds the number of probes (a larger window is still read correctly).
    for (let round = 0; res.totalSize > cap && round < 64; round++) {
      if (to !== null && to <= from) {
        // One millisecond holding more than a page: page it by id.
        rows.push(...(await ties(p, fields, from, null, cap, signal)));
        return { rows, done: false };
      }
      const times = res.records
        .map((r) => Number(r.updatedAt))
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      // A quantile of the sample aiming at ~80 % of a page, else bisection when that makes no progress.
      let w = times.length
        ? times[Math.min(times.length - 1, Math.floor((cap / res.totalSize) * times.length * 0.8))]
        : from;
      if (to !== null && w >= to) w = from + Math.floor((to - from) / 2);
      w = Math.max(from, w);
      const r = await probe(from, w);
      if (r.totalSize === 0) {
        // Nothing in [from, w]: the window starts after it.
        from = w + 1;
        res = await probe(from, to);
      } else {
        res = r;
        to = w;
      }
    }
    const got = await windowRows(p, fields, from, to, signal);
    rows.push(...got.slice(0, cap));
    return { rows, done: to === null && got.length <= cap };
  }

  const poll: PollTriggerSpec<PollParams> = {
    kind: 'poll',
    description:
      'Records of an object changed since the cursor (updatedAt, id), oldest first, with an overlap window; optional filters such as opportunities that became won.',
    params: pollParams,
    async poll(params, cursor, ctx): Promise<PollPage> {
      const key = JSON.stringify(params);
      const cursorKey = cursor ? `${cursor.time}|${cursor.id}` : '';
      const continuing = cursor !== null && continuations.get(key) === cursorKey;
      continuations.delete(key);
      let lower: Lower;
      if (!cursor) lower = { time: params.since ?? 0, id: null };
      else if (continuing || params.overlapMs === 0)
        lower = { time: Number(cursor.time), id: unpadId(cursor.id) };
      else lower = { time: Math.max(0, Number(cursor.time) - params.overlapMs), id: null };

      const fields = await fieldList(params);
      const { rows, done } = await next(params, fields, lower, params.pageSize, ctx.signal);
      const records: PolledRecord[] = [];
      const filterKey = params.keyBy === 'transition' ? stableFilter(params.filter) : '';
      for (const row of rows) {
        if (!matches(params.filter, row.data)) continue;
        records.push({
          key:
            params.keyBy === 'transition'
              ? `${params.object}:${row.id}#${filterKey}`
              : `${params.object}:${row.id}@${row.time}`,
          data: row.data,
          cursor: { time: cursorTime(row.time), id: cursorId(row.id) },
        });
      }
      let out: Cursor | null = cursor;
      const last = rows[rows.length - 1];
      if (last) {
        const c = { time: cursorTime(last.time), id: cursorId(last.id) };
        // An overlap re-read never moves the cursor back.
        if (!out || c.time > out.time || (c.time === out.time && c.id > out.id)) out = c;
      }
      const more = !done;
      if (more && out) continuations.set(key, `${out.time}|${out.id}`);
      return { records, cursor: out, more };
    },
  };
  return { poll };
}
