/**
 * Text encodings of CSV files. Excel on Chinese Windows saves "CSV" in GBK (code page 936) and opens
 * a UTF-8 CSV correctly only when it starts with a BOM; Excel's "Unicode text" is UTF-16LE with a BOM.
 * So on read a BOM wins over the configured encoding, and on write UTF-8 gets a BOM by default.
 *
 * Decoding uses the WHATWG TextDecoder (full ICU in Node has gbk and gb18030); a byte sequence that is
 * not a character becomes U+FFFD, which we refuse with the line it is on: a mis-declared encoding
 * must stop an import, not fill the ERP with "��". Encoding GBK/GB18030 uses iconv-lite.
 */
import iconv from 'iconv-lite';
import { PermanentError } from '../../core/errors.ts';
import type { CsvEncoding } from './settings.ts';

export type ReadEncoding = CsvEncoding | 'utf-16be';

const BOMS: Array<{ bytes: number[]; encoding: ReadEncoding }> = [
  { bytes: [0xef, 0xbb, 0xbf], encoding: 'utf-8' },
  { bytes: [0xff, 0xfe], encoding: 'utf-16le' },
  { bytes: [0xfe, 0xff], encoding: 'utf-16be' },
];

/** The encoding a BOM at the start of `head` announces, and the BOM's length. */
export function detectBom(head: Uint8Array): { encoding: ReadEncoding; length: number } | undefined {
  for (const b of BOMS) {
    if (head.length >= b.bytes.length && b.bytes.every((x, i) => head[i] === x))
      return { encoding: b.encoding, length: b.bytes.length };
  }
  return undefined;
}

export function badEncoding(file: string, encoding: string, line: number): PermanentError {
  const hint =
    encoding === 'utf-8'
      ? '; a CSV saved by Excel on Chinese Windows is gbk: set encoding: gbk'
      : encoding === 'gbk'
        ? '; if the file is UTF-8 without a BOM, set encoding: utf-8 (gb18030 covers characters gbk lacks)'
        : '';
  const message = `${file}: line ${line} is not valid ${encoding} (a byte sequence that is no character)${hint}`;
  return new PermanentError(message, {
    fault: 'user',
    partner: { system: 'file', code: 'BAD_ENCODING', message, operation: 'read' },
  });
}

function countNewlines(text: string, end = text.length): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/**
 * Decodes a byte stream to text chunks. A BOM overrides `configured`; the BOM is not part of the
 * text. Reports the encoding actually used through `onEncoding` before the first chunk.
 */
export async function* decodeChunks(
  source: AsyncIterable<Buffer>,
  configured: CsvEncoding,
  file: string,
  onEncoding?: (e: ReadEncoding) => void,
): AsyncGenerator<string> {
  let decoder: TextDecoder | undefined;
  let encoding: ReadEncoding = configured;
  let head: Buffer = Buffer.alloc(0);
  let line = 1;
  const emit = (text: string): string => {
    const bad = text.indexOf('\uFFFD');
    if (bad !== -1) throw badEncoding(file, encoding, line + countNewlines(text, bad));
    line += countNewlines(text);
    return text;
  };
  const start = (bytes: Buffer): Buffer => {
    const bom = detectBom(bytes);
    if (bom) encoding = bom.encoding;
    onEncoding?.(encoding);
    // ignoreBOM: the BOM is removed here, and a second one inside the data is data.
    decoder = new TextDecoder(encoding, { ignoreBOM: true });
    return bom ? bytes.subarray(bom.length) : bytes;
  };
  for await (const chunk of source) {
    let bytes: Buffer = chunk;
    if (!decoder) {
      // Wait for three bytes so a BOM split across reads is still seen.
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      if (head.length < 3) continue;
      bytes = start(head);
    }
    const text = decoder!.decode(bytes, { stream: true });
    if (text) yield emit(text);
  }
  // A file shorter than three bytes never started the decoder in the loop.
  const rest = decoder ? Buffer.alloc(0) : start(head);
  const tail = decoder!.decode(rest);
  if (tail) yield emit(tail);
}

/** Characters GBK cannot hold would be written as `?` by iconv-lite; we refuse them instead. */
export function encodeText(text: string, encoding: CsvEncoding, where: () => string): Buffer {
  switch (encoding) {
    case 'utf-8':
      return Buffer.from(text, 'utf8');
    case 'utf-16le':
      return Buffer.from(text, 'utf16le');
    case 'gb18030':
      // GB18030 maps every Unicode code point.
      return iconv.encode(text, 'gb18030');
    case 'gbk': {
      const out = iconv.encode(text, 'gbk');
      if (iconv.decode(out, 'gbk') !== text) {
        const bad = [...text].find((ch) => iconv.decode(iconv.encode(ch, 'gbk'), 'gbk') !== ch) ?? '?';
        const cp = `U+${bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
        const message = `${where()}: '${bad}' (${cp}) cannot be written in gbk; use encoding gb18030 or utf-8`;
        throw new PermanentError(message, {
          fault: 'user',
          partner: { system: 'file', code: 'UNENCODABLE', message, operation: 'write' },
        });
      }
      return out;
    }
  }
}

/** The BOM written before the text, by default for the Unicode encodings (Excel needs it). */
export function bomFor(encoding: CsvEncoding): Buffer {
  if (encoding === 'utf-8') return Buffer.from([0xef, 0xbb, 0xbf]);
  if (encoding === 'utf-16le') return Buffer.from([0xff, 0xfe]);
  return Buffer.alloc(0);
}
