/**
 * Scenario 2, contract approval in WeCom, end to end over real HTTP with the shipped template
 * (flows/contract-approval.yaml): a salesperson submits a contract in the Neocrm sandbox → the hub's
 * poll starts a 合同审批 in the WeCom sandbox with the approver chain of the rule table → the approvers
 * act in WeCom, whose callback resumes the run → approved: one audited SAL_SaleOrder in the Kingdee
 * sandbox, its number and status on the CRM contract, the owner told in WeCom; rejected: no order, the
 * approver's comment on the contract, the owner told.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import type { RunStatus } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const FLOW_ID = 'contract-approval';

describe('scenario 2: contract approval (WeCom) — Neocrm, WeCom and Kingdee over HTTP', () => {
  let env: ScenarioHub<'neocrm' | 'wecom' | 'kingdee'>;
  let hub: Hub;
  const crm = (path: string, body?: unknown, method?: string) => env.crm(path, body, method);
  const wecom = (path: string, body?: unknown) => env.wecom(path, body);
  const erp = (path: string) => env.erp(path);

  before(async () => {
    env = await startScenarioHub({
      name: 'contract',
      systems: ['neocrm', 'wecom', 'kingdee'],
      flows: [FLOW_ID],
      hub: { concurrency: 16 },
    });
    hub = env.hub;
  });
  after(() => env?.close());

  /** A salesperson submits a contract for approval in the CRM; the hub polls at once. */
  const submit = async (o: {
    as: string;
    customer: string;
    product: string;
    quantity: number;
    amount: number;
  }) => {
    const accounts = (await crm('/records/account?limit=1000')).records;
    const account = accounts.find((a: any) => a.erpNumber__c === o.customer);
    const contract = await crm('/act/create-contract', {
      as: o.as,
      accountId: account.id,
      title: `${account.shortName__c}设备合同`,
      amount: o.amount,
      product: o.product,
      quantity: o.quantity,
    });
    await hub.engine.reloadFlows(); // poll now rather than in 30 s
    return { contract, account };
  };
  const runOf = (contractId: string, statuses: RunStatus[]) =>
    env.waitRun(FLOW_ID, `contract:${contractId}#`, statuses);
  const output = (got: NonNullable<Awaited<ReturnType<Hub['store']['getRun']>>>, step: string) =>
    got.steps.find((s) => s.name === step)?.output as any;
  const ordersOf = async (billNo: string) =>
    (await erp('records/SAL_SaleOrder?limit=10000')).records.filter((r: any) => r.FBillNo === billNo);
  const messagesTo = async (userid: string) => (await wecom(`messages/${userid}`)).messages as any[];

  it('approved: one audited sales order, its number and status on the contract, the owner told', async () => {
    // 康宁医药 is rated B: the finance manager joins the sales director.
    const { contract, account } = await submit({
      as: 'E0005',
      customer: 'C0005',
      product: 'M0002',
      quantity: 3,
      amount: 294_000,
    });
    const waiting = await runOf(contract.id, ['waiting']);
    const { spNo } = output(waiting, 'start');
    const { info } = await wecom(`approvals/${spNo}`);
    assert.equal(info.template_id, 'C4UDV7hF9qz2nS3yWqV8p1xKbJ5mT6aR4eLcYoN2uHg');
    assert.equal(info.applyer.userid, 'Chenjing', 'the contract owner (陈静) applies');
    assert.deepEqual(
      info.sp_record.map((n: any) => n.details.map((d: any) => d.approver.userid)),
      [['Lina'], ['Yangfan']],
      'sales director, then finance (rating B)',
    );
    const form = Object.fromEntries(
      info.apply_data.contents.map((c: any) => [c.title[0].text, c.value]),
    ) as Record<string, any>;
    assert.equal(form.合同编号.text, contract.contractCode);
    assert.equal(form.客户名称.text, account.accountName);
    assert.equal(Number(form.合同金额.new_money), 294_000);
    assert.match(form.合同说明.text, /协作机器人（M0002）× 3/);
    assert.match(form.合同说明.text, new RegExp(account.taxNumber__c));

    await wecom(`approvals/${spNo}/agree`, { userid: 'Lina', speech: '同意' });
    await wecom(`approvals/${spNo}/agree`, { userid: 'Yangfan', speech: '信用额度内，同意' });
    const done = await runOf(contract.id, ['completed']);

    const billNo = `SO-${contract.contractCode}`;
    const orders = await ordersOf(billNo);
    assert.equal(orders.length, 1, 'exactly one sales order');
    const [order] = orders;
    assert.equal(order.FDocumentStatus, 'C', 'audited');
    assert.equal(order.FCustId, 'C0005');
    assert.equal(order.FSalerId, 'E0005');
    assert.equal(order.FSaleOrderEntry.length, 1);
    assert.equal(order.FSaleOrderEntry[0].FMaterialId, 'M0002');
    assert.equal(order.FSaleOrderEntry[0].FQty, 3);
    assert.equal(order.FSaleOrderEntry[0].FTaxPrice, 98_000);
    assert.equal(order.FBillAllAmount, 294_000);
    assert.equal(output(done, 'order').number, billNo);

    const after = await crm(`/records/contract/${contract.id}`);
    assert.equal(after.status, 3, '执行中');
    assert.equal(after.erpOrderNumber__c, billNo);
    assert.equal(after.erpStatus__c, '已审核');
    assert.equal(after.approvalComment__c, 'Lina：同意；Yangfan：信用额度内，同意');

    const told = (await messagesTo('Chenjing')).filter((m) => JSON.stringify(m.body).includes(billNo));
    assert.equal(told.length, 1, 'the owner is told once');
    assert.match(JSON.stringify(told[0].body), /已审批通过/);
  });

  it("rejected: no order, the approver's comment on the contract, the owner told", async () => {
    // 华锐精密 is rated AAA and the amount is small: the sales director alone decides.
    const { contract } = await submit({
      as: 'E0003',
      customer: 'C0001',
      product: 'M0005',
      quantity: 10,
      amount: 28_000,
    });
    const waiting = await runOf(contract.id, ['waiting']);
    const { spNo } = output(waiting, 'start');
    const { info } = await wecom(`approvals/${spNo}`);
    assert.deepEqual(
      info.sp_record.map((n: any) => n.details.map((d: any) => d.approver.userid)),
      [['Lina']],
    );
    await wecom(`approvals/${spNo}/reject`, { userid: 'Lina', speech: '价格低于底价，请重新报价' });
    await runOf(contract.id, ['completed']);

    assert.equal((await ordersOf(`SO-${contract.contractCode}`)).length, 0, 'no sales order');
    const after = await crm(`/records/contract/${contract.id}`);
    assert.equal(after.status, 1, 'back to 草稿');
    assert.equal(after.approvalComment__c, 'Lina：价格低于底价，请重新报价');
    assert.equal(after.erpOrderNumber__c ?? null, null);
    const told = (await messagesTo('Zhangwei')).filter((m) =>
      JSON.stringify(m.body).includes(contract.contractCode),
    );
    assert.equal(told.length, 1);
    assert.match(JSON.stringify(told[0].body), /未获批准：Lina：价格低于底价，请重新报价/);
  });

  it('rejected, edited and resubmitted: a second approval; approved: exactly one audited sales order', async () => {
    // 华锐精密 is rated AAA and the amount is small: the sales director alone decides, twice.
    const { contract } = await submit({
      as: 'E0003',
      customer: 'C0001',
      product: 'M0005',
      quantity: 8,
      amount: 22_400,
    });
    const prefix = `contract:${contract.id}#`;
    const first = await runOf(contract.id, ['waiting']);
    const spNo1 = output(first, 'start').spNo;
    await wecom(`approvals/${spNo1}/reject`, { userid: 'Lina', speech: '数量不足起订量，请修改后重新提交' });
    await runOf(contract.id, ['completed']);
    const returned = await crm(`/records/contract/${contract.id}`);
    assert.equal(returned.status, 1, 'back to 草稿');
    assert.equal(returned.returnedApprovalNo__c, spNo1, 'the approval that sent it back');
    assert.equal(await env.repoll(FLOW_ID), 0, 'reading the contracts again starts nothing');

    // 张伟 raises the quantity and submits the same contract again.
    await crm(
      `/records/contract/${contract.id}`,
      { as: 'E0003', data: { quantity__c: 10, amount: 28_000, status: 2 } },
      'PATCH',
    );
    await hub.engine.reloadFlows();
    const second = await env.waitRun(
      FLOW_ID,
      (r) => Boolean(r.eventKey?.startsWith(prefix)) && r.id !== first.run.id,
      ['waiting'],
    );
    const spNo2 = output(second, 'start').spNo;
    assert.notEqual(spNo2, spNo1, 'a second WeCom approval');
    const { info } = await wecom(`approvals/${spNo2}`);
    assert.deepEqual(
      info.sp_record.map((n: any) => n.details.map((d: any) => d.approver.userid)),
      [['Lina']],
    );
    const form = Object.fromEntries(info.apply_data.contents.map((c: any) => [c.title[0].text, c.value]));
    assert.equal(Number(form.合同金额.new_money), 28_000, 'the edited contract');
    assert.match(form.合同说明.text, /（M0005）× 10/);
    // Edited while 审批中, and read again: still the same approval.
    await crm(
      `/records/contract/${contract.id}`,
      { as: 'E0003', data: { title: '华锐精密PLC合同' } },
      'PATCH',
    );
    assert.equal(await env.repoll(FLOW_ID), 0, 'an edit while 审批中 starts nothing');

    await wecom(`approvals/${spNo2}/agree`, { userid: 'Lina', speech: '同意' });
    const done = await env.waitRun(FLOW_ID, (r) => r.id === second.run.id, ['completed']);
    const billNo = `SO-${contract.contractCode}`;
    const orders = await ordersOf(billNo);
    assert.equal(orders.length, 1, 'exactly one sales order');
    assert.equal(orders[0].FDocumentStatus, 'C', 'audited');
    assert.equal(orders[0].FSaleOrderEntry[0].FQty, 10);
    assert.equal(orders[0].FBillAllAmount, 28_000);
    assert.equal(output(done, 'order').number, billNo);
    const after = await crm(`/records/contract/${contract.id}`);
    assert.equal(after.status, 3, '执行中');
    assert.equal(after.erpOrderNumber__c, billNo);
    assert.equal(after.approvalComment__c, 'Lina：同意');

    // However often it is read again: two approvals in all, one order, two runs.
    assert.equal(await env.repoll(FLOW_ID), 0);
    const mine = ((await wecom('approvals')).approvals as any[]).filter((a) =>
      a.apply_data.contents.some(
        (x: any) => x.title[0].text === '合同编号' && x.value.text === contract.contractCode,
      ),
    );
    assert.deepEqual(
      mine.map((a) => [a.sp_no, a.sp_status]),
      [
        [spNo1, 3],
        [spNo2, 2],
      ],
      'rejected, then approved',
    );
    assert.equal((await ordersOf(billNo)).length, 1);
    const runs = (await hub.store.listRuns({ flowId: FLOW_ID, limit: 1000 })).filter((r) =>
      r.eventKey?.startsWith(prefix),
    );
    assert.equal(runs.length, 2);
    const told = (await messagesTo('Zhangwei')).filter((m) =>
      JSON.stringify(m.body).includes(contract.contractCode),
    );
    assert.equal(told.length, 2, 'told of the rejection, then of the approval');
    assert.match(JSON.stringify(told[0].body), /未获批准：Lina：数量不足起订量/);
    assert.match(JSON.stringify(told[1].body), /已审批通过/);
  });

  it('a high risk score on the opportunity adds the finance manager', async () => {
    // 华锐精密 is rated AAA and the amount is small, but the opportunity is marked risky.
    const opportunity = (await crm('/records/opportunity?limit=1000')).records.find(
      (o: any) => o.status === 1 && o.opportunityName.startsWith('华锐精密'),
    );
    await crm(`/records/opportunity/${opportunity.id}`, { as: 'E0003', data: { riskScore__c: 85 } }, 'PATCH');
    const contract = await crm('/act/create-contract', {
      as: 'E0003',
      opportunityId: opportunity.id,
      amount: 56_000,
      product: 'M0003',
      quantity: 1,
    });
    await hub.engine.reloadFlows();
    const { spNo } = output(await runOf(contract.id, ['waiting']), 'start');
    const { info } = await wecom(`approvals/${spNo}`);
    assert.deepEqual(
      info.sp_record.map((n: any) => n.details.map((d: any) => d.approver.userid)),
      [['Lina'], ['Yangfan']],
    );
    const note = info.apply_data.contents.find((c: any) => c.title[0].text === '合同说明').value.text;
    assert.match(note, /商机风险评分：85\n审批路线：商机风险高/);
    await wecom(`approvals/${spNo}/approve-all`, {});
    await runOf(contract.id, ['completed']);
    assert.equal((await ordersOf(`SO-${contract.contractCode}`)).length, 1);
  });

  it('a contract without a product fails before any approval, naming the field', async () => {
    const account = (await crm('/records/account?limit=1000')).records.find(
      (a: any) => a.erpNumber__c === 'C0009',
    );
    const contract = await crm('/act/create-contract', {
      as: 'E0004',
      accountId: account.id,
      amount: 50_000,
    });
    await hub.engine.reloadFlows();
    const failed = await runOf(contract.id, ['failed']);
    assert.deepEqual(
      failed.steps.map((s) => [s.name, s.status]),
      [['complete', 'dead']],
    );
    const [dl] = (await hub.store.listDeadLetters({ flowId: FLOW_ID, status: 'open' })).filter(
      (d) => d.runId === failed.run.id,
    );
    assert.match(
      dl.error.message,
      new RegExp(`合同 ${contract.contractCode} 没有填写合同产品（product__c）`),
    );
    const approvals = (await wecom('approvals')).approvals as any[];
    assert.ok(
      approvals.every((a) => !JSON.stringify(a.apply_data).includes(contract.contractCode)),
      'no approval started',
    );
  });
});
