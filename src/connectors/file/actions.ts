/**
 * The `file` actions: `read` (a page of rows), `write` (a whole CSV/XLSX, atomically and once per
 * idempotency key) and `append-result` (an import's result file: the input rows plus 结果 and 错误
 * columns, so row-level errors are reported without failing the batch).
 */
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import type { ActionSpec } from '../../core/connector.ts';
import { PermanentError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { FileClient } from './client.ts';
import { changeOnce, writeOnce } from './commit.ts';
import { Continuations } from './continuations.ts';
import { Ledger } from './ledger.ts';
import { headersMap, typesMap, type WriteColumn, writeColumns } from './mapping.ts';
import { csvEncoding, delimiter } from './settings.ts';
import { formatOf, TableReader, type TableRow, tableOptions } from './table.ts';
import { appendXlsx, type BuildOptions, buildCsv, buildXlsx, csvHeader } from './writer.ts';
import { checkSheetName } from './xlsx.ts';

const path = z.string().min(1, { error: 'path is required (relative to the connection root)' });
const rows = z.array(z.record(z.string(), z.unknown()));

const readInput = z.strictObject({
  path,
  ...tableOptions,
  /** Data rows to skip (blank rows are not counted). */
  offset: z.number().int().min(0).default(0),
  /** At most this many rows (the page size). */
  limit: z.number().int().min(1).max(100_000).default(1_000),
});

const writeOptions = {
  /** `csv` or `xlsx`; by default from the extension. */
  format: z.enum(['csv', 'xlsx']).optional(),
  /** CSV: overrides the connection's encoding. `gbk` for partners whose tools expect it. */
  encoding: csvEncoding.optional(),
  /** CSV: a BOM first (default for utf-8 and utf-16le: Excel needs it to read Chinese correctly). */
  bom: z.boolean().optional(),
  delimiter: delimiter.optional(),
  /** CSV line break: `crlf` (default, as Excel writes) or `lf`. */
  newline: z.enum(['crlf', 'lf']).default('crlf'),
  /** XLSX: the sheet's name. */
  sheet: z
    .string()
    .default('Sheet1')
    .superRefine((s, ctx) => {
      const problem = checkSheetName(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  /** Source header → field name, the same map a read takes: applied in reverse. */
  headers: headersMap.optional(),
  /** Field names in column order; by default the map's fields, then other keys as first met. */
  columns: z.array(z.string().min(1)).optional(),
  /** Field name → type: forces cell types (XLSX) and normalises dates and numbers (CSV). */
  types: typesMap.optional(),
  /**
   * CSV for people to open in Excel: prefix `'` to text starting with = + - @ so Excel shows it
   * instead of running it as a formula. Off by default: it changes the data for machines.
   */
  escapeFormulas: z.boolean().default(false),
};

const writeInput = z.strictObject({
  path,
  rows,
  ...writeOptions,
  /** `replace` (default) an existing file, or `fail` when one is there. */
  ifExists: z.enum(['replace', 'fail']).default('replace'),
});

/** One row's outcome: null or '' is success, text is an error, or an object from a batch action. */
const resultItem = z.union([z.null(), z.string(), z.record(z.string(), z.unknown())]);

const resultInput = z.strictObject({
  path,
  /** The rows the import read (field names, as `read` or the poll trigger gave them). */
  rows,
  /**
   * Each row's outcome, by `index` when an item has one, else by position: `null`/`''` (success),
   * an error message, or an item of a batch action's `results` (`ok`/`success`, `error`/`msg`/
   * `message`, `id`/`number`). A row without an outcome is reported as failed.
   */
  results: z.array(resultItem),
  ...writeOptions,
  /** Header of the outcome column. */
  resultColumn: z.string().min(1).default('结果'),
  /** Header of the error-message column. */
  errorColumn: z.string().min(1).default('错误'),
  /** Header of a column for the id or number the target system gave the row (none by default). */
  idColumn: z.string().min(1).optional(),
  okText: z.string().default('成功'),
  failedText: z.string().default('失败'),
  /** `append` (default): add to the file when it exists; `replace`: write a new file. */
  mode: z.enum(['append', 'replace']).default('append'),
});

export type ReadInput = z.output<typeof readInput>;
export type WriteInput = z.output<typeof writeInput>;
export type ResultInput = z.output<typeof resultInput>;

function buildOptions(
  client: FileClient,
  input: Pick<
    WriteInput,
    'format' | 'encoding' | 'bom' | 'delimiter' | 'newline' | 'sheet' | 'types' | 'escapeFormulas'
  >,
  rel: string,
): BuildOptions {
  const format = formatOf(rel, input.format);
  const encoding = input.encoding ?? client.settings.encoding;
  return {
    format,
    encoding,
    bom: input.bom ?? (encoding === 'utf-8' || encoding === 'utf-16le'),
    delimiter: input.delimiter ?? (rel.toLowerCase().endsWith('.tsv') ? '\t' : client.settings.delimiter),
    newline: input.newline === 'lf' ? '\n' : '\r\n',
    sheet: input.sheet,
    types: input.types ?? {},
    timezone: client.settings.timezone,
    file: rel,
    escapeFormulas: input.escapeFormulas,
  };
}

interface Outcome {
  ok: boolean;
  error: string;
  id: string;
}

function messageOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(messageOf).filter(Boolean).join('; ');
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return messageOf(o.message ?? o.msg ?? o.Message ?? JSON.stringify(v));
  }
  return String(v);
}

/** Each row's outcome from the `results` list (see resultInput). */
export function outcomes(count: number, results: Array<z.output<typeof resultItem>>): Outcome[] {
  const byIndex = new Map<number, z.output<typeof resultItem>>();
  results.forEach((r, i) => {
    const idx = r && typeof r === 'object' && typeof r.index === 'number' ? r.index : i;
    byIndex.set(idx, r);
  });
  return Array.from({ length: count }, (_, i) => {
    if (!byIndex.has(i)) return { ok: false, error: 'no result for this row', id: '' };
    const r = byIndex.get(i) ?? null;
    if (r === null || r === '') return { ok: true, error: '', id: '' };
    if (typeof r === 'string') return { ok: false, error: r, id: '' };
    const error = messageOf(r.error ?? r.errors ?? r.msg ?? r.message);
    const flag = typeof r.ok === 'boolean' ? r.ok : typeof r.success === 'boolean' ? r.success : undefined;
    const ok = flag ?? !error;
    const id = r.id ?? r.number ?? r.Id ?? r.Number;
    return { ok, error: ok ? '' : error || 'failed', id: id === undefined || id === null ? '' : String(id) };
  });
}

const RESULT = '\u0000result';
const ERROR = '\u0000error';
const ID = '\u0000id';

/** A reader parked between pages of `read` (see continuations.ts). */
export interface ParkedRead {
  reader: TableReader;
  it: AsyncIterator<TableRow>;
  held?: TableRow;
}

export function fileActions(
  client: FileClient,
  log: Logger,
  parked: Continuations<ParkedRead> = new Continuations(),
): Record<string, ActionSpec> {
  let ledger: Ledger | undefined;
  const ledgerOf = async () => {
    ledger ??= new Ledger(await client.rootDir(), log);
    return ledger;
  };

  const read: ActionSpec<ReadInput> = {
    description:
      'Reads a page of rows from a CSV or XLSX file (streamed: only the page is held), keyed by header or by the headers map.',
    input: readInput,
    async run(input) {
      const fresh = new TableReader(client, input.path, input);
      if (fresh.formatError) throw fresh.formatError;
      const s = await client.stat(fresh.rel, 'read');
      // The next page of this very file version continues the reader the previous page left open.
      const { offset: _o, limit: _l, ...opts } = input;
      const version = `${s.rel}|${s.changedMs}|${s.size}|${JSON.stringify(opts)}`;
      const resumed = input.offset > 0 ? parked.take(`${version}|${input.offset}`) : undefined;
      const reader = resumed?.reader ?? fresh;
      const it = resumed?.it ?? reader[Symbol.asyncIterator]();
      let held = resumed?.held;
      const out: Array<Record<string, unknown>> = [];
      let skipped = resumed ? input.offset : 0;
      let more = false;
      try {
        for (;;) {
          let r = held;
          held = undefined;
          if (!r) {
            const n = await it.next();
            if (n.done) break;
            r = n.value;
          }
          if (skipped < input.offset) {
            skipped++;
            continue;
          }
          if (out.length === input.limit) {
            more = true;
            const state = { reader, it, held: r };
            parked.put(`${version}|${input.offset + out.length}`, {
              value: state,
              close: async () => void (await it.return?.(undefined)),
            });
            break;
          }
          out.push(r.values);
        }
      } catch (err) {
        await it.return?.(undefined)?.catch(() => {});
        throw err;
      }
      return {
        output: {
          file: reader.rel,
          format: reader.format,
          ...(reader.sheet !== undefined ? { sheet: reader.sheet } : {}),
          ...(reader.encoding !== undefined ? { encoding: reader.encoding } : {}),
          fields: reader.columns.map((c) => c.field),
          rows: out,
          count: out.length,
          offset: input.offset,
          nextOffset: more ? input.offset + out.length : null,
        },
      };
    },
  };

  const write: ActionSpec<WriteInput> = {
    description:
      'Writes rows to a CSV (UTF-8 with BOM by default, or GBK) or XLSX file, atomically (temporary file, then rename) and once per idempotency key.',
    input: writeInput,
    async run(input, ctx) {
      const target = await client.resolve(input.path);
      const o = buildOptions(client, input, target.rel);
      const columns = writeColumns(input.rows, input);
      const r = await writeOnce(
        client,
        await ledgerOf(),
        ctx.idempotencyKey,
        target,
        async (tmp) => {
          const n =
            o.format === 'csv'
              ? await buildCsv(tmp, columns, input.rows, o)
              : await buildXlsx(tmp, columns, input.rows, o);
          return {
            path: target.rel,
            format: o.format,
            ...(o.format === 'csv' ? { encoding: o.encoding } : { sheet: o.sheet }),
            rows: n,
            columns: columns.map((c) => c.label),
            bytes: (await stat(tmp)).size,
          };
        },
        input.ifExists === 'fail'
          ? async () => {
              if (await client.exists(target.abs)) {
                const message = `${target.rel} already exists (ifExists: fail)`;
                throw new PermanentError(message, {
                  fault: 'user',
                  partner: { system: 'file', code: 'EEXIST', message, operation: 'write' },
                });
              }
            }
          : undefined,
      );
      return { output: { ...r.output, written: !r.repeated } };
    },
  };

  const appendResult: ActionSpec<ResultInput> = {
    description:
      'Writes an import result file: the input rows plus 结果/错误 columns from the batch results, appended to the file when it exists; once per idempotency key.',
    input: resultInput,
    async run(input, ctx) {
      const target = await client.resolve(input.path);
      const o = buildOptions(client, input, target.rel);
      const outs = outcomes(input.rows.length, input.results);
      const data = input.rows.map((row, i) => ({
        ...row,
        [RESULT]: outs[i].ok ? input.okText : input.failedText,
        [ERROR]: outs[i].error,
        [ID]: outs[i].id,
      }));
      const extra: WriteColumn[] = [
        { field: RESULT, label: input.resultColumn },
        { field: ERROR, label: input.errorColumn },
        ...(input.idColumn ? [{ field: ID, label: input.idColumn }] : []),
      ];
      const own = new Set<string>([RESULT, ERROR, ID]);
      const base = writeColumns(input.rows, input).filter((c) => !own.has(c.field));
      // An existing file's header decides the columns: labels map back to fields through the map.
      const byLabel = (labels: string[]): WriteColumn[] => {
        const fieldOf = new Map<string, string>();
        for (const c of [...base, ...extra]) fieldOf.set(c.label, c.field);
        for (const [source, field] of Object.entries(input.headers ?? {}))
          if (!fieldOf.has(source)) fieldOf.set(source, field);
        const cols = labels.map((label) => ({ label, field: fieldOf.get(label) ?? label }));
        const dropped = [...base, ...extra].filter((c) => !cols.some((x) => x.field === c.field));
        if (dropped.length) {
          log.warn('result file lacks columns; their values are not written', {
            file: target.rel,
            columns: dropped.map((c) => c.label),
          });
        }
        return cols;
      };
      const failed = outs.filter((x) => !x.ok).length;
      const r = await changeOnce(client, await ledgerOf(), ctx.idempotencyKey, target, async (tmp) => {
        const exists = input.mode === 'append' && (await client.exists(target.abs));
        if (o.format === 'xlsx') {
          if (exists) await appendXlsx(target.abs, tmp, byLabel, data, o);
          else await buildXlsx(tmp, [...base, ...extra], data, o);
        } else if (exists) {
          const head = await csvHeader(target.abs, target.rel, o.encoding, o.delimiter);
          if (head.encoding === 'utf-16be') {
            const message = `${target.rel} is UTF-16BE; Qiao appends in utf-8, gbk, gb18030 or utf-16le only`;
            throw new PermanentError(message, {
              fault: 'user',
              partner: { system: 'file', code: 'BAD_ENCODING', message },
            });
          }
          await buildCsv(
            tmp,
            byLabel(head.labels),
            data,
            { ...o, encoding: head.encoding as BuildOptions['encoding'] },
            {
              from: target.abs,
              header: true,
              endsWithNewline: head.endsWithNewline,
            },
          );
        } else await buildCsv(tmp, [...base, ...extra], data, o);
        return {
          path: target.rel,
          format: o.format,
          rows: data.length,
          ok: data.length - failed,
          failed,
          appended: exists,
          bytes: (await stat(tmp)).size,
        };
      });
      return { output: { ...r.output, written: !r.repeated } };
    },
  };

  return { read, write, 'append-result': appendResult };
}
