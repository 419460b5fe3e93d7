/**
 * The alerts scene of `qiao demo` (flows/alerts-stock.yaml and alerts-approval-sla.yaml, scenario 7),
 * checked by what reaches the DingTalk group robot `alerts`:
 *
 * - the stock check against Kingdee: the morning check posts the materials below their safety stock,
 *   the same shortage at the next check is held back, and when 徐强 ships two robots out of the
 *   warehouse (六轴工业机器人 drops below its safety stock) the next check posts at once;
 * - a storm: eight payment requests wait for 杨帆 in DingTalk past their SLA — each gets its reminder,
 *   the group hears once, and when the hour-long window ends, one summary of the seven held back. The
 *   4 h / 8 h SLA timers and the window's end are brought forward in the store (as
 *   test/scenario-alerts.test.ts does with the SLA timers): the flows' own windows, not a demo's.
 *
 * The checks are started by hand with keys of their own: a cron slot that falls during the demo
 * (09:00, 14:00) may post the same shortage first, and then the hand-started check is held back — the
 * group still hears of each shortage once.
 */
import type { DemoContext, SceneResult } from './scene.ts';
import { waitFor } from './scene.ts';

export const STOCK_FLOW = 'alerts-stock';
export const SLA_FLOW = 'alerts-approval-sla';
export const ALERT_FLOWS = [STOCK_FLOW, SLA_FLOW];
const APPROVER = 'manager4006'; // 杨帆 approves 付款申请 first
const STORM = 8;
type Rec = Record<string, any>;

export async function playAlerts(ctx: DemoContext): Promise<SceneResult> {
  const { erp, ding, hub } = ctx;
  const problems: string[] = [];
  const before = await ctx.playedBefore(STOCK_FLOW);
  for (const f of ALERT_FLOWS) await ctx.load(f);
  if (before) {
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  /** What the alerts group saw, oldest first. */
  const group = async (): Promise<string[]> =>
    ((await ding('GET', '/__sandbox/robots/alerts/messages')).messages as Rec[]).map(
      (m) => m.message.markdown?.text ?? m.message.text?.content,
    );
  const notices = async (): Promise<Rec[]> =>
    (await ding('GET', `/__sandbox/notices?userId=${APPROVER}`)).deliveries;
  /** Runs the stock check now and waits for its end. */
  const check = async (key: string): Promise<void> => {
    const out = await hub.engine.startFlow(STOCK_FLOW, {}, `demo:${key}`);
    await waitFor(`the stock check (${key})`, async () => {
      const run = (await hub.store.getRun(out.runIds[0]))?.run;
      return !!run && !['running', 'waiting'].includes(run.status);
    });
  };
  const from = (await group()).length;
  const lastAudit = async () => (await hub.store.listAudit({ limit: 1_000_000 })).at(-1)?.seq ?? 0;
  const sceneAudit = await lastAudit();

  // 1. Stock below safety stock: one message per shortage, the same one held back.
  ctx.step('the morning stock check compares Kingdee 即时库存 with each material’s safety stock');
  await check('stock-morning');
  let got = (await group()).slice(from);
  if (got.length !== 1 || !/^#### 库存预警：\d+ 种物料低于安全库存/.test(got[0] ?? '')) {
    problems.push(`the group got ${JSON.stringify(got)} from the morning check, expected one 库存预警`);
  }
  ctx.step(`the group hears: ${(got[0] ?? '').split('\n\n')[0].replace('#### ', '')}`);
  await check('stock-afternoon');
  if ((await group()).length !== from + got.length) problems.push('the same shortage was posted twice');
  ctx.step('the afternoon check finds the same shortage: held back, nothing new in the group');

  ctx.step('徐强 ships two 六轴工业机器人 (M0001): 2 left, safety stock 5');
  const inv = ((await erp('records/STK_Inventory?limit=1000')).records as Rec[]).find(
    (r) => r.FMaterialId === 'M0001',
  );
  if (!inv) throw new Error('no M0001 stock row in the Kingdee sandbox');
  await erp(`records/STK_Inventory/${inv.FInventoryNo}/edit`, {
    fields: { FBaseQty: 2, FQty: 2 },
    user: '徐强',
  });
  await check('stock-after-shipment');
  got = (await group()).slice(from);
  const shortage = got[1] ?? '';
  if (got.length !== 2 || !shortage.includes('- M0001 六轴工业机器人（QH-R6-20kg）：2 个，安全库存 5')) {
    problems.push(
      `the new shortage of M0001 did not reach the group at once: ${JSON.stringify(got.slice(1))}`,
    );
  }
  ctx.step(`posted at once: ${shortage.split('\n\n')[0].replace('#### ', '')}, M0001 among them`);
  const stockMessages = got.length;

  // 2. A storm: approvals past their SLA. The people file them; the hub watches each task.
  ctx.step(`month end: 黄磊 files ${STORM} 付款申请 in DingTalk; each waits for 杨帆, who is away`);
  const noticesFrom = (await notices()).length;
  const filed = await ding('POST', '/__sandbox/approvals', {
    template: 'payment',
    originatorUserId: 'manager4008',
    form: { 付款事由: '月末供应商货款', 付款金额: '25000', 收款单位: '上海精工伺服科技有限公司' },
    count: STORM,
  });
  const ids = filed.processInstanceIds as string[];
  const mine = async () =>
    (await hub.store.listRuns({ flowId: SLA_FLOW, limit: 10_000 })).filter((r) =>
      ids.includes((r.event as Rec).processInstanceId),
    );
  await waitFor(`${STORM} watched approval tasks`, async () => {
    const runs = await mine();
    return runs.length === STORM && runs.every((r) => r.status === 'waiting');
  });
  ctx.step('8 hours later (the SLA timers brought forward in the store): reminders and escalations fire');
  const auditFrom = await lastAudit();
  for (const r of await mine()) {
    const wait = (await hub.store.getRun(r.id))!.steps.find((s) => s.name === 'decision')!;
    for (const timer of [0, 1]) await hub.store.rescheduleTimer(`${wait.id}:timer:${timer}`, Date.now());
  }
  hub.engine.kick();
  // Each timer that fires, sent or held back, leaves one audit row of the flow.
  await waitFor(`${2 * STORM} SLA timers`, async () => {
    const rows = await hub.store.listAudit({ afterSeq: auditFrom, limit: 100_000 });
    return rows.filter((a) => a.actor === `flow:${SLA_FLOW}`).length >= 2 * STORM;
  });
  const reminders = (await notices()).slice(noticesFrom);
  if (reminders.length !== STORM) problems.push(`杨帆 got ${reminders.length} reminders, expected ${STORM}`);
  ctx.step(`杨帆 gets ${reminders.length} work notices: ${reminders[0]?.msg?.text?.content ?? '(none)'}`);
  got = (await group()).slice(from + stockMessages);
  if (got.length !== 1 || !got[0].startsWith('#### 审批超时告警')) {
    problems.push(
      `the group got ${got.length} messages for ${STORM} overdue approvals, expected one 审批超时告警`,
    );
  }
  ctx.step(`the group hears once (审批超时告警 @杨帆); the other ${STORM - 1} are held back`);

  // The windows' ends, brought forward too: one summary of what each held back (the same shortage
  // found again by the afternoon check; the seven escalations). Held-back alerts are audited against
  // their window, whose summary timer has the same id (src/engine/suppress.ts).
  const windows = new Set(
    (await hub.store.listAudit({ afterSeq: sceneAudit, limit: 100_000 }))
      .filter((a) => ALERT_FLOWS.some((f) => a.actor === `flow:${f}`) && a.target.startsWith('suppress:'))
      .map((a) => a.target),
  );
  for (const w of windows) await hub.store.rescheduleTimer(w, Date.now());
  hub.engine.kick();
  const alertsSoFar = from + stockMessages + 1;
  await waitFor('the summaries', async () => (await group()).length >= alertsSoFar + windows.size);
  await hub.engine.drain();
  const summaries = (await group()).slice(alertsSoFar);
  const sla = summaries.filter((m) => m.startsWith('#### 【告警汇总】审批超时'));
  const stock = summaries.filter((m) => m.startsWith('#### 【告警汇总】库存预警'));
  if (
    summaries.length !== 2 ||
    sla.length !== 1 ||
    stock.length !== 1 ||
    !sla[0].includes(`另有 ${STORM - 1} 条`)
  ) {
    problems.push(`when the windows end the group got ${JSON.stringify(summaries)}, expected two summaries`);
  }
  const gist = (m = '') => m.split('\n\n').slice(0, 2).join(' ').replace('#### ', '');
  ctx.step(`when the windows end (brought forward in the store), one summary each: ${gist(sla[0])}`);
  ctx.step(gist(stock[0]));

  // 杨帆 works through her queue: each decision ends its watch, nothing is left waiting in the store.
  for (const id of ids) {
    await ding('POST', `/__sandbox/approvals/${id}/refuse`, {
      userId: APPROVER,
      remark: '请补充发票后重新提交',
    });
  }
  await waitFor('the watches to end', async () => (await mine()).every((r) => r.status === 'completed'));
  ctx.step(`杨帆 sends the ${STORM} requests back for invoices: each watch ends with her decision`);
  return {
    runs: 3 + STORM,
    duplicates: 0,
    written: { dingtalk: (await group()).length - from + reminders.length },
    problems,
  };
}
