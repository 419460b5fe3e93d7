/**
 * The receipt scene of `qiao demo` (flows/receipt-to-crm.yaml, scenario 3): finance (黄磊 enters, 杨帆
 * audits) records 华锐精密's second payment of 250,000 in Kingdee; the hub's poll writes one Neocrm
 * paymentApplication on the customer and its contract and tells the owner 张伟 in DingTalk. The admin
 * calls are those of test/scenario-receipt-to-crm.test.ts.
 */
import { employeeByStaffNumber } from '../../sandbox/common/company.ts';
import type { DemoContext, SceneResult } from './scene.ts';
import { waitRun } from './scene.ts';

export const RECEIPT_FLOW = 'receipt-to-crm';
type Rec = Record<string, any>;

export async function playReceiptToCrm(ctx: DemoContext): Promise<SceneResult> {
  const { crm, erp, hub } = ctx;
  const problems: string[] = [];
  const accounts = (await crm('/records/account?limit=100000')).records as Rec[];
  const huarui = accounts.find((a) => a.erpNumber__c === 'C0001')!;
  // The seeded Kingdee sales order XSDD000001 is on 华锐精密's contract (what scenario 2 writes back).
  const contract = ((await crm('/records/contract?limit=1000')).records as Rec[]).find(
    (r) => r.accountId === huarui.id,
  )!;
  await crm(
    `/records/contract/${contract.id}`,
    { data: { erpOrderNumber__c: 'XSDD000001', erpStatus__c: 'C' } },
    'PATCH',
  );
  const before = await ctx.playedBefore(RECEIPT_FLOW);
  await ctx.load(RECEIPT_FLOW);
  if (before) {
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  // The first poll records the receipt already audited (the seeded SKD00000001).
  await waitRun(hub, RECEIPT_FLOW, (r) => (r.event as Rec).FBillNo === 'SKD00000001', [
    'completed',
    'failed',
  ]);
  ctx.step('黄磊 enters a 250,000 receipt from 华锐精密 in Kingdee; 杨帆 audits it');
  const saved = await erp('records/AR_RECEIVEBILL', {
    model: {
      FDATE: '2026-03-12',
      FCONTACTUNITTYPE: 'BD_Customer',
      FCONTACTUNIT: { FNumber: 'C0001' },
      FSALEERID: { FNumber: 'E0003' },
      FREMARK: '华锐精密第二笔货款',
      FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 250_000 }],
      FRECEIVEBILLSRCENTRY: [
        { FSRCBILLTYPEID: 'AR_receivable', FSRCBILLNO: 'AR00000001', FREALRECAMOUNT_S: 250_000 },
      ],
    },
    user: '黄磊',
    status: 'B',
  });
  const bill = saved.FBillNo as string;
  await erp(`records/AR_RECEIVEBILL/${bill}/audit`, { user: '杨帆' });
  await hub.engine.reloadFlows(); // poll now rather than in a minute
  const done = await waitRun(hub, RECEIPT_FLOW, (r) => (r.event as Rec).FBillNo === bill, [
    'completed',
    'failed',
  ]);
  if (done.run.status !== 'completed') problems.push(`the run of receipt ${bill} failed`);

  const payments = ((await crm('/records/paymentApplication?limit=100000')).records as Rec[]).filter((p) =>
    ['SKD00000001', bill].includes(p.name),
  );
  const mine = payments.filter((p) => p.name === bill);
  if (mine.length !== 1) problems.push(`${mine.length} Neocrm payments ${bill}, expected 1`);
  else if (
    mine[0].amount !== 250_000 ||
    mine[0].contractId !== contract.id ||
    mine[0].accountId !== huarui.id
  ) {
    problems.push(`payment ${bill} is not 250,000 on 华锐精密's contract`);
  }
  const owner = employeeByStaffNumber('E0003')!;
  const all = (await ctx.ding('GET', '/__sandbox/notices')).deliveries as Rec[];
  const notices = all.filter((d) => ['SKD00000001', bill].some((b) => JSON.stringify(d.msg).includes(b)));
  const told = notices.filter(
    (d) => d.userid === owner.dingtalkUserId && JSON.stringify(d.msg).includes(bill),
  );
  if (told.length !== 1) problems.push(`张伟 got ${told.length} notices of ${bill}, expected 1`);
  ctx.step(`Neocrm payment ${bill} on the contract; 张伟 told in DingTalk`);
  return { runs: 2, duplicates: 0, written: { neocrm: payments.length, dingtalk: notices.length }, problems };
}
