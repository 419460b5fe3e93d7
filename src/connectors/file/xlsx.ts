/**
 * XLSX through exceljs, streamed both ways: the reader walks the zip and yields one row at a time
 * (shared strings and styles are cached, rows are not), the writer commits each row as it goes.
 *
 * Cell values come out as JSON values: text, numbers, booleans, and dates as text — `2026-03-10` for a
 * date, `2026-03-10T08:30:00` for a date-time. Excel stores wall-clock times without a zone, so a
 * date-time read from a sheet carries no zone either (ISO 8601 local time).
 */
import type { Readable, Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { PermanentError } from '../../core/errors.ts';

export type CellValue = string | number | boolean | null;

export interface SheetRow {
  /** The row number Excel shows. */
  row: number;
  /** Values by column, 0-based; missing cells are null. */
  cells: CellValue[];
}

export function unknownSheet(file: string, wanted: string | number, names: string[]): PermanentError {
  const which = typeof wanted === 'number' ? `sheet ${wanted}` : `sheet '${wanted}'`;
  const message = `${file}: ${which} not found; the workbook has ${names.length ? names.map((n, i) => `${i + 1}. ${n}`).join(', ') : 'no sheets'}`;
  return new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'UNKNOWN_SHEET', message, operation: 'read' },
  });
}

export function badXlsx(file: string, detail: string): PermanentError {
  const message = `${file}: not a readable XLSX workbook (${detail}); an .xls (Excel 97-2003) file must be saved as .xlsx or .csv`;
  return new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'BAD_XLSX', message: detail, operation: 'read' },
  });
}

/** Number formats: strip colours/locales (`[Red]`, `[$-804]`), quoted literals and escapes first. */
function fmtCore(fmt: string | undefined): string {
  return (fmt ?? '')
    .replace(/\[(?:h+|m+|s+)\]/gi, 'h')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '');
}

export function isDateFormat(fmt: string | undefined): boolean {
  return /[ymdhs]/i.test(fmtCore(fmt).replace(/General/gi, ''));
}

function hasTime(fmt: string | undefined): boolean {
  const core = fmtCore(fmt);
  return /[hs]/i.test(core) || /AM\/PM|A\/P/i.test(core);
}

function hasDate(fmt: string | undefined): boolean {
  return /[yd]/i.test(fmtCore(fmt)) || /m/i.test(fmtCore(fmt).replace(/[hH]+:mm|mm:[sS]+/g, ''));
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** An Excel date (a Date whose UTC fields are the wall clock) as ISO text, by its number format. */
export function excelDateText(d: Date, fmt: string | undefined): string {
  if (Number.isNaN(d.getTime())) return '';
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const ms = d.getUTCMilliseconds();
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${ms ? `.${pad(ms, 3)}` : ''}`;
  const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0 && d.getUTCSeconds() === 0 && ms === 0;
  // A time of day without a date (format `hh:mm`, value below 1) is Excel's day 0, 1899-12-30.
  if (!hasDate(fmt) && hasTime(fmt) && date === '1899-12-30') return time;
  if (hasTime(fmt) || !midnight) return `${date}T${time}`;
  return date;
}

function normalise(v: unknown, fmt: string | undefined): CellValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    // A formula's result is not converted by exceljs even when the cell is formatted as a date.
    if (isDateFormat(fmt)) return excelDateText(new Date(Math.round((v - 25569) * 86_400_000)), fmt);
    return v;
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) return excelDateText(v, fmt);
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.richText))
      return (o.richText as Array<{ text?: string }>).map((r) => r.text ?? '').join('');
    if ('result' in o) return normalise(o.result, fmt);
    if ('formula' in o || 'sharedFormula' in o) return null;
    if ('text' in o) return normalise(o.text, fmt);
    if ('error' in o) return String(o.error);
  }
  return String(v);
}

interface SheetInfo {
  name: string;
  id: number;
  rId: string;
}

/**
 * Rows of one sheet of a workbook read from `input`. `sheet` is a name or a 1-based position in the
 * workbook's tab order; the first tab by default. `onSheet` receives the sheet's name before the first
 * row. Stopping the iteration early destroys the input, so paging never reads past the page.
 */
export async function* readXlsxRows(
  input: Readable,
  file: string,
  sheet: string | number | undefined,
  onSheet?: (name: string) => void,
): AsyncGenerator<SheetRow> {
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, {
    worksheets: 'emit',
    sharedStrings: 'cache',
    styles: 'cache',
    hyperlinks: 'ignore',
    entries: 'ignore',
  });
  const wanted = sheet ?? 1;
  const model = () =>
    ((reader as unknown as { model?: { sheets?: SheetInfo[] } }).model?.sheets ?? []) as SheetInfo[];
  let found = false;
  try {
    for await (const ws of reader) {
      const w = ws as unknown as { name: string } & AsyncIterable<ExcelJS.Row>;
      const position = model().findIndex((s) => s.name === w.name) + 1;
      if (typeof wanted === 'number' ? position !== wanted : w.name !== wanted) continue;
      found = true;
      onSheet?.(w.name);
      for await (const row of w) {
        const cells: CellValue[] = [];
        row.eachCell({ includeEmpty: false }, (cell, col) => {
          while (cells.length < col - 1) cells.push(null);
          cells[col - 1] = normalise(cell.value, cell.numFmt);
        });
        yield { row: row.number, cells };
      }
      break;
    }
  } catch (err) {
    if (err instanceof PermanentError) throw err;
    const e = err as NodeJS.ErrnoException;
    // File-system errors (EBUSY…) are classified by the caller; everything else is a damaged zip/XML.
    if (e?.code && /^E[A-Z]+$/.test(e.code)) throw err;
    throw badXlsx(file, e?.message ?? String(err));
  } finally {
    input.destroy();
  }
  if (!found)
    throw unknownSheet(
      file,
      wanted,
      model().map((s) => s.name),
    );
}

export interface XlsxCell {
  value: string | number | boolean | Date | null;
  numFmt?: string;
}

export interface XlsxColumn {
  label: string;
  width: number;
}

/**
 * Writes one sheet: a bold, frozen header row, the given column widths, then the rows. Dates are
 * Date objects whose UTC fields are the wall clock, with their number format.
 */
export async function writeXlsx(
  out: Writable,
  sheetName: string,
  columns: XlsxColumn[],
  rows: Iterable<XlsxCell[]>,
): Promise<number> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: true });
  const ws = wb.addWorksheet(sheetName, { views: [{ state: 'frozen', ySplit: 1 }] });
  ws.columns = columns.map((c) => ({ width: c.width }));
  const header = ws.addRow(columns.map((c) => c.label));
  header.font = { bold: true };
  header.commit();
  let n = 0;
  for (const cells of rows) {
    const r = ws.addRow(cells.map((c) => c.value));
    cells.forEach((c, i) => {
      if (c.numFmt) r.getCell(i + 1).numFmt = c.numFmt;
    });
    r.commit();
    n++;
  }
  ws.commit();
  await wb.commit();
  return n;
}

/** Excel's sheet name rules: 1–31 characters, none of `[]:*?/\`. */
export function checkSheetName(name: string): string | undefined {
  if (name.length === 0 || name.length > 31) return 'a sheet name has 1 to 31 characters';
  if (/[[\]:*?/\\]/.test(name)) return 'a sheet name cannot hold [ ] : * ? / \\';
  return undefined;
}

/** Display width of text in Excel's character units: CJK and full-width characters count two. */
export function displayWidth(text: string): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    w +=
      (cp >= 0x1100 && cp <= 0x115f) ||
      (cp >= 0x2e80 && cp <= 0xa4cf) ||
      (cp >= 0xac00 && cp <= 0xd7a3) ||
      (cp >= 0xf900 && cp <= 0xfaff) ||
      (cp >= 0xfe30 && cp <= 0xfe4f) ||
      (cp >= 0xff00 && cp <= 0xff60) ||
      (cp >= 0xffe0 && cp <= 0xffe6) ||
      cp >= 0x20000
        ? 2
        : 1;
  }
  return w;
}
