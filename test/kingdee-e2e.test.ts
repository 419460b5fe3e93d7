/**
 * Kingdee end to end over real HTTP: a hub (engine, SQLite store, scheduler, HTTP server) with a
 * `kingdee` connection to the Kingdee sandbox.
 * - session revoked in the middle of a 1,000-record upsert → one re-login, every record once;
 * - a network-control lock → the engine retries and the step succeeds;
 * - missing base data → a dead letter with Kingdee's message and field; an edited replay completes once;
 * - 5,000 records with one FModifyDate through the poll trigger → each enqueued (one run) once;
 * - the push path: an audit in Kingdee → the BOS plugin's signed POST to /hooks/kingdee/{id} → a run.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KingdeeConnector } from '../src/connectors/kingdee/index.ts';
import { adminCall } from '../src/connectors/kingdee/testing.ts';
import { createLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type KingdeeSandbox, startKingdeeSandbox } from '../src/sandbox/kingdee/index.ts';
import type { RunStatus } from '../src/store/store.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kingdee end to end: hub + sandbox over HTTP', () => {
  let dir: string;
  let sb: KingdeeSandbox;
  let hub: Hub;
  const admin = (path: string, body?: unknown, method?: string) => adminCall(sb, path, body, method);
  /** Runs of a flow (the store answers at most 1,000, newest first). */
  const runsOf = (flowId: string) => hub.store.listRuns({ flowId, limit: 1000 });
  /** Waits (on state, not on time) until `flowId` has `n` runs in `statuses`; fails after `ms`. */
  const untilRuns = async (flowId: string, n: number, statuses?: RunStatus[], ms = 60_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const runs = (await runsOf(flowId)).filter((r) => !statuses || statuses.includes(r.status));
      if (runs.length >= n) return runs;
      if (Date.now() > end)
        throw new Error(`flow ${flowId} has ${runs.length} runs in ${statuses ?? 'any'}, expected ${n}`);
      await wait(25);
    }
  };
  const until = async (runId: string, statuses: RunStatus[], ms = 30_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const got = await hub.store.getRun(runId);
      if (got && statuses.includes(got.run.status)) return got;
      if (Date.now() > end) {
        throw new Error(
          `run ${runId} is ${got?.run.status}: ${JSON.stringify(got?.steps.map((s) => [s.name, s.status, s.error?.message]))}`,
        );
      }
      await wait(20);
    }
  };
  const connector = () => hub.connections.get('erp')!.connector as KingdeeConnector;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-kingdee-e2e-'));
    sb = await startKingdeeSandbox();
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      concurrency: 16,
      log: createLogger({}, { level: (process.env.QIAO_LOG as 'warn') ?? 'silent' }),
    });
    await hub.connections.save(
      {
        id: 'erp',
        type: 'kingdee',
        settings: { baseUrl: sb.baseUrl, ...sb.credentials },
        // The default budget (20/s) would make a 1,000-record test slow; the sandbox has no limit.
        limits: { rate: { perSecond: 2000, burst: 2000 }, concurrency: 8 },
        origin: 'api',
      },
      'test',
    );
  });
  after(async () => {
    await hub?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('session revoked in the middle of a 1,000-record upsert: one re-login, every record once', async () => {
    await hub.saveFlow(
      `id: customers-in
name: 客户导入
trigger: { type: manual }
steps:
  - id: customer
    action: erp.upsert
    input:
      formId: BD_Customer
      model:
        FNumber: '=event.number'
        FName: '=event.name'
        FCreateOrgId: { FNumber: '100' }
`,
      'customers-in.yaml',
      'api',
      'test',
    );
    await connector().check();
    const logins = connector().client.stats.logins;
    const sandboxLogins = (await admin('stats')).logins;
    await admin('faults', { latencyMs: 5 });
    try {
      for (let i = 0; i < 1000; i++) {
        const n = `E2E-${String(i).padStart(4, '0')}`;
        await hub.engine.startFlow('customers-in', { number: n, name: `端到端客户${i}` }, `in-${n}`);
      }
      await untilRuns('customers-in', 200, ['completed']);
      assert.equal((await admin('sessions/revoke', {})).revoked, 1);
    } finally {
      await admin('faults', undefined, 'DELETE');
    }
    const runs = await untilRuns('customers-in', 1000, ['completed']);
    assert.equal(runs.length, 1000);
    assert.equal(connector().client.stats.logins - logins, 1, 'the connector logged in once more');
    assert.equal((await admin('stats')).logins - sandboxLogins, 1, 'the sandbox saw one new login');
    const rows = (await admin('records/BD_Customer?limit=100000')).records.filter((r: any) =>
      r.FNumber.startsWith('E2E-'),
    );
    assert.equal(rows.length, 1000, 'every record is in Kingdee');
    assert.equal(new Set(rows.map((r: any) => r.FNumber)).size, 1000, 'none twice');
  });

  it('a network-control lock (MsgCode 13) is retried by the engine and succeeds', async () => {
    await hub.saveFlow(
      `id: order-in
name: 销售订单
trigger: { type: manual }
steps:
  - id: order
    action: erp.save-submit-audit
    input:
      formId: SAL_SaleOrder
      model:
        FBillNo: '=event.billNo'
        FCustId: { FNumber: '=event.customer' }
        FSalerId: { FNumber: E0003 }
        FSaleOrderEntry:
          - { FMaterialId: { FNumber: M0001 }, FQty: 1, FTaxPrice: 168000 }
    retry: { initialInterval: 50ms, maximumAttempts: 4 }
`,
      'order-in.yaml',
      'api',
      'test',
    );
    await admin('partner-faults', { lockNext: 1 });
    const out = await hub.engine.startFlow('order-in', { billNo: 'E2E-SO-1', customer: 'C0001' });
    const done = await until(out.runIds[0], ['completed']);
    const step = done.steps[0];
    assert.equal(step.history.length, 2, 'one failed attempt, then success');
    assert.equal(step.history[0].error?.errorClass, 'transient');
    assert.equal(step.history[0].error?.partner?.code, 13);
    assert.equal((step.output as { documentStatus: string }).documentStatus, 'C');
    const orders = (await admin('records/SAL_SaleOrder?limit=1000')).records.filter(
      (r: any) => r.FBillNo === 'E2E-SO-1',
    );
    assert.equal(orders.length, 1);
    assert.equal(orders[0].FDocumentStatus, 'C');
  });

  it("missing base data is a dead letter with Kingdee's message and field; an edited replay completes once", async () => {
    const out = await hub.engine.startFlow('order-in', { billNo: 'E2E-SO-2', customer: 'C9999' });
    const failed = await until(out.runIds[0], ['failed']);
    assert.equal(failed.steps[0].history.length, 1, 'not retried');
    const [dl] = await hub.store.listDeadLetters({ flowId: 'order-in', status: 'open' });
    assert.equal(dl.error.errorClass, 'permanent');
    assert.equal(dl.error.partner?.system, 'kingdee');
    assert.equal(dl.error.partner?.message, '字段“客户”是必填项');
    assert.equal(dl.error.partner?.field, 'FCustId');
    assert.equal(dl.error.partner?.code, 11);
    const input = dl.input as { model: Record<string, unknown> };
    await hub.store.editDeadLetter(
      dl.id,
      { ...input, model: { ...input.model, FCustId: { FNumber: 'C0009' } } },
      { actor: 'ops', action: 'dead-letter.edit', target: dl.id },
    );
    await hub.engine.replay(dl.id, 'ops');
    await until(out.runIds[0], ['completed']);
    const orders = (await admin('records/SAL_SaleOrder?limit=1000')).records.filter(
      (r: any) => r.FBillNo === 'E2E-SO-2',
    );
    assert.equal(orders.length, 1, 'created once');
    assert.equal(orders[0].FCustId, 'C0009');
    assert.equal(orders[0].FDocumentStatus, 'C');
  });

  it('5,000 records with one FModifyDate through the poll trigger: each enqueued once', async () => {
    let ids: number[] = [];
    await admin('clock', { freeze: '2025-07-01T08:30:00' });
    try {
      const a = connector().actions['batch-upsert'];
      const models = Array.from({ length: 5000 }, (_, i) => ({
        FNumber: `TIE-${String(i).padStart(5, '0')}`,
        FName: `同刻客户${i}`,
      }));
      const out = await a.run(a.input.parse({ formId: 'BD_Customer', models }), {
        idempotencyKey: 'ties',
        attempt: 1,
        links: { find: async () => undefined },
        signal: AbortSignal.timeout(60_000),
        log: createLogger({}, { level: 'silent' }),
      });
      ids = (out.output as { results: Array<{ id: number }> }).results.map((r) => r.id);
    } finally {
      await admin('clock', { freeze: null });
    }
    /** Inbox events of the flow's poll source, new and duplicate (the engine's own counter). */
    const inboxed = async () => {
      const metric = (await hub.metrics.registry.getMetricsAsJSON()).find(
        (m) => m.name === 'qiao_inbox_events_total',
      );
      const of = (dup: string) =>
        (metric?.values ?? [])
          .filter((v) => v.labels.source === 'poll:tie-sync' && v.labels.duplicate === dup)
          .reduce((n, v) => n + Number(v.value), 0);
      return { fresh: of('false'), duplicate: of('true') };
    };
    await hub.saveFlow(
      `id: tie-sync
name: 同刻客户同步
trigger:
  type: poll
  connection: erp
  trigger: poll
  params: { formId: BD_Customer, since: '2025-07-01', filter: "FNumber like 'TIE-%'", pageSize: 2000 }
  every: 1s
steps:
  - id: keep
    map: { id: '=FCUSTID', number: '=FNumber' }
`,
      'tie-sync.yaml',
      'api',
      'test',
    );
    for (const end = Date.now() + 60_000; (await inboxed()).fresh < 5000; ) {
      if (Date.now() > end) throw new Error(`only ${(await inboxed()).fresh} of 5,000 enqueued`);
      await wait(50);
    }
    // Two more polls must add nothing.
    const calls = (await admin('stats')).calls.ExecuteBillQuery as number;
    for (
      const end = Date.now() + 10_000;
      ((await admin('stats')).calls.ExecuteBillQuery as number) < calls + 2 && Date.now() < end;
    ) {
      await wait(50);
    }
    assert.deepEqual(await inboxed(), { fresh: 5000, duplicate: 0 }, 'each enqueued once, none read again');
    // 08:30 at +08:00 is 00:30Z: every record's version is in the inbox under its own key.
    for (const id of ids) {
      assert.ok(
        await hub.store.getInbox('poll:tie-sync', `BD_Customer:${id}@2025-07-01T00:30:00.000Z`),
        `record ${id}`,
      );
    }
    await untilRuns('tie-sync', 1000, ['completed']);
    await hub.saveFlow(
      `id: tie-sync
name: 同刻客户同步
enabled: false
trigger:
  type: poll
  connection: erp
  trigger: poll
  params: { formId: BD_Customer, since: '2025-07-01', filter: "FNumber like 'TIE-%'" }
  every: 1s
steps:
  - id: keep
    map: { id: '=FCUSTID' }
`,
      'tie-sync.yaml',
      'api',
      'test',
    );
  });

  it('push path: an audited receipt reaches the hub through the BOS plugin’s signed POST', async () => {
    await hub.saveFlow(
      `id: receipt-pushed
name: 收款推送
trigger:
  type: event
  connection: erp
  trigger: change
  params: { formId: AR_RECEIVEBILL, operations: [Audit] }
steps:
  - id: keep
    map: { number: '=number', status: '=documentStatus' }
`,
      'receipt-pushed.yaml',
      'api',
      'test',
    );
    await admin('notify', { url: `${hub.url}/hooks/kingdee/erp`, forms: ['AR_RECEIVEBILL'] });
    try {
      const r = await admin('records/AR_RECEIVEBILL', {
        user: '赵敏',
        model: {
          FCONTACTUNIT: { FNumber: 'C0002' },
          FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 150_000 }],
        },
        status: 'B',
      });
      await admin(`records/AR_RECEIVEBILL/${r.FBillNo}/audit`, { user: '杨帆' });
      await admin('notify/flush', {});
      const deliveries = (await admin('notify')).deliveries as Array<{
        number: string;
        operation: string;
        status: number;
      }>;
      const audit = deliveries.find((d) => d.number === r.FBillNo && d.operation === 'Audit');
      assert.equal(audit?.status, 200, 'the hub acknowledged the notification');
      const [run] = await untilRuns('receipt-pushed', 1, ['completed']);
      const got = await hub.store.getRun(run.id);
      assert.deepEqual(got?.steps[0].output, { number: r.FBillNo, status: 'C' });
      // Save and Submit were delivered too but do not match the flow's params.
      assert.equal((await runsOf('receipt-pushed')).length, 1);
    } finally {
      await admin('notify', undefined, 'DELETE');
    }
  });
});
