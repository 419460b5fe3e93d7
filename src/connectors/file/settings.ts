/**
 * The settings of a `file` connection (CSV/XLSX in a folder), validated once with precise messages.
 * Documented in docs/connectors/file.md.
 */
import { z } from 'zod';

/** Text encodings a CSV may be read or written in. A BOM in the file overrides the setting on read. */
export const CSV_ENCODINGS = ['utf-8', 'gbk', 'gb18030', 'utf-16le'] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

export const csvEncoding = z.enum(CSV_ENCODINGS, {
  error: `encoding is one of ${CSV_ENCODINGS.join(', ')} (Excel on Chinese Windows saves "CSV" as gbk)`,
});

/** One character; `\t` for tab-separated files. */
export const delimiter = z
  .string()
  .length(1, { error: 'delimiter is one character, such as "," or ";" or "\\t"' })
  .refine((d) => !/["\r\n]/.test(d), { error: 'delimiter cannot be a quote or a line break' });

export const timezone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: 'timezone is an IANA name such as Asia/Shanghai' },
);

export const fileSettings = z.strictObject({
  /**
   * The folder every path in a flow is relative to. Paths must stay inside it: `..` and absolute paths
   * are refused, and so are symbolic links that lead out of it.
   */
  root: z.string().min(1, { error: 'root is required: the folder the files live in' }),
  /** Default encoding of CSV files (read and write). `utf-8` unless the partner's files say otherwise. */
  encoding: csvEncoding.default('utf-8'),
  /** Default CSV field separator. */
  delimiter: delimiter.default(','),
  /**
   * XLSX cells hold wall-clock times without a zone. A date-time with a zone (`…Z`, `…+08:00`) is
   * written as the wall-clock time in this zone; Chinese companies want Asia/Shanghai.
   */
  timezone: timezone.default('Asia/Shanghai'),
});

export type FileSettings = z.output<typeof fileSettings>;
