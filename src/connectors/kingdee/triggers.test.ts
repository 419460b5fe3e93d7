/**
 * The poll trigger (time, id) cursor and overlap window, and the push path: a change made by a person
 * in the sandbox reaches the hook as a signed notification and becomes an inbound event.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cursor, HookRequest, PollTriggerSpec } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { signPush } from './hooks.ts';
import { type KingdeeFixture, startHookServer, startKingdeeFixture } from './testing.ts';
import { toLocal, toUtc } from './triggers.ts';

const pctx = () => ({ signal: AbortSignal.timeout(30_000), log: silentLogger });

async function drain(t: PollTriggerSpec, params: unknown, cursor: Cursor | null) {
  const keys: string[] = [];
  for (let i = 0; i < 100; i++) {
    const page = await t.poll(params, cursor, pctx());
    keys.push(...page.records.map((r) => r.key));
    cursor = page.cursor ?? cursor;
    if (!page.more) break;
  }
  return { keys, cursor };
}

describe('kingdee triggers', () => {
  let f: KingdeeFixture;
  let poll: PollTriggerSpec;
  before(async () => {
    f = await startKingdeeFixture();
    poll = f.connector.triggers.poll as PollTriggerSpec;
  });
  after(() => f.close());

  it('converts Kingdee local stamps to UTC cursors and back', () => {
    assert.equal(toUtc('2025-03-01T10:00:00', 480), '2025-03-01T02:00:00.000Z');
    assert.equal(toUtc('2025-03-01T10:00:00.12', 480), '2025-03-01T02:00:00.120Z');
    assert.equal(toLocal('2025-03-01T02:00:00.120Z', 480), '2025-03-01 10:00:00.120');
  });

  it('"audited receipts only": FApproveDate with a filter sees audits, not saves', async () => {
    const params = poll.params.parse({
      formId: 'AR_RECEIVEBILL',
      timeField: 'FApproveDate',
      filter: "FDocumentStatus = 'C'",
      fields: ['FREALRECAMOUNTFOR', 'FCONTACTUNIT.FNumber'],
    });
    const first = await drain(poll, params, null);
    assert.equal(first.keys.length, 1, 'the seeded audited receipt');
    const r = await f.admin('records/AR_RECEIVEBILL', {
      user: '赵敏',
      model: {
        FCONTACTUNIT: { FNumber: 'C0003' },
        FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 80_000 }],
      },
    });
    assert.equal((await drain(poll, params, first.cursor)).keys.length, 0, 'saved but not audited');
    await f.admin(`records/AR_RECEIVEBILL/${r.FBillNo}/submit`, {});
    await f.admin(`records/AR_RECEIVEBILL/${r.FBillNo}/audit`, { user: '杨帆' });
    const page = await poll.poll(params, first.cursor, pctx());
    assert.equal(page.records.length, 1);
    const data = page.records[0].data as Record<string, unknown>;
    assert.equal(data.FBillNo, r.FBillNo);
    assert.equal(data.FREALRECAMOUNTFOR, 80_000);
    assert.equal(data['FCONTACTUNIT.FNumber'], 'C0003');
    assert.equal(data.formId, 'AR_RECEIVEBILL');
  });

  it('the overlap window reads recent changes again; settled ones once', async () => {
    const params = poll.params.parse({ formId: 'BD_Supplier', overlapMs: 60_000 });
    const start = await drain(poll, params, null);
    await f.admin('records/BD_Supplier/VEN0003/edit', { fields: { FAddress: '杭州市萧山区' } });
    const a = await drain(poll, params, start.cursor);
    assert.equal(a.keys.length, 1);
    assert.deepEqual(a.cursor, start.cursor, 'the cursor waits for the window');
    const b = await drain(poll, params, a.cursor);
    assert.deepEqual(b.keys, a.keys, 'read again with the same key: the inbox drops it');
    const settled = poll.params.parse({ formId: 'BD_Supplier', overlapMs: 0 });
    const c = await drain(poll, settled, a.cursor);
    assert.deepEqual(c.keys, a.keys);
    assert.notDeepEqual(c.cursor, a.cursor);
    assert.equal((await drain(poll, settled, c.cursor)).keys.length, 0);
  });

  it('refuses entry fields (they would repeat a document per line)', async () => {
    const params = poll.params.parse({ formId: 'SAL_SaleOrder', fields: ['FQty'] });
    await assert.rejects(
      poll.poll(params, null, pctx()),
      (e: unknown) => e instanceof QiaoError && e.errorClass === 'permanent',
    );
  });

  it('push path: an audit in Kingdee reaches the hook signed, and becomes one inbound event', async () => {
    // A stand-in for the hub's server: it hands the raw request to the connector's hook.
    const hub = await startHookServer(f.connector.hooks![0]);
    const { events, statuses, url } = hub;
    try {
      await f.admin('notify', { url, forms: ['AR_RECEIVEBILL'], operations: ['Audit'] });
      const r = await f.admin('records/AR_RECEIVEBILL', {
        model: {
          FCONTACTUNIT: { FNumber: 'C0006' },
          FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS01_SYS' }, FRECTOTALAMOUNTFOR: 6_600 }],
        },
        status: 'C',
      });
      await f.admin('notify/flush', {});
      assert.deepEqual(statuses, [200]);
      assert.equal(events.length, 1);
      const e = events[0];
      assert.equal(e.type, 'kingdee.change');
      assert.equal(e.correlation, `AR_RECEIVEBILL:${r.FBillNo}`);
      // An audit is keyed by the document and its FApproveDate (change.ts), as the reconciler keys it.
      assert.match(
        e.key,
        new RegExp(`^kingdee:ar_receivebill:${r.id}:audit@\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z$`),
      );
      const change = f.connector.triggers.change;
      assert.equal(change.kind, 'event');
      if (change.kind === 'event') {
        assert.equal(change.matches?.(e, { formId: 'ar_receivebill', operations: ['Audit'] }), true);
        assert.equal(change.matches?.(e, { formId: 'AP_PAYBILL' }), false);
      }
      // A duplicated delivery carries the same event key (the inbox keeps one).
      await f.admin('notify', { duplicateNext: 1 });
      await f.admin(`records/AR_RECEIVEBILL/${r.FBillNo}/unaudit`, {});
      await f.admin(`records/AR_RECEIVEBILL/${r.FBillNo}/submit`, {});
      await f.admin(`records/AR_RECEIVEBILL/${r.FBillNo}/audit`, {});
      await f.admin('notify/flush', {});
      assert.equal(events.length, 3);
      assert.equal(events[1].key, events[2].key);
      assert.notEqual(events[0].key, events[1].key, 'a re-audit is a new change');
    } finally {
      await f.admin('notify', undefined, 'DELETE');
      await hub.close();
    }
  });

  it('push path refuses a bad or stale signature before reading the body', async () => {
    const hook = f.connector.hooks![0];
    const body = Buffer.from(
      JSON.stringify({ eventId: 'e1', acctId: f.settings.acctId, formId: 'BD_Customer', number: 'C0001' }),
    );
    const req = (headers: Record<string, string>): HookRequest => ({
      method: 'POST',
      path: '',
      query: {},
      headers,
      rawBody: body,
    });
    const ts = String(Date.now());
    const good = signPush(f.settings.pushSecret!, ts, body);
    assert.equal((await hook.handle(req({ 'x-qiao-timestamp': ts, 'x-qiao-signature': good }))).status, 200);
    const bad = await hook.handle(
      req({ 'x-qiao-timestamp': ts, 'x-qiao-signature': (good[0] === '0' ? '1' : '0') + good.slice(1) }),
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.events, undefined);
    const old = String(Date.now() - 10 * 60_000);
    assert.equal(
      (
        await hook.handle(
          req({ 'x-qiao-timestamp': old, 'x-qiao-signature': signPush(f.settings.pushSecret!, old, body) }),
        )
      ).status,
      401,
    );
  });
});
