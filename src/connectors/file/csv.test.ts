import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import { CsvParser, type CsvRecord, formatRecord } from './csv.ts';

function parse(text: string, chunk = text.length || 1, delimiter = ','): CsvRecord[] {
  const p = new CsvParser({ delimiter, file: 't.csv' });
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk)));
  out.push(...p.end());
  return out;
}
const fields = (text: string, chunk?: number, delimiter?: string) =>
  parse(text, chunk, delimiter).map((r) => r.fields);

describe('CSV parser', () => {
  it('reads plain records with CRLF, LF or CR line breaks, with or without a final break', () => {
    const want = [
      ['客户编码', '客户名称'],
      ['C0001', '苏州华锐精密机械有限公司'],
    ];
    assert.deepEqual(fields('客户编码,客户名称\r\nC0001,苏州华锐精密机械有限公司\r\n'), want);
    assert.deepEqual(fields('客户编码,客户名称\nC0001,苏州华锐精密机械有限公司'), want);
    assert.deepEqual(fields('客户编码,客户名称\rC0001,苏州华锐精密机械有限公司\r'), want);
  });

  it('reads quoted fields holding delimiters, doubled quotes and line breaks', () => {
    const text = 'name,address,note\r\n"华锐, 苏州","工业园区\r\n星湖街328号","他说""好"""\r\nplain,,""\r\n';
    assert.deepEqual(fields(text), [
      ['name', 'address', 'note'],
      ['华锐, 苏州', '工业园区\r\n星湖街328号', '他说"好"'],
      ['plain', '', ''],
    ]);
  });

  it('gives the same records whatever the chunk size (boundaries inside quotes, CRLF and "")', () => {
    const text = 'a,b\r\n"x,""y""\r\nz",2\r\n"",3\r\n4,"5"\r\n';
    const whole = fields(text);
    for (const size of [1, 2, 3, 5, 7]) assert.deepEqual(fields(text, size), whole, `chunk size ${size}`);
  });

  it('numbers records (the row Excel shows) and the line each starts on', () => {
    const recs = parse('h\n"multi\nline"\n\nlast\n');
    assert.deepEqual(
      recs.map((r) => [r.index, r.line, r.fields]),
      [
        [1, 1, ['h']],
        [2, 2, ['multi\nline']],
        [3, 4, ['']],
        [4, 5, ['last']],
      ],
    );
  });

  it('takes a quote inside an unquoted field literally, as Excel does', () => {
    assert.deepEqual(fields('size\n15" screen\n'), [['size'], ['15" screen']]);
  });

  it('keeps empty trailing fields', () => {
    assert.deepEqual(fields('a,b,\n,,\n'), [
      ['a', 'b', ''],
      ['', '', ''],
    ]);
  });

  it('honours another delimiter (tab, semicolon)', () => {
    assert.deepEqual(fields('a\tb\n"x\ty"\tz\n', undefined, '\t'), [
      ['a', 'b'],
      ['x\ty', 'z'],
    ]);
    assert.deepEqual(fields('a;b\n1,5;2\n', undefined, ';'), [
      ['a', 'b'],
      ['1,5', '2'],
    ]);
  });

  it('refuses an unterminated quote with the line the field starts on', () => {
    const text = 'name,amount\nA,1\nB,2\n"C,3\nD,4\nE,5\n';
    for (const size of [text.length, 3]) {
      assert.throws(
        () => parse(text, size),
        (err: unknown) => {
          assert.ok(err instanceof QiaoError);
          assert.equal(err.errorClass, 'permanent');
          assert.equal(err.partner?.code, 'MALFORMED_CSV');
          assert.match(err.message, /^t\.csv: malformed CSV at line 4: .*unterminated quote/);
          return true;
        },
      );
    }
  });

  it('refuses a character after a closing quote with its line', () => {
    assert.throws(
      () => parse('a,b\n1,2\n"x"y,3\n'),
      (err: unknown) => {
        assert.ok(err instanceof QiaoError);
        assert.match(err.message, /malformed CSV at line 3: unexpected "y" after the closing quote/);
        return true;
      },
    );
  });

  it('formats fields so the parser reads them back unchanged', () => {
    const rows = [
      ['plain', '含,逗号', 'with "quotes"', 'two\r\nlines', ' edge spaces ', '', 'lf\nonly'],
      ['=1+1', '001', '1,280.00', '"', ',', '\r', 'end'],
    ];
    const text = rows.map((r) => `${formatRecord(r, ',')}\r\n`).join('');
    assert.deepEqual(fields(text), rows);
    assert.deepEqual(fields(text, 1), rows);
  });
});
