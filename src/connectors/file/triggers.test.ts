import assert from 'node:assert/strict';
import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import ExcelJS from 'exceljs';
import iconv from 'iconv-lite';
import type { Cursor, PolledRecord } from '../../core/connector.ts';
import { CUSTOMERS } from '../../sandbox/common/company.ts';
import { type FileFixture, fileFixture } from './testing.ts';

type Data = Record<string, any>;
const data = (r: PolledRecord) => r.data as Data;
const pad13 = (ms: number) => String(ms).padStart(13, '0');

/** The time the trigger orders a file by: max(mtime, ctime), in ms. */
async function fileTime(abs: string): Promise<string> {
  const s = await stat(abs);
  return pad13(Math.floor(Math.max(s.mtimeMs, s.ctimeMs)));
}

/** Sets the file's times to now until its time is later than `than` (file times have ms steps). */
async function touchAfter(abs: string, than: string): Promise<void> {
  for (let i = 0; i < 1_000_000 && (await fileTime(abs)) <= than; i++) {
    const now = new Date();
    await utimes(abs, now, now);
  }
}

const csv = (...lines: string[]) => `${lines.join('\r\n')}\r\n`;

describe('file poll trigger', () => {
  let f: FileFixture;
  beforeEach(async () => {
    f = await fileFixture();
    await mkdir(f.at('inbox'));
  });
  afterEach(() => f.close());

  const base = { pattern: 'inbox/*.{csv,xlsx}', settleMs: 0 };

  it('turns each new file into one record {file, rows, count}, oldest first, then nothing more', async () => {
    await writeFile(
      f.at('inbox/b-customers.csv'),
      csv('客户编码,客户名称', 'C0001,苏州华锐精密机械有限公司'),
    );
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('客户');
    ws.addRow(['客户编码', '客户名称', '额度']);
    ws.addRow(['C0002', '宁波东海新能源科技有限公司', 1_500_000]);
    await wb.xlsx.writeFile(f.at('inbox/a-customers.xlsx'));
    await writeFile(f.at('inbox/ignored.txt'), 'x');

    const params = { ...base, headers: { 客户编码: 'number', 客户名称: 'name' } };
    const page = await f.poll(params, null);
    assert.equal(page.more, false);
    const times = {
      b: await fileTime(f.at('inbox/b-customers.csv')),
      a: await fileTime(f.at('inbox/a-customers.xlsx')),
    };
    const want = [
      { file: 'inbox/b-customers.csv', time: times.b },
      { file: 'inbox/a-customers.xlsx', time: times.a },
    ].sort((x, y) => (x.time === y.time ? (x.file < y.file ? -1 : 1) : x.time < y.time ? -1 : 1));
    assert.deepEqual(
      page.records.map((r) => data(r).file),
      want.map((w) => w.file),
    );
    const byFile = Object.fromEntries(page.records.map((r) => [data(r).file, r]));
    const csvRec = byFile['inbox/b-customers.csv'];
    assert.deepEqual(data(csvRec).rows, [{ number: 'C0001', name: '苏州华锐精密机械有限公司' }]);
    assert.equal(data(csvRec).count, 1);
    assert.equal(data(csvRec).last, true);
    assert.match(csvRec.key, /^inbox\/b-customers\.csv@[0-9a-f]{16}$/);
    assert.deepEqual(csvRec.cursor, { time: times.b, id: 'inbox/b-customers.csv/end' });
    const xRec = byFile['inbox/a-customers.xlsx'];
    assert.equal(data(xRec).sheet, '客户');
    assert.deepEqual(data(xRec).rows, [
      { number: 'C0002', name: '宁波东海新能源科技有限公司', 额度: 1_500_000 },
    ]);
    assert.deepEqual(page.cursor, page.records[1].cursor);

    const again = await f.poll(params, page.cursor);
    assert.deepEqual(again, { records: [], cursor: page.cursor, more: false });
  });

  it('reads a changed file again; unchanged content keeps its key so the inbox dedupes it', async () => {
    await writeFile(f.at('inbox/a.csv'), csv('n', '1'));
    const first = await f.poll(base, null);
    const key = first.records[0].key;
    // Touched (a sync tool rewrote it with the same bytes): newer time, same key.
    await touchAfter(f.at('inbox/a.csv'), first.cursor!.time);
    const touched = await f.poll(base, first.cursor);
    assert.equal(touched.records.length, 1);
    assert.equal(touched.records[0].key, key);
    assert.ok(touched.cursor!.time > first.cursor!.time);
    // Changed content: a new key.
    await writeFile(f.at('inbox/a.csv'), csv('n', '1', '2'));
    await touchAfter(f.at('inbox/a.csv'), touched.cursor!.time);
    const changed = await f.poll(base, touched.cursor);
    assert.equal(changed.records.length, 1);
    assert.notEqual(changed.records[0].key, key);
    assert.equal(data(changed.records[0]).count, 2);
  });

  it('leaves files changed within settleMs for a later poll', async () => {
    await writeFile(f.at('inbox/fresh.csv'), csv('n', '1'));
    assert.equal((await f.poll({ ...base, settleMs: 60_000 }, null)).records.length, 0);
    assert.equal((await f.poll({ ...base, settleMs: 0 }, null)).records.length, 1);
  });

  it('perRow: one record per row keyed by file + row + row hash, paged with a cursor inside the file', async () => {
    const rows = CUSTOMERS.slice(0, 7).map((c) => `${c.number},${c.name}`);
    await writeFile(f.at('inbox/rows.csv'), csv('number,name', ...rows));
    const t = await fileTime(f.at('inbox/rows.csv'));
    const params = { ...base, perRow: true, pageSize: 3 };
    const { pages, cursor } = await f.drain(params, null);
    assert.deepEqual(
      pages.map((p) => [p.records.length, p.more]),
      [
        [3, true],
        [3, true],
        [1, false],
      ],
    );
    assert.deepEqual(
      pages.map((p) => p.cursor),
      [
        { time: t, id: 'inbox/rows.csv/0000000004' },
        { time: t, id: 'inbox/rows.csv/0000000007' },
        { time: t, id: 'inbox/rows.csv/end' },
      ],
    );
    assert.deepEqual(cursor, { time: t, id: 'inbox/rows.csv/end' });
    const records = pages.flatMap((p) => p.records);
    assert.deepEqual(
      records.map((r) => data(r).row),
      [2, 3, 4, 5, 6, 7, 8],
    );
    assert.deepEqual(data(records[0]).values, { number: 'C0001', name: '苏州华锐精密机械有限公司' });
    assert.match(records[0].key, /^inbox\/rows\.csv#2@[0-9a-f]{16}$/);
    // Reading the same version again gives the same keys.
    const again = (await f.drain(params, null)).pages.flatMap((p) => p.records);
    assert.deepEqual(
      again.map((r) => r.key),
      records.map((r) => r.key),
    );
    // Every cursor moves forward.
    const cursors = records.map((r) => r.cursor);
    for (let i = 1; i < cursors.length; i++) assert.ok(cmp(cursors[i], cursors[i - 1]) > 0);
  });

  it('splits a file longer than maxRows into parts across pages, and resumes between them', async () => {
    await writeFile(f.at('inbox/big.csv'), csv('n', ...Array.from({ length: 10 }, (_, i) => String(i + 1))));
    const { pages } = await f.drain({ ...base, maxRows: 4 }, null);
    const parts = pages.flatMap((p) => p.records).map((r) => data(r));
    assert.deepEqual(
      parts.map((d) => [d.part, d.offset, d.count, d.last, d.rows.map((x: Data) => x.n).join(' ')]),
      [
        [1, 0, 4, false, '1 2 3 4'],
        [2, 4, 4, false, '5 6 7 8'],
        [3, 8, 2, true, '9 10'],
      ],
    );
    assert.match(pages[0].records[0].key, /^inbox\/big\.csv#p1@/);
    assert.equal(pages.length, 3, 'a page holds about maxRows rows');
  });

  it('a file that cannot be read becomes an error record and does not hold up the next', async () => {
    await writeFile(f.at('inbox/1-good.csv'), csv('n', '1'));
    await writeFile(f.at('inbox/2-broken.csv'), 'n,m\r\n1,2\r\n"3,4\r\n');
    await writeFile(f.at('inbox/3-gbk.csv'), iconv.encode(csv('名称', '苏州华锐'), 'gbk'));
    await writeFile(f.at('inbox/4-good.csv'), csv('n', '4'));
    const { pages } = await f.drain(base, null);
    const got = pages.flatMap((p) => p.records).map((r) => data(r));
    const byFile = Object.fromEntries(got.map((d) => [d.file, d]));
    assert.equal(got.length, 4);
    assert.deepEqual(byFile['inbox/2-broken.csv'].error.code, 'MALFORMED_CSV');
    assert.match(byFile['inbox/2-broken.csv'].error.message, /malformed CSV at line 3/);
    assert.equal(byFile['inbox/3-gbk.csv'].error.code, 'BAD_ENCODING');
    assert.deepEqual(byFile['inbox/4-good.csv'].rows, [{ n: '4' }]);
    // Told the right encoding, the same folder reads the GBK file.
    const gbk = await f.poll({ pattern: 'inbox/3-*.csv', settleMs: 0, encoding: 'gbk' }, null);
    assert.deepEqual(data(gbk.records[0]).rows, [{ 名称: '苏州华锐' }]);
  });

  it('a matched file of no known format is an error record too', async () => {
    await writeFile(f.at('inbox/notes.md'), '# not a table');
    await writeFile(f.at('inbox/old.xls'), 'binary');
    await writeFile(f.at('inbox/z.csv'), csv('n', '1'));
    const { pages } = await f.drain({ pattern: 'inbox/*', settleMs: 0 }, null);
    const got = Object.fromEntries(pages.flatMap((p) => p.records).map((r) => [data(r).file, data(r)]));
    assert.equal(got['inbox/notes.md'].error.code, 'UNKNOWN_FORMAT');
    assert.match(got['inbox/old.xls'].error.message, /save it as \.xlsx or \.csv/);
    assert.deepEqual(got['inbox/z.csv'].rows, [{ n: '1' }]);
  });

  it('moveTo: finished files move out at the next poll, a name clash keeps both', async () => {
    await writeFile(f.at('inbox/a.csv'), csv('n', '1'));
    const params = { pattern: 'inbox/**/*.csv', settleMs: 0, moveTo: 'inbox/done' };
    const first = await f.poll(params, null);
    assert.equal(first.records.length, 1);
    assert.ok((await readdir(f.at('inbox'))).includes('a.csv'), 'not moved before its records are stored');
    const second = await f.poll(params, first.cursor);
    assert.equal(second.records.length, 0, 'the done folder is not watched');
    assert.deepEqual(await readdir(f.at('inbox/done')), ['a.csv']);
    // The same name again.
    await writeFile(f.at('inbox/a.csv'), csv('n', '2'));
    const third = await f.poll(params, second.cursor);
    assert.equal(third.records.length, 1);
    const t = third.cursor!.time;
    await f.poll(params, third.cursor);
    assert.deepEqual((await readdir(f.at('inbox/done'))).sort(), ['a.csv', `a.${t}.csv`].sort());
  });

  it('skips a file that vanished, and survives an empty folder or a missing one', async () => {
    assert.deepEqual(await f.poll({ pattern: 'nothing/*.csv', settleMs: 0 }, null), {
      records: [],
      cursor: null,
      more: false,
    });
    await writeFile(f.at('inbox/gone.csv'), csv('n', '1'));
    await rm(f.at('inbox/gone.csv'));
    assert.equal((await f.poll(base, null)).records.length, 0);
  });

  it('an empty file is one record without rows; perRow moves past it without records', async () => {
    await writeFile(f.at('inbox/empty.csv'), 'n\r\n');
    const whole = await f.poll(base, null);
    assert.deepEqual(
      whole.records.map((r) => [data(r).count, data(r).rows]),
      [[0, []]],
    );
    const perRow = await f.poll({ ...base, perRow: true }, null);
    assert.equal(perRow.records.length, 0);
    assert.equal(perRow.cursor?.id, 'inbox/empty.csv/end');
  });

  it('params are checked when the flow loads: a pattern or moveTo out of the root is refused', () => {
    const t = f.connector.triggers.poll;
    assert.equal(t.kind, 'poll');
    const bad = t.params.safeParse({ pattern: '../*.csv' });
    assert.equal(bad.success, false);
    assert.match(JSON.stringify(bad.error?.issues), /contains '\.\.'/);
    assert.equal(t.params.safeParse({ pattern: 'inbox/*.csv', moveTo: '/tmp' }).success, false);
  });
});

function cmp(a: Cursor, b: Cursor): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
