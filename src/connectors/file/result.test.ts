import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { CUSTOMERS } from '../../sandbox/common/company.ts';
import { outcomes } from './actions.ts';
import { type FileFixture, fileFixture } from './testing.ts';

const HEADERS = { 客户编码: 'number', 客户名称: 'name', 信用等级: 'rating' };
const rows = CUSTOMERS.slice(0, 4).map((c) => ({ number: c.number, name: c.name, rating: c.creditRating }));
type Out = Record<string, any>;
const out = async (p: Promise<{ output: unknown }>) => (await p).output as Out;

describe('append-result: the import result file', () => {
  let f: FileFixture;
  before(async () => {
    f = await fileFixture();
  });
  after(() => f.close());

  it('reads outcomes from batch results by index, from messages, or marks rows without one', () => {
    // Neocrm batch (index, ok, id, code, msg) and Kingdee batch-upsert (index, id, number, error) shapes.
    assert.deepEqual(
      outcomes(4, [
        { index: 0, ok: true, id: '9007199254741993', code: '200', msg: null },
        { index: 1, ok: false, code: '1020001', msg: '客户名称重复' },
        { index: 3, number: 'C0004', error: 'BD_Customer: 编码已存在' },
      ]),
      [
        { ok: true, error: '', id: '9007199254741993' },
        { ok: false, error: '客户名称重复', id: '' },
        { ok: false, error: 'no result for this row', id: '' },
        { ok: false, error: 'BD_Customer: 编码已存在', id: 'C0004' },
      ],
    );
    assert.deepEqual(
      outcomes(3, [null, '信用代码格式错误', '']).map((o) => o.ok),
      [true, false, true],
    );
    assert.deepEqual(
      outcomes(1, [{ success: false, errors: [{ message: 'a' }, { message: 'b' }] }])[0].error,
      'a; b',
    );
  });

  it('writes the input rows plus 结果 and 错误 columns, without failing on row errors', async () => {
    const r = await out(
      f.run(
        'append-result',
        {
          path: 'results/customers-result.csv',
          rows,
          headers: HEADERS,
          results: [
            { index: 0, ok: true, id: '9007199254741993' },
            { index: 1, ok: false, msg: '客户名称重复' },
            { index: 2, ok: true, id: '9007199254742993' },
            { index: 3, ok: false, msg: '信用等级, 不在"选项"内' },
          ],
          idColumn: 'CRM编号',
        },
        'import-1',
      ),
    );
    assert.deepEqual(r, {
      path: 'results/customers-result.csv',
      format: 'csv',
      rows: 4,
      ok: 2,
      failed: 2,
      appended: false,
      bytes: r.bytes,
      written: true,
    });
    const text = (await readFile(f.at('results/customers-result.csv'), 'utf8')).slice(1);
    assert.equal(
      text,
      [
        '客户编码,客户名称,信用等级,结果,错误,CRM编号',
        'C0001,苏州华锐精密机械有限公司,AAA,成功,,9007199254741993',
        'C0002,宁波东海新能源科技有限公司,AA,失败,客户名称重复,',
        'C0003,合肥智驰汽车零部件有限公司,A,成功,,9007199254742993',
        'C0004,深圳芯联电子股份有限公司,AA,失败,"信用等级, 不在""选项""内",',
        '',
      ].join('\r\n'),
    );
  });

  it('appends a later batch under the same header; a retried step appends nothing', async () => {
    const next = CUSTOMERS.slice(4, 6).map((c) => ({
      number: c.number,
      name: c.name,
      rating: c.creditRating,
    }));
    const input = {
      path: 'results/customers-result.csv',
      rows: next,
      headers: HEADERS,
      results: [null, '信用代码格式错误'],
      idColumn: 'CRM编号',
    };
    const a = await out(f.run('append-result', input, 'import-2'));
    assert.equal(a.appended, true);
    const b = await out(f.run('append-result', input, 'import-2'));
    assert.equal(b.written, false);
    const lines = (await readFile(f.at('results/customers-result.csv'), 'utf8')).trimEnd().split('\r\n');
    assert.equal(lines.length, 1 + 4 + 2, 'header once, 4 + 2 rows, the retry added none');
    assert.equal(lines[5], 'C0005,成都康宁医药设备有限公司,B,成功,,');
    assert.equal(lines[6], 'C0006,武汉长江物流装备有限公司,A,失败,信用代码格式错误,');
    // The result file reads back with the same map: the outcome columns come as they are named.
    const read = await out(f.run('read', { path: 'results/customers-result.csv', headers: HEADERS }));
    assert.deepEqual(read.rows[1], {
      number: 'C0002',
      name: '宁波东海新能源科技有限公司',
      rating: 'AA',
      结果: '失败',
      错误: '客户名称重复',
      CRM编号: '',
    });
  });

  it('appends to a GBK result file in GBK', async () => {
    const input = {
      path: 'results/gbk.csv',
      rows: rows.slice(0, 1),
      headers: HEADERS,
      results: [null],
      encoding: 'gbk',
    };
    await f.run('append-result', input, 'gbk-1');
    await f.run('append-result', { ...input, rows: rows.slice(1, 2), results: ['失败原因'] }, 'gbk-2');
    const text = iconv.decode(await readFile(f.at('results/gbk.csv')), 'gbk');
    assert.equal(
      text,
      '客户编码,客户名称,信用等级,结果,错误\r\nC0001,苏州华锐精密机械有限公司,AAA,成功,\r\nC0002,宁波东海新能源科技有限公司,AA,失败,失败原因\r\n',
    );
  });

  it('writes and appends XLSX result files', async () => {
    const input = {
      path: 'results/r.xlsx',
      rows: rows.slice(0, 2),
      headers: HEADERS,
      results: [null, '重复'],
    };
    await f.run('append-result', input, 'x-1');
    const second = await out(
      f.run('append-result', { ...input, rows: rows.slice(2, 3), results: [''] }, 'x-2'),
    );
    assert.equal(second.appended, true);
    const r = await out(f.run('read', { path: 'results/r.xlsx', headers: HEADERS }));
    assert.deepEqual(
      r.rows.map((x: Out) => [x.number, x.结果, x.错误]),
      [
        ['C0001', '成功', ''],
        ['C0002', '失败', '重复'],
        ['C0003', '成功', ''],
      ],
    );
  });

  it('mode replace starts the file afresh; labels are configurable', async () => {
    await f.run(
      'append-result',
      {
        path: 'results/customers-result.csv',
        rows: rows.slice(0, 1),
        results: ['bad'],
        mode: 'replace',
        resultColumn: 'result',
        errorColumn: 'error',
        okText: 'ok',
        failedText: 'failed',
        bom: false,
      },
      'replace-1',
    );
    assert.equal(
      await readFile(f.at('results/customers-result.csv'), 'utf8'),
      'number,name,rating,result,error\r\nC0001,苏州华锐精密机械有限公司,AAA,failed,bad\r\n',
    );
  });
});
