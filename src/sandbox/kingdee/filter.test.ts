/** FilterString parsing (spec 4.4): the SQL-like form and the array form. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KdFailure } from './envelope.ts';
import { filterFields, parseFilterArray, parseFilterString } from './filter.ts';

describe('kingdee FilterString', () => {
  it('parses precedence, parentheses, like, in, quoted quotes and dates', () => {
    const f = parseFilterString(
      "FDocumentStatus = 'C' AND (FCustId.FNumber in ('C0001', 'C0002') or FName like '%O''Brien%') and FModifyDate >= '2025-01-01 00:00:00'",
    );
    assert.equal(f.type, 'and');
    if (f.type !== 'and') return;
    assert.equal(f.items.length, 3);
    assert.equal(f.items[1].type, 'or');
    const or = f.items[1];
    if (or.type !== 'or') return;
    assert.deepEqual(or.items[1], {
      type: 'like',
      negated: false,
      left: { kind: 'field', key: 'FName' },
      pattern: { kind: 'lit', value: "%O'Brien%" },
    });
    assert.deepEqual(filterFields(f), ['FDocumentStatus', 'FCustId.FNumber', 'FName', 'FModifyDate']);
  });

  it('takes != as <>, not, is null, between, numbers', () => {
    assert.deepEqual(parseFilterString('FQty != 3'), {
      type: 'cmp',
      op: '<>',
      left: { kind: 'field', key: 'FQty' },
      right: { kind: 'lit', value: 3 },
    });
    assert.equal(parseFilterString('not FApproveDate is null').type, 'not');
    assert.equal(parseFilterString("FDate between '2025-01-01' and '2025-02-01'").type, 'between');
    assert.equal(parseFilterString('').type, 'true');
  });

  it('reads the array form: Logic joins an item to the next, Compare codes 67/105 are equality', () => {
    const f = parseFilterArray([
      { Left: '(', FieldName: 'FBillNo', Compare: '67', Value: 'A', Right: '', Logic: 1 },
      { Left: '', FieldName: 'FBillNo', Compare: '67', Value: 'B', Right: ')', Logic: 0 },
      { FieldName: 'FDocumentStatus', Compare: '105', Value: 'C' },
    ]);
    assert.equal(f.type, 'and');
    if (f.type === 'and') assert.equal(f.items[0].type, 'or');
  });

  it('refuses malformed filters with MsgCode 8', () => {
    for (const bad of ["FName = 'open", 'FName =', '(FName = 1', 'FName ~ 1']) {
      assert.throws(
        () => parseFilterString(bad),
        (e: unknown) => e instanceof KdFailure && e.msgCode === 8,
        bad,
      );
    }
    assert.throws(() => parseFilterArray([{ FieldName: 'x; drop', Compare: '=' }]), KdFailure);
  });
});
