import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNeocrmJson, stringifyNeocrm } from './json.ts';

describe('neocrm exact JSON', () => {
  it('parses ids above 2^53 exactly, and id-like keys as strings', () => {
    const body = parseNeocrmJson(
      '{"code":200,"result":{"records":[{"id":9007199254740993,"ownerId":1735200000000001,"accountId":9223372036854775807,' +
        '"industryId":3,"money":1234.5,"updatedAt":1732242000000,"ownerId.id":1735200000000002,"status":2}]}}',
    ) as any;
    const r = body.result.records[0];
    assert.equal(r.id, '9007199254740993');
    assert.equal(r.ownerId, '1735200000000001');
    assert.equal(r.accountId, '9223372036854775807');
    assert.equal(r['ownerId.id'], '1735200000000002');
    assert.equal(r.industryId, 3, 'a small …Id is a picklist value, left a number');
    assert.equal(r.money, 1234.5);
    assert.equal(r.updatedAt, 1732242000000, 'timestamps stay numbers');
    assert.equal(body.code, 200);
  });

  it('sends id strings as exact integers', () => {
    const text = stringifyNeocrm(
      {
        data: { id: '9007199254740993', accountId: '9223372036854775807', accountName: '123', phone: '010' },
      },
      new Set(['accountId']),
    );
    assert.equal(
      text,
      '{"data":{"id":9007199254740993,"accountId":9223372036854775807,"accountName":"123","phone":"010"}}',
    );
  });
});

describe('neocrm exact JSON: the fast path never touches strings', () => {
  it('a long digit run inside a string is left alone', () => {
    const text = '{"comment":"单号:1234567890123456,见附件","x":[1,9007199254740993],"id":12}';
    const body = parseNeocrmJson(text) as any;
    assert.equal(body.comment, '单号:1234567890123456,见附件');
    assert.deepEqual(body.x, [1, '9007199254740993']);
    assert.equal(body.id, '12');
  });
});
