/**
 * Scenario 7 end to end (flows/alerts-*.yaml, loaded as shipped): a hub with `kingdee`, `dingtalk`
 * (Stream), `wecom` and `qiao-api` (its own REST API, type http) connections, over real HTTP, started
 * and wired by test/support/scenario-hub.ts.
 * - stock below safety stock in Kingdee → one DingTalk group message per shortage, the same shortage
 *   held back;
 * - dead letters → one WeCom group message per check; a storm is held back, and one summary follows
 *   when the window ends;
 * - approval tasks past their SLA → a reminder to the approver, then an escalation to the DingTalk
 *   group: 49 overdue approvals are 1 message + 1 summary, the summary sent by the hub after a restart.
 * Suppression windows and their summary timers are in the store. Timers (the SLA's, the windows' ends)
 * are brought forward in the store (time travel), not waited for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunRow, RunStatus, StepRow } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub, waitFor } from './support/scenario-hub.ts';

const APPROVER = 'manager4006'; // 杨帆 approves 费用报销 in the sample company
const SLA = 'alerts-approval-sla';
const FLOWS = ['alerts-stock', 'alerts-failures', SLA];
const ENDED: RunStatus[] = ['completed', 'failed', 'filtered', 'cancelled'];
type Rec = Record<string, any>;

/** A test flow whose every run dead-letters: Kingdee refuses a customer without a name. */
const FAILING = `id: failing-sync
trigger: { type: manual }
steps:
  - id: customer
    action: kingdee.save
    input:
      formId: BD_Customer
      model: { FNumber: '=event.number', FCreateOrgId: { FNumber: '100' } }
`;

describe('scenario 7: alerts (stock, dead letters, approval SLA → DingTalk and WeCom group robots, suppressed)', () => {
  /** The hub is `env.hub`: a new one after `env.restart()`. */
  let env: ScenarioHub<'kingdee' | 'dingtalk' | 'wecom'>;

  const runsOf = (flowId: string): Promise<RunRow[]> => env.hub.store.listRuns({ flowId, limit: 1000 });
  /** What the DingTalk alerts group saw, oldest first (markdown text, or text). */
  const dingGroup = async (): Promise<string[]> =>
    (await env.ding('GET', '/__sandbox/robots/alerts/messages')).messages.map(
      (m: Rec) => m.message.markdown?.text ?? m.message.text?.content,
    );
  /** What the WeCom alerts group saw, oldest first. */
  const wecomGroup = async (): Promise<string[]> =>
    ((await env.wecom('robots')).robots as Rec[])
      .find((r) => r.name === 'alerts')!
      .messages.map((m: Rec) => m.body.content);
  /** Waits until the run `runId` of `flowId` has one of `statuses`. */
  const runIn = async (flowId: string, runId: string, statuses: RunStatus[]): Promise<RunRow> =>
    (await env.waitRun(flowId, (r) => r.id === runId, statuses)).run;
  /** Starts `flowId` by hand and waits for its run to end. */
  const start = async (flowId: string, data: Rec, key?: string): Promise<RunRow> =>
    runIn(flowId, (await env.hub.engine.startFlow(flowId, data, key)).runIds[0], ENDED);
  const stepOf = async (runId: string, name: string): Promise<StepRow> =>
    (await env.hub.store.getRun(runId))!.steps.find((s) => s.name === name)!;
  /** Files `count` expense approvals by manager4004, each a task for APPROVER; their instance ids. */
  const fileExpenses = async (count: number, form: Rec): Promise<string[]> =>
    (
      await env.ding('POST', '/__sandbox/approvals', {
        template: 'expense',
        originatorUserId: 'manager4004',
        form: { ...form, 费用类型: '差旅费' },
        count,
      })
    ).processInstanceIds;
  /** The work notices APPROVER got, oldest first. */
  const notices = async (): Promise<Rec[]> =>
    (await env.ding('GET', `/__sandbox/notices?userId=${APPROVER}`)).deliveries;
  /** The audit's last sequence number: what `slaAudit` reads after. */
  const auditMark = async (): Promise<number> =>
    (await env.hub.store.listAudit({ limit: 100_000 })).at(-1)?.seq ?? 0;
  /** What alerts-approval-sla did since `mark` (its audit rows). */
  const slaAudit = async (mark: number) =>
    (await env.hub.store.listAudit({ afterSeq: mark, limit: 10_000 })).filter(
      (a) => a.actor === 'flow:alerts-approval-sla',
    );
  /** Brings a watch's reminder and escalation timers forward to `at` (time travel). */
  const timersDue = async (runId: string, at: number) => {
    const decision = await stepOf(runId, 'decision');
    for (const i of [0, 1]) await env.hub.store.rescheduleTimer(`${decision.id}:timer:${i}`, at);
    return decision;
  };
  /** Ends a suppression window now: its summary timer falls due (time travel). */
  const endWindow = async (window: string) => {
    await env.hub.store.rescheduleTimer(`suppress:${window}`, Date.now());
    env.hub.engine.kick();
  };

  before(async () => {
    env = await startScenarioHub({
      name: 'alerts',
      systems: ['kingdee', 'dingtalk', 'wecom'],
      own: ['qiao-api'],
      flows: FLOWS,
      // The test fires alerts-failures' cron slots itself: a real `*/5` slot during the test would
      // count its dead letters too. Approvals still arrive through DingTalk Stream.
      hub: { runScheduler: false, runIngress: true },
    });
    await env.hub.saveFlow(FAILING, 'failing-sync.yaml', 'api', 'test');
  });
  after(async () => {
    await env?.close();
  });

  describe('stock below safety stock (DingTalk)', () => {
    it('lists the materials under their safety stock, in one message', async () => {
      const run = await start('alerts-stock', {});
      assert.equal(run.status, 'completed');
      const got = await dingGroup();
      assert.equal(got.length, 1);
      assert.equal(
        got[0],
        '#### 库存预警：2 种物料低于安全库存\n\n' +
          '- M0002 协作机器人（QH-C5-5kg）：3 个，安全库存 5\n' +
          '- M0006 PLC控制器（QH-PLC-32IO）：90 个，安全库存 100',
      );
    });

    it('the same shortage is held back (its run completes, saying so); a new one is posted at once', async () => {
      const again = await start('alerts-stock', { at: 'again' });
      assert.equal(again.status, 'completed');
      const alert = await stepOf(again.id, 'alert');
      assert.deepEqual(
        { ...(alert.output as Rec), window: undefined, windowEndsAt: undefined },
        {
          suppressed: true,
          key: 'stock:M0002,M0006',
          heldBack: 1,
          window: undefined,
          windowEndsAt: undefined,
        },
      );
      assert.equal((await dingGroup()).length, 1, 'nothing new in the group');

      // Two robots are shipped out of the warehouse: 六轴工业机器人 drops to 2 (safety stock 5).
      const inv = (await env.erp('records/STK_Inventory?limit=100')).records.find(
        (r: Rec) => r.FMaterialId === 'M0001',
      );
      await env.erp(`records/STK_Inventory/${inv.FInventoryNo}/edit`, {
        fields: { FBaseQty: 2, FQty: 2 },
        user: '徐强',
      });
      await start('alerts-stock', { at: 'after-shipment' });
      const got = await dingGroup();
      assert.equal(got.length, 2);
      assert.match(got[1], /^#### 库存预警：3 种物料低于安全库存/);
      assert.match(got[1], /- M0001 六轴工业机器人（QH-R6-20kg）：2 个，安全库存 5/);
    });
  });

  describe('sync failures and dead letters (WeCom)', () => {
    let slot: number;
    let window: string;

    it('a check reports the dead letters of its period: counts by flow and the partner messages', async () => {
      for (let i = 1; i <= 3; i++)
        assert.equal((await start('failing-sync', { number: `BAD${i}` })).status, 'failed');
      slot = Date.now() + 1;
      const at = new Date(slot).toISOString();
      const run = await start('alerts-failures', { scheduledAt: at }, `cron:${at}`);
      assert.equal(run.status, 'completed');
      const got = await wecomGroup();
      assert.equal(got.length, 1);
      assert.match(got[0], /^#### 同步失败告警：新增 3 条死信\n\n- failing-sync：3 条\n\n/);
      assert.match(got[0], /> failing-sync \/ customer：.*客户名称/);
      assert.match(got[0], /待处理共 3 条：qiao dlq list$/);
    });

    it('the next period, still failing: counted and held back; an empty period is silent', async () => {
      for (let i = 4; i <= 8; i++) await start('failing-sync', { number: `BAD${i}` });
      const next = new Date(slot + 300_000).toISOString();
      const run = await start('alerts-failures', { scheduledAt: next }, `cron:${next}`);
      const out = (await stepOf(run.id, 'alert')).output as Rec;
      assert.equal(out.suppressed, true);
      assert.equal(out.heldBack, 5, 'the check stands for its 5 new dead letters');
      window = out.window;
      const later = new Date(slot + 600_000).toISOString();
      assert.equal(
        (await start('alerts-failures', { scheduledAt: later }, `cron:${later}`)).status,
        'filtered',
      );
      assert.equal((await wecomGroup()).length, 1);
    });

    it('when the window ends, one summary of what was held back', async () => {
      await endWindow(window);
      await waitFor('the summary', async () => (await wecomGroup()).length === 2);
      const summary = (await wecomGroup())[1];
      assert.match(
        summary,
        /^#### 【告警汇总】同步失败\n\n30 分钟内另有 5 条死信未单独告警（1 次检查，\d\d:\d\d:\d\d–\d\d:\d\d:\d\d）。/,
      );
      assert.match(summary, /最后一次：\n\n同步失败告警：新增 5 条死信\n\n- failing-sync：5 条/);
      await env.hub.engine.drain();
      assert.equal((await wecomGroup()).length, 2, 'once');
    });
  });

  describe('approvals past their SLA (DingTalk)', () => {
    let tasks: RunRow[];

    it('watches every approval task that starts', async () => {
      const filed = await fileExpenses(50, { 报销事由: '展会差旅', 报销金额: '800', 费用日期: '2026-03-10' });
      assert.equal(filed.length, 50);
      await waitFor('50 watching runs', async () => {
        const runs = await runsOf('alerts-approval-sla');
        return runs.length === 50 && runs.every((r) => r.status === 'waiting');
      });
      tasks = await runsOf('alerts-approval-sla');
      assert.ok(tasks.every((r) => (r.event as Rec).staffId === APPROVER));
    });

    it('a task decided in time ends its watch without a reminder', async () => {
      const first = tasks[0];
      await env.ding('POST', `/__sandbox/approvals/${(first.event as Rec).processInstanceId}/approve`, {
        remark: '同意',
      });
      await runIn('alerts-approval-sla', first.id, ['completed']);
      assert.deepEqual((await stepOf(first.id, 'outcome')).output, {
        approver: APPROVER,
        decided: true,
        result: 'agree',
        timedOut: false,
      });
    });

    let window: string;

    it('4 h: each approver is reminded; 8 h: the group hears once, the other 48 are held back', async () => {
      const auditFrom = await auditMark();
      const before = (await dingGroup()).length;
      const noticesBefore = (await notices()).length;
      const open = tasks.slice(1);
      // Time travel: the reminder and escalation timers of the 49 open tasks fall due now.
      for (const r of open) assert.equal((await timersDue(r.id, Date.now())).status, 'waiting');
      env.hub.engine.kick();
      const fired = () => slaAudit(auditFrom);
      await waitFor('98 timers', async () => (await fired()).length === 98, 30_000);
      const actions = (await fired()).map((a) => a.action);
      assert.equal(actions.filter((a) => a === 'notify:dingtalk.notice.send').length, 49, '49 reminders');
      assert.equal(actions.filter((a) => a === 'notify:dingtalk.robot.send').length, 1, '1 escalation');
      assert.equal(actions.filter((a) => a === 'suppressed:dingtalk.robot.send').length, 48, '48 held back');
      window = (await fired()).find((a) => a.action === 'suppressed:dingtalk.robot.send')!.target.slice(9);

      const got49 = (await notices()).slice(noticesBefore);
      assert.equal(got49.length, 49);
      assert.match(
        got49[0].msg.text.content,
        /^审批提醒：《.*》（审批单号 \d+）已等待您审批 4 小时，请尽快处理。$/,
      );
      const got = (await dingGroup()).slice(before);
      assert.equal(got.length, 1, 'one escalation in the group');
      assert.match(got[0], /^#### 审批超时告警\n\n《.*》已等待 8 小时未审批。\n\n- 审批人：@manager4006/);
      // Nothing resumed or failed: the runs still wait for the decisions.
      for (const r of open) assert.equal((await env.hub.store.getRun(r.id))!.run.status, 'waiting');
    });

    it('the hub restarts before the window ends; the next hub sends the one summary of the other 48', async () => {
      const before = (await dingGroup()).length;
      await env.restart(async () => {
        assert.equal(
          (await dingGroup()).length,
          before,
          'a stopping hub sends nothing: the window is in the store',
        );
      });
      await endWindow(window);
      await waitFor('the summary', async () => (await dingGroup()).length === before + 1);
      const summary = (await dingGroup()).at(-1)!;
      assert.match(
        summary,
        /^#### 【告警汇总】审批超时\n\n1 小时内另有 48 条审批超时告警未单独发送（\d\d:\d\d:\d\d–\d\d:\d\d:\d\d）。\n\n最后一条：\n\n审批超时告警\n\n《.*》已等待 8 小时未审批。/,
      );
      await env.hub.engine.drain();
      assert.equal((await dingGroup()).length, before + 1, 'once');
      for (const r of tasks.slice(1)) assert.equal((await env.hub.store.getRun(r.id))!.run.status, 'waiting');
    });

    it('an approval withdrawn (撤销) or deleted before its SLA ends its watch: no reminder, no escalation', async () => {
      const ids = await fileExpenses(3, { 报销事由: '客户拜访', 报销金额: '260', 费用日期: '2026-03-12' });
      let watches: RunRow[] = [];
      await waitFor('3 more watching runs', async () => {
        const runs = await runsOf(SLA);
        watches = ids.map((id) => runs.find((r) => (r.event as Rec).processInstanceId === id)!);
        return watches.every((r) => r?.status === 'waiting');
      });
      const [withdrawn, deleted, open] = watches;
      // DingTalk sends only the instance's terminate (or delete) event, no task event (spec §9).
      await env.ding('POST', `/__sandbox/approvals/${ids[0]}/terminate`, {
        remark: '金额填错，撤回重新提交',
      });
      await env.ding('POST', `/__sandbox/approvals/${ids[1]}/delete`, {});
      for (const [run, ended] of [
        [withdrawn, 'terminate'],
        [deleted, 'delete'],
      ] as const) {
        await runIn(SLA, run.id, ['completed']);
        assert.deepEqual((await stepOf(run.id, 'outcome')).output, {
          approver: APPROVER,
          decided: false,
          ended,
          timedOut: false,
        });
      }

      // 8 h later: every timer of the three watches falls due (time travel) — the ended watches' first.
      const auditFrom = await auditMark();
      const groupBefore = (await dingGroup()).length;
      const noticesBefore = (await notices()).length;
      for (const [run, due] of [
        [withdrawn, Date.now() - 1_000],
        [deleted, Date.now() - 1_000],
        [open, Date.now()],
      ] as const)
        await timersDue(run.id, due);
      env.hub.engine.kick();
      const fired = () => slaAudit(auditFrom);
      await waitFor('the open approval’s reminder and escalation', async () => (await fired()).length >= 2);
      await env.hub.engine.drain();
      assert.deepEqual(
        (await fired()).map((a) => [a.action, a.target]).sort(),
        [
          ['notify:dingtalk.notice.send', `run:${open.id}`],
          ['notify:dingtalk.robot.send', `run:${open.id}`],
        ],
        'only the approval still waiting is reminded and escalated',
      );
      const got = await notices();
      assert.equal(got.length, noticesBefore + 1);
      assert.match(got.at(-1)!.msg.text.content, new RegExp(`审批单号 ${(open.event as Rec).businessId}`));
      const group = (await dingGroup()).slice(groupBefore);
      assert.equal(group.length, 1);
      assert.match(group[0], new RegExp(`审批单号：${(open.event as Rec).businessId}$`));
      assert.equal((await env.hub.store.getRun(withdrawn.id))!.run.status, 'completed');
      assert.equal((await env.hub.store.getRun(deleted.id))!.run.status, 'completed');
    });

    it('a withdrawal whose event was lost: the reconciler asks about the task’s approval and ends its watch', async () => {
      const [id] = await fileExpenses(1, { 报销事由: '样品快递', 报销金额: '45', 费用日期: '2026-03-13' });
      const watch = await env.waitRun(SLA, (r) => (r.event as Rec).processInstanceId === id, ['waiting']);
      await env.ding('POST', '/__sandbox/callbacks/faults', { dropNext: 1 });
      await env.ding('POST', `/__sandbox/approvals/${id}/terminate`, { remark: '不报了' });
      assert.equal(
        (await env.ding('GET', '/__sandbox/callbacks/faults')).dropNext,
        0,
        'the terminate was lost',
      );
      await env.hub.engine.drain();
      assert.equal((await env.hub.store.getRun(watch.run.id))!.run.status, 'waiting', 'nothing heard yet');

      assert.equal(await env.hub.engine.reconcile({ olderThanMs: 0 }), 1, 'one watch ended');
      await runIn(SLA, watch.run.id, ['completed']);
      assert.deepEqual((await stepOf(watch.run.id, 'outcome')).output, {
        approver: APPROVER,
        decided: false,
        ended: 'terminate',
        timedOut: false,
      });
    });
  });
});
