/**
 * The scenario demo (src/cli/demo/run.ts, what `qiao demo` prints) twice on one data folder, in process
 * so the sandboxes can be read afterwards over their admin surfaces: the first run plays every scene and
 * each sandbox holds exactly the records the people's actions should produce; the second starts fresh
 * sandboxes on the same store, finds every scene already played, and writes nothing anywhere.
 * `qiao demo --once --json` as a process is tested in test/cli.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runScenarioDemo, type ScenarioDemo } from '../src/cli/demo/run.ts';
import { createLogger } from '../src/core/logger.ts';

type Rec = Record<string, any>;

async function get(url: string): Promise<Rec> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as Rec;
}

/** What the hub wrote into the sandboxes, by a stable description. */
async function records(demo: ScenarioDemo) {
  const h = demo.sandboxes.handles;
  const kd = (form: string) => get(`${h.kingdee!.urls.admin}records/${form}?limit=10000`);
  const crm = (object: string) => get(`${h.neocrm!.urls.admin}/records/${object}?limit=10000`);
  return {
    salesOrders: (await kd('SAL_SaleOrder')).records
      .filter((r: Rec) => r.FBillNo.startsWith('SO-HT-'))
      .map((r: Rec) => [r.FBillNo, r.FDocumentStatus, r.FCustId, r.FBillAllAmount]),
    payBills: (await kd('AP_PAYBILL')).records.map((r: Rec) => [
      r.FDocumentStatus,
      r.FCONTACTUNIT,
      r.FPAYBILLSRCENTRY?.map((e: Rec) => e.FSRCBILLNO),
    ]),
    expenseNo: (await kd('ER_ExpReimbursement')).records.find((r: Rec) => r.FBillNo.startsWith('BXQW'))
      ?.FBillNo,
    expenseBills: (await kd('ER_ExpReimbursement')).records
      .filter((r: Rec) => r.FBillNo.startsWith('BXQW'))
      .map((r: Rec) => [r.FDocumentStatus, r.FReqReimbAmount, r.FPayedAmount]),
    payments: (await crm('paymentApplication')).records
      .filter((r: Rec) => String(r.name).startsWith('SKD'))
      .map((r: Rec) => [r.name, r.amount]),
    projects: (await kd('BAS_PreBaseDataOne')).records
      .filter((r: Rec) => /^PRJ\d{6,}$/.test(r.FNumber))
      .map((r: Rec) => [r.FName, r.FDocumentStatus]),
    projectCodes: (await crm('project__c')).records
      .filter((r: Rec) => /^PRJ\d{6,}$/.test(r.projectCode__c ?? ''))
      .map((r: Rec) => [r.name, r.projectCode__c === `PRJ${r.id}`]),
    contractsInExecution: (await crm('contract')).records
      .filter((r: Rec) => r.erpOrderNumber__c?.startsWith('SO-'))
      .map((r: Rec) => [r.status, r.erpOrderNumber__c]),
  };
}

describe('the scenario demo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-scenario-demo-'));
  const log = createLogger({}, { level: 'silent' });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('plays each scene once; a second run on the same folder creates nothing twice', async () => {
    const lines: string[] = [];
    const first = await runScenarioDemo({ dataDir: dir, log, step: (s, l) => lines.push(`${s}: ${l}`) });
    try {
      const s = first.summary;
      assert.equal(s.status, 'ok', JSON.stringify(s.scenarios));
      assert.deepEqual(
        s.scenarios.map((x) => [x.scenario, x.status, x.runs, x.written, x.duplicates, x.problems]),
        [
          ['contract-approval', 'ok', 1, { wecom: 2, kingdee: 1, neocrm: 1 }, 0, []],
          ['receipt-to-crm', 'ok', 2, { neocrm: 2, dingtalk: 2 }, 0, []],
          ['payment-confirmation', 'ok', 2, { kingdee: 1, dingtalk: 2 }, 0, []],
          ['expense-reimbursement', 'ok', 1, { kingdee: 1, wecom: 2 }, 0, []],
          ['project-initiation', 'ok', 1, { wecom: 2, kingdee: 1, neocrm: 1 }, 0, []],
        ],
      );
      assert.ok(!s.notInThisDemoYet.includes('contract-approval'));
      assert.ok(
        lines.some((l) => /^contract-approval: WeCom approval \d+: 李娜/.test(l)),
        lines.join('\n'),
      );
      assert.ok(lines.some((l) => l.startsWith('payment-confirmation: 赵敏')));
      const got = await records(first);
      // One audited order for 康宁医药 (C0005), its number (SO-<contract code>) back on the contract.
      assert.equal(got.salesOrders.length, 1);
      const [[orderNo, ...order]] = got.salesOrders;
      assert.match(orderNo, /^SO-HT-\d+$/);
      assert.deepEqual(order, ['C', 'C0005', 294_000]);
      assert.deepEqual(got.contractsInExecution, [[3, orderNo]]);
      assert.deepEqual(
        got.payBills,
        [
          ['C', 'VEN0001', ['AP00000001']], // 赵敏's 确认付款 in DingTalk
          ['C', 'E0004', ['BXQW202611220002']], // her payment of 刘洋's expense in Kingdee
        ].map(([st, unit, src]) => [
          st,
          unit,
          (src as string[]).map((b) => (b.startsWith('BXQW') ? got.expenseNo : b)),
        ]),
      );
      assert.deepEqual(got.expenseBills, [['C', 3_680, 3_680]]);
      assert.deepEqual(got.projects, [['华锐二期产线改造项目', 'C']]);
      assert.deepEqual(got.projectCodes, [['华锐二期产线改造项目', true]]);
      assert.deepEqual(got.payments.sort(), [
        ['SKD00000001', 100_000],
        ['SKD00000002', 250_000],
      ]);
    } finally {
      await first.close();
    }

    const second = await runScenarioDemo({ dataDir: dir, log });
    try {
      const s = second.summary;
      assert.equal(s.status, 'ok', JSON.stringify(s.scenarios));
      assert.deepEqual(
        s.scenarios.map((x) => [x.scenario, x.runs, x.duplicates, x.written]),
        [
          ['contract-approval', 0, 1, {}],
          ['receipt-to-crm', 0, 1, {}],
          ['payment-confirmation', 0, 1, {}],
          ['expense-reimbursement', 0, 1, {}],
          ['project-initiation', 0, 1, {}],
        ],
      );
      const got = await records(second);
      assert.deepEqual(
        got,
        {
          salesOrders: [],
          payBills: [],
          expenseNo: undefined,
          expenseBills: [],
          projects: [],
          projectCodes: [],
          payments: [],
          contractsInExecution: [],
        },
        'the fresh sandboxes got nothing from the hub',
      );
      const completed = async (flowId: string) =>
        (await second.hub.store.listRuns({ flowId, limit: 1000 })).filter((r) => r.status === 'completed')
          .length;
      assert.equal(await completed('contract-approval'), 1, 'one run over both demo runs');
      assert.equal(await completed('expense-reimbursement'), 1);
      assert.equal(await completed('receipt-to-crm'), 2);
      assert.equal(await completed('payment-confirmation'), 1);
    } finally {
      await second.close();
    }
  });
});
