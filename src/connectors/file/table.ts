/**
 * A CSV or XLSX file as rows keyed by field name: the one reader behind the `read` action and the
 * `poll` trigger. It streams: one row is in memory at a time, and stopping early closes the file.
 */
import path from 'node:path';
import { z } from 'zod';
import { PermanentError, QiaoError } from '../../core/errors.ts';
import { classifyFsError, type FileClient } from './client.ts';
import { parseCsv } from './csv.ts';
import { decodeChunks } from './encoding.ts';
import {
  type ColumnType,
  columnLetter,
  convertIn,
  headersMap,
  type ReadColumn,
  readColumns,
  typesMap,
} from './mapping.ts';
import { normaliseRelative } from './paths.ts';
import { csvEncoding, delimiter } from './settings.ts';
import { type CellValue, readXlsxRows } from './xlsx.ts';

export type FileFormat = 'csv' | 'xlsx';

/** The options every reader input shares (read action, poll trigger). */
export const tableOptions = {
  /** `csv` or `xlsx`; by default from the extension (.csv .txt .tsv / .xlsx .xlsm). */
  format: z.enum(['csv', 'xlsx']).optional(),
  /** CSV: overrides the connection's encoding (a BOM in the file still wins). */
  encoding: csvEncoding.optional(),
  /** CSV: overrides the connection's delimiter (`.tsv` files default to tab). */
  delimiter: delimiter.optional(),
  /** XLSX: a sheet name, or its 1-based position in the tab order. The first sheet by default. */
  sheet: z
    .union([z.string().min(1), z.number().int().min(1, { error: 'sheet positions start at 1' })])
    .optional(),
  /** The row holding the headers (rows above it are skipped); 0: no header row, columns are A, B, C… */
  headerRow: z.number().int().min(0).default(1),
  /** Source header → field name (`客户名称: name`). */
  headers: headersMap.optional(),
  /** Columns the map does not name: kept under their own header (default) or dropped. */
  unmapped: z.enum(['keep', 'drop']).default('keep'),
  /** Field name → type: values are converted (`number` reads "1,280.00" as 1280), bad ones refused. */
  types: typesMap.optional(),
  /** Field names that must be columns of the file. */
  required: z.array(z.string().min(1)).optional(),
  /** Trim spaces around text values. */
  trim: z.boolean().default(false),
};

const tableOptionsSchema = z.object(tableOptions);
export type TableOptions = z.output<typeof tableOptionsSchema>;

export interface TableRow {
  /** The row number Excel shows (the header is row 1 by default; blank rows count). */
  row: number;
  values: Record<string, unknown>;
  /** The cells as the file has them, for content hashes. */
  raw: CellValue[];
}

/** The format of a file: explicit, or by its extension. */
export function formatOf(rel: string, explicit?: FileFormat): FileFormat {
  if (explicit) return explicit;
  const ext = path.posix.extname(rel).toLowerCase();
  if (ext === '.csv' || ext === '.txt' || ext === '.tsv') return 'csv';
  if (ext === '.xlsx' || ext === '.xlsm') return 'xlsx';
  const message =
    ext === '.xls'
      ? `${rel}: .xls (Excel 97-2003) is not supported; save it as .xlsx or .csv`
      : `${rel}: cannot tell the format from the extension '${ext}'; give format: csv or xlsx`;
  throw new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'UNKNOWN_FORMAT', message },
  });
}

const isBlank = (cells: CellValue[]) => cells.every((c) => c === null || c === '');

export class TableReader implements AsyncIterable<TableRow> {
  private readonly client: FileClient;
  readonly rel: string;
  readonly format: FileFormat;
  private readonly opts: TableOptions;
  /** Known once the header row is read. */
  columns: ReadColumn[] = [];
  /** XLSX: the sheet read. */
  sheet?: string;
  /** CSV: the encoding used (a BOM may have overridden the setting). */
  encoding?: string;

  constructor(client: FileClient, rel: string, opts: TableOptions) {
    this.client = client;
    this.rel = normaliseRelative(rel);
    try {
      this.format = formatOf(this.rel, opts.format);
    } catch (err) {
      // Raised when the rows are asked for, like every other problem with the file.
      this.formatError = err as PermanentError;
      this.format = 'csv';
    }
    this.opts = opts;
  }

  /** Set when the format cannot be told from the extension (or is .xls). */
  readonly formatError?: PermanentError;

  async *[Symbol.asyncIterator](): AsyncGenerator<TableRow> {
    if (this.formatError) throw this.formatError;
    const opened = await this.client.openRead(this.rel);
    const file = opened.rel;
    const o = this.opts;
    const settings = this.client.settings;
    let source: AsyncIterable<{ row: number; cells: CellValue[] }>;
    if (this.format === 'csv') {
      const delim = o.delimiter ?? (file.toLowerCase().endsWith('.tsv') ? '\t' : settings.delimiter);
      const text = decodeChunks(opened.stream, o.encoding ?? settings.encoding, file, (e) => {
        this.encoding = e;
      });
      source = (async function* () {
        for await (const r of parseCsv(text, { delimiter: delim, file }))
          yield { row: r.index, cells: r.fields };
      })();
    } else {
      source = readXlsxRows(opened.stream, file, o.sheet, (name) => {
        this.sheet = name;
      });
    }
    let headerSeen = o.headerRow === 0;
    let headerWidth = 0;
    const types: Record<string, ColumnType> = o.types ?? {};
    try {
      for await (const r of source) {
        if (!headerSeen) {
          if (r.row < o.headerRow) continue;
          // An XLSX sheet omits empty rows: a missing header row is an empty one.
          const header = r.row === o.headerRow ? r.cells : [];
          this.columns = readColumns(header, { ...o, file });
          headerWidth = header.length;
          headerSeen = true;
          if (r.row === o.headerRow) continue;
        }
        if (isBlank(r.cells)) continue;
        const values: Record<string, unknown> = {};
        for (const col of this.columns) {
          values[col.field] = this.value(r.cells[col.index], types[col.field], r.row, col.source, file);
        }
        // Cells right of the header row (every cell, without one) are named by their column letter.
        for (let i = headerWidth; i < r.cells.length; i++) {
          const cell = r.cells[i];
          if (o.headerRow > 0 && (cell === null || cell === '')) continue;
          const letter = columnLetter(i);
          const field = o.headers?.[letter] ?? (o.unmapped === 'keep' ? letter : undefined);
          if (field !== undefined) values[field] = this.value(cell, types[field], r.row, letter, file);
        }
        yield { row: r.row, values, raw: r.cells };
      }
      if (!headerSeen) this.columns = readColumns([], { ...o, file });
    } catch (err) {
      if (err instanceof QiaoError) throw err;
      throw classifyFsError(err, 'read', file);
    } finally {
      opened.stream.destroy();
    }
  }

  private value(
    cell: CellValue | undefined,
    type: ColumnType | undefined,
    row: number,
    column: string,
    file: string,
  ) {
    const v = this.opts.trim && typeof cell === 'string' ? cell.trim() : cell;
    return convertIn(v, type, () => `${file} row ${row}, column ${column}`);
  }
}
