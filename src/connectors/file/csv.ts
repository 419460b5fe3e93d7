/**
 * CSV as RFC 4180 describes it and Excel writes it: fields separated by a delimiter, records by CRLF
 * (LF and a lone CR are accepted too), a field in double quotes may hold delimiters, quotes (doubled)
 * and line breaks. The parser is incremental: it takes text chunks of any size and keeps only the
 * record in progress, so a file of any length is read in constant memory.
 *
 * Malformed input is refused with the line it is on: an unterminated quote (reported at the line the
 * quoted field starts) and a character after a closing quote (`"abc"x`). A quote inside an unquoted
 * field (`5" screen`) is taken literally, as Excel does.
 */
import { PermanentError } from '../../core/errors.ts';

export interface CsvRecord {
  fields: string[];
  /** 1-based number of the record in the file (the row Excel shows it on). */
  index: number;
  /** 1-based line the record starts on (differs from `index` after quoted line breaks). */
  line: number;
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

export function malformedCsv(file: string, line: number, what: string): PermanentError {
  const message = `${file}: malformed CSV at line ${line}: ${what}`;
  return new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'MALFORMED_CSV', message, operation: 'read' },
  });
}

export class CsvParser {
  private readonly delim: number;
  private readonly file: string;
  private fields: string[] = [];
  private field = '';
  /** Inside a quoted field. */
  private quoted = false;
  /** Just after the closing quote of a quoted field: a doubled quote, a delimiter or a line break follows. */
  private closed = false;
  private fieldStart = true;
  /** Anything consumed since the last record ended. */
  private started = false;
  /** A CR ended the previous chunk: an LF starting the next one belongs to it. */
  private skipLf = false;
  private line = 1;
  private recordLine = 1;
  private quoteLine = 1;
  private index = 0;

  constructor(opts: { delimiter: string; file: string }) {
    this.delim = opts.delimiter.charCodeAt(0);
    this.file = opts.file;
  }

  /** Parses a chunk; returns the records it completed. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    const n = text.length;
    let i = 0;
    if (this.skipLf && n > 0) {
      if (text.charCodeAt(0) === LF) i = 1;
      this.skipLf = false;
    }
    while (i < n) {
      if (this.quoted) {
        const q = text.indexOf('"', i);
        const end = q === -1 ? n : q;
        const seg = text.slice(i, end);
        this.field += seg;
        this.line += countLines(seg);
        if (q === -1) break;
        this.quoted = false;
        this.closed = true;
        i = q + 1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (this.closed) {
        this.closed = false;
        if (c === QUOTE) {
          // A doubled quote inside a quoted field is one quote.
          this.field += '"';
          this.quoted = true;
          i++;
          continue;
        }
        if (c !== this.delim && c !== CR && c !== LF) {
          throw malformedCsv(
            this.file,
            this.line,
            `unexpected ${JSON.stringify(text[i])} after the closing quote of a field (a quote inside a quoted field is written "")`,
          );
        }
      } else if (this.fieldStart && c === QUOTE) {
        this.quoted = true;
        this.started = true;
        this.fieldStart = false;
        this.quoteLine = this.line;
        i++;
        continue;
      } else {
        let j = i;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === this.delim || d === CR || d === LF) break;
          j++;
        }
        if (j > i) {
          this.field += text.slice(i, j);
          this.started = true;
          this.fieldStart = false;
          i = j;
          if (i >= n) break;
        }
      }
      const d = text.charCodeAt(i);
      this.started = true;
      this.fields.push(this.field);
      this.field = '';
      this.fieldStart = true;
      i++;
      if (d === this.delim) continue;
      // A line break ends the record; CRLF counts once.
      if (d === CR) {
        if (i < n) {
          if (text.charCodeAt(i) === LF) i++;
        } else this.skipLf = true;
      }
      out.push(this.endRecord());
      this.line++;
      this.recordLine = this.line;
    }
    return out;
  }

  /** Ends the input: the last record may lack its line break; an open quote is an error. */
  end(): CsvRecord[] {
    if (this.quoted) {
      throw malformedCsv(
        this.file,
        this.quoteLine,
        'a quoted field is never closed (unterminated quote); the file may be cut short or hold a stray "',
      );
    }
    if (!this.started) return [];
    this.fields.push(this.field);
    this.field = '';
    return [this.endRecord()];
  }

  private endRecord(): CsvRecord {
    const r = { fields: this.fields, index: ++this.index, line: this.recordLine };
    this.fields = [];
    this.started = false;
    this.closed = false;
    this.fieldStart = true;
    return r;
  }
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

/** Records of a stream of text chunks, one at a time. */
export async function* parseCsv(
  chunks: AsyncIterable<string>,
  opts: { delimiter: string; file: string },
): AsyncGenerator<CsvRecord> {
  const p = new CsvParser(opts);
  for await (const text of chunks) yield* p.push(text);
  yield* p.end();
}

/** One field as CSV: quoted when it holds the delimiter, a quote, a line break or edge spaces. */
export function formatField(value: string, delimiter: string): string {
  if (
    value.includes(delimiter) ||
    value.includes('"') ||
    value.includes('\n') ||
    value.includes('\r') ||
    (value.length > 0 && (value[0] === ' ' || value[value.length - 1] === ' '))
  ) {
    return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

/** One record as CSV, without its line break. */
export function formatRecord(fields: string[], delimiter: string): string {
  return fields.map((f) => formatField(f, delimiter)).join(delimiter);
}
