/**
 * The fault cases issue 3 asks for, at the connector level, over real HTTP to the sandbox:
 * - session revoked in the middle of a 1,000-record upsert → one re-login, every record once;
 * - a network-control lock (MsgCode 13) → transient, and the retry succeeds;
 * - missing base data → a permanent error (dead letter) with Kingdee's message and FieldName;
 * - 5,000 records with equal FModifyDate paged through a poll → each enqueued once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cursor } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { testActionContext } from '../conformance.ts';
import { type KingdeeFixture, startKingdeeFixture } from './testing.ts';

const ctx = (key: string) => testActionContext(key);

/** Runs `fn` over `items` with at most `limit` in flight, as the engine's concurrency cap does. */
async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

async function countCustomers(f: KingdeeFixture, prefix: string): Promise<string[]> {
  const query = f.connector.actions.query;
  const out = await query.run(
    query.input.parse({
      formId: 'BD_Customer',
      fields: ['FNumber'],
      filter: `FNumber like '${prefix}%'`,
      maxRows: 100_000,
    }),
    ctx('count'),
  );
  return (out.output as { rows: Array<{ FNumber: string }> }).rows.map((r) => r.FNumber);
}

describe('kingdee faults', () => {
  let f: KingdeeFixture;
  before(async () => {
    f = await startKingdeeFixture();
  });
  after(() => f.close());

  it('session revoked in the middle of a 1,000-record upsert: one re-login, every record once', async () => {
    const upsert = f.connector.actions.upsert;
    await f.connector.check(); // logged in before the run starts
    const before = await f.admin('stats');
    const items = Array.from({ length: 1000 }, (_, i) => `BULK-${String(i).padStart(4, '0')}`);
    let done = 0;
    let revoked = 0;
    await pool(items, 8, async (number) => {
      const out = await upsert.run(
        upsert.input.parse({
          formId: 'BD_Customer',
          model: { FNumber: number, FName: `批量客户${number}`, FCreateOrgId: { FNumber: '100' } },
        }),
        ctx(`bulk-${number}`),
      );
      assert.equal((out.output as { created: boolean }).created, true);
      done++;
      if (done === 500) revoked = (await f.admin('sessions/revoke', {})).revoked;
    });
    assert.equal(revoked, 1, 'the one live session was revoked mid-run');
    const stats = await f.admin('stats');
    assert.equal(stats.logins - before.logins, 1, 'the sandbox saw exactly one new login');
    assert.equal(
      f.connector.client.stats.logins,
      2,
      'the client logged in twice in all: first and once again',
    );
    assert.ok(f.connector.client.stats.sessionLost >= 1);
    const numbers = await countCustomers(f, 'BULK-');
    assert.equal(numbers.length, 1000, 'every record is there');
    assert.equal(new Set(numbers).size, 1000, 'and none twice');
  });

  it('a network-control lock (MsgCode 13) is transient, and the retry succeeds', async () => {
    const ssa = f.connector.actions['save-submit-audit'];
    const input = ssa.input.parse({
      formId: 'SAL_SaleOrder',
      model: {
        FBillNo: 'QIAO-SO-LOCK-1',
        FCustId: { FNumber: 'C0002' },
        FSalerId: { FNumber: 'E0003' },
        FSaleOrderEntry: [{ FMaterialId: { FNumber: 'M0005' }, FQty: 20, FTaxPrice: 2800 }],
      },
    });
    await f.admin('partner-faults', { lockNext: 1 });
    let attempts = 0;
    let out: unknown;
    // What the engine does with a transient error: retry with backoff (no delay needed here).
    for (;;) {
      attempts++;
      try {
        out = (await ssa.run(input, { ...ctx('lock-1'), attempt: attempts })).output;
        break;
      } catch (err) {
        assert.ok(err instanceof QiaoError);
        assert.equal(err.errorClass, 'transient');
        assert.equal(err.partner?.code, 13);
        assert.match(err.partner?.message ?? '', /网控冲突/);
        assert.ok(attempts < 3, 'one retry is enough');
      }
    }
    assert.equal(attempts, 2);
    assert.deepEqual((out as { documentStatus: string }).documentStatus, 'C');
    const query = f.connector.actions.query;
    const rows = await query.run(
      query.input.parse({
        formId: 'SAL_SaleOrder',
        fields: ['FID', 'FDocumentStatus'],
        filter: "FBillNo = 'QIAO-SO-LOCK-1'",
      }),
      ctx('q'),
    );
    assert.equal((rows.output as { count: number }).count, 1, 'one sales order, audited');
  });

  it('a record held in the Kingdee client is a transient lock until released', async () => {
    await f.admin('records/BD_Customer/C0005/lock', { user: '陈静' });
    const upsert = f.connector.actions.upsert;
    const input = upsert.input.parse({
      formId: 'BD_Customer',
      model: { FNumber: 'C0005', FTEL: '028-66668888' },
    });
    await assert.rejects(upsert.run(input, ctx('held')), (err: unknown) => {
      assert.ok(err instanceof QiaoError);
      assert.equal(err.errorClass, 'transient');
      assert.match(err.message, /陈静/);
      return true;
    });
    await f.admin('records/BD_Customer/C0005/lock', undefined, 'DELETE');
    await upsert.run(input, ctx('held'));
    const c = await f.admin('records/BD_Customer/C0005');
    assert.equal(c.FTEL, '028-66668888');
  });

  it("missing base data: a permanent error with Kingdee's message and FieldName, nothing written", async () => {
    const ssa = f.connector.actions['save-submit-audit'];
    const input = ssa.input.parse({
      formId: 'SAL_SaleOrder',
      model: {
        FBillNo: 'QIAO-SO-MISSING-1',
        FCustId: { FNumber: 'C9999' },
        FSalerId: { FNumber: 'E0003' },
        FSaleOrderEntry: [{ FMaterialId: { FNumber: 'M0001' }, FQty: 1, FTaxPrice: 168000 }],
      },
    });
    await assert.rejects(ssa.run(input, ctx('missing-1')), (err: unknown) => {
      assert.ok(err instanceof QiaoError);
      assert.equal(err.errorClass, 'permanent');
      assert.equal(err.fault, 'user');
      assert.equal(err.partner?.system, 'kingdee');
      assert.equal(err.partner?.code, 11);
      assert.equal(err.partner?.field, 'FCustId');
      assert.equal(err.partner?.message, '字段“客户”是必填项');
      assert.equal(err.partner?.operation, 'Save');
      // The dead-letter form keeps it all.
      assert.equal(err.toJSON().partner?.field, 'FCustId');
      return true;
    });
    const verify = ssa.input.parse({
      ...input,
      isVerifyBaseDataField: true,
      model: { ...input.model, FBillNo: 'QIAO-SO-MISSING-2' },
    });
    await assert.rejects(ssa.run(verify, ctx('missing-2')), (err: unknown) => {
      assert.ok(err instanceof QiaoError);
      assert.equal(err.partner?.field, 'FCustId');
      assert.match(err.partner?.message ?? '', /C9999/);
      return true;
    });
    const query = f.connector.actions.query;
    const rows = await query.run(
      query.input.parse({
        formId: 'SAL_SaleOrder',
        fields: ['FID'],
        filter: "FBillNo like 'QIAO-SO-MISSING%'",
      }),
      ctx('q'),
    );
    assert.equal((rows.output as { count: number }).count, 0);
  });

  it('5,000 records with one FModifyDate paged through a poll: each enqueued once', async () => {
    // Every write of the batch gets the same stamp.
    await f.admin('clock', { freeze: '2025-06-01T12:00:00' });
    const models = Array.from({ length: 5000 }, (_, i) => ({
      FNumber: `TIE-${String(i).padStart(5, '0')}`,
      FName: `同时修改客户${i}`,
      FCreateOrgId: { FNumber: '100' },
    }));
    const bu = f.connector.actions['batch-upsert'];
    const out = await bu.run(bu.input.parse({ formId: 'BD_Customer', models }), ctx('ties'));
    assert.equal((out.output as { created: number }).created, 5000);
    await f.admin('clock', { freeze: null });

    const poll = f.connector.triggers.poll;
    assert.equal(poll.kind, 'poll');
    if (poll.kind !== 'poll') return;
    const params = poll.params.parse({ formId: 'BD_Customer', since: '2025-06-01', pageSize: 2000 });
    const inbox = new Map<string, number>();
    let cursor: Cursor | null = null;
    let pages = 0;
    for (;;) {
      const page = await poll.poll(params, cursor, {
        signal: AbortSignal.timeout(30_000),
        log: silentLogger,
      });
      pages++;
      for (const r of page.records) inbox.set(r.key, (inbox.get(r.key) ?? 0) + 1);
      if (page.cursor && cursor) {
        assert.ok(
          page.cursor.time > cursor.time || (page.cursor.time === cursor.time && page.cursor.id >= cursor.id),
        );
      }
      cursor = page.cursor ?? cursor;
      if (!page.more) break;
      assert.ok(pages < 10, 'the poll terminates');
    }
    const ties = [...inbox.keys()].filter((k) => k.includes('@2025-06-01T04:00:00.000Z'));
    assert.equal(ties.length, 5000, 'all 5,000 seen (12:00 at +08:00 is 04:00Z)');
    for (const [k, n] of inbox) assert.equal(n, 1, `${k} enqueued once`);
    // Caught up: the next poll finds none of the ties again (only what other tests wrote just now,
    // inside the overlap window).
    const again = await poll.poll(params, cursor, { signal: AbortSignal.timeout(30_000), log: silentLogger });
    assert.equal(again.records.filter((r) => r.key.includes('@2025-06-01')).length, 0);
  });
});
