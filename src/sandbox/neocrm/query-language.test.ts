import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatement, QuerySyntaxError } from './query-language.ts';

describe('neocrm query language', () => {
  it('parses the documented grammar (spec 4.10)', () => {
    const st = parseStatement(
      "select id,accountName, updatedAt from account where updatedAt >= 1732200000000 and (level in (1,2) or accountName like '华%') order by id desc limit 100,50",
    );
    assert.deepEqual(
      st.items.map((i) => i.path),
      ['id', 'accountName', 'updatedAt'],
    );
    assert.equal(st.object, 'account');
    assert.deepEqual(st.orderBy, [{ field: 'id', desc: true }]);
    assert.deepEqual(st.limit, { offset: 100, size: 50 });
    assert.equal(st.where?.kind, 'and');
  });

  it('aliases, dotted paths and every operator (spec 4.11)', () => {
    const st = parseStatement(
      "SELECT id, ownerId.name owner, dimDepart.departName AS 部门 FROM _order WHERE a <> 1 AND b != 'x' AND c IS NOT NULL AND d IS NULL AND e NOT LIKE '%x%' AND f NOT IN ('a','b') AND g BETWEEN 1 AND 2 AND h <= -3.5 LIMIT 10",
    );
    assert.deepEqual(st.items, [
      { path: 'id', alias: undefined },
      { path: 'ownerId.name', alias: 'owner' },
      { path: 'dimDepart.departName', alias: '部门' },
    ]);
    assert.equal(st.object, '_order');
    assert.deepEqual(st.limit, { offset: 0, size: 10 });
  });

  it('quotes: doubled and backslash-escaped', () => {
    const st = parseStatement(
      "select id from account where accountName = 'O''Brien' or accountName = 'a\\'b'",
    );
    assert.equal(JSON.stringify(st.where).includes("O'Brien"), true);
    assert.equal(JSON.stringify(st.where).includes("a'b"), true);
  });

  it('flags select * and sub-queries for the dialects to reject', () => {
    assert.equal(parseStatement('select * from account').star, true);
    assert.equal(
      parseStatement('select id from contact where accountId in (select id from account)').hasSubquery,
      true,
    );
  });

  it('reports syntax errors', () => {
    for (const bad of [
      'select from account',
      'select id account',
      "select id from account where name = 'x",
      'select id from account limit a',
      'select id from account where',
    ]) {
      assert.throws(() => parseStatement(bad), QuerySyntaxError, bad);
    }
  });
});
