import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, type MergeInput, merge, same, valuesHash } from './merge.ts';

/** Name and phone owned by the CRM, credit by the ERP, the address shared. */
const fields = { name: 'crm', phone: 'crm', creditLimit: 'erp', number: 'erp', address: 'both' };
const base = {
  name: '华锐精密',
  phone: '0512-1',
  creditLimit: 2_000_000,
  number: 'C0001',
  address: '星湖街328号',
};
const crmChange = (
  record: Record<string, unknown>,
  other: Record<string, unknown> | null = base,
): MergeInput => ({
  side: 'crm',
  otherSide: 'erp',
  fields,
  record,
  other,
  base,
});

describe('two-way sync: merge by field owners', () => {
  it('a change of a field its side owns is written to the other side', () => {
    const d = decide(crmChange({ ...base, name: '苏州华锐' }));
    assert.equal(d.action, 'write');
    assert.equal(d.reason, 'changed');
    assert.deepEqual(d.writes, { crm: {}, erp: { name: '苏州华锐' } });
    assert.deepEqual(d.changed, ['name']);
    assert.equal(d.values.name, '苏州华锐');
  });

  it('a change of a field the other side owns is put back, never synced', () => {
    const d = decide(crmChange({ ...base, creditLimit: 9_999_999 }));
    assert.equal(d.action, 'write');
    assert.deepEqual(d.writes, { crm: { creditLimit: 2_000_000 }, erp: {} });
    assert.deepEqual(d.ignored, ['creditLimit']);
    assert.equal(d.values.creditLimit, 2_000_000);
  });

  it("the owner's own change wins even when the other side changed the field too", () => {
    const d = decide(crmChange({ ...base, name: '华锐A' }, { ...base, name: '华锐B' }));
    assert.deepEqual(d.writes, { crm: {}, erp: { name: '华锐A' } });
    assert.deepEqual(d.conflicts, []);
  });

  it('a shared field changed on one side is written to the other', () => {
    const d = decide(crmChange({ ...base, address: '星湖街330号' }));
    assert.deepEqual(d.writes, { crm: {}, erp: { address: '星湖街330号' } });
  });

  it('a shared field changed on both sides to different values is a conflict, and nothing is written', () => {
    const d = decide(crmChange({ ...base, address: '星湖街330号' }, { ...base, address: '金鸡湖大道1号' }));
    assert.equal(d.action, 'conflict');
    assert.deepEqual(d.conflicts, ['address']);
    assert.equal(d.values.address, base.address, 'the conflicting field keeps the agreed value');
  });

  it('a shared field changed on both sides alike is no conflict and nothing to write', () => {
    const changed = { ...base, address: '星湖街330号' };
    const d = decide(crmChange(changed, changed));
    assert.equal(d.action, 'skip');
    assert.equal(d.reason, 'in-sync');
    assert.equal(d.values.address, '星湖街330号');
  });

  it("a record equal to the agreed values is an echo of Qiao's own write, whatever the form of its values", () => {
    const echo = { ...base, creditLimit: '2000000.00', address: '星湖街328号', extra: 'not synced' };
    const d = decide(crmChange(echo, { ...base, address: '金鸡湖大道1号' }));
    assert.equal(d.action, 'skip');
    assert.equal(d.reason, 'echo');
    assert.equal(valuesHash(echo, Object.keys(fields)), valuesHash(base, Object.keys(fields)));
  });

  it('no record on the other side: it is created from the values, with defaults for what is missing', () => {
    const d = decide({
      side: 'crm',
      otherSide: 'erp',
      fields,
      record: { name: '新客户', phone: '021-1', address: '上海', creditLimit: 5 },
      other: null,
      defaults: { number: 'KH9007199254741001' },
    });
    assert.equal(d.action, 'write');
    assert.equal(d.reason, 'created');
    assert.deepEqual(d.writes.erp, {
      name: '新客户',
      phone: '021-1',
      creditLimit: 5,
      number: 'KH9007199254741001',
      address: '上海',
    });
    assert.deepEqual(d.writes.crm, { number: 'KH9007199254741001' }, 'the number goes back to the CRM');
  });

  it('before the first sync: owners win, empty owner fields are seeded, and a shared disagreement is a conflict', () => {
    const first = (crm: Record<string, unknown>, erp: Record<string, unknown>) =>
      decide({ side: 'crm', otherSide: 'erp', fields, record: crm, other: erp });
    const d = first(
      { name: '华锐', phone: '0512-1', creditLimit: 1, number: 'C0001', address: 'A' },
      { name: '华锐精密', phone: '', creditLimit: 2_000_000, number: 'C0001', address: 'A' },
    );
    assert.deepEqual(d.writes, { crm: { creditLimit: 2_000_000 }, erp: { name: '华锐', phone: '0512-1' } });
    const seeded = first({ name: 'X', creditLimit: 7 }, { name: 'X' });
    assert.deepEqual(seeded.writes, { crm: {}, erp: { creditLimit: 7 } }, 'the ERP had no credit limit yet');
    const split = first({ name: 'X', address: 'A' }, { name: 'X', address: 'B' });
    assert.equal(split.action, 'conflict');
    assert.deepEqual(split.conflicts, ['address']);
  });

  it('a cleared field is written as null; no value, null and empty text are one thing', () => {
    const d = decide(crmChange({ ...base, phone: '' }));
    assert.deepEqual(d.writes.erp, { phone: null });
    assert.equal(same(null, ''), true);
    assert.equal(same(undefined, null), true);
    assert.equal(same(2_000_000, '2000000.00'), true);
    assert.equal(same('0571', '571'), true);
    assert.equal(same({ a: 1, b: null }, { a: 1 }), true);
    assert.equal(same('A', 'a'), false);
  });

  it('merge takes a resolver for conflicting fields', () => {
    const input = crmChange({ ...base, address: 'crm' }, { ...base, address: 'erp' });
    assert.deepEqual(merge(input).conflicts, ['address']);
    const m = merge(input, (f) => (f === 'address' ? { value: 'agreed' } : undefined));
    assert.deepEqual(m.conflicts, []);
    assert.deepEqual(m.writes, { crm: { address: 'agreed' }, erp: { address: 'agreed' } });
  });
});
