/**
 * The payment scene of `qiao demo` (flows/payment-confirmation*.yaml, scenario 5): the hub asks the
 * cashier 赵敏 on a DingTalk card about each audited, unpaid Kingdee payable; she replies
 * "确认付款 AP00000001" to the robot and Kingdee gets one audited AP_PAYBILL. The admin calls are those of
 * test/scenario-payment-confirmation.test.ts.
 */
import type { DemoContext, SceneResult } from './scene.ts';
import { waitFor, waitRun } from './scene.ts';

export const PAYMENT_FLOWS = [
  'payment-confirmation',
  'payment-confirmation-button',
  'payment-confirmation-refusal',
];
const CASHIER = 'manager4007'; // 赵敏, 出纳, Kingdee staff E0007
const BILL = 'AP00000001';
type Rec = Record<string, any>;

export async function playPaymentConfirmation(ctx: DemoContext): Promise<SceneResult> {
  const { erp, ding, hub } = ctx;
  const problems: string[] = [];
  const before = await ctx.playedBefore(PAYMENT_FLOWS[0]);
  for (const f of PAYMENT_FLOWS) await ctx.load(f);
  if (before) {
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  const isBill = (r: { event: unknown }) => (r.event as Rec).FBillNo === BILL;
  const asked = await waitRun(hub, PAYMENT_FLOWS[0], isBill, ['waiting', 'failed']);
  if (asked.run.status !== 'waiting') throw new Error(`the question about ${BILL} failed`);
  ctx.step(`赵敏 (cashier) got a DingTalk card about ${BILL}; she replies "确认付款 ${BILL}"`);
  const said = await ding('POST', '/__sandbox/robot/say', { userId: CASHIER, text: `确认付款 ${BILL}` });
  await waitFor('the message to be acked', async () =>
    ((await ding('GET', '/__sandbox/robot/messages')).incoming as Rec[]).some(
      (m) => m.msgId === said.msgId && m.status === 'acked',
    ),
  );
  const done = await waitRun(hub, PAYMENT_FLOWS[0], (r) => r.id === asked.run.id, ['completed', 'failed']);
  if (done.run.status !== 'completed') problems.push(`the payment of ${BILL} failed`);
  const bills = ((await erp('records/AP_PAYBILL?limit=10000')).records as Rec[]).filter((r) =>
    (r.FPAYBILLSRCENTRY ?? []).some((e: Rec) => e.FSRCBILLNO === BILL),
  );
  if (bills.length !== 1) problems.push(`${bills.length} payment bills for ${BILL}, expected 1`);
  else if (bills[0].FDocumentStatus !== 'C') problems.push(`payment bill ${bills[0].FBillNo} is not audited`);
  const runs = (await hub.store.listRuns({ flowId: PAYMENT_FLOWS[0], limit: 1000 })).length;
  const cards = ((await ding('GET', '/__sandbox/cards')).cards as Rec[]).length;
  ctx.step(`Kingdee payment bill ${bills[0]?.FBillNo} audited; the card says 已付款`);
  return { runs, duplicates: 0, written: { kingdee: bills.length, dingtalk: cards }, problems };
}
