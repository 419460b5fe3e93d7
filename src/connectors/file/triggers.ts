/**
 * The `poll` trigger: watches a folder for new or changed CSV/XLSX files.
 *
 * Order and cursor. A file's time is max(mtime, ctime) in ms — a file moved or copied in keeps its
 * mtime but gets a new ctime, so it is never older than the cursor it arrives after. Files are read
 * oldest first, ties by path; the cursor is (time zero-padded to 13 digits, `<path>/<row>`) inside a
 * file and (time, `<path>/end`) once it is finished. `/` cannot occur inside a file name, so the
 * ids of one file sort together and before the next file's. A file changed since it was read has a
 * newer time and is read again from the top; record keys are content hashes, so unchanged content
 * dedupes in the inbox.
 *
 * Files changed in the last `settleMs` are left for the next poll: they may still be being copied.
 * A file stamped in the future (a share with a wrong clock) waits until that time: reading it now
 * would move the cursor past every file that comes after it.
 *
 * Records. By default a file is one record `{ file, rows, count, … }`; a file with more than
 * `maxRows` rows becomes several records (`part` 1, 2, …; `last` on the final one). With `perRow`,
 * every row is one record `{ file, row, values }` keyed by file + row number + row hash. A file that
 * cannot be read (malformed CSV, wrong encoding, unknown sheet…) becomes one record with `error`, so
 * a bad file is reported and does not hold up the files after it.
 *
 * `moveTo`: finished files are moved into this folder at the start of the next poll — only then are
 * their records known to be in the inbox (the engine stores the cursor after the page).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Cursor, PolledRecord, PollTriggerSpec, TriggerSpec } from '../../core/connector.ts';
import { toQiaoError } from '../../core/errors.ts';
import type { FileClient } from './client.ts';
import { Continuations } from './continuations.ts';
import { compileGlob, listMatches } from './glob.ts';
import { normaliseRelative } from './paths.ts';
import { TableReader, type TableRow, tableOptions } from './table.ts';

const relPath = (what: string) =>
  z
    .string()
    .min(1, { error: `${what} is required` })
    .superRefine((s, ctx) => {
      try {
        if (what === 'pattern') compileGlob(s);
        else normaliseRelative(s);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    });

const pollParams = z.strictObject({
  /** Files to watch, relative to the root: `inbox/*.csv`, `exports/**\/*.{csv,xlsx}`. */
  pattern: relPath('pattern'),
  ...tableOptions,
  /** One record per row instead of one per file. */
  perRow: z.boolean().default(false),
  /** Records per page. */
  pageSize: z.number().int().min(1).max(10_000).default(100),
  /** Rows per file record (a larger file is split into parts), and about the most rows one page holds. */
  maxRows: z.number().int().min(1).max(100_000).default(1_000),
  /** Files changed more recently than this are left for the next poll (they may be half-copied). */
  settleMs: z.number().int().min(0).default(2_000),
  /** A folder (relative to the root) finished files are moved into, e.g. `inbox/done`. */
  moveTo: relPath('moveTo').optional(),
});

export type PollParams = z.output<typeof pollParams>;

const END = 'end';
const pad13 = (ms: number) => String(ms).padStart(13, '0');
const pad10 = (n: number) => String(n).padStart(10, '0');

function cmp(a: Cursor, b: Cursor): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const hash16 = (h: ReturnType<typeof createHash>) => h.digest('hex').slice(0, 16);

/** A file being read: its reader, where it stands, and a row read but not yet used. */
export interface Reading {
  reader: TableReader;
  it: AsyncIterator<TableRow>;
  held?: TableRow;
  /** Whole-file mode: data rows in the parts before this one, and this part's number. */
  offset: number;
  part: number;
}

function fresh(client: FileClient, rel: string, p: PollParams): Reading {
  const reader = new TableReader(client, rel, p);
  return { reader, it: reader[Symbol.asyncIterator](), offset: 0, part: 1 };
}

interface Candidate {
  rel: string;
  ms: number;
  time: string;
}

export function fileTriggers(
  client: FileClient,
  parked: Continuations<Reading> = new Continuations(),
): Record<string, TriggerSpec> {
  const poll: PollTriggerSpec<PollParams> = {
    kind: 'poll',
    description:
      'Watches a folder (glob pattern) for new or changed CSV/XLSX files: one record per file (or per row with perRow), oldest first.',
    params: pollParams,
    async poll(p, cursor, ctx) {
      const rootReal = await client.rootDir();
      const paramsKey = createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 16);
      const m = compileGlob(p.pattern);
      const moveTo = p.moveTo ? normaliseRelative(p.moveTo) : undefined;
      const names = await client.call('list', m.base, () => listMatches(rootReal, m, moveTo ? [moveTo] : []));
      const horizon = Date.now() - p.settleMs;
      const files: Candidate[] = [];
      for (const rel of names) {
        let changedMs: number;
        try {
          changedMs = (await client.stat(rel)).changedMs;
        } catch (err) {
          // Gone between the listing and now (moved by someone else): nothing to read. A file we
          // may not even look at is skipped too: one such file must not stop the whole folder.
          const e = toQiaoError(err);
          if (e.partner?.code === 'ENOENT') continue;
          if (e.errorClass === 'permanent') {
            ctx.log.warn('file skipped: cannot read its attributes', { file: rel, error: e.message });
            continue;
          }
          throw e;
        }
        if (changedMs > horizon) {
          // Reading a file stamped in the future would move the cursor past every file after it.
          if (changedMs > Date.now() + 60_000)
            ctx.log.warn('file has a change time in the future; it is read when that time comes', {
              file: rel,
              time: new Date(changedMs).toISOString(),
            });
          continue;
        }
        files.push({ rel, ms: changedMs, time: pad13(changedMs) });
      }
      files.sort((a, b) => cmp({ time: a.time, id: `${a.rel}/` }, { time: b.time, id: `${b.rel}/` }));

      const pending: Candidate[] = [];
      for (const f of files) {
        if (cursor && cmp({ time: f.time, id: `${f.rel}/${END}` }, cursor) <= 0) {
          if (moveTo) {
            await client.moveInto(f.rel, moveTo, f.time).then(
              (to) => ctx.log.info('moved a finished file', { file: f.rel, to }),
              (err) =>
                ctx.log.warn('could not move a finished file; will retry', {
                  file: f.rel,
                  error: String(err),
                }),
            );
          }
          continue;
        }
        pending.push(f);
      }

      const records: PolledRecord[] = [];
      let rowsInPage = 0;
      let last: Cursor | null = cursor;
      let more = false;
      const room = () => records.length < p.pageSize && rowsInPage < p.maxRows;
      const emit = (r: PolledRecord, rows: number) => {
        records.push(r);
        rowsInPage += rows;
        last = r.cursor;
      };

      reading: for (const f of pending) {
        // Out of time (the engine's poll timeout): what is read so far is a complete page.
        if (!room() || ctx.signal.aborted) {
          more = true;
          break;
        }
        const modified = new Date(f.ms).toISOString();
        const at = (row: number | typeof END): Cursor => ({
          time: f.time,
          id: `${f.rel}/${row === END ? END : pad10(row)}`,
        });
        const resumeAfter =
          cursor && cursor.time === f.time && cursor.id.startsWith(`${f.rel}/`)
            ? Number(cursor.id.slice(f.rel.length + 1))
            : 0;
        const parkKey = (row: number) => `${paramsKey}|${f.rel}|${f.time}|${row}`;
        // Continue the reader the previous page left open here, else open the file (and skip).
        const st: Reading =
          (resumeAfter ? parked.take(parkKey(resumeAfter)) : undefined) ?? fresh(client, f.rel, p);
        const { reader } = st;
        const next = async (): Promise<TableRow | undefined> => {
          if (st.held) {
            const h = st.held;
            st.held = undefined;
            return h;
          }
          const n = await st.it.next();
          return n.done ? undefined : n.value;
        };
        /** Keeps the reader, positioned at `held`, for the page that resumes after `row`. */
        const park = (held: TableRow, row: number) => {
          st.held = held;
          parked.put(parkKey(row), { value: st, close: async () => void (await st.it.return?.(undefined)) });
        };
        const sheet = () => (reader.sheet !== undefined ? { sheet: reader.sheet } : {});
        const headerHash = () =>
          createHash('sha256').update(JSON.stringify(reader.columns.map((c) => c.source)));
        try {
          if (p.perRow) {
            let prev: TableRow | undefined;
            const rowRecord = (r: TableRow, isLast: boolean): PolledRecord => ({
              key: `${f.rel}#${r.row}@${hash16(headerHash().update(JSON.stringify(r.raw)))}`,
              data: {
                file: f.rel,
                format: reader.format,
                ...sheet(),
                modified,
                row: r.row,
                values: r.values,
              },
              cursor: at(isLast ? END : r.row),
            });
            for (let r = await next(); r; r = await next()) {
              if (r.row <= resumeAfter) continue;
              if (prev) {
                emit(rowRecord(prev, false), 1);
                if (!room()) {
                  park(r, prev.row);
                  more = true;
                  break reading;
                }
              }
              prev = r;
            }
            if (prev) emit(rowRecord(prev, true), 1);
            else last = at(END);
          } else {
            let chunk: TableRow[] = [];
            const chunkRecord = (isLast: boolean): PolledRecord => {
              const h = headerHash();
              for (const r of chunk) h.update(JSON.stringify(r.raw));
              const single = st.part === 1 && isLast;
              return {
                key: single ? `${f.rel}@${hash16(h)}` : `${f.rel}#p${st.part}@${hash16(h)}`,
                data: {
                  file: f.rel,
                  format: reader.format,
                  ...sheet(),
                  modified,
                  part: st.part,
                  offset: st.offset,
                  last: isLast,
                  fields: reader.columns.map((c) => c.field),
                  rows: chunk.map((r) => r.values),
                  count: chunk.length,
                },
                cursor: at(isLast ? END : chunk[chunk.length - 1].row),
              };
            };
            for (let r = await next(); r; r = await next()) {
              if (r.row <= resumeAfter) {
                // Reopened after a page: count what the earlier parts held.
                st.offset++;
                st.part = Math.floor(st.offset / p.maxRows) + 1;
                continue;
              }
              if (chunk.length === p.maxRows) {
                emit(chunkRecord(false), chunk.length);
                st.offset += chunk.length;
                st.part++;
                if (!room()) {
                  park(r, chunk[chunk.length - 1].row);
                  more = true;
                  break reading;
                }
                chunk = [];
              }
              chunk.push(r);
            }
            // An empty file is one record with no rows; a file resumed at its end has nothing left.
            if (chunk.length || resumeAfter === 0) emit(chunkRecord(true), chunk.length);
            else last = at(END);
          }
        } catch (err) {
          await st.it.return?.(undefined)?.catch(() => {});
          const e = toQiaoError(err);
          if (e.errorClass !== 'permanent') throw e;
          if (e.partner?.code === 'ENOENT') continue;
          ctx.log.warn('file could not be read', { file: f.rel, error: e.message });
          emit(
            {
              key: `${f.rel}@error@${f.time}`,
              data: {
                file: f.rel,
                modified,
                error: { code: e.partner?.code ?? 'ERROR', message: e.message },
                rows: [],
                count: 0,
              },
              cursor: at(END),
            },
            0,
          );
        }
      }
      return { records, cursor: last, more };
    },
  };
  return { poll };
}
