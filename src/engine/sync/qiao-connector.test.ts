/**
 * The `qiao` connector over a real store (SQLite in a temporary folder): the shared conformance suite
 * with the cases that cannot apply skipped for a reason, then the sync and review actions as flows use
 * them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runConformance, testActionContext } from '../../connectors/conformance.ts';
import type { Connector } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { openStore } from '../../store/open-store.ts';
import type { Store } from '../../store/store.ts';
import { bindQiaoServices, type QiaoDescriptor, qiaoConnector } from './qiao-connector.ts';
import { ReviewClosedError, resolveReview } from './resolve.ts';

async function tempStore(): Promise<{ store: Store; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-sync-'));
  const store = await openStore({ dataDir: dir });
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const conformanceDescriptor = qiaoConnector();
const detail = (conflict: string) => ({
  sides: ['crm', 'erp'],
  fields: { name: 'crm', address: 'both' },
  values: { crm: { name: conflict, address: 'A' }, erp: { name: conflict, address: 'B' } },
  ids: {},
  conflicts: ['address'],
});

runConformance({
  descriptor: conformanceDescriptor,
  async start() {
    const t = await tempStore();
    conformanceDescriptor.bind({ store: t.store });
    return {
      settings: {},
      badSettings: {},
      // Its "write" is opening a review, its "read" reading it back.
      write: {
        action: 'review.open',
        input: (unique) => ({ pair: 'conformance', key: unique, detail: detail(unique) }),
        idOf: (out) => (out as { id: string }).id,
      },
      read: {
        action: 'review.get',
        input: (id) => ({ id }),
        check: (out, unique) => assert.equal((out as { key: string }).key, unique),
      },
      faults: {
        // Its partner is the hub's store: a hub that has not lent it (yet) is its outage.
        serverError: async () => conformanceDescriptor.bind(undefined),
        revokeAuth: async () => {},
        heal: async () => conformanceDescriptor.bind({ store: t.store }),
      },
      close: () => t.close(),
    };
  },
  skip: {
    descriptor:
      'settings are empty by design (the connector uses its hub store), so "empty settings are rejected" cannot hold; the rest of the descriptor is checked below',
    'check-bad-credentials': 'no credentials: it is part of the hub',
    'auth-refresh': 'no credentials to refresh',
    'rate-limited': 'no partner limit: it calls no partner',
    'poll-once': 'no poll trigger: its events come from people resolving reviews',
  },
});

describe('qiao connector: sync and reviews', () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let d: QiaoDescriptor;
  let c: Connector;
  let n = 0;
  const call = async (action: string, input: Record<string, unknown>, key = `k${n++}`) => {
    const spec = c.actions[action];
    return (await spec.run(spec.input.parse(input), testActionContext(key))).output as any;
  };
  const fields = { name: 'crm', creditLimit: 'erp', address: 'both' };
  const check = (side: 'crm' | 'erp', record: object, other: object | null, key = 'C0001') =>
    call('sync.check', {
      pair: 'customer',
      key,
      side,
      otherSide: side === 'crm' ? 'erp' : 'crm',
      fields,
      record,
      other,
      ids: { [side]: `${side}-id` },
    });

  before(async () => {
    t = await tempStore();
    d = qiaoConnector();
    assert.equal(
      bindQiaoServices({ descriptor: (type) => (type === 'qiao' ? d : undefined) }, { store: t.store }),
      true,
    );
    c = d.create({ connectionId: 'hub', settings: d.settings.parse({}), log: silentLogger });
  });
  after(() => t?.close());

  it('is the qiao type, takes no settings and declares review.resolved as its event', () => {
    assert.equal(d.type, 'qiao');
    assert.ok(d.title['zh-CN'] && d.title.en);
    assert.equal(d.settings.safeParse({ token: 'x' }).success, false, 'unknown settings are refused');
    assert.deepEqual(d.secretFields, []);
    const t = c.triggers['review.resolved'];
    assert.equal(t.kind, 'event');
    assert.equal(t.kind === 'event' && t.eventType, 'review.resolved');
    assert.deepEqual(Object.keys(c.actions).sort(), [
      'review.get',
      'review.open',
      'sync.check',
      'sync.commit',
    ]);
  });

  it('refuses owners that are not the two sides or both', async () => {
    const spec = c.actions['sync.check'];
    const r = spec.input.safeParse({
      pair: 'customer',
      key: 'C1',
      side: 'crm',
      otherSide: 'erp',
      fields: { name: 'wecom' },
      record: {},
    });
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /owner must be crm, erp or both; got 'wecom'/);
  });

  it('first change: write; after the commit the same record is an echo; a real change writes again', async () => {
    const first = await check('crm', { name: '华锐', address: 'A', creditLimit: 9 }, null);
    assert.equal(first.action, 'write');
    assert.equal(first.reason, 'created');
    assert.deepEqual(first.writes.erp, { name: '华锐', address: 'A', creditLimit: 9 });
    await call('sync.commit', {
      pair: 'customer',
      key: 'C0001',
      fields,
      values: first.values,
      ids: { crm: 'crm-id', erp: 100 },
    });
    const state = await t.store.getSyncState('customer', 'C0001');
    assert.deepEqual(state?.ids, { crm: 'crm-id', erp: '100' });
    // The ERP record Qiao just wrote comes back through the ERP poll: an echo.
    const echo = await check('erp', { name: '华锐', address: 'A', creditLimit: '9.00' }, first.values);
    assert.equal(echo.action, 'skip');
    assert.equal(echo.reason, 'echo');
    const change = await check('erp', { name: '华锐', address: 'A', creditLimit: 10 }, first.values);
    assert.equal(change.action, 'write');
    assert.deepEqual(change.writes, { erp: {}, crm: { creditLimit: 10 } });
  });

  it('sides already in step: skip, and the agreed values are remembered', async () => {
    const r = await check('crm', { name: 'X', address: 'Z' }, { name: 'X', address: 'Z' }, 'C0002');
    assert.equal(r.action, 'skip');
    assert.equal(r.reason, 'in-sync');
    assert.deepEqual((await t.store.getSyncState('customer', 'C0002'))?.base, { name: 'X', address: 'Z' });
    assert.equal(
      (await check('erp', { name: 'X', address: 'Z' }, { name: 'X', address: 'Z' }, 'C0002')).reason,
      'echo',
    );
  });

  it('a conflict opens one review; the other direction and later changes join it; resolved once', async () => {
    await call('sync.commit', {
      pair: 'customer',
      key: 'C0003',
      fields,
      values: { name: 'N', address: 'A0' },
    });
    const a = await check('crm', { name: 'N', address: 'A-crm' }, { name: 'N', address: 'A-erp' }, 'C0003');
    assert.equal(a.action, 'conflict');
    assert.deepEqual(a.detail.conflicts, ['address']);
    const open = { pair: 'customer', key: 'C0003', detail: a.detail, run: 'run-a', flow: 'sync-a' };
    const opened = await call('review.open', open, 'run-a:5');
    assert.equal(opened.created, true);
    // A retry of the same step finds its own review.
    assert.deepEqual(await call('review.open', open, 'run-a:5'), opened);

    // The ERP direction sees the same conflict, with a newer ERP record: it joins.
    const b = await check('erp', { name: 'N', address: 'A-erp2' }, { name: 'N', address: 'A-crm' }, 'C0003');
    assert.equal(b.action, 'conflict');
    assert.equal(b.review, opened.id);
    const joined = await call('review.open', { ...open, detail: b.detail, run: 'run-b' }, 'run-b:5');
    assert.deepEqual(joined, { id: opened.id, created: false, conflicts: ['address'] });
    // While the review is open every change of the record joins it, even one that alone would sync.
    assert.equal(
      (await check('crm', { name: 'N2', address: 'A-crm' }, { name: 'N', address: 'A-erp2' }, 'C0003'))
        .action,
      'conflict',
    );

    const review = await t.store.getReview(opened.id);
    assert.equal(review?.connection, 'hub');
    assert.equal(review?.runId, 'run-a');
    assert.equal((review!.detail as any).values.erp.address, 'A-erp2', 'the newest ERP values');

    assert.deepEqual(await c.reconcile!('review.resolved', [opened.id]), [], 'nothing resolved yet');
    const resolved = await resolveReview(t.store, opened.id, { choose: 'crm' }, '李娜');
    assert.deepEqual((resolved.resolution as any).result.writes, { crm: {}, erp: { address: 'A-crm' } });
    await assert.rejects(resolveReview(t.store, opened.id, { choose: 'erp' }, '王强'), ReviewClosedError);
    const [ev] = await c.reconcile!('review.resolved', [opened.id, 'unknown']);
    assert.equal(ev.key, `review.resolved:${opened.id}`);
    assert.equal(ev.correlation, opened.id);
    assert.deepEqual((ev.data as any).values, { name: 'N', address: 'A-crm' });
    assert.deepEqual(await c.reconcile!('approval.change', [opened.id]), []);
  });

  it('without its hub the actions fail as transient (retried), and check says why', async () => {
    const lone = qiaoConnector().create({ connectionId: 'x', settings: {}, log: silentLogger });
    await assert.rejects(
      lone.check(),
      (err: unknown) => err instanceof QiaoError && err.errorClass === 'transient',
    );
    const spec = lone.actions['sync.commit'];
    await assert.rejects(
      spec.run(spec.input.parse({ pair: 'p', key: 'k', fields, values: {} }), testActionContext('x')),
      /not bound to a hub/,
    );
    assert.equal((await c.check()).ok, true);
  });
});
