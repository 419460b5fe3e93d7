import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from './index.ts';
import { admin, call, login } from './testing.ts';

describe('neocrm sandbox: query v2, XOQL, scroll', () => {
  let sb: NeocrmSandboxHandle;
  let token: string;
  before(async () => {
    sb = await startNeocrmSandbox();
    token = await login(sb);
  });
  after(() => sb.close());

  const q = (statement: string) =>
    call(sb, token, 'GET', `/rest/data/v2/query?q=${encodeURIComponent(statement)}`);
  const xoql = (statement: string) =>
    call(sb, token, 'POST', '/rest/data/v2.0/query/xoql', new URLSearchParams({ xoql: statement }));
  const scroll = (statement: string, batchCount: number, queryLocator: string) =>
    call(
      sb,
      token,
      'POST',
      '/rest/data/v2.0/query/xoqlScroll',
      new URLSearchParams({ xoql: statement, batchCount: String(batchCount), queryLocator }),
    );

  it('query v2: numeric code, result envelope, ids as exact numbers (spec 3.2)', async () => {
    const r = await q(
      'select id,accountName,updatedAt from account where updatedAt >= 0 order by id asc limit 0,3',
    );
    assert.equal(r.status, 200);
    assert.equal(r.json.code, 200);
    assert.equal(typeof r.json.code, 'number');
    assert.equal(r.json.msg, '操作成功');
    assert.deepEqual(Object.keys(r.json.result).sort(), ['count', 'records', 'totalSize']);
    assert.equal(r.json.result.count, 3);
    assert.equal(r.json.result.totalSize, 10);
    assert.match(r.text, /"records":\[\{"id":\d{16},"accountName":/);
    const ids = [...r.text.matchAll(/"id":(\d+)/g)].map((m) => BigInt(m[1]));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => (a < b ? -1 : 1)),
    );
  });

  it('query v2 restrictions answer code ≠ 200 with a msg (spec 4.10)', async () => {
    const bad = [
      ['select * from account', /select \*/],
      ["select id from account where accountName like '%华'", /后缀通配符/],
      ["select id from account where accountName like '华%锐%'", /后缀通配符/],
      ['select id from account order by updatedAt', /order by/],
      ['select id from contact where accountId in (select id from account)', /子查询/],
      ['select id from contact where accountId = 1', /不支持作为查询条件/],
      ['select id from account where tags__c = 1', /不支持作为查询条件/],
      ['select id from account where comment = 1', /不支持作为查询条件/],
      ['select id from account limit 0,101', /最多查询100条/],
      ['select id from order', /_order/],
      ['select ownerId.name from account', /关联字段/],
      ['select nope from account', /字段\[nope\]不存在/],
    ] as const;
    for (const [statement, msg] of bad) {
      const r = await q(statement);
      assert.equal(r.status, 400, statement);
      assert.equal(r.json.code, 400, statement);
      assert.match(r.json.msg, msg, statement);
    }
    const ok = await q("select id,accountName from account where accountName like '苏州%'");
    assert.equal(ok.json.result.count, 1);
    const order = await q('select id,po from _order limit 0,2');
    assert.equal(order.json.result.count, 2);
  });

  it('page ceiling: 300 when configured; truncation instead of an error when configured (spec 7)', async () => {
    await admin(sb, '/records/lead/generate', { count: 320, prefix: 'page' });
    await admin(sb, '/config', { queryPageSize: 300 });
    assert.equal((await q('select id from lead limit 0,300')).json.result.count, 300);
    await admin(sb, '/config', { queryPageSize: 100, queryPageOverflow: 'truncate' });
    const cut = await q('select id from lead limit 0,300');
    assert.equal(cut.json.result.count, 100);
    await admin(sb, '/config', { queryPageOverflow: 'error' });
  });

  it('query v2 conditions: ids above 2^53, in, between, is null, or', async () => {
    const all = await q('select id,accountName,updatedAt,level from account order by id asc limit 0,100');
    const ids = [...all.text.matchAll(/"id":(\d+)/g)].map((m) => m[1]);
    const one = await q(`select id from account where id = ${ids[3]}`);
    assert.match(one.text, new RegExp(`"id":${ids[3]}\\}`));
    assert.equal((await q(`select id from account where id > ${ids[7]}`)).json.result.totalSize, 2);
    assert.equal(
      (await q(`select id from account where id in (${ids[0]},${ids[1]})`)).json.result.totalSize,
      2,
    );
    assert.equal(
      (await q('select id from account where level in (1,2) or level = 3')).json.result.totalSize,
      10,
    );
    assert.equal((await q('select id from account where fax is null')).json.result.totalSize, 10);
    assert.equal((await q('select id from account where fax is not null')).json.result.totalSize, 0);
    const t = all.json.result.records.map((r: any) => r.updatedAt).sort();
    assert.equal(
      (await q(`select id from account where updatedAt between ${t[2]} and ${t[4]}`)).json.result.totalSize,
      3,
    );
  });

  it('XOQL: string code, dotted relations, aliases, ids as strings, any-position like (spec 4.11)', async () => {
    const r = await xoql(
      "select id, accountName 名称, ownerId.name, dimDepart.departName, entityType.name as 类型, parentAccountId.name from account where accountName like '%精密%' limit 0,10",
    );
    assert.equal(r.json.code, '200');
    assert.equal(r.json.msg, null);
    assert.ok('errorInfo' in r.json && 'debugInfo' in r.json);
    assert.equal(r.json.data.totalSize, 1);
    const row = r.json.data.records[0];
    assert.deepEqual(Object.keys(row), [
      'id',
      '名称',
      'ownerId.name',
      'dimDepart.departName',
      '类型',
      'parentAccountId.name',
    ]);
    assert.equal(typeof row.id, 'string');
    assert.match(r.text, /"id":"\d{16}"/);
    assert.equal(row['ownerId.name'], '张伟');
    assert.equal(row['dimDepart.departName'], '销售部');
    assert.equal(row.类型, '默认业务类型');
    assert.equal(row['parentAccountId.name'], null);
    const rel = await xoql(
      "select id, title, accountId.accountName, opportunityId.money from contract where accountId.accountName like '%华锐%'",
    );
    assert.equal(rel.json.data.records[0]['accountId.accountName'], '苏州华锐精密机械有限公司');
    assert.equal(typeof rel.json.data.records[0]['opportunityId.money'], 'number');
    const where = await xoql(`select id from contact where accountId = '${rel.json.data.records[0].id}'`);
    assert.equal(where.json.code, '200', 'XOQL may filter on references');
    const big = await xoql('select id from account limit 0,3001');
    assert.match(big.json.msg, /3000/);
  });

  it('XOQL scroll: snapshot, batches, top-level queryLocator, empty at the end (spec 4.12)', async () => {
    const statement = 'select id, name, updatedAt from lead';
    const first = await scroll(statement, 100, '');
    assert.equal(first.json.code, '200');
    const total = first.json.data.totalSize;
    assert.ok(total > 300);
    assert.equal(first.json.data.count, 100);
    assert.equal(typeof first.json.queryLocator, 'string');
    assert.ok(first.json.queryLocator);
    assert.equal(first.json.data.queryLocator, undefined, 'the locator is at the top level');
    // Records created after the first call are not in the snapshot.
    await admin(sb, '/records/lead/generate', { count: 5, prefix: 'late' });
    const seen = new Set<string>(first.json.data.records.map((r: any) => r.id));
    let locator = first.json.queryLocator;
    while (locator) {
      const next = await scroll(statement, 100, locator);
      assert.equal(next.json.code, '200');
      for (const r of next.json.data.records) seen.add(r.id);
      locator = next.json.queryLocator;
    }
    assert.equal(seen.size, total);
    const reused = await scroll(statement, 100, first.json.queryLocator);
    assert.match(reused.json.msg, /queryLocator/);
    const other = await scroll(statement, 10, '');
    await admin(sb, '/partner-faults', { expireScrolls: true });
    const expired = await scroll(statement, 10, other.json.queryLocator);
    assert.equal(expired.json.code, '400');
  });
});
