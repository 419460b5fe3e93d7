/**
 * The `poll` trigger: incremental reads on `updatedAt` (Neocrm has no push, spec 9), with (time, id)
 * cursors, an overlap window and filters.
 *
 * Only documented query features are relied on: query v2 orders by `id` alone (spec 4.10) and reports
 * `totalSize`; XOQL documents no ordering. So a page is built as a *time window* small enough to read
 * whole, sorted locally by (updatedAt, id):
 *
 * 1. ties: records at exactly the cursor's time with a larger id, paged by `id > last order by id`;
 * 2. a probe `updatedAt >= T order by id limit 0,N` gives `totalSize` (and, when that is all, the
 *    records themselves); when more than a page is left, the window's upper bound is searched by
 *    interpolation on counts (`limit 0,1` probes), starting from the last window's density;
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

export const pollParams = z
  .object({
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
     * With `keyBy: transition`, fields whose values tell one episode of a record from the next: a record
     * that matches the filter again with other values of these fields is an event again. Name a field
     * the flow writes when it sends the record back — e.g. the approval that returned a contract to
     * draft — so a resubmission starts anew while edits within one episode (and re-reads) do not. While
     * they are all empty, the key is the plain transition key.
     */
    episodeBy: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
      .min(1)
      .optional(),
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
  })
  .refine((p) => !p.episodeBy || p.keyBy === 'transition', {
    message: 'episodeBy needs keyBy: transition (with keyBy: version every change is an event already)',
    path: ['episodeBy'],
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

const shortHash = (value: unknown) =>
  createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 12);

function stableFilter(filter: PollParams['filter']): string {
  return shortHash(Object.entries(filter ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * The inbox key of a matching record. `transition`: once per record and filter — and per episode,
 * when `episodeBy` names fields and any of them has a value (empty ones keep the plain key, so flows
 * that add `episodeBy` do not start again for the records already seen).
 */
function eventKey(p: PollParams, row: Row, filterKey: string): string {
  if (p.keyBy !== 'transition') return `${p.object}:${row.id}@${row.time}`;
  const key = `${p.object}:${row.id}#${filterKey}`;
  const episode = (p.episodeBy ?? []).map((f) => row.data[f] ?? null);
  return episode.every((v) => v === null || v === '') ? key : `${key}#${shortHash(episode)}`;
}

/**
 * The next upper bound to probe: from the densest half of the sampled times inside the bracket, step
 * as far as that density says `need` more records take; without a sample, bisect (or gallop upwards).
 */
function nextGuess(pool: number[], lo: { w: number }, hi: { w: number }, need: number, from: number): number {
  const inner = pool.filter((t) => t > lo.w && t <= hi.w).sort((a, b) => a - b);
  if (inner.length >= 2) {
    const k = Math.max(1, Math.floor(inner.length / 2));
    let span = Number.POSITIVE_INFINITY;
    let j0 = 0;
    for (let j = 0; j + k < inner.length; j++) {
      if (inner[j + k] - inner[j] < span) {
        span = inner[j + k] - inner[j];
        j0 = j;
      }
    }
    const density = k / Math.max(1, span);
    return inner[j0] + Math.max(1, (need - j0) / density);
  }
  if (inner.length === 1) return inner[0];
  return Number.isFinite(hi.w) ? lo.w + (hi.w - lo.w) / 2 : lo.w + 2 * Math.max(1000, lo.w - from + 1);
}

export function neocrmTriggers(
  api: NeocrmApi,
  settings: { queryPageSize: number },
): Record<string, TriggerSpec> {
  /**
   * Cursors handed out with `more: true`, keyed by params and cursor and counted, so flows polling
   * with the same params do not disturb each other: a call with one is a continuation (no overlap).
   * They are forgotten after a minute: a much later call is a new pass, with the overlap.
   */
  const continuations = new Map<string, { count: number; at: number }>();
  const FRESH_MS = 60_000;
  /** The last window read per params (its width in ms and record count): the next window's first guess. */
  const hints = new Map<string, { width: number; count: number }>();
  const hintKey = (p: PollParams) => JSON.stringify(p);
  /**
   * Rows read past a page (a window is read whole, sorted, then cut), kept for the continuation that
   * starts right after the page: it is served from here without a call. At most a few pages.
   */
  const buffers = new Map<string, { rows: Row[]; at: number }>();
  /** Keeps a bounded map bounded: the oldest entries go first. */
  const bound = <V>(m: Map<string, V>, max: number) => {
    for (const k of m.keys()) {
      if (m.size <= max) break;
      m.delete(k);
    }
  };
  /** Cuts a sorted window at `cap`, keeping the rest for the continuation that starts after the page. */
  const cut = (p: PollParams, got: Row[], cap: number): Row[] => {
    const page = got.slice(0, cap);
    const last = page[page.length - 1];
    if (last && got.length > cap) {
      buffers.set(`${hintKey(p)}|${last.time}|${last.id}`, { rows: got.slice(cap), at: Date.now() });
      bound(buffers, 8);
    }
    return page;
  };
  const ceiling = settings.queryPageSize;

  async function fieldList(p: PollParams): Promise<string[]> {
    const fields = p.fields ?? Object.keys((await api.schema.get(p.object)).fields);
    return [...new Set(['id', 'updatedAt', ...fields, ...(p.episodeBy ?? [])])];
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
    maxRows = Number.POSITIVE_INFINITY,
  ): Promise<Row[] | undefined> {
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
        // Too big to hold: the caller narrows the window instead (the open cursor just expires).
        if (rows.length > maxRows) return undefined;
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
        if (rows.length > maxRows) return undefined;
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
    continuing: boolean,
  ): Promise<{ rows: Row[]; done: boolean }> {
    const rows: Row[] = [];
    // Left in place for another flow at the same position (equal params read equal rows).
    const buffered = buffers.get(`${hintKey(p)}|${lower.time}|${lower.id}`);
    if (continuing && buffered && Date.now() - buffered.at < FRESH_MS) {
      return { rows: cut(p, buffered.rows, limit), done: false };
    }
    let from = lower.time;
    if (lower.id !== null) {
      rows.push(...(await ties(p, fields, lower.time, lower.id, limit, signal)));
      if (rows.length >= limit) return { rows, done: false };
      from = lower.time + 1;
    }
    const cap = limit - rows.length;
    const hint = continuing ? hints.get(hintKey(p)) : undefined;
    if (hint) {
      // Working through a backlog: read the window the last one's density suggests, without probing.
      // Too many rows → the search below; a sorted window is cut at a page, which skips nothing.
      // Aim at two pages: what is read past this page is served to the next one from the buffer.
      const w = from + Math.max(1, Math.round((hint.width * cap * 2) / Math.max(1, hint.count))) - 1;
      const got = await windowRows(p, fields, from, w, signal, 4 * cap);
      if (got && got.length > 0) {
        hints.set(hintKey(p), { width: w - from + 1, count: got.length });
        rows.push(...cut(p, got, cap));
        return { rows, done: false };
      }
      if (got) from = w + 1;
    }
    const where = (lo: number, hi: number | null) =>
      `updatedAt >= ${lo}${hi !== null && Number.isFinite(hi) ? ` and updatedAt <= ${hi}` : ''}`;
    const first = await api.queryV2(
      `select ${fields.join(',')} from ${queryName(p.object)} where ${where(from, null)} order by id asc limit 0,${ceiling}`,
      signal,
    );
    if (first.totalSize <= first.records.length && first.totalSize <= cap) {
      // Everything left fits in the probe itself: no second call (the steady state of a frequent poll).
      rows.push(
        ...first.records
          .map(toRow)
          .filter((r): r is Row => !!r)
          .sort(byTimeId),
      );
      return { rows, done: true };
    }
    if (first.totalSize <= cap) {
      const got = (await windowRows(p, fields, from, null, signal)) ?? [];
      rows.push(...got.slice(0, cap));
      return { rows, done: got.length <= cap };
    }
    // Find `to` with count([from, to]) within a page, keeping a bracket lo ≤ page < hi on the (monotone)
    // count. Each probe counts one increment (lo, w] and samples its first ids' times; the next guess
    // steps from the densest part of the sampled times. Overshooting is cheap (a fresh sample of the
    // narrower bracket), so the guesses lean that way.
    const target = Math.max(1, Math.floor(cap * 0.8));
    let lo = { w: from - 1, c: 0 };
    let hi = { w: Number.POSITIVE_INFINITY, c: first.totalSize };
    let pool = first.records.map((r) => Number(r.updatedAt)).filter(Number.isFinite);
    for (let round = 0; round < 12 && hi.w - lo.w > 1; round++) {
      const guess = nextGuess(pool, lo, hi, target - lo.c, from);
      const w = Math.min(
        Math.max(Math.round(guess), lo.w + 1),
        Number.isFinite(hi.w) ? hi.w - 1 : Number.MAX_SAFE_INTEGER,
      );
      const inc = await api.queryV2(
        `select id,updatedAt from ${queryName(p.object)} where ${where(lo.w + 1, w)} order by id asc limit 0,${ceiling}`,
        signal,
      );
      const c = lo.c + inc.totalSize;
      pool = pool
        .filter((t) => t > lo.w)
        .concat(inc.records.map((r) => Number(r.updatedAt)).filter(Number.isFinite));
      if (c > cap) hi = { w, c };
      else {
        lo = { w, c };
        if (c >= cap / 2) break;
      }
    }
    if (lo.c === 0 && hi.w - lo.w <= 1) {
      // One millisecond holding more than a page: page it by id.
      rows.push(...(await ties(p, fields, hi.w, null, cap, signal)));
      return { rows, done: false };
    }
    // Normally [from, lo.w] holds at most a page; if the search gave up empty-handed, read the larger
    // window and keep its first page (still in order, so nothing is skipped).
    const to = lo.c > 0 ? lo.w : hi.w;
    if (lo.c > 0) hints.set(hintKey(p), { width: lo.w - from + 1, count: lo.c });
    const got = (await windowRows(p, fields, from, Number.isFinite(to) ? to : null, signal)) ?? [];
    rows.push(...cut(p, got, cap));
    return { rows, done: false };
  }

  const poll: PollTriggerSpec<PollParams> = {
    kind: 'poll',
    description:
      'Records of an object changed since the cursor (updatedAt, id), oldest first, with an overlap window; optional filters such as opportunities that became won.',
    params: pollParams,
    async poll(params, cursor, ctx): Promise<PollPage> {
      const key = JSON.stringify(params);
      const cursorKey = cursor ? `${cursor.time}|${cursor.id}` : '';
      const entry = cursor ? continuations.get(`${key}|${cursorKey}`) : undefined;
      const continuing = !!entry && Date.now() - entry.at < FRESH_MS;
      if (entry && --entry.count <= 0) continuations.delete(`${key}|${cursorKey}`);
      let lower: Lower;
      if (!cursor) lower = { time: params.since ?? 0, id: null };
      else if (continuing || params.overlapMs === 0)
        lower = { time: Number(cursor.time), id: unpadId(cursor.id) };
      else lower = { time: Math.max(0, Number(cursor.time) - params.overlapMs), id: null };

      const fields = await fieldList(params);
      const { rows, done } = await next(params, fields, lower, params.pageSize, ctx.signal, continuing);
      const records: PolledRecord[] = [];
      const filterKey = params.keyBy === 'transition' ? stableFilter(params.filter) : '';
      for (const row of rows) {
        if (!matches(params.filter, row.data)) continue;
        records.push({
          key: eventKey(params, row, filterKey),
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
      if (more && out) {
        const k = `${key}|${out.time}|${out.id}`;
        const e = continuations.get(k);
        continuations.set(k, { count: (e?.count ?? 0) + 1, at: Date.now() });
        bound(continuations, 256);
      }
      return { records, cursor: out, more };
    },
  };
  return { poll };
}
