/**
 * Kingdee pushes lost and found, end to end over real HTTP: a hub (engine, SQLite store, HTTP server)
 * with a `kingdee` connection to the Kingdee sandbox, whose BOS-plugin emulation posts changes to the
 * hub's hook.
 * - a run waits for an expense bill's payment (the Pay push of flows/expense-reimbursement*.yaml); the
 *   push is held back, so the hub never hears it; `hub.engine.reconcile()` reads the bill and its
 *   payment bill and the run continues, once; the push then arrives late → a duplicate in the inbox,
 *   and neither the waiting run nor the flow started by Pay events runs twice;
 * - a run waits for a receipt's audit; the Audit push is lost for good; the reconciler resumes it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChangeNotification } from '../src/connectors/kingdee/change.ts';
import { adminCall } from '../src/connectors/kingdee/testing.ts';
import { createLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type KingdeeSandbox, startKingdeeSandbox } from '../src/sandbox/kingdee/index.ts';
import type { RunStatus } from '../src/store/store.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FLOWS = {
  expense: `id: expense-paid
name: 报销付款通知
trigger: { type: manual }
steps:
  - id: bill
    action: erp.save-submit-audit
    input:
      formId: ER_ExpReimbursement
      model:
        FBillNo: '=event.billNo'
        FProposerID: { FSTAFFNUMBER: E0004 }
        FRequestDeptID: { FNumber: D01 }
        FCausa: '=event.reason'
        FEntity:
          - { FExpID: { FNumber: FYXM01 }, FTaxSubmitAmt: '=event.amount' }
  - id: paid
    wait:
      connection: erp
      event: kingdee.change
      correlation: '="ER_ExpReimbursement:" & steps.bill.number'
      until: '=operation = "Pay"'
      timeout: 30d
      onTimeout: fail
  - id: told
    map: { bill: '=steps.paid.number', payBill: '=steps.paid.payBill.number' }
`,
  // Started by every Pay of an expense bill: the late push must not start it a second time.
  paidEvents: `id: expense-paid-events
name: 报销付款事件
trigger:
  type: event
  connection: erp
  trigger: change
  params: { formId: ER_ExpReimbursement, operations: [Pay] }
steps:
  - id: keep
    map: { number: '=number', payBill: '=payBill.number' }
`,
  receipt: `id: receipt-audited
name: 收款审核
trigger: { type: manual }
steps:
  - id: audited
    wait:
      connection: erp
      event: kingdee.change
      correlation: '="AR_RECEIVEBILL:" & event.number'
      until: '=operation = "Audit"'
      timeout: 30d
      onTimeout: fail
  - id: done
    map: { approver: '=steps.audited.userName' }
`,
};

describe('kingdee reconcile end to end: hub + sandbox over HTTP', () => {
  let dir: string;
  let sb: KingdeeSandbox;
  let hub: Hub;
  const admin = (path: string, body?: unknown, method?: string) => adminCall(sb, path, body, method);
  /** Waits (on state, not on time) until the run is in one of `statuses`; fails after `ms`. */
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
  const changes = (correlation: string) =>
    hub.store.findInboxByCorrelation('erp', 'kingdee.change', correlation);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-kingdee-reconcile-'));
    sb = await startKingdeeSandbox();
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      port: 0,
      log: createLogger({}, { level: (process.env.QIAO_LOG as 'warn') ?? 'silent' }),
    });
    await hub.connections.save(
      { id: 'erp', type: 'kingdee', settings: { baseUrl: sb.baseUrl, ...sb.credentials }, origin: 'api' },
      'test',
    );
    for (const [name, yaml] of Object.entries(FLOWS)) await hub.saveFlow(yaml, `${name}.yaml`, 'api', 'test');
    await admin('notify', {
      url: `${hub.url}/hooks/kingdee/erp`,
      forms: ['ER_ExpReimbursement', 'AR_RECEIVEBILL'],
      operations: ['Audit', 'Pay'],
    });
  });
  after(async () => {
    await hub?.close();
    await sb?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a Pay push held back: the reconciler resumes the waiting run once; the late push is a duplicate', async () => {
    const started = await hub.engine.startFlow('expense-paid', {
      billNo: 'FYBX-RC-1',
      reason: '华东客户回访差旅',
      amount: 2_460,
    });
    const runId = started.runIds[0];
    await until(runId, ['waiting']);
    const correlation = 'ER_ExpReimbursement:FYBX-RC-1';
    await admin('notify/flush', {});

    // The cashier pays; the plugin's Pay never reaches the hub (held until released below).
    await admin('notify', { holdNext: 1 });
    const paid = await admin('records/ER_ExpReimbursement/FYBX-RC-1/pay', { user: '赵敏' });
    await admin('notify/flush', {});
    const held = ((await admin('notify')).deliveries as Array<Record<string, unknown>>).filter(
      (d) => d.number === 'FYBX-RC-1' && d.operation === 'Pay',
    );
    assert.deepEqual(
      held.map((d) => [d.held, d.attempts]),
      [[true, 0]],
      'the Pay is held, not sent',
    );
    assert.equal((await hub.store.getRun(runId))?.run.status, 'waiting', 'no push, no progress');
    assert.deepEqual(
      (await changes(correlation)).map((e) => (e.data as ChangeNotification).operation),
      ['Audit'],
      'the hub heard the audit only',
    );

    // The reconciler asks Kingdee: the bill is paid by an audited payment bill.
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 1, 'one run resumed');
    const done = await until(runId, ['completed']);
    const step = (name: string) => done.steps.find((s) => s.name === name)!;
    const event = step('paid').output as ChangeNotification;
    assert.equal(event.operation, 'Pay');
    assert.equal(event.reconciled, true, 'resumed by the reconciler, not the push');
    assert.equal(event.userName, '赵敏');
    assert.deepEqual(step('told').output, { bill: 'FYBX-RC-1', payBill: paid.payBill.FBillNo });

    // The push arrives late: acknowledged, stored once, nothing runs again.
    assert.equal((await admin('notify/release', {})).released, 1);
    await admin('notify/flush', {});
    const late = ((await admin('notify')).deliveries as Array<Record<string, unknown>>).find(
      (d) => d.number === 'FYBX-RC-1' && d.operation === 'Pay',
    );
    assert.equal(late?.status, 200, 'the hub acknowledged the late push');
    const pays = (await changes(correlation)).filter(
      (e) => (e.data as ChangeNotification).operation === 'Pay',
    );
    assert.equal(pays.length, 1, 'one Pay event');
    assert.equal(pays[0].duplicates, 1, 'the late push was its duplicate');
    assert.equal((pays[0].data as ChangeNotification).reconciled, true, 'the stored event is the first one');
    // The bill's audit, pushed at the time, was read back under the same key as well.
    const audits = (await changes(correlation)).filter(
      (e) => (e.data as ChangeNotification).operation === 'Audit',
    );
    assert.deepEqual(
      audits.map((e) => [e.duplicates, (e.data as ChangeNotification).reconciled]),
      [[1, undefined]],
      'the pushed Audit, read back once',
    );
    // Asking again finds the same changes: duplicates, nothing resumed.
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 0);
    await hub.engine.drain();
    const again = await hub.store.getRun(runId);
    assert.deepEqual(
      again?.steps.map((s) => [s.name, s.status, s.history.length]),
      done.steps.map((s) => [s.name, s.status, s.history.length]),
      'the run did nothing more',
    );
    const eventRuns = await hub.store.listRuns({ flowId: 'expense-paid-events', limit: 100 });
    assert.equal(eventRuns.length, 1, 'the Pay started its flow once');
    assert.equal(eventRuns[0].status, 'completed');
    assert.equal((await hub.store.listRuns({ flowId: 'expense-paid', limit: 100 })).length, 1);
  });

  it('an Audit push lost for good: the reconciler resumes the run waiting for the receipt', async () => {
    const receipt = await admin('records/AR_RECEIVEBILL', {
      user: '赵敏',
      model: {
        FCONTACTUNIT: { FNumber: 'C0003' },
        FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 96_000 }],
      },
      status: 'B',
    });
    const started = await hub.engine.startFlow('receipt-audited', { number: receipt.FBillNo });
    const runId = started.runIds[0];
    await until(runId, ['waiting']);
    await admin('notify', { dropNext: 1 });
    await admin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/audit`, { user: '杨帆' });
    await admin('notify/flush', {});
    const deliveries = (await admin('notify')).deliveries as Array<Record<string, unknown>>;
    assert.equal(
      deliveries.find((d) => d.number === receipt.FBillNo && d.operation === 'Audit')?.dropped,
      true,
    );
    assert.equal((await hub.store.getRun(runId))?.run.status, 'waiting');
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 1);
    const done = await until(runId, ['completed']);
    assert.deepEqual(done.steps.find((s) => s.name === 'done')?.output, { approver: '杨帆' });
  });
});
