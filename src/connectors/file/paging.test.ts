/**
 * Big files are streamed: a page reads only as far as the page, the next page continues the same
 * open reader (the file is opened once for all pages), and a reader that was lost re-opens and skips.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import type { Cursor } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import { CUSTOMERS } from '../../sandbox/common/company.ts';
import { testActionContext } from '../conformance.ts';
import { fileActions } from './actions.ts';
import { FileClient } from './client.ts';
import { fileSettings } from './settings.ts';
import { type FileFixture, fileFixture } from './testing.ts';
import { fileTriggers } from './triggers.ts';

const ROWS = 10_000;

/** Counts the files opened and the bytes read from them. */
class CountingClient extends FileClient {
  opens = 0;
  bytes = 0;
  override async openRead(rel: string) {
    const o = await super.openRead(rel);
    this.opens++;
    const counter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        this.bytes += chunk.length;
        cb(null, chunk);
      },
    });
    pipeline(o.stream, counter).catch(() => {});
    return { ...o, stream: counter };
  }
}

function row(i: number) {
  const c = CUSTOMERS[i % CUSTOMERS.length];
  return {
    number: `C${String(i + 1).padStart(6, '0')}`,
    name: `${c.name}${i + 1}`,
    amount: String((i * 37) % 100_000),
    address: `"${c.address}, ${c.contactName}"`,
  };
}

const peak = { rss: 0 };
const sample = () => {
  peak.rss = Math.max(peak.rss, process.memoryUsage().rss);
};

describe('paging big files', () => {
  let f: FileFixture;
  let size = 0;
  before(async () => {
    f = await fileFixture();
    await mkdir(f.at('big'));
    const out = createWriteStream(f.at('big/customers.csv'));
    await pipeline(
      (function* () {
        yield '\uFEFF客户编码,客户名称,金额,地址\r\n';
        for (let i = 0; i < ROWS; i++) {
          const r = row(i);
          yield `${r.number},${r.name},${r.amount},${r.address}\r\n`;
        }
      })(),
      out,
    );
    size = (await stat(f.at('big/customers.csv'))).size;
  });
  after(() => f.close());

  const headers = { 客户编码: 'number', 客户名称: 'name', 金额: 'amount', 地址: 'address' };
  const want = (i: number) => {
    const r = row(i);
    return { ...r, address: r.address.slice(1, -1) };
  };

  it(`reads ${ROWS.toLocaleString('en')} CSV rows page by page, opening the file once and reading only as far as each page`, async (t) => {
    const client = new CountingClient(fileSettings.parse({ root: f.root }));
    const { read } = fileActions(client, silentLogger);
    const page = async (offset: number, limit: number) =>
      (
        await read.run(
          read.input.parse({ path: 'big/customers.csv', headers, offset, limit }),
          testActionContext(`p${offset}`),
        )
      ).output as { rows: Array<Record<string, string>>; count: number; nextOffset: number | null };

    const before = process.memoryUsage().rss;
    const first = await page(0, 100);
    assert.equal(first.count, 100);
    assert.deepEqual(first.rows[0], want(0));
    assert.equal(client.opens, 1);
    assert.ok(client.bytes < size / 4, `the first page read ${client.bytes} of ${size} bytes`);

    let offset = 100;
    let seen = 100;
    for (;;) {
      const p = await page(offset, 1_000);
      sample();
      for (let k = 0; k < p.rows.length; k += 250) assert.deepEqual(p.rows[k], want(offset + k));
      seen += p.count;
      if (p.nextOffset === null) break;
      assert.equal(p.nextOffset, offset + p.count);
      offset = p.nextOffset;
    }
    assert.equal(seen, ROWS);
    assert.equal(client.opens, 1, 'every later page continued the open reader');
    assert.ok(client.bytes <= size + 64 * 1024, 'the file was read about once');
    t.diagnostic(
      `${ROWS} rows, ${(size / 1e6).toFixed(2)} MB: peak RSS ${(peak.rss / 1e6).toFixed(0)} MB (was ${(before / 1e6).toFixed(0)} MB before paging)`,
    );
  });

  it('a page asked for without an open reader (another process, a restart) re-opens and skips to it', async () => {
    const client = new CountingClient(fileSettings.parse({ root: f.root }));
    const { read } = fileActions(client, silentLogger);
    const out = (
      await read.run(
        read.input.parse({ path: 'big/customers.csv', headers, offset: 9_990, limit: 5 }),
        testActionContext('skip'),
      )
    ).output as { rows: unknown[] };
    assert.deepEqual(out.rows, [9990, 9991, 9992, 9993, 9994].map(want));
    assert.equal(client.opens, 1);
  });

  it('polls the file row by row in pages, opening it once; a new trigger instance resumes by skipping', async () => {
    const client = new CountingClient(fileSettings.parse({ root: f.root }));
    const t = fileTriggers(client).poll;
    assert.equal(t.kind, 'poll');
    if (t.kind !== 'poll') return;
    const params = t.params.parse({
      pattern: 'big/*.csv',
      settleMs: 0,
      perRow: true,
      pageSize: 500,
      headers,
    });
    const ctx = { signal: AbortSignal.timeout(60_000), log: silentLogger };
    let cursor: Cursor | null = null;
    let n = 0;
    let pages = 0;
    for (;;) {
      const page = await t.poll(params, cursor, ctx);
      sample();
      pages++;
      for (const r of page.records) {
        const d = r.data as { row: number; values: unknown };
        assert.equal(d.row, n + 2);
        if (n % 997 === 0) assert.deepEqual(d.values, want(n));
        n++;
      }
      cursor = page.cursor;
      if (!page.more) break;
      if (pages === 10) {
        // Half-way, another instance (a restarted hub) takes over from the stored cursor.
        const other = new CountingClient(fileSettings.parse({ root: f.root }));
        const t2 = fileTriggers(other).poll;
        if (t2.kind !== 'poll') return;
        const p2 = await t2.poll(params, cursor, ctx);
        assert.equal((p2.records[0].data as { row: number }).row, n + 2);
        assert.equal(other.opens, 1);
      }
    }
    assert.equal(n, ROWS);
    assert.equal(pages, ROWS / 500);
    assert.equal(client.opens, 1, 'one open for all pages');
    assert.equal(cursor?.id, 'big/customers.csv/end');
  });

  it(`writes and pages a ${ROWS.toLocaleString('en')}-row XLSX the same way`, async () => {
    const rows = Array.from({ length: ROWS }, (_, i) => ({ ...want(i), amount: (i * 37) % 100_000 }));
    await f.run('write', { path: 'big/customers.xlsx', rows, headers });
    const client = new CountingClient(fileSettings.parse({ root: f.root }));
    const { read } = fileActions(client, silentLogger);
    let offset = 0;
    let seen = 0;
    for (;;) {
      const p = (
        await read.run(
          read.input.parse({ path: 'big/customers.xlsx', headers, offset, limit: 2_500 }),
          testActionContext(`x${offset}`),
        )
      ).output as { rows: Array<Record<string, unknown>>; nextOffset: number | null };
      sample();
      assert.deepEqual(p.rows[0], rows[offset]);
      seen += p.rows.length;
      if (p.nextOffset === null) break;
      offset = p.nextOffset;
    }
    assert.equal(seen, ROWS);
    assert.equal(client.opens, 1);
  });
});
