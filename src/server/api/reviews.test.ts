import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

describe('/api/reviews', () => {
  let k: ApiKit;
  let id: string;
  before(async () => {
    k = await startApiKit();
    await k.call('PUT', '/connections/hub', { type: 'qiao', settings: {} });
    id = randomUUID();
    await k.hub.store.openReview({
      id,
      pair: 'customer',
      key: 'C0001',
      connection: 'hub',
      flowId: 'customer-sync-crm-to-erp',
      runId: 'run-1',
      detail: {
        sides: ['crm', 'erp'],
        fields: { name: 'crm', address: 'both' },
        base: { name: '华锐', address: 'A0' },
        values: { crm: { name: '华锐', address: 'A-crm' }, erp: { name: '华锐', address: 'A-erp' } },
        ids: { crm: '9007199254741001', erp: '100001' },
        conflicts: ['address'],
      },
    });
  });
  after(() => k.close());

  it('lists and shows reviews with the values to choose from', async () => {
    const list = await k.call('GET', '/reviews?status=open&pair=customer');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((r: any) => [r.id, r.key, r.status]),
      [[id, 'C0001', 'open']],
    );
    const one = await k.call('GET', `/reviews/${id}`);
    assert.deepEqual(one.body.conflicts, { address: { base: 'A0', crm: 'A-crm', erp: 'A-erp' } });
    assert.equal((await k.call('GET', `/reviews/${randomUUID()}`)).status, 404);
    assert.equal((await k.call('GET', '/reviews?status=closed')).status, 400);
  });

  it('refuses a decision that does not fit (422), then resolves once (409 after), audited with the actor', async () => {
    const bad = await k.call('POST', `/reviews/${id}/resolve`, { values: { name: 'x' } });
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.problems, [{ path: 'values.address', message: 'conflicts: decide it' }]);
    const unknown = await k.call('POST', `/reviews/${id}/resolve`, { choose: 'erp', colour: 'red' });
    assert.equal(unknown.status, 400);

    const ok = await k.call(
      'POST',
      `/reviews/${id}/resolve`,
      { choose: 'erp' },
      { 'x-qiao-actor': encodeURIComponent('李娜') },
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'resolved');
    assert.equal(ok.body.resolvedBy, '李娜');
    assert.deepEqual(ok.body.resolution.result.writes, { crm: { address: 'A-erp' }, erp: {} });
    const again = await k.call('POST', `/reviews/${id}/resolve`, { choose: 'crm' });
    assert.equal(again.status, 409);
    assert.equal((await k.call('GET', `/reviews/${id}`)).body.resolution.choose, 'erp');

    // The waiting run's event is in the inbox of the qiao connection, once.
    const ev = await k.hub.store.getInbox('hub', `review.resolved:${id}`);
    assert.equal(ev?.correlation, id);
    assert.equal(ev?.duplicates, 0);
    const audit = (await k.hub.store.listAudit({ limit: 10_000 })).filter(
      (a) => a.action === 'review.resolve',
    );
    assert.deepEqual(
      audit.map((a) => [a.actor, a.target]),
      [['李娜', `review:${id}`]],
    );
  });
});
