import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import { QiaoError } from '../../core/errors.ts';
import { CUSTOMERS } from '../../sandbox/common/company.ts';
import { injectFault } from './fault-hook.ts';
import { LEDGER_FILE } from './ledger.ts';
import { type FileFixture, fileFixture } from './testing.ts';

/** The one map both directions use: the partner's headers → our field names. */
const HEADERS = {
  客户编码: 'number',
  客户名称: 'name',
  信用额度: 'creditLimit',
  联系人: 'contact',
  地址: 'address',
};
const customers = CUSTOMERS.map((c) => ({
  number: c.number,
  name: c.name,
  creditLimit: String(c.creditLimit),
  contact: c.contactName,
  address: c.address,
}));

type Out = Record<string, any>;
const out = async (p: Promise<{ output: unknown }>) => (await p).output as Out;

const rejectsWith = (cls: string, code: string, message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
  assert.equal(err.errorClass, cls, err.message);
  assert.equal(err.partner?.system, 'file');
  assert.equal(err.partner?.code, code, err.message);
  if (message) assert.match(err.message, message);
  return true;
};

describe('file actions', () => {
  let f: FileFixture;
  before(async () => {
    f = await fileFixture();
    await mkdir(f.at('in'));
    await mkdir(f.at('out'));
  });
  after(() => f.close());

  describe('CSV encodings', () => {
    it('writes UTF-8 with a BOM by default, headers from the map, and reads it back equal', async () => {
      const w = await out(f.run('write', { path: 'out/customers.csv', rows: customers, headers: HEADERS }));
      assert.equal(w.path, 'out/customers.csv');
      assert.equal(w.rows, 10);
      assert.equal(w.written, true);
      assert.deepEqual(w.columns, ['客户编码', '客户名称', '信用额度', '联系人', '地址']);
      const bytes = await readFile(f.at('out/customers.csv'));
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM so Excel shows Chinese');
      assert.ok(
        bytes
          .toString('utf8', 3)
          .startsWith('客户编码,客户名称,信用额度,联系人,地址\r\nC0001,苏州华锐精密机械有限公司,'),
      );
      const r = await out(f.run('read', { path: 'out/customers.csv', headers: HEADERS }));
      assert.equal(r.encoding, 'utf-8');
      assert.deepEqual(r.fields, ['number', 'name', 'creditLimit', 'contact', 'address']);
      assert.deepEqual(r.rows, customers);
      assert.equal(r.count, 10);
      assert.equal(r.nextOffset, null);
    });

    it('GBK with Chinese headers: written without BOM in code page 936, read back equal', async () => {
      await f.run('write', { path: 'out/gbk.csv', rows: customers, headers: HEADERS, encoding: 'gbk' });
      const bytes = await readFile(f.at('out/gbk.csv'));
      assert.notDeepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      assert.deepEqual([...bytes.subarray(0, 4)], [...iconv.encode('客户', 'gbk')], 'GBK bytes of 客户');
      assert.ok(iconv.decode(bytes, 'gbk').includes('宁波东海新能源科技有限公司'));
      const r = await out(f.run('read', { path: 'out/gbk.csv', headers: HEADERS, encoding: 'gbk' }));
      assert.equal(r.encoding, 'gbk');
      assert.deepEqual(r.rows, customers);
    });

    it('a GBK file read as UTF-8 is refused with its line and a hint, not turned into "��"', async () => {
      // As Excel on Chinese Windows saves "CSV (逗号分隔)".
      await writeFile(
        f.at('in/excel-gbk.csv'),
        iconv.encode('code,name\r\nC0001,ok\r\nC0002,苏州华锐\r\n', 'gbk'),
      );
      await assert.rejects(
        f.run('read', { path: 'in/excel-gbk.csv' }),
        rejectsWith(
          'permanent',
          'BAD_ENCODING',
          /in\/excel-gbk\.csv: line 3 is not valid utf-8 .*set encoding: gbk/,
        ),
      );
    });

    it('GBK refuses a character it cannot hold; GB18030 writes it and reads it back', async () => {
      const rows = [{ name: '𠀀字' }, { name: '😀' }];
      await assert.rejects(
        f.run('write', { path: 'out/rare.csv', rows, encoding: 'gbk' }),
        rejectsWith(
          'permanent',
          'UNENCODABLE',
          /'𠀀' \(U\+20000\) cannot be written in gbk; use encoding gb18030 or utf-8/,
        ),
      );
      await f.run('write', { path: 'out/rare.csv', rows, encoding: 'gb18030' });
      const r = await out(f.run('read', { path: 'out/rare.csv', encoding: 'gb18030' }));
      assert.deepEqual(r.rows, rows);
    });

    it('UTF-16LE with its BOM round-trips, and a BOM wins over the configured encoding', async () => {
      await f.run('write', {
        path: 'out/u16.csv',
        rows: customers.slice(0, 3),
        encoding: 'utf-16le',
        delimiter: '\t',
      });
      const bytes = await readFile(f.at('out/u16.csv'));
      assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xfe]);
      // Told gbk, but the BOM says UTF-16LE.
      const r = await out(f.run('read', { path: 'out/u16.csv', encoding: 'gbk', delimiter: '\t' }));
      assert.equal(r.encoding, 'utf-16le');
      assert.deepEqual(r.rows, customers.slice(0, 3));
      // A UTF-8 BOM likewise overrides gbk.
      const r8 = await out(f.run('read', { path: 'out/customers.csv', encoding: 'gbk', headers: HEADERS }));
      assert.equal(r8.encoding, 'utf-8');
      assert.deepEqual(r8.rows, customers);
    });
  });

  describe('CSV content', () => {
    it('quoted fields with commas, quotes and line breaks survive write and read', async () => {
      const rows = [
        { name: '华锐, 苏州', note: '他说"好"', address: '工业园区\r\n星湖街328号' },
        { name: ' 前后空格 ', note: '', address: 'single\nLF' },
      ];
      await f.run('write', { path: 'out/quoted.csv', rows });
      const text = (await readFile(f.at('out/quoted.csv'), 'utf8')).slice(1);
      assert.ok(text.includes('"华锐, 苏州","他说""好""","工业园区\r\n星湖街328号"\r\n'));
      const r = await out(f.run('read', { path: 'out/quoted.csv' }));
      assert.deepEqual(r.rows, rows);
    });

    it('escapeFormulas keeps Excel from running text as a formula, and leaves numbers alone', async () => {
      const rows = [{ a: '=HYPERLINK("http://x","点我")', b: '@SUM(A1)', c: '-5', d: '+86 139', e: '-' }];
      await f.run('write', { path: 'out/guarded.csv', rows, escapeFormulas: true, bom: false });
      assert.equal(
        await readFile(f.at('out/guarded.csv'), 'utf8'),
        `a,b,c,d,e\r\n"'=HYPERLINK(""http://x"",""点我"")",'@SUM(A1),-5,'+86 139,'-\r\n`,
      );
    });

    it('the headers map works both ways with a column order; unmapped columns kept or dropped', async () => {
      await f.run('write', {
        path: 'out/ordered.csv',
        headers: HEADERS,
        columns: ['name', 'number', 'owner'],
        rows: [{ number: 'C0002', name: '宁波东海新能源科技有限公司', owner: 'E0003', ignored: 'x' }],
        bom: false,
      });
      const text = await readFile(f.at('out/ordered.csv'), 'utf8');
      assert.equal(text, '客户名称,客户编码,owner\r\n宁波东海新能源科技有限公司,C0002,E0003\r\n');
      const kept = await out(f.run('read', { path: 'out/ordered.csv', headers: HEADERS }));
      assert.deepEqual(kept.rows, [{ name: '宁波东海新能源科技有限公司', number: 'C0002', owner: 'E0003' }]);
      const dropped = await out(
        f.run('read', { path: 'out/ordered.csv', headers: HEADERS, unmapped: 'drop' }),
      );
      assert.deepEqual(dropped.rows, [{ name: '宁波东海新能源科技有限公司', number: 'C0002' }]);
    });

    it('a required column missing from the file is named with its header', async () => {
      await assert.rejects(
        f.run('read', { path: 'out/ordered.csv', headers: HEADERS, required: ['number', 'creditLimit'] }),
        rejectsWith(
          'permanent',
          'MISSING_COLUMN',
          /required column missing: 信用额度 \(creditLimit\); the header row has 客户名称, 客户编码, owner/,
        ),
      );
    });

    it('types convert on read (amounts with separators, Chinese dates, 是/否); a bad value names row and column', async () => {
      await writeFile(
        f.at('out/typed.csv'),
        '编码,金额,日期,时间,启用\r\nA,"1,280.00",2026/3/10,2026-03-10 8:05,是\r\nB,￥36000,2026年3月1日,2026/3/1 23:59:59,否\r\nC,,,,\r\n',
      );
      const types = { 金额: 'number', 日期: 'date', 时间: 'datetime', 启用: 'boolean' };
      const r = await out(f.run('read', { path: 'out/typed.csv', types }));
      assert.deepEqual(r.rows, [
        { 编码: 'A', 金额: 1280, 日期: '2026-03-10', 时间: '2026-03-10T08:05:00', 启用: true },
        { 编码: 'B', 金额: 36000, 日期: '2026-03-01', 时间: '2026-03-01T23:59:59', 启用: false },
        { 编码: 'C', 金额: null, 日期: null, 时间: null, 启用: null },
      ]);
      await writeFile(f.at('out/typed-bad.csv'), '编码,金额\r\nA,1\r\nB,12a\r\n');
      await assert.rejects(
        f.run('read', { path: 'out/typed-bad.csv', types: { 金额: 'number' } }),
        rejectsWith(
          'permanent',
          'BAD_VALUE',
          /out\/typed-bad\.csv row 3, column 金额: "12a" is not a number/,
        ),
      );
    });

    it('a malformed CSV is refused with its line number', async () => {
      await writeFile(f.at('out/broken.csv'), 'name,amount\r\nA,1\r\nB,2\r\n"C\r\nD,4\r\n');
      await assert.rejects(
        f.run('read', { path: 'out/broken.csv' }),
        rejectsWith(
          'permanent',
          'MALFORMED_CSV',
          /^out\/broken\.csv: malformed CSV at line 4: .*unterminated quote/,
        ),
      );
    });

    it('blank rows are skipped but counted in row numbers; cells right of the header get letters', async () => {
      await writeFile(f.at('out/blank.csv'), 'a,b\r\n1,2\r\n\r\n,\r\n3,4,extra\r\n');
      const r = await out(f.run('read', { path: 'out/blank.csv' }));
      assert.deepEqual(r.rows, [
        { a: '1', b: '2' },
        { a: '3', b: '4', C: 'extra' },
      ]);
      const none = await out(f.run('read', { path: 'out/blank.csv', headerRow: 0, limit: 1 }));
      assert.deepEqual(none.rows, [{ A: 'a', B: 'b' }]);
    });
  });

  describe('errors and paths', () => {
    it('refuses paths out of the root in every action', async () => {
      for (const [action, input] of [
        ['read', { path: '../secret.csv' }],
        ['write', { path: '../../tmp/x.csv', rows: [] }],
        ['write', { path: '/etc/cron.d/x.csv', rows: [] }],
        ['append-result', { path: 'a/../../x.csv', rows: [], results: [] }],
      ] as const) {
        await assert.rejects(
          f.run(action, input),
          rejectsWith('permanent', 'PATH_REFUSED', /paths|absolute/),
        );
      }
    });

    it('a missing file is permanent; a locked one (EBUSY, EAGAIN) is transient', async () => {
      await assert.rejects(
        f.run('read', { path: 'nope/missing.csv' }),
        rejectsWith('permanent', 'ENOENT', /read nope\/missing\.csv: no such file or folder/),
      );
      for (const code of ['EBUSY', 'EAGAIN']) {
        injectFault(f.root, code);
        await assert.rejects(
          f.run('read', { path: 'out/customers.csv' }),
          rejectsWith('transient', code, /will retry/),
        );
      }
      // The fault was used up: the next read works.
      assert.equal((await out(f.run('read', { path: 'out/customers.csv' }))).count, 10);
    });

    it('an .xls, an unknown extension and a folder are refused with what to do', async () => {
      await assert.rejects(
        f.run('read', { path: 'old.xls' }),
        rejectsWith('permanent', 'UNKNOWN_FORMAT', /save it as \.xlsx or \.csv/),
      );
      await assert.rejects(
        f.run('read', { path: 'x.dat' }),
        rejectsWith('permanent', 'UNKNOWN_FORMAT', /give format: csv or xlsx/),
      );
      await assert.rejects(f.run('read', { path: 'out', format: 'csv' }), rejectsWith('permanent', 'EISDIR'));
    });
  });

  describe('atomic, idempotent writes', () => {
    it('the same idempotency key writes once: a retry leaves the file as it is', async () => {
      const input = { path: 'out/once.csv', rows: [{ n: 1 }] };
      const a = await out(f.run('write', input, 'step-once'));
      assert.equal(a.written, true);
      await writeFile(f.at('out/once.csv'), 'changed by a person\r\n');
      const b = await out(f.run('write', { ...input, rows: [{ n: 2 }] }, 'step-once'));
      assert.equal(b.written, false);
      assert.deepEqual({ ...b, written: true }, a, 'the first output is returned');
      assert.equal(await readFile(f.at('out/once.csv'), 'utf8'), 'changed by a person\r\n');
      // Another key writes again.
      await f.run('write', input, 'step-other');
      assert.equal((await readFile(f.at('out/once.csv'), 'utf8')).slice(1), 'n\r\n1\r\n');
    });

    it('finishes a write interrupted between the ledger entry and the rename', async () => {
      // The state a crash leaves: the temporary file complete, the ledger naming it, no target yet.
      const tmp = f.at('out/.crash.csv.qiao-abc.tmp');
      await writeFile(tmp, 'n\r\n42\r\n');
      const ledger = JSON.parse(await readFile(f.at(LEDGER_FILE), 'utf8'));
      ledger.keys['step-crash'] = {
        path: 'out/crash.csv',
        tmp,
        at: Date.now(),
        output: { path: 'out/crash.csv', rows: 1 },
      };
      await writeFile(f.at(LEDGER_FILE), JSON.stringify(ledger));
      const r = await out(f.run('write', { path: 'out/crash.csv', rows: [{ n: 7 }] }, 'step-crash'));
      assert.deepEqual(r, { path: 'out/crash.csv', rows: 1, written: false });
      assert.equal(
        await readFile(f.at('out/crash.csv'), 'utf8'),
        'n\r\n42\r\n',
        'the recorded file, renamed',
      );
    });

    it('leaves no temporary files; ifExists: fail refuses an existing file', async () => {
      const names = await readdir(f.at('out'));
      assert.deepEqual(
        names.filter((n) => n.endsWith('.tmp')),
        [],
      );
      await assert.rejects(
        f.run('write', { path: 'out/once.csv', rows: [], ifExists: 'fail' }),
        rejectsWith('permanent', 'EEXIST', /already exists/),
      );
    });

    it('concurrent writes of different keys to one root all land (the ledger serialises them)', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          f.run('write', { path: `out/par/${i}.csv`, rows: [{ i }] }, `par-${i}`),
        ),
      );
      const ledger = JSON.parse(await readFile(f.at(LEDGER_FILE), 'utf8'));
      for (let i = 0; i < 20; i++) assert.equal(ledger.keys[`par-${i}`].path, `out/par/${i}.csv`);
      assert.equal((await readdir(f.at('out/par'))).length, 20);
    });
  });

  describe('XLSX', () => {
    const rows = [
      {
        number: 'C0001',
        name: '苏州华锐精密机械有限公司',
        amount: 1280.5,
        qty: -3,
        neocrmId: '9007199254741993',
        code: '001',
        signed: '2026-03-10',
        approvedAt: '2026-03-10T08:30:05',
        paidAt: '2026-03-10T00:30:00Z',
        vip: true,
      },
      {
        number: 'C0002',
        name: '宁波东海新能源科技有限公司',
        amount: 0,
        qty: 1e6,
        neocrmId: '9007199254743993',
        code: '002',
        signed: '2025-12-31',
        approvedAt: '2026-01-01T23:59:59.250',
        paidAt: '2026-01-01T00:00:00+08:00',
        vip: false,
      },
    ];

    it('round-trips numbers, text that looks like numbers, dates and date-times', async () => {
      const w = await out(f.run('write', { path: 'out/orders.xlsx', rows, sheet: '订单' }));
      assert.equal(w.format, 'xlsx');
      assert.equal(w.sheet, '订单');
      const r = await out(f.run('read', { path: 'out/orders.xlsx' }));
      assert.equal(r.sheet, '订单');
      assert.deepEqual(r.rows, [
        // A zoned instant is written as Asia/Shanghai wall-clock time (Excel has no zones).
        { ...rows[0], paidAt: '2026-03-10T08:30:00' },
        { ...rows[1], paidAt: '2026-01-01T00:00:00' },
      ]);
      assert.equal(typeof r.rows[0].amount, 'number');
      assert.equal(typeof r.rows[0].neocrmId, 'string', '64-bit ids stay exact text');
    });

    it('writes real Excel types, a bold frozen header and widths that fit Chinese text', async () => {
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(f.at('out/orders.xlsx'));
      const ws = wb.getWorksheet('订单')!;
      assert.equal(ws.getRow(1).getCell(1).font?.bold, true);
      assert.equal(ws.views[0]?.state, 'frozen');
      assert.equal(ws.getCell('C2').value, 1280.5);
      assert.ok(ws.getCell('G2').value instanceof Date);
      assert.equal(ws.getCell('G2').numFmt, 'yyyy-mm-dd');
      assert.equal(ws.getCell('H2').numFmt, 'yyyy-mm-dd hh:mm:ss');
      assert.equal(ws.getCell('F2').value, '001');
      // 宁波东海新能源科技有限公司: 13 CJK characters = 26 units, plus padding.
      assert.equal(ws.getColumn(2).width, 28);
      assert.equal(ws.getColumn(1).width, 8);
    });

    it('the headers map and declared types apply to XLSX too', async () => {
      await f.run('write', {
        path: 'out/typed.xlsx',
        headers: { 金额: 'amount', 日期: 'day' },
        types: { amount: 'number', day: 'date' },
        rows: [{ amount: '1,280.00', day: '2026/3/10' }],
      });
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(f.at('out/typed.xlsx'));
      assert.deepEqual((wb.worksheets[0].getRow(1).values as unknown[]).slice(1), ['金额', '日期']);
      assert.equal(wb.worksheets[0].getCell('A2').value, 1280);
      const r = await out(
        f.run('read', { path: 'out/typed.xlsx', headers: { 金额: 'amount', 日期: 'day' } }),
      );
      assert.deepEqual(r.rows, [{ amount: 1280, day: '2026-03-10' }]);
    });

    it('reads a sheet by name or position; an unknown sheet names the ones there are', async () => {
      const wb = new ExcelJS.Workbook();
      wb.addWorksheet('说明').addRow(['本文件由青禾智能导出']);
      const data = wb.addWorksheet('客户');
      data.addRow(['客户编码', '客户名称', '成立日期', '额度']);
      data.addRow(['C0003', '合肥智驰汽车零部件有限公司', new Date(Date.UTC(2015, 5, 1)), 800000]);
      data.getCell('C2').numFmt = 'yyyy"年"m"月"d"日"';
      data.addRow([
        'C0004',
        { richText: [{ text: '深圳芯联' }, { text: '电子股份有限公司' }] },
        null,
        { formula: 'D2*1.5', result: 1200000 },
      ]);
      await wb.xlsx.writeFile(f.at('in/two-sheets.xlsx'));
      const want = [
        { 客户编码: 'C0003', 客户名称: '合肥智驰汽车零部件有限公司', 成立日期: '2015-06-01', 额度: 800000 },
        { 客户编码: 'C0004', 客户名称: '深圳芯联电子股份有限公司', 成立日期: '', 额度: 1200000 },
      ];
      assert.deepEqual((await out(f.run('read', { path: 'in/two-sheets.xlsx', sheet: '客户' }))).rows, want);
      assert.deepEqual((await out(f.run('read', { path: 'in/two-sheets.xlsx', sheet: 2 }))).rows, want);
      const first = await out(f.run('read', { path: 'in/two-sheets.xlsx', headerRow: 0 }));
      assert.deepEqual(first.rows, [{ A: '本文件由青禾智能导出' }]);
      await assert.rejects(
        f.run('read', { path: 'in/two-sheets.xlsx', sheet: '订单' }),
        rejectsWith(
          'permanent',
          'UNKNOWN_SHEET',
          /in\/two-sheets\.xlsx: sheet '订单' not found; the workbook has 1\. 说明, 2\. 客户/,
        ),
      );
      await assert.rejects(
        f.run('read', { path: 'in/two-sheets.xlsx', sheet: 3 }),
        rejectsWith('permanent', 'UNKNOWN_SHEET', /sheet 3 not found/),
      );
    });

    it('a file that is not a workbook is refused as such', async () => {
      await writeFile(f.at('in/fake.xlsx'), 'a,b\n1,2\n');
      await assert.rejects(
        f.run('read', { path: 'in/fake.xlsx' }),
        rejectsWith('permanent', 'BAD_XLSX', /not a readable XLSX workbook/),
      );
    });
  });
});
