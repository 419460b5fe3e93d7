/**
 * Builds the temporary file of a write or an append: CSV (in the chosen encoding, UTF-8 with a BOM by
 * default, CRLF line breaks as Excel writes them) or XLSX (bold frozen header, column widths). The
 * caller renames the temporary file over the target (see ledger.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, open } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import { PermanentError } from '../../core/errors.ts';
import { formatRecord, parseCsv } from './csv.ts';
import { bomFor, decodeChunks, encodeText } from './encoding.ts';
import { type ColumnType, toCell, toText, type WriteColumn } from './mapping.ts';
import type { CsvEncoding } from './settings.ts';
import type { FileFormat } from './table.ts';
import { displayWidth, writeXlsx, type XlsxCell } from './xlsx.ts';

export interface BuildOptions {
  format: FileFormat;
  encoding: CsvEncoding;
  /** Write a BOM (UTF-8 and UTF-16LE only). */
  bom: boolean;
  delimiter: string;
  newline: '\r\n' | '\n';
  sheet: string;
  types: Record<string, ColumnType>;
  timezone: string;
  /** The target's root-relative path, for messages. */
  file: string;
  /** CSV: prefix `'` to text that Excel would run as a formula (=, +, -, @). */
  escapeFormulas?: boolean;
}

const FLUSH_CHARS = 64 * 1024;
const MAX_XLSX_ROWS = 1_048_575;

function where(file: string, index: number, field: string): () => string {
  // Data row i is on sheet row i + 2 (row 1 is the header).
  return () => `${file} row ${index + 2}, column ${field}`;
}

/** Writes `rows` as a new CSV file at `tmp`: BOM, header, records. */
export async function buildCsv(
  tmp: string,
  columns: WriteColumn[],
  rows: Array<Record<string, unknown>>,
  o: BuildOptions,
  append?: { from: string; header: boolean; endsWithNewline: boolean },
): Promise<number> {
  if (append) await copyFile(append.from, tmp);
  const h = await open(tmp, append ? 'a' : 'w');
  try {
    let buf = '';
    let firstRow = 0;
    const flush = async (uptoRow: number) => {
      if (!buf) return;
      const from = firstRow;
      await h.write(encodeText(buf, o.encoding, () => `${o.file} rows ${from + 2}–${uptoRow + 2}`));
      buf = '';
      firstRow = uptoRow + 1;
    };
    if (!append) {
      if (o.bom) await h.write(bomFor(o.encoding));
      buf +=
        formatRecord(
          columns.map((c) => c.label),
          o.delimiter,
        ) + o.newline;
    } else if (!append.endsWithNewline) buf += o.newline;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      buf +=
        formatRecord(
          columns.map((c) => csvText(r[c.field], o.types[c.field], o, where(o.file, i, c.field))),
          o.delimiter,
        ) + o.newline;
      if (buf.length >= FLUSH_CHARS) await flush(i);
    }
    await flush(rows.length - 1);
    await h.sync();
  } finally {
    await h.close();
  }
  return rows.length;
}

/**
 * Text Excel would evaluate when a person opens the CSV (`=HYPERLINK(…)`, `@SUM(…)`, `+cmd|…`): the
 * "CSV injection" OWASP describes. Numbers such as -5 or +86 are left alone.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function escapeFormula(text: string): string {
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

/** A value as CSV text; a declared date/number type normalises it the way a read would. */
function csvText(value: unknown, type: ColumnType | undefined, o: BuildOptions, at: () => string): string {
  const text = csvValue(value, type, o, at);
  return o.escapeFormulas && typeof value === 'string' ? escapeFormula(text) : text;
}

function csvValue(value: unknown, type: ColumnType | undefined, o: BuildOptions, at: () => string): string {
  if (type && type !== 'string' && value !== null && value !== undefined && value !== '') {
    const cell = toCell(value, type, o.timezone, at);
    if (cell.value instanceof Date) {
      const iso = cell.value.toISOString();
      return type === 'date' ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
    }
    return toText(cell.value);
  }
  return toText(value);
}

/** Column widths in Excel units: the widest of header and values, CJK counted double, 8–60. */
function widths(columns: WriteColumn[], cells: XlsxCell[][]): number[] {
  return columns.map((c, i) => {
    let w = displayWidth(c.label);
    for (const row of cells) {
      const v = row[i]?.value;
      const len =
        v instanceof Date
          ? row[i].numFmt?.includes('h')
            ? 19
            : 10
          : v === null || v === undefined
            ? 0
            : displayWidth(String(v));
      if (len > w) w = len;
      if (w >= 60) break;
    }
    return Math.min(60, Math.max(8, w + 2));
  });
}

function toCells(
  columns: WriteColumn[],
  rows: Array<Record<string, unknown>>,
  o: BuildOptions,
): XlsxCell[][] {
  if (rows.length > MAX_XLSX_ROWS) {
    const message = `${o.file}: ${rows.length} rows do not fit one sheet (Excel's limit is ${MAX_XLSX_ROWS} below the header); write CSV or split the export`;
    throw new PermanentError(message, {
      fault: 'user',
      partner: { system: 'file', code: 'TOO_MANY_ROWS', message },
    });
  }
  return rows.map((r, i) =>
    columns.map((c) => toCell(r[c.field], o.types[c.field], o.timezone, where(o.file, i, c.field))),
  );
}

/** Writes `rows` as a new one-sheet workbook at `tmp`. */
export async function buildXlsx(
  tmp: string,
  columns: WriteColumn[],
  rows: Array<Record<string, unknown>>,
  o: BuildOptions,
): Promise<number> {
  const cells = toCells(columns, rows, o);
  const w = widths(columns, cells);
  // exceljs ends the stream itself and resolves once it has finished; an error of the stream (the
  // disk is full) must end the wait too, or the write would hang.
  const stream = createWriteStream(tmp);
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => {});
  await Promise.race([
    writeXlsx(
      stream,
      o.sheet,
      columns.map((c, i) => ({ label: c.label, width: w[i] })),
      cells,
    ),
    failed,
  ]);
  await syncFile(tmp);
  return rows.length;
}

/** The header (labels) of an existing CSV, its encoding, and whether it ends with a line break. */
export async function csvHeader(
  abs: string,
  file: string,
  encoding: CsvEncoding,
  delimiter: string,
): Promise<{ labels: string[]; encoding: string; endsWithNewline: boolean }> {
  let used = encoding as string;
  let labels: string[] = [];
  const stream = createReadStream(abs, { highWaterMark: 64 * 1024 });
  try {
    const text = decodeChunks(stream, encoding, file, (e) => {
      used = e;
    });
    for await (const r of parseCsv(text, { delimiter, file })) {
      labels = r.fields;
      break;
    }
  } finally {
    stream.destroy();
  }
  const h = await open(abs, 'r');
  try {
    const size = (await h.stat()).size;
    const tail = Buffer.alloc(Math.min(2, size));
    if (size) await h.read(tail, 0, tail.length, size - tail.length);
    // 0x0a ends a line in UTF-8/GBK; in UTF-16LE it is the first byte of "\n\0".
    return { labels, encoding: used, endsWithNewline: size === 0 || tail.includes(0x0a) };
  } finally {
    await h.close();
  }
}

/** Appends rows to an existing workbook's sheet (read whole: result files are import-sized). */
export async function appendXlsx(
  from: string,
  tmp: string,
  fields: (labels: string[]) => WriteColumn[],
  rows: Array<Record<string, unknown>>,
  o: BuildOptions,
): Promise<number> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(from);
  const ws = wb.getWorksheet(o.sheet) ?? wb.worksheets[0];
  if (!ws) {
    const message = `${o.file}: the workbook has no sheet to append to`;
    throw new PermanentError(message, {
      fault: 'user',
      partner: { system: 'file', code: 'UNKNOWN_SHEET', message },
    });
  }
  const labels: string[] = [];
  ws.getRow(1).eachCell({ includeEmpty: true }, (cell, col) => {
    labels[col - 1] = cell.value === null || cell.value === undefined ? '' : String(cell.value);
  });
  const columns = fields(labels);
  const cells = toCells(columns, rows, o);
  for (const rowCells of cells) {
    const r = ws.addRow(rowCells.map((c) => c.value));
    rowCells.forEach((c, i) => {
      if (c.numFmt) r.getCell(i + 1).numFmt = c.numFmt;
    });
  }
  await wb.xlsx.writeFile(tmp);
  await syncFile(tmp);
  return rows.length;
}

/** Flushes a finished file to disk before it is recorded and renamed. */
async function syncFile(file: string): Promise<void> {
  const h = await open(file, 'r+');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
