/**
 * Scenario 3 end to end (flows/receipt-to-crm.yaml, loaded as shipped): a hub with `kingdee`,
 * `neocrm` and `dingtalk` connections to the three sandboxes over real HTTP. Finance audits a receipt
 * in Kingdee → the poll trigger picks it up → exactly one Neocrm paymentApplication on the customer
 * and the contract of the sales order it pays → a DingTalk work notice to the customer's sales owner.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import { employeeByStaffNumber } from '../src/sandbox/common/company.ts';
import type { DingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const FLOW_ID = 'receipt-to-crm';
type Rec = Record<string, any>;

describe('scenario 3: receipt-to-crm (Kingdee receipt audited → Neocrm payment → DingTalk notice)', () => {
  let env: ScenarioHub<'kingdee' | 'neocrm' | 'dingtalk'>;
  let dt: DingtalkSandbox;
  let hub: Hub;
  const kdAdmin = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);
  const crmAdmin = (path: string, body?: unknown, method?: string) => env.crm(path, body, method);
  const payments = async (name: string): Promise<Rec[]> =>
    (await crmAdmin('/records/paymentApplication?limit=100000')).records.filter((r: Rec) => r.name === name);
  const account = async (erpNumber: string): Promise<Rec> =>
    (await crmAdmin('/records/account?limit=100000')).records.find((r: Rec) => r.erpNumber__c === erpNumber);
  const notices = async (userId: string): Promise<string[]> =>
    (await dt.admin('GET', `/__sandbox/notices?userId=${userId}`)).deliveries.map(
      (d: Rec) => d.msg.markdown?.text ?? d.msg.text?.content ?? '',
    );
  /** Waits (on state) until the flow has `n` runs and none is still going. */
  const settled = (n: number) => env.settled(FLOW_ID, n);
  const pollNow = () => env.pollNow();
  /** Finance enters a receipt in the K/3 client (submitted) and the finance manager audits it. */
  const auditReceipt = async (model: Rec): Promise<Rec> => {
    const saved = await kdAdmin('records/AR_RECEIVEBILL', { model, user: '黄磊', status: 'B' });
    return kdAdmin(`records/AR_RECEIVEBILL/${saved.FBillNo}/audit`, { user: '杨帆' });
  };

  before(async () => {
    // The owners are told by work notice: no DingTalk event is needed, so HTTP ingress (no Stream).
    env = await startScenarioHub({
      name: 'receipt',
      systems: ['kingdee', 'neocrm', 'dingtalk'],
      settings: { dingtalk: { ingress: 'http' } },
    });
    ({ hub } = env);
    dt = env.sandboxes.dingtalk;
    // Scenario 2 wrote the Kingdee sales order XSDD000001 on 华锐精密's contract.
    const huarui = await account('C0001');
    const contract = (await crmAdmin('/records/contract?limit=1000')).records.find(
      (r: Rec) => r.accountId === huarui.id,
    );
    await crmAdmin(
      `/records/contract/${contract.id}`,
      { data: { erpOrderNumber__c: 'XSDD000001', erpStatus__c: 'C' } },
      'PATCH',
    );
    // The first poll reads every receipt audited so far: the seeded SKD00000001 (华锐精密, 100,000).
    await env.load(FLOW_ID);
    await settled(1);
  });
  after(() => env?.close());

  it('the first poll records the receipts already audited, once each', async () => {
    const [seeded] = await payments('SKD00000001');
    const huarui = await account('C0001');
    assert.equal(seeded.accountId, huarui.id);
    assert.equal(seeded.amount, 100_000);
    assert.equal(seeded.paymentMethod, 1, 'JSFS04_SYS 电汇 → 银行转账');
    assert.equal((await payments('SKD00000001')).length, 1);
  });

  it('an audited receipt paying a receivable lands on the customer and its contract, and the owner is told', async () => {
    const receipt = await auditReceipt({
      FDATE: '2026-03-12',
      FCONTACTUNITTYPE: 'BD_Customer',
      FCONTACTUNIT: { FNumber: 'C0001' },
      FSALEERID: { FNumber: 'E0003' },
      FREMARK: '华锐精密第二笔货款',
      FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 250_000 }],
      FRECEIVEBILLSRCENTRY: [
        { FSRCBILLTYPEID: 'AR_receivable', FSRCBILLNO: 'AR00000001', FREALRECAMOUNT_S: 250_000 },
      ],
    });
    assert.equal(receipt.FDocumentStatus, 'C');
    await pollNow();
    const all = await settled(2);
    assert.deepEqual(
      all.map((r) => r.status),
      ['completed', 'completed'],
    );

    const found = await payments(receipt.FBillNo);
    assert.equal(found.length, 1, 'exactly one payment record');
    const huarui = await account('C0001');
    const contract = (await crmAdmin('/records/contract?limit=1000')).records.find(
      (r: Rec) => r.erpOrderNumber__c === 'XSDD000001',
    );
    assert.equal(found[0].amount, 250_000);
    assert.equal(found[0].accountId, huarui.id);
    assert.equal(found[0].contractId, contract.id, 'receipt → AR00000001 → XSDD000001 → the contract');
    assert.equal(found[0].paymentMethod, 1);
    assert.equal(new Date(found[0].paymentDate + 8 * 3_600_000).toISOString().slice(0, 10), '2026-03-12');

    // The owner of 华锐精密 in the CRM is 张伟 (E0003): joined to DingTalk by mobile.
    const owner = employeeByStaffNumber('E0003')!;
    assert.equal(huarui.ownerId, owner.neocrmUserId);
    const told = (await notices(owner.dingtalkUserId)).filter((t) => t.includes(receipt.FBillNo));
    assert.equal(told.length, 1, 'one notice to the sales owner');
    assert.match(told[0], /苏州华锐精密机械有限公司/);
    assert.match(told[0], /250,000\.00 元（贰拾伍万元整）/);
    assert.match(told[0], /合同：华锐精密设备采购合同/);
    const others = (await dt.admin('GET', '/__sandbox/notices')).deliveries.filter(
      (d: Rec) => d.userid !== owner.dingtalkUserId && JSON.stringify(d.msg).includes(receipt.FBillNo),
    );
    assert.deepEqual(others, [], 'nobody else is told');
  });

  it('polls that read the receipt again, and a receipt audited twice, record it once', async () => {
    const receipt = await auditReceipt({
      FDATE: '2026-03-13',
      FCONTACTUNITTYPE: 'BD_Customer',
      FCONTACTUNIT: { FNumber: 'C0005' },
      FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS01_SYS' }, FRECTOTALAMOUNTFOR: 36_800.5 }],
    });
    await pollNow();
    await pollNow(); // inside the overlap window the receipt is read again: the inbox drops it
    await settled(3);
    // Finance un-audits to fix the remark, then audits again: a new FApproveDate, a new event.
    await kdAdmin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/unaudit`, { user: '杨帆' });
    await kdAdmin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/edit`, {
      fields: { FREMARK: '康宁医药预付款' },
      user: '黄磊',
    });
    await kdAdmin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/submit`, { user: '黄磊' });
    await new Promise((r) => setTimeout(r, 5)); // a later FApproveDate than the first audit's
    await kdAdmin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/audit`, { user: '杨帆' });
    await pollNow();
    const all = await settled(4);
    assert.ok(all.every((r) => r.status === 'completed'));

    const found = await payments(receipt.FBillNo);
    assert.equal(found.length, 1, 'found by its id link: still one payment');
    assert.equal(found[0].amount, 36_800.5);
    assert.equal(found[0].paymentMethod, 3, 'JSFS01_SYS 现金 → 现金');
    assert.equal(found[0].contractId ?? null, null, 'no source bill: the customer only');
    const kangning = await account('C0005');
    assert.equal(found[0].accountId, kangning.id);
    // 康宁医药's owner is 陈静 (E0005).
    const told = (await notices(employeeByStaffNumber('E0005')!.dingtalkUserId)).filter((t) =>
      t.includes(receipt.FBillNo),
    );
    assert.ok(told.length >= 1);
  });

  it('a customer missing from the CRM dead-letters the run with a message naming it', async () => {
    await kdAdmin('records/BD_Customer', {
      model: { FNumber: 'C0099', FName: '嘉兴新客户有限公司', FCreateOrgId: { FNumber: '100' } },
      user: '黄磊',
      status: 'C',
    });
    const receipt = await auditReceipt({
      FDATE: '2026-03-14',
      FCONTACTUNITTYPE: 'BD_Customer',
      FCONTACTUNIT: { FNumber: 'C0099' },
      FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 5_000 }],
    });
    await pollNow();
    const all = await settled(5);
    assert.equal(all.filter((r) => r.status === 'failed').length, 1);
    const [dl] = await hub.store.listDeadLetters({ flowId: FLOW_ID });
    assert.equal(dl.stepName, 'payment');
    assert.match(dl.error.message, /C0099 \(嘉兴新客户有限公司\) has no Neocrm account/);
    assert.deepEqual(await payments(receipt.FBillNo), []);
  });
});
