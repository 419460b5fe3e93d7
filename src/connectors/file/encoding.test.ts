import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { QiaoError } from '../../core/errors.ts';
import { decodeChunks, detectBom, encodeText } from './encoding.ts';
import type { CsvEncoding } from './settings.ts';

async function decode(bytes: Buffer, enc: CsvEncoding, chunk = bytes.length || 1) {
  let used = '';
  async function* source() {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  let text = '';
  for await (const t of decodeChunks(source(), enc, 't.csv', (e) => {
    used = e;
  }))
    text += t;
  return { text, used };
}

const TEXT = '客户编码,客户名称\r\nC0001,苏州华锐精密机械有限公司\r\n';

describe('CSV encodings', () => {
  it('detects UTF-8, UTF-16LE and UTF-16BE byte-order marks', () => {
    assert.deepEqual(detectBom(Buffer.from([0xef, 0xbb, 0xbf, 0x41])), { encoding: 'utf-8', length: 3 });
    assert.deepEqual(detectBom(Buffer.from([0xff, 0xfe, 0x41, 0])), { encoding: 'utf-16le', length: 2 });
    assert.deepEqual(detectBom(Buffer.from([0xfe, 0xff, 0, 0x41])), { encoding: 'utf-16be', length: 2 });
    assert.equal(detectBom(Buffer.from('ab')), undefined);
  });

  it('decodes every encoding whatever the chunking (multi-byte characters and BOMs split across reads)', async () => {
    const cases: Array<[Buffer, CsvEncoding, string]> = [
      [Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT)]), 'gbk', 'utf-8'],
      [Buffer.from(TEXT), 'utf-8', 'utf-8'],
      [iconv.encode(TEXT, 'gbk'), 'gbk', 'gbk'],
      [iconv.encode(`${TEXT}𠀀`, 'gb18030'), 'gb18030', 'gb18030'],
      [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TEXT, 'utf16le')]), 'utf-8', 'utf-16le'],
      [
        Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(TEXT, 'utf16le').swap16()]),
        'utf-8',
        'utf-16be',
      ],
    ];
    for (const [bytes, told, used] of cases) {
      const want = used === 'gb18030' ? `${TEXT}𠀀` : TEXT;
      for (const chunk of [1, 2, 3, 7, bytes.length]) {
        const got = await decode(bytes, told, chunk);
        assert.deepEqual(got, { text: want, used }, `${used} in chunks of ${chunk}`);
      }
    }
  });

  it('decodes files shorter than a BOM, and empty files', async () => {
    assert.deepEqual(await decode(Buffer.from('a\n'), 'utf-8'), { text: 'a\n', used: 'utf-8' });
    assert.deepEqual(await decode(Buffer.alloc(0), 'gbk'), { text: '', used: 'gbk' });
    assert.deepEqual(await decode(Buffer.from([0xef, 0xbb, 0xbf]), 'gbk'), { text: '', used: 'utf-8' });
  });

  it('refuses bytes that are no character with the line they are on, also at the very end', async () => {
    const bad = Buffer.concat([Buffer.from('a,b\r\nok,1\r\n'), iconv.encode('苏州,2\r\n', 'gbk')]);
    for (const chunk of [1, 4, bad.length]) {
      await assert.rejects(decode(bad, 'utf-8', chunk), (err: unknown) => {
        assert.ok(err instanceof QiaoError);
        assert.equal(err.partner?.code, 'BAD_ENCODING');
        assert.match(err.message, /^t\.csv: line 3 is not valid utf-8/);
        return true;
      });
    }
    // A multi-byte character cut off at the end of the file.
    const cut = Buffer.from('a\n中').subarray(0, 4);
    await assert.rejects(decode(cut, 'utf-8'), /line 2 is not valid utf-8/);
  });

  it('encodes GBK, GB18030, UTF-16LE and UTF-8; GBK refuses what it cannot hold', () => {
    assert.equal(
      iconv.decode(
        encodeText(TEXT, 'gbk', () => 'x'),
        'gbk',
      ),
      TEXT,
    );
    assert.equal(
      iconv.decode(
        encodeText('𠀀', 'gb18030', () => 'x'),
        'gb18030',
      ),
      '𠀀',
    );
    assert.equal(encodeText(TEXT, 'utf-16le', () => 'x').toString('utf16le'), TEXT);
    assert.equal(encodeText(TEXT, 'utf-8', () => 'x').toString('utf8'), TEXT);
    assert.throws(
      () => encodeText('ok😀', 'gbk', () => 'out/a.csv rows 2–3'),
      /out\/a\.csv rows 2–3: '😀' \(U\+1F600\) cannot be written in gbk/,
    );
  });
});
