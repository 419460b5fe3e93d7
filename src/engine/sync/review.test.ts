import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../core/errors.ts';
import type { ReviewRow } from '../../store/store.ts';
import { conflictView, joinReview, type ReviewDetail, resolveDetail, resolvedEvent } from './review.ts';

const detail: ReviewDetail = {
  sides: ['crm', 'erp'],
  fields: { name: 'crm', address: 'both', industry: 'both', creditLimit: 'erp' },
  base: { name: '华锐', address: 'A0', industry: '制造业', creditLimit: 1 },
  values: {
    crm: { name: '华锐精密', address: 'A-crm', industry: '制造业', creditLimit: 1 },
    erp: { name: '华锐', address: 'A-erp', industry: '制造业', creditLimit: 2 },
  },
  ids: { crm: '9007199254741001' },
  conflicts: ['address'],
};

describe('review queue: joining and resolving', () => {
  it('shows each conflicting field as agreed last time and as each side holds it now', () => {
    assert.deepEqual(conflictView(detail), { address: { base: 'A0', crm: 'A-crm', erp: 'A-erp' } });
  });

  it('a later change of one side joins: its values replace the older ones and conflicts are recomputed', () => {
    const joined = joinReview(detail, {
      side: 'erp',
      record: { name: '华锐', address: 'A-erp', industry: '能源', creditLimit: 2 },
      ids: { erp: '100001', crm: '' },
    });
    assert.deepEqual(joined.conflicts, ['address']);
    assert.equal(joined.values.erp.industry, '能源');
    assert.deepEqual(joined.ids, { crm: '9007199254741001', erp: '100001' });
    const agreed = joinReview(detail, { side: 'erp', record: { ...detail.values.erp, address: 'A-crm' } });
    assert.deepEqual(agreed.conflicts, [], 'the ERP came round to the CRM address');
  });

  it('choosing a side takes its value of every conflicting field; owners keep theirs; writes say what changes', () => {
    const r = resolveDetail(detail, { choose: 'erp' });
    assert.deepEqual(r.values, { name: '华锐精密', address: 'A-erp', industry: '制造业', creditLimit: 2 });
    assert.deepEqual(r.writes, { crm: { address: 'A-erp', creditLimit: 2 }, erp: { name: '华锐精密' } });
  });

  it('typed values decide the conflicting fields (and may set others)', () => {
    const r = resolveDetail(detail, { values: { address: '合并地址', industry: '能源' } });
    assert.equal(r.values.address, '合并地址');
    assert.deepEqual(r.writes.crm, { address: '合并地址', industry: '能源', creditLimit: 2 });
    assert.deepEqual(r.writes.erp, { name: '华锐精密', address: '合并地址', industry: '能源' });
  });

  it('refuses a decision that leaves a conflict open, names an unknown side or field', () => {
    const problems = (d: Parameters<typeof resolveDetail>[1]) => {
      try {
        resolveDetail(detail, d);
      } catch (err) {
        assert.ok(err instanceof ValidationError);
        return err.problems.map((p) => `${p.path}: ${p.message}`);
      }
      assert.fail('no error');
    };
    assert.deepEqual(problems({}), [': give choose (crm or erp) or values']);
    assert.deepEqual(problems({ values: { name: 'x' } }), ['values.address: conflicts: decide it']);
    assert.deepEqual(problems({ choose: 'wecom', values: { adress: 'x' } }), [
      "choose: must be crm or erp; got 'wecom'",
      'values.adress: not a field of this record (fields: name, address, industry, creditLimit)',
    ]);
  });

  it('the resolved event is keyed by the review, so every delivery of it is one inbox event', () => {
    const review: ReviewRow = {
      id: 'r1',
      pair: 'customer',
      key: 'C0001',
      status: 'resolved',
      connection: 'hub',
      detail: detail as unknown as Record<string, unknown>,
      resolution: { choose: 'crm', result: resolveDetail(detail, { choose: 'crm' }) },
      resolvedBy: '李娜',
      createdAt: 1,
      updatedAt: 2,
      resolvedAt: 2,
    };
    const ev = resolvedEvent(review);
    assert.equal(ev.key, 'review.resolved:r1');
    assert.equal(ev.correlation, 'r1');
    assert.equal(ev.type, 'review.resolved');
    assert.deepEqual((ev.data as any).writes, {
      crm: { creditLimit: 2 },
      erp: { name: '华锐精密', address: 'A-crm' },
    });
    assert.deepEqual(resolvedEvent(review), ev);
  });
});
