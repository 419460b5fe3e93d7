/**
 * The `headers` map and column types, shared by read, write, the result file and the poll trigger.
 *
 * One map (source header → field name, e.g. `客户名称: name`) serves both directions: a read renames
 * the partner's headers to field names, a write renames field names back to the partner's headers. So
 * an export from one system and an import into another use the same mapping.
 */
import { z } from 'zod';
import { PermanentError } from '../../core/errors.ts';
import type { XlsxCell } from './xlsx.ts';

export const COLUMN_TYPES = ['string', 'number', 'integer', 'boolean', 'date', 'datetime'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Source header → field name. */
export const headersMap = z.record(z.string().min(1), z.string().min(1));
/** Field name → type, for conversion on read and cell types on write. */
export const typesMap = z.record(z.string().min(1), z.enum(COLUMN_TYPES));

export interface ReadColumn {
  /** 0-based column index in the file. */
  index: number;
  /** The header as the file has it (or the column letter without a header row). */
  source: string;
  field: string;
}

/** Excel's column letters: 0 → A, 25 → Z, 26 → AA. */
export function columnLetter(index: number): string {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/**
 * The columns a read yields: headers trimmed, empty ones named by their column letter, repeated ones
 * numbered (`备注`, `备注_2`), then renamed by the map. Unmapped columns are kept under their own
 * header unless `unmapped` is `drop`. A required field missing from the file is an error naming it.
 */
export function readColumns(
  header: unknown[],
  opts: { headers?: Record<string, string>; unmapped: 'keep' | 'drop'; required?: string[]; file: string },
): ReadColumn[] {
  const seen = new Map<string, number>();
  const cols: ReadColumn[] = [];
  header.forEach((h, index) => {
    let source = h === null || h === undefined ? '' : String(h).trim();
    if (source === '') source = columnLetter(index);
    const n = (seen.get(source) ?? 0) + 1;
    seen.set(source, n);
    if (n > 1) source = `${source}_${n}`;
    const mapped = opts.headers?.[source];
    if (mapped === undefined && opts.unmapped === 'drop') return;
    cols.push({ index, source, field: mapped ?? source });
  });
  const missing = (opts.required ?? []).filter((f) => !cols.some((c) => c.field === f));
  if (missing.length) {
    const reverse = invertHeaders(opts.headers);
    const names = missing.map((f) => (reverse.get(f) ? `${reverse.get(f)} (${f})` : f));
    const message = `${opts.file}: required column${names.length > 1 ? 's' : ''} missing: ${names.join(', ')}; the header row has ${cols.map((c) => c.source).join(', ') || 'no columns'}`;
    throw new PermanentError(message, {
      fault: 'user',
      partner: { system: 'file', code: 'MISSING_COLUMN', message, operation: 'read' },
    });
  }
  return cols;
}

/** Field name → source header; when two headers map to one field, the first wins. */
export function invertHeaders(headers: Record<string, string> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [source, field] of Object.entries(headers ?? {})) if (!out.has(field)) out.set(field, source);
  return out;
}

export interface WriteColumn {
  field: string;
  label: string;
}

/**
 * The columns a write produces: `columns` (field names) in that order; else the map's fields in the
 * map's order, then every other key in the order first met in the rows. Labels come from the map in
 * reverse.
 */
export function writeColumns(
  rows: Array<Record<string, unknown>>,
  opts: { headers?: Record<string, string>; columns?: string[] },
): WriteColumn[] {
  const reverse = invertHeaders(opts.headers);
  let fields: string[];
  if (opts.columns?.length) fields = [...new Set(opts.columns)];
  else {
    const set = new Set<string>(reverse.keys());
    for (const r of rows) for (const k of Object.keys(r)) set.add(k);
    fields = [...set];
  }
  return fields.map((field) => ({ field, label: reverse.get(field) ?? field }));
}

function conversionError(where: string, value: unknown, what: string): PermanentError {
  const message = `${where}: ${JSON.stringify(value)} is not ${what}`;
  return new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'BAD_VALUE', message, operation: 'read' },
  });
}

const pad = (n: number | string, w = 2) => String(n).padStart(w, '0');

/** Dates as people type them in China: 2026-03-10, 2026/3/10, 2026.3.10, 2026年3月10日, 20260310. */
const DATE_RE = /^(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))$/;
const DATETIME_RE =
  /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

function validDate(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** `YYYY-MM-DD` of a date in one of the accepted forms, or undefined. */
export function parseDate(s: string): string | undefined {
  const m = DATE_RE.exec(s) ?? DATETIME_RE.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2] ?? m[4]);
  const d = Number(m[3] ?? m[5]);
  return validDate(y, mo, d) ? `${pad(y, 4)}-${pad(mo)}-${pad(d)}` : undefined;
}

/** `YYYY-MM-DDTHH:mm:ss[.sss]` (local) or with its zone as given, or undefined. */
export function parseDateTime(s: string): string | undefined {
  const m = DATETIME_RE.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', ms, zone] = m;
  if (!validDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59)
    return undefined;
  const z =
    zone === undefined
      ? ''
      : zone === 'Z'
        ? 'Z'
        : zone.includes(':')
          ? zone
          : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:${pad(sec)}${ms ? `.${ms.padEnd(3, '0')}` : ''}${z}`;
}

/** Excel serial day number (as XLSX stores dates) → Date with the wall clock in its UTC fields. */
function fromSerial(n: number): Date {
  return new Date(Math.round((n - 25569) * 86_400_000));
}

/**
 * Converts a read value to its declared type. Empty values become null; a value that is not of the
 * type stops the read with the row and column (an import must not guess).
 */
export function convertIn(value: unknown, type: ColumnType | undefined, where: () => string): unknown {
  if (type === undefined) return value ?? '';
  if (value === null || value === undefined || (typeof value === 'string' && value.trim() === ''))
    return null;
  const text = typeof value === 'string' ? value.trim() : value;
  switch (type) {
    case 'string':
      return String(value);
    case 'number':
    case 'integer': {
      let n: number;
      if (typeof text === 'number') n = text;
      else if (typeof text === 'string') {
        // Thousands separators and a currency sign are how amounts look in Chinese spreadsheets.
        const cleaned = text.replace(/^[¥￥]/, '').replace(/[,，\s]/g, '');
        n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(cleaned) ? Number(cleaned) : Number.NaN;
      } else n = Number.NaN;
      if (!Number.isFinite(n)) throw conversionError(where(), value, 'a number');
      if (type === 'integer' && !Number.isInteger(n)) throw conversionError(where(), value, 'a whole number');
      return n;
    }
    case 'boolean': {
      if (typeof text === 'boolean') return text;
      const t = String(text).toLowerCase();
      if (['true', '1', 'yes', 'y', '是', '对', 't'].includes(t)) return true;
      if (['false', '0', 'no', 'n', '否', '错', 'f'].includes(t)) return false;
      throw conversionError(where(), value, 'true/false (是/否, 1/0)');
    }
    case 'date': {
      if (typeof text === 'number') return isoDate(fromSerial(text));
      const d = parseDate(String(text));
      if (!d) throw conversionError(where(), value, 'a date (2026-03-10)');
      return d;
    }
    case 'datetime': {
      if (typeof text === 'number') return isoLocal(fromSerial(text));
      const d = parseDateTime(String(text));
      if (!d) throw conversionError(where(), value, 'a date-time (2026-03-10 08:30:00)');
      return d;
    }
  }
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function isoLocal(d: Date): string {
  const s = d.toISOString();
  return s.endsWith('.000Z') ? s.slice(0, 19) : s.slice(0, 23);
}

/** A value as CSV text: numbers and booleans as JS prints them, objects as JSON, null as empty. */
export function toText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** Wall-clock fields of an instant in a time zone, as a Date whose UTC fields hold them. */
function wallClock(instant: Date, tz: string): Date {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  return new Date(
    Date.UTC(
      get('year'),
      get('month') - 1,
      get('day'),
      get('hour'),
      get('minute'),
      get('second'),
      instant.getUTCMilliseconds(),
    ),
  );
}

export const DATE_FORMAT = 'yyyy-mm-dd';
export const DATETIME_FORMAT = 'yyyy-mm-dd hh:mm:ss';

/**
 * A value as an XLSX cell. Numbers stay numbers and text stays text (so `001` keeps its zeros); an
 * ISO date (`2026-03-10`) or date-time (`2026-03-10T08:30:00`, with or without a zone) becomes a date
 * cell. A declared type forces the cell type (`number` makes "1,280.00" the number 1280).
 */
export function toCell(
  value: unknown,
  type: ColumnType | undefined,
  tz: string,
  where: () => string,
): XlsxCell {
  if (value === null || value === undefined || value === '') return { value: null };
  if (type && type !== 'string') {
    const v = convertIn(value, type, where);
    if (v === null) return { value: null };
    if (type === 'date') return { value: new Date(`${v}T00:00:00Z`), numFmt: DATE_FORMAT };
    if (type === 'datetime') return dateTimeCell(v as string, tz);
    return { value: v as number | boolean };
  }
  if (type === 'string') return { value: toText(value) };
  if (typeof value === 'number' || typeof value === 'boolean') return { value };
  if (typeof value === 'string') {
    if (/^\d{4}-\d{2}-\d{2}$/.test(value) && parseDate(value))
      return { value: new Date(`${value}T00:00:00Z`), numFmt: DATE_FORMAT };
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.test(value)) {
      const dt = parseDateTime(value);
      if (dt) return dateTimeCell(dt, tz);
    }
    return { value };
  }
  return { value: toText(value) };
}

function dateTimeCell(iso: string, tz: string): XlsxCell {
  const zoned = /(Z|[+-]\d{2}:\d{2})$/.test(iso);
  const d = zoned ? wallClock(new Date(iso), tz) : new Date(`${iso}Z`);
  return { value: d, numFmt: DATETIME_FORMAT };
}
