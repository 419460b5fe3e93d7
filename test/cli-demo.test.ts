/**
 * The scenario demo twice on one data folder, two ways.
 *
 * In process (src/cli/demo/run.ts, what `qiao demo` prints), so the sandboxes can be read afterwards over
 * their admin surfaces: the first run plays every scene and each sandbox — and the exchange folder —
 * holds exactly the records the people's actions should produce; the second starts fresh sandboxes on
 * the same store, finds every scene already played, and writes nothing anywhere.
 *
 * As a process (`qiao demo --once --json`, then the same without `--json`): exit 0 with every scenario
 * `ok` and the records written per system; the second run exits 0, writes nothing and counts the
 * duplicates; the store holds each scenario's runs once and a verifiable audit chain.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { runScenarioDemo, type ScenarioDemo } from '../src/cli/demo/run.ts';
import { createLogger } from '../src/core/logger.ts';
import { CUSTOMERS } from '../src/sandbox/common/company.ts';
import { openStore } from '../src/store/open-store.ts';

type Rec = Record<string, any>;
const BIN = resolve(import.meta.dirname, '..', 'bin', 'qiao.js');

/** Each scenario's runs and records written per system on a first run. */
const FIRST: Array<[string, number, Record<string, number>]> = [
  ['contract-approval', 1, { wecom: 2, kingdee: 1, neocrm: 1 }],
  ['receipt-to-crm', 2, { neocrm: 2, dingtalk: 2 }],
  ['payment-confirmation', 2, { kingdee: 1, dingtalk: 2 }],
  ['expense-reimbursement', 1, { kingdee: 1, wecom: 2 }],
  ['project-initiation', 1, { wecom: 2, kingdee: 1, neocrm: 1 }],
  // In the group 2 stock messages, 1 SLA escalation and 2 summaries; 8 SLA reminders to 杨帆.
  ['alerts', 11, { dingtalk: 13 }],
  // The workbook and the result file; one account from the dealer list.
  ['file-customers', 2, { files: 2, neocrm: 1 }],
  // The link of 11 customers (one new to Kingdee), a new account, a credit limit, a resolved review;
  // 43 runs, 21 of them Qiao's own writes coming back (echoes, nothing written).
  ['customer-sync', 43, { neocrm: 15, kingdee: 13 }],
];
/** Each scenario's duplicates on a second run: the file scene asks for its export and drops its list again. */
const SECOND: Array<[string, number]> = FIRST.map(([s]) => [s, s === 'file-customers' ? 2 : 1]);

async function get(url: string): Promise<Rec> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as Rec;
}

/** What the hub wrote into the sandboxes and the exchange folder, by a stable description. */
async function records(demo: ScenarioDemo, dir: string) {
  const h = demo.sandboxes.handles;
  const kd = (form: string) => get(`${h.kingdee!.urls.admin}records/${form}?limit=10000`);
  const crm = (object: string) => get(`${h.neocrm!.urls.admin}/records/${object}?limit=10000`);
  const ding = (path: string) =>
    (h.dingtalk as unknown as { admin(m: string, p: string): Promise<Rec> }).admin('GET', path);
  const customers = (await kd('BD_Customer')).records as Rec[];
  const accounts = (await crm('account')).records as Rec[];
  const customer = (n: string) => customers.filter((c) => c.FNumber === n);
  const account = (n: string) => accounts.filter((a) => a.erpNumber__c === n);
  const exchange = join(dir, 'exchange');
  const ls = (sub: string) =>
    existsSync(join(exchange, sub)) ? readdirSync(join(exchange, sub)).sort() : [];
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
    // Customer sync: the account made in the CRM, the credit set in Kingdee, the resolved review.
    newCustomers: customers
      .filter((c) => /^KH\d+$/.test(c.FNumber))
      .map((c) => [c.FName, c.FDocumentStatus, c.FTAXREGISTERCODE, c.F_QH_CreditLimit, c.FNumber]),
    newAccounts: accounts
      .filter((a) => /^KH\d+$/.test(a.erpNumber__c ?? ''))
      .map((a) => [a.accountName, a.erpNumber__c === `KH${a.id}`]),
    credit: [...customer('C0002'), ...account('C0002')].map((r) => r.F_QH_CreditLimit ?? r.creditLimit__c),
    addresses: [...customer('C0005'), ...account('C0005')].map((r) => r.FADDRESS ?? r.address),
    // File mode: the dealer created in Neocrm, then in Kingdee by the sync; the refused row nowhere.
    dealer: [...account('C0101'), ...customer('C0101')].map((r) => r.accountName ?? r.FName),
    refused: [...account('C0103'), ...customer('C0103')].length,
    counts: [customers.length, accounts.length],
    group: ((await ding('/__sandbox/robots/alerts/messages')).messages as Rec[]).map(
      (m) => String(m.message.markdown?.text ?? m.message.text?.content).split('\n')[0],
    ),
    reminders: ((await ding('/__sandbox/notices?userId=manager4006')).deliveries as Rec[]).length,
    files: {
      outbox: ls('outbox').length,
      results: ls('results'),
      inbox: ls('inbox'),
      done: ls('inbox/done').length,
    },
  };
}

describe('the scenario demo, in process', () => {
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
        FIRST.map(([scenario, runs, written]) => [scenario, 'ok', runs, written, 0, []]),
      );
      const has = (re: RegExp) =>
        assert.ok(
          lines.some((l) => re.test(l)),
          `${re}\n${lines.join('\n')}`,
        );
      has(/^contract-approval: WeCom approval \d+: 李娜/);
      has(/^payment-confirmation: 赵敏/);
      has(/^customer-sync: review [\w-]+ in the queue \(GET \/api\/reviews\): address was /);
      has(/^alerts: the group hears once \(审批超时告警 @杨帆\); the other 7 are held back/);
      has(/^alerts: when the windows end .*: 【告警汇总】审批超时 1 小时内另有 7 条审批超时告警未单独发送/);
      has(/^file-customers: each row's outcome .* is in .*results\/dealers-202603\.csv\.result\.csv$/);
      const got = await records(first, dir);
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
      // Customer sync: exactly one of each, with the right fields, in both systems.
      assert.equal(got.newCustomers.length, 1);
      const [[name, status, taxNo, credit, number]] = got.newCustomers;
      assert.deepEqual(
        [name, status, taxNo, credit],
        ['杭州云帆智能装备有限公司', 'C', '91330106MA2YF0001K', 300_000],
      );
      assert.deepEqual(got.newAccounts, [['杭州云帆智能装备有限公司', true]]);
      assert.match(number, /^KH\d+$/);
      assert.deepEqual(got.credit, [1_800_000, 1_800_000]);
      assert.deepEqual(got.addresses, [
        '四川省成都市高新区天府大道1200号A座',
        '四川省成都市高新区天府大道1200号A座',
      ]);
      assert.deepEqual(got.dealer, ['无锡启明自动化设备有限公司', '无锡启明自动化设备有限公司']);
      assert.equal(got.refused, 0);
      assert.deepEqual(
        got.counts,
        [CUSTOMERS.length + 2, CUSTOMERS.length + 2],
        'Kingdee customers, CRM accounts',
      );
      // Alerts: the shortage, the new shortage at once, one escalation for eight overdue approvals; when
      // the windows end, a summary of the escalations held back and one of the shortage found again.
      assert.deepEqual(got.group.slice(0, 3), [
        '#### 库存预警：2 种物料低于安全库存',
        '#### 库存预警：3 种物料低于安全库存',
        '#### 审批超时告警',
      ]);
      assert.deepEqual(got.group.slice(3).sort(), ['#### 【告警汇总】审批超时', '#### 【告警汇总】库存预警']);
      assert.equal(got.reminders, 8);
      assert.deepEqual(got.files, {
        outbox: 1,
        results: ['dealers-202603.csv.result.csv'],
        inbox: ['done'],
        done: 1,
      });
    } finally {
      await first.close();
    }

    const second = await runScenarioDemo({ dataDir: dir, log });
    try {
      const s = second.summary;
      assert.equal(s.status, 'ok', JSON.stringify(s.scenarios));
      assert.deepEqual(
        s.scenarios.map((x) => [x.scenario, x.runs, x.duplicates, x.written]),
        SECOND.map(([scenario, duplicates]) => [scenario, 0, duplicates, {}]),
      );
      const got = await records(second, dir);
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
          newCustomers: [],
          newAccounts: [],
          credit: [1_500_000, 1_500_000],
          addresses: ['四川省成都市高新区天府大道1199号', '四川省成都市高新区天府大道1199号'],
          dealer: [],
          refused: 0,
          counts: [CUSTOMERS.length, CUSTOMERS.length],
          group: [],
          reminders: 0,
          // The list dropped again was read as a duplicate and moved beside the first.
          files: { outbox: 1, results: ['dealers-202603.csv.result.csv'], inbox: ['done'], done: 2 },
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
      assert.equal(await completed('file-import-customers'), 1);
      assert.equal(await completed('file-export-customers'), 1);
      let sync = 0;
      for (const flowId of ['customer-sync-crm-to-erp', 'customer-sync-erp-to-crm'])
        sync += (await second.hub.store.listRuns({ flowId, limit: 1000 })).length;
      assert.equal(sync, 43, 'the sync runs of the first demo run, none after');
    } finally {
      await second.close();
    }
  });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function qiao(args: string[], cwd: string): Promise<Result> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, QIAO_LOG: 'error', QIAO_DEBUG: '', QIAO_MASTER_KEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

describe('qiao demo --once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qiao-cli-demo-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--json: every scenario ok with its records written (exit 0); again: nothing written, duplicates counted', async () => {
    const first = await qiao(['demo', '--once', '--json', '--port', '0'], dir);
    assert.equal(first.code, 0, first.stderr);
    const s1 = JSON.parse(first.stdout);
    assert.equal(s1.status, 'ok');
    assert.equal(s1.dataDir, join(dir, '.qiao-demo'));
    assert.deepEqual(
      s1.scenarios.map((x: Rec) => ({ ...x, elapsedMs: 0 })),
      FIRST.map(([scenario, runs, written]) => ({
        scenario,
        status: 'ok',
        runs,
        written,
        duplicates: 0,
        elapsedMs: 0,
        problems: [],
      })),
    );
    assert.ok(s1.scenarios.every((x: Rec) => Number.isInteger(x.elapsedMs) && x.elapsedMs > 0));

    // The second run, as a person reads it: each scene's live lines, the table, nothing written.
    const second = await qiao(['demo', '--once', '--port', '0'], dir);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /▶ 合同审批 — Neocrm contract → WeCom approval → Kingdee sales order\n/);
    assert.match(second.stdout, /▶ 客户同步 — .*\n {2}· already played on this data folder: nothing to do\n/);
    assert.match(second.stdout, / {2}· the same list was imported on this data folder: read as a duplicate/);
    assert.match(second.stdout, /SCENARIO +STATUS +RUNS +WRITTEN +DUPLICATES +MS\n/);
    for (const [scenario, duplicates] of SECOND) {
      assert.match(second.stdout, new RegExp(`\\n${scenario} +ok +0 +- +${duplicates} +\\d+\\n`));
    }
    assert.match(second.stdout, /Every scenario was already played on .*: nothing was created twice\./);
    assert.doesNotMatch(second.stdout, /Not in this demo yet/);

    const store = await openStore({ dataDir: join(dir, '.qiao-demo') });
    try {
      for (const [flowId, n] of [
        ['contract-approval', 1],
        ['receipt-to-crm', 2],
        ['expense-reimbursement', 1],
        ['alerts-stock', 3],
        ['alerts-approval-sla', 8],
        ['file-export-customers', 1],
        ['file-import-customers', 1],
      ] as const) {
        // A schedule slot that falls during the test (alerts-stock at 09:00, the export at 06:00) runs too.
        const runs = (await store.listRuns({ flowId, limit: 1000 })).filter(
          (r) => !r.eventKey?.startsWith('cron:'),
        );
        assert.equal(runs.length, n, `${flowId}: runs over both demo runs`);
        assert.equal(new Set(runs.map((r) => r.eventKey)).size, n);
        assert.ok(runs.every((r) => r.status === 'completed'));
      }
      const sync = [
        ...(await store.listRuns({ flowId: 'customer-sync-crm-to-erp', limit: 1000 })),
        ...(await store.listRuns({ flowId: 'customer-sync-erp-to-crm', limit: 1000 })),
      ];
      assert.equal(sync.length, 43, 'the sync runs of the first demo run, none after');
      assert.deepEqual(await store.listReviews({ status: 'open' }), []);
      assert.equal((await store.listDeadLetters({})).length, 0);
      assert.deepEqual(await store.verifyAudit(), {
        ok: true,
        count: (await store.listAudit({ limit: 100_000 })).length,
      });
    } finally {
      await store.close();
    }
  });
});
