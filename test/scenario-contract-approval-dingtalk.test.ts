/**
 * Scenario 2, the DingTalk variant, end to end over real HTTP and DingTalk Stream with the shipped
 * template (flows/contract-approval-dingtalk.yaml, shipped disabled and enabled here through the REST
 * API as an operator would): a contract submitted in the Neocrm sandbox → a DingTalk 合同审批 with the
 * approvers of the rule table → the approvers act in the DingTalk sandbox, whose Stream event resumes
 * the run → approved: one audited SAL_SaleOrder in Kingdee, its number and status on the contract, a
 * work notification to the owner; refused: the approver's remark on the contract, the owner told.
 * Then five contracts with faults in every sandbox at once (10 % 502, token and session revocations,
 * one lost and one repeated Stream event): one approval and one audited order each.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DingtalkConnector } from '../src/connectors/dingtalk/index.ts';
import type { Hub } from '../src/hub.ts';
import { CUSTOMERS, EMPLOYEES, PRODUCTS } from '../src/sandbox/common/company.ts';
import type { DingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import type { KingdeeSandbox } from '../src/sandbox/kingdee/index.ts';
import type { NeocrmSandboxHandle } from '../src/sandbox/neocrm/index.ts';
import type { RunStatus } from '../src/store/store.ts';
import { call, type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const FLOW_ID = 'contract-approval-dingtalk';
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dingtalkId = (staffNumber: string) =>
  EMPLOYEES.find((e) => e.staffNumber === staffNumber)!.dingtalkUserId;

describe('scenario 2, DingTalk variant — Neocrm, DingTalk and Kingdee over HTTP and Stream', () => {
  let env: ScenarioHub<'neocrm' | 'dingtalk' | 'kingdee'>;
  let neo: NeocrmSandboxHandle;
  let dt: DingtalkSandbox;
  let kd: KingdeeSandbox;
  let hub: Hub;
  const crm = (path: string, body?: unknown, method?: string) => env.crm(path, body, method);
  const ding = (path: string, body?: unknown) =>
    env.ding(body === undefined ? 'GET' : 'POST', `/__sandbox/${path}`, body);
  const erp = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);

  before(async () => {
    env = await startScenarioHub({
      name: 'contract-dt',
      systems: ['neocrm', 'dingtalk', 'kingdee'],
      // No rate limit in the sandboxes; random 502s are not an outage, so no 30 s breaker either.
      limits: { rate: { perSecond: 500, burst: 500 }, breaker: { failures: 50, resetMs: 1_000 } },
      flows: [FLOW_ID],
      hub: { concurrency: 16, reconcileIntervalMs: 500, reconcileAfterMs: 1_000 },
    });
    ({ hub } = env);
    ({ neocrm: neo, dingtalk: dt, kingdee: kd } = env.sandboxes);
    // The template ships disabled (one approval system at a time): the operator enables it.
    const enabled = await call(`${hub.url}/api/flows/${FLOW_ID}/enable`, {});
    assert.equal(enabled.enabled, true);
  });
  after(() => env?.close());

  const submit = async (o: { customer: string; product: string; quantity: number; amount: number }) => {
    const c = CUSTOMERS.find((x) => x.number === o.customer)!;
    const account = (await crm('/records/account?limit=1000')).records.find(
      (a: any) => a.erpNumber__c === o.customer,
    );
    const contract = await crm('/act/create-contract', {
      as: c.ownerStaffNumber,
      accountId: account.id,
      title: `${c.shortName}设备合同`,
      amount: o.amount,
      product: o.product,
      quantity: o.quantity,
    });
    await hub.engine.reloadFlows(); // poll now rather than in 30 s
    return { contract, account, owner: dingtalkId(c.ownerStaffNumber) };
  };
  const runOf = (contractId: string, statuses: RunStatus[], ms?: number) =>
    env.waitRun(FLOW_ID, `contract:${contractId}#`, statuses, ms);
  const instanceOf = async (contractId: string) => {
    const got = await runOf(contractId, ['waiting']);
    const { processInstanceId } = got.steps.find((s) => s.name === 'start')!.output as {
      processInstanceId: string;
    };
    return { processInstanceId, ...(await ding(`approvals/${processInstanceId}`)) };
  };
  const ordersOf = async (billNo: string) =>
    (await erp('records/SAL_SaleOrder?limit=10000')).records.filter((r: any) => r.FBillNo === billNo);
  const noticesTo = async (userId: string) =>
    ((await ding(`notices?userId=${userId}`)).deliveries as any[]).map((d) => String(d.msg?.text?.content));

  it('approved: one audited sales order, its number and status on the contract, the owner notified', async () => {
    // 宁波东海 (AA) buys one robot for 50.4万: the CEO joins the sales director.
    const { contract, account, owner } = await submit({
      customer: 'C0002',
      product: 'M0001',
      quantity: 3,
      amount: 504_000,
    });
    const inst = await instanceOf(contract.id);
    assert.equal(inst.processCode, dt.processCodes.contract);
    assert.equal(inst.originatorUserId, owner);
    assert.deepEqual(inst.approverUserIds, ['manager4002', 'manager4001'], 'sales director, then CEO');
    const form = Object.fromEntries(inst.formComponentValues.map((v: any) => [v.name, v.value]));
    assert.equal(form.合同编号, contract.contractCode);
    assert.equal(form.客户名称, account.accountName);
    assert.equal(Number(form.合同金额), 504_000);
    assert.match(form.备注, /六轴工业机器人（M0001）× 3/);
    assert.match(form.备注, /客户信用等级：AA/);

    await ding(`approvals/${inst.processInstanceId}/approve`, { userId: 'manager4002', remark: '同意' });
    await ding(`approvals/${inst.processInstanceId}/approve`, { userId: 'manager4001', remark: '可以' });
    await runOf(contract.id, ['completed']);

    const billNo = `SO-${contract.contractCode}`;
    const orders = await ordersOf(billNo);
    assert.equal(orders.length, 1, 'exactly one sales order');
    const [o] = orders;
    assert.equal(o.FDocumentStatus, 'C');
    assert.equal(o.FCustId, 'C0002');
    assert.equal(o.FSalerId, 'E0003');
    assert.deepEqual(
      o.FSaleOrderEntry.map((e: any) => [e.FMaterialId, e.FQty, e.FTaxPrice]),
      [['M0001', 3, 168_000]],
    );
    assert.equal(o.FBillAllAmount, 504_000);
    const after = await crm(`/records/contract/${contract.id}`);
    assert.equal(after.status, 3);
    assert.equal(after.erpOrderNumber__c, billNo);
    assert.equal(after.erpStatus__c, '已审核');
    assert.equal(after.approvalComment__c, 'manager4002：同意；manager4001：可以');
    const told = (await noticesTo(owner)).filter((t) => t.includes(billNo));
    assert.equal(told.length, 1, 'one work notification to the owner');
    assert.match(told[0], /已审批通过/);
  });

  it("refused: no order, the approver's remark on the contract, the owner notified", async () => {
    // 青岛海拓 is rated C: finance joins; the sales director refuses.
    const { contract, owner } = await submit({
      customer: 'C0007',
      product: 'M0006',
      quantity: 2,
      amount: 9_000,
    });
    const inst = await instanceOf(contract.id);
    assert.deepEqual(inst.approverUserIds, ['manager4002', 'manager4006']);
    await ding(`approvals/${inst.processInstanceId}/refuse`, {
      userId: 'manager4002',
      remark: '客户信用等级C，需先收预付款',
    });
    await runOf(contract.id, ['completed']);
    assert.equal((await ordersOf(`SO-${contract.contractCode}`)).length, 0, 'no sales order');
    const after = await crm(`/records/contract/${contract.id}`);
    assert.equal(after.status, 1, 'back to 草稿');
    assert.equal(after.approvalComment__c, 'manager4002：客户信用等级C，需先收预付款');
    const told = (await noticesTo(owner)).filter((t) => t.includes(contract.contractCode));
    assert.equal(told.length, 1);
    assert.match(told[0], /未获批准：manager4002：客户信用等级C，需先收预付款/);
  });

  it('refused, then resubmitted: a second DingTalk approval; agreed: one audited sales order', async () => {
    // 宁波东海 (AA), a small contract: the sales director alone decides.
    const { contract } = await submit({ customer: 'C0002', product: 'M0006', quantity: 4, amount: 18_000 });
    const first = await instanceOf(contract.id);
    await ding(`approvals/${first.processInstanceId}/refuse`, { userId: 'manager4002', remark: '单价过低' });
    await runOf(contract.id, ['completed']);
    const returned = await crm(`/records/contract/${contract.id}`);
    assert.equal(returned.returnedApprovalNo__c, first.processInstanceId);

    await crm(
      `/records/contract/${contract.id}`,
      { as: 'E0003', data: { amount: 19_600, status: 2 } },
      'PATCH',
    );
    await hub.engine.reloadFlows();
    // The resubmitted contract's event carries the approval that sent it back.
    const second = await env.waitRun(
      FLOW_ID,
      (r) =>
        (r.event as { returnedApprovalNo__c?: string }).returnedApprovalNo__c === first.processInstanceId,
      ['waiting'],
    );
    const { processInstanceId } = second.steps.find((s) => s.name === 'start')!.output as {
      processInstanceId: string;
    };
    assert.notEqual(processInstanceId, first.processInstanceId, 'a second DingTalk approval');
    await ding(`approvals/${processInstanceId}/approve`, { userId: 'manager4002', remark: '同意' });
    await env.waitRun(FLOW_ID, (r) => r.id === second.run.id, ['completed']);
    const orders = await ordersOf(`SO-${contract.contractCode}`);
    assert.equal(orders.length, 1, 'exactly one sales order');
    assert.equal(orders[0].FDocumentStatus, 'C');
    assert.equal(orders[0].FBillAllAmount, 19_600);
  });

  it('with faults in every sandbox, five contracts end with one approval and one audited order each', async () => {
    const servers = [
      `${neo.urls.admin}/faults`,
      `${dt.urls.oapi}/__sandbox/faults`,
      `${dt.urls.api}/__sandbox/faults`,
    ];
    const faults = async (on: boolean) => {
      for (const u of [...servers, `${kd.urls.admin}faults`])
        await call(u, on ? { errorRate: 0.1, errorStatus: 502 } : undefined, on ? 'POST' : 'DELETE');
    };
    const revokeAll = async () => {
      await crm('/tokens/revoke', {});
      await ding('tokens/revoke', {});
      await erp('sessions/revoke', {});
    };
    const wanted = ['C0003', 'C0004', 'C0006', 'C0009', 'C0010'].map((number, i) => {
      const product = PRODUCTS[(i + 2) % PRODUCTS.length];
      return { number, product, quantity: 1 + i, amount: product.price * (1 + i) };
    });
    await faults(true);
    const contracts: Array<{ contract: any; owner: string }> = [];
    for (const w of wanted)
      contracts.push(
        await submit({
          customer: w.number,
          product: w.product.number,
          quantity: w.quantity,
          amount: w.amount,
        }),
      );
    const instances: string[] = [];
    for (const { contract } of contracts) {
      for (const end = Date.now() + 30_000; ; ) {
        const runs = await hub.store.listRuns({ flowId: FLOW_ID, limit: 1000 });
        const run = runs.find((r) => r.eventKey?.startsWith(`contract:${contract.id}#`));
        if (run?.status === 'waiting') break;
        if (Date.now() > end) throw new Error(`contract ${contract.contractCode}: no approval started`);
        await hub.engine.reloadFlows(); // a failed poll is retried at once, not in 30 s
        await wait(200);
      }
      instances.push((await instanceOf(contract.id)).processInstanceId);
    }
    await revokeAll();
    for (const [i, id] of instances.entries()) {
      if (i === 3) {
        for (
          const end = Date.now() + 30_000;
          (await ordersOf(`SO-${contracts[1].contract.contractCode}`)).length === 0;
        ) {
          if (Date.now() > end) throw new Error('no order yet');
          await wait(50);
        }
        await revokeAll(); // with sessions open: the next calls meet the revocation
      }
      const inst = await ding(`approvals/${id}`);
      for (const [k, userId] of (inst.approverUserIds as string[]).entries()) {
        if (k === inst.approverUserIds.length - 1) {
          // Events are handed to the Stream as they happen: the first contract's final events (task
          // and instance finished) are lost — DingTalk would push them again only after its 60 s ack
          // timeout, the reconciler reads the instance first — and the second's are sent twice.
          if (i === 0) await ding('callbacks/faults', { dropNext: 2 });
          if (i === 1) await ding('callbacks/faults', { duplicateNext: 2 });
        }
        await ding(`approvals/${id}/approve`, { userId, remark: '同意' });
      }
    }
    for (const { contract } of contracts) await runOf(contract.id, ['completed'], 60_000);
    await faults(false);

    const all = (await ding(`approvals?processCode=${dt.processCodes.contract}`)).instances as any[];
    for (const [i, { contract, owner }] of contracts.entries()) {
      const w = wanted[i];
      const mine = all.filter((a) =>
        a.formComponentValues.some((v: any) => v.name === '合同编号' && v.value === contract.contractCode),
      );
      assert.equal(mine.length, 1, `${contract.contractCode}: one approval`);
      assert.equal(mine[0].result, 'agree');
      const billNo = `SO-${contract.contractCode}`;
      const orders = await ordersOf(billNo);
      assert.equal(orders.length, 1, `${billNo}: exactly one sales order`);
      assert.equal(orders[0].FDocumentStatus, 'C');
      assert.equal(orders[0].FCustId, w.number);
      assert.deepEqual(
        orders[0].FSaleOrderEntry.map((e: any) => [e.FMaterialId, e.FQty, e.FTaxPrice]),
        [[w.product.number, w.quantity, w.product.price]],
      );
      assert.equal(orders[0].FBillAllAmount, w.amount);
      const after = await crm(`/records/contract/${contract.id}`);
      assert.equal(after.erpOrderNumber__c, billNo);
      assert.equal((await noticesTo(owner)).filter((t) => t.includes(billNo)).length, 1);
    }
    const lost = await hub.store.findInboxByCorrelation('dingtalk', 'approval.instance', instances[0]);
    assert.ok(
      lost.some((e) => (e.data as any).type === 'finish'),
      'the lost event was reconciled',
    );
    const pushed = ((await ding('events?eventType=bpms_instance_change')).events as any[]).filter(
      (e) => e.data.processInstanceId === instances[0] && e.data.type === 'finish',
    );
    assert.deepEqual(
      pushed.flatMap((e) => e.deliveries.map((d: any) => d.status)),
      ['lost'],
      'DingTalk never delivered it',
    );
    const repeated = await hub.store.findInboxByCorrelation('dingtalk', 'approval.instance', instances[1]);
    assert.equal(repeated.filter((e) => (e.data as any).type === 'finish').length, 1, 'stored once');
    // Each repeated frame (task finished, instance finished) is recognised once: by the Stream client
    // when the first is already stored or in the same batch, else by the inbox.
    const tasks = await hub.store.findInboxByCorrelation('dingtalk', 'approval.task', instances[1]);
    const stats = (hub.connections.get('dingtalk')!.connector as DingtalkConnector).stats;
    const recognised = stats.duplicates + [...repeated, ...tasks].reduce((n, e) => n + e.duplicates, 0);
    assert.ok(recognised >= 2, `the repeated frames were recognised as redeliveries (${recognised})`);
    assert.ok((await erp('stats')).sessionLost >= 1, 'Kingdee lost a session');
    assert.ok((await crm('/stats')).authFailures >= 1, 'Neocrm refused a revoked token');
  });
});
