/**
 * The expense scene of `qiao demo` (flows/expense-reimbursement.yaml, scenario 4): 刘洋 files a 3,680
 * travel expense in WeCom, 杨帆 and the chain approve it there, Kingdee gets one audited
 * ER_ExpReimbursement; the cashier 赵敏 pays it in Kingdee, the BOS plugin pushes the Pay to the hub and
 * 刘洋 is told in WeCom. The calls are those of test/scenario-expense-reimbursement.test.ts.
 */
import { TEMPLATE_IDS } from '../../sandbox/wecom/index.ts';
import type { DemoContext, SceneResult } from './scene.ts';
import { waitRun } from './scene.ts';

export const EXPENSE_FLOWS = ['expense-reimbursement', 'expense-reimbursement-dingtalk'];
type Rec = Record<string, any>;

export async function playExpenseReimbursement(ctx: DemoContext): Promise<SceneResult> {
  const { erp, wecom, hub } = ctx;
  const problems: string[] = [];
  const before = await ctx.playedBefore(EXPENSE_FLOWS[0]);
  for (const f of EXPENSE_FLOWS) await ctx.load(f);
  // The BOS plugin's target: the Pay of an expense bill is pushed to the hub's Kingdee hook.
  await erp('notify', {
    url: `${hub.url}/hooks/kingdee/kingdee`,
    forms: ['ER_ExpReimbursement'],
    operations: ['Pay'],
  });
  if (before) {
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  ctx.step('刘洋 files a 3,680 travel expense (项目A) in WeCom');
  const filed = await hub.connections.call(
    'wecom',
    'approval.start',
    {
      templateId: TEMPLATE_IDS.expense,
      creator: 'Liuyang',
      fields: {
        报销类型: '差旅费',
        报销金额: 3_680,
        发生日期: '2026-03-10',
        关联项目: '项目A',
        报销事由: '苏州华锐精密现场调试差旅',
        费用明细: [
          { 费用项目: '交通费', 金额: 480, 日期: '2026-03-10' },
          { 费用项目: '住宿费', 金额: 3_200, 日期: '2026-03-11' },
        ],
      },
    },
    { idempotencyKey: 'qiao-demo-expense', attempt: 1 },
  );
  const spNo = (filed.output as { spNo: string }).spNo;
  ctx.step(`WeCom approval ${spNo}: the approvers agree`);
  await wecom(`approvals/${spNo}/approve-all`, { speech: '同意' });
  const bySpNo = (r: { event: unknown }) => (r.event as Rec).spNo === spNo;
  const waiting = await waitRun(hub, EXPENSE_FLOWS[0], bySpNo, ['waiting', 'failed']);
  const number = (waiting.steps.find((s) => s.name === 'bill')?.output as { number?: string } | undefined)
    ?.number;
  if (!number) throw new Error(`no Kingdee bill for approval ${spNo}`);
  ctx.step(`Kingdee expense bill ${number} audited; 赵敏 (cashier) pays it in Kingdee`);
  await erp(`records/ER_ExpReimbursement/${number}/pay`, { user: '赵敏' });
  await erp('notify/flush', {});
  const done = await waitRun(hub, EXPENSE_FLOWS[0], bySpNo, ['completed', 'failed']);
  if (done.run.status !== 'completed') problems.push(`the run of approval ${spNo} failed`);

  const bills = ((await erp('records/ER_ExpReimbursement?limit=10000')).records as Rec[]).filter(
    (r) => r.FBillNo === number,
  );
  if (bills.length !== 1) problems.push(`${bills.length} Kingdee expense bills ${number}, expected 1`);
  else if (bills[0].FDocumentStatus !== 'C' || bills[0].FReqReimbAmount !== 3_680) {
    problems.push(`expense bill ${number} is not an audited 3,680`);
  }
  const texts = ((await wecom('messages/Liuyang')).messages as Rec[]).map((m) =>
    String(m.body?.content ?? ''),
  );
  const paid = texts.filter((t) => t.startsWith('您的报销已付款'));
  if (paid.length !== 1) problems.push(`刘洋 was told of the payment ${paid.length} times, expected once`);
  ctx.step(`刘洋 told in WeCom: ${paid[0] ?? '(nothing)'}`);
  const told = texts.filter((t) => t.includes(number)).length;
  return { runs: 1, duplicates: 0, written: { kingdee: bills.length, wecom: told }, problems };
}
