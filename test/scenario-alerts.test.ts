/**
 * Scenario 7 end to end (flows/alerts-*.yaml, loaded as shipped): a hub with `kingdee`, `dingtalk`
 * (Stream) and `qiao-api` (its own REST API, type http) connections, over real HTTP.
 * - stock below safety stock in Kingdee → one group message per shortage, the same shortage once;
 * - dead letters → one group message per check, a storm held back and summed up;
 * - approval tasks past their SLA → a reminder to the approver, then an escalation to the group: a
 *   storm of 49 overdue approvals is 1 message + 1 summary. The SLA timers are brought forward in the
 *   store (time travel), not waited for.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { adminCall } from '../src/connectors/kingdee/testing.ts';
import { createLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type DingtalkSandbox, startDingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import { type KingdeeSandbox, startKingdeeSandbox } from '../src/sandbox/kingdee/index.ts';
import type { RunRow, RunStatus } from '../src/store/store.ts';

const APPROVER = 'manager4006'; // 杨帆 approves 费用报销 in the sample company
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Rec = Record<string, any>;

async function waitFor(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

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

describe('scenario 7: alerts (stock, dead letters, approval SLA → DingTalk group robot, suppressed)', () => {
  let dir: string;
  let kd: KingdeeSandbox;
  let dt: DingtalkSandbox;
  let hub: Hub;
  let closed = false;
  const kdAdmin = (path: string, body?: unknown, method?: string) => adminCall(kd, path, body, method);
  const runsOf = (flowId: string): Promise<RunRow[]> => hub.store.listRuns({ flowId, limit: 1000 });
  /** What the alerts group saw, oldest first (markdown text, or text). */
  const group = async (): Promise<string[]> =>
    (await dt.admin('GET', '/__sandbox/robots/alerts/messages')).messages.map(
      (m: Rec) => m.message.markdown?.text ?? m.message.text?.content,
    );
  const start = async (flowId: string, data: Rec, key?: string): Promise<RunRow> => {
    const out = await hub.engine.startFlow(flowId, data, key);
    let run: RunRow | undefined;
    await waitFor(`${flowId} to end`, async () => {
      run = (await hub.store.getRun(out.runIds[0]))?.run;
      return !!run && !['running', 'waiting'].includes(run.status);
    });
    return run!;
  };
  const untilStatus = async (runId: string, statuses: RunStatus[]) =>
    waitFor(`run ${runId} in ${statuses}`, async () =>
      statuses.includes((await hub.store.getRun(runId))!.run.status),
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-scenario-alerts-'));
    [kd, dt] = await Promise.all([startKingdeeSandbox(), startDingtalkSandbox()]);
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      port: 0,
      log: createLogger({}, { level: 'silent' }),
    });
    const save = (id: string, type: string, settings: Rec) =>
      hub.connections.save({ id, type, settings, origin: 'api' }, 'test');
    await save('kingdee', 'kingdee', { baseUrl: kd.baseUrl, ...kd.credentials });
    await save('dingtalk', 'dingtalk', {
      ...dt.credentials,
      oapiUrl: dt.urls.oapi,
      apiUrl: dt.urls.api,
      ingress: 'stream',
    });
    await save('qiao-api', 'http', { baseUrl: `${hub.url}/api/` });
    for (const id of ['alerts-stock', 'alerts-failures', 'alerts-approval-sla']) {
      const file = `flows/${id}.yaml`;
      await hub.saveFlow(
        readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'),
        file,
        'config',
        'test',
      );
    }
    await hub.saveFlow(FAILING, 'failing-sync.yaml', 'api', 'test');
    await waitFor(
      'the Stream connection',
      async () => (await dt.admin('GET', '/__sandbox/stream')).connections.length === 1,
    );
  });
  after(async () => {
    if (!closed) await hub?.close();
    await Promise.all([kd?.close(), dt?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('stock below safety stock', () => {
    it('lists the materials under their safety stock, in one message', async () => {
      const run = await start('alerts-stock', {});
      assert.equal(run.status, 'completed');
      const got = await group();
      assert.equal(got.length, 1);
      assert.equal(
        got[0],
        '#### 库存预警：2 种物料低于安全库存\n\n' +
          '- M0002 协作机器人（QH-C5-5kg）：3 个，安全库存 5\n' +
          '- M0006 PLC控制器（QH-PLC-32IO）：90 个，安全库存 100',
      );
    });

    it('the same shortage is held back; a new one is posted at once', async () => {
      const again = await start('alerts-stock', { at: 'again' });
      assert.equal(again.status, 'completed');
      const alert = (await hub.store.getRun(again.id))!.steps.find((s) => s.name === 'alert')!;
      assert.equal((alert.output as Rec).suppressed, true);
      assert.equal((await group()).length, 1, 'nothing new in the group');

      // Two robots are shipped out of the warehouse: 六轴工业机器人 drops to 2 (safety stock 5).
      const inv = (await kdAdmin('records/STK_Inventory?limit=100')).records.find(
        (r: Rec) => r.FMaterialId === 'M0001',
      );
      await kdAdmin(`records/STK_Inventory/${inv.FInventoryNo}/edit`, {
        fields: { FBaseQty: 2, FQty: 2 },
        user: '徐强',
      });
      await start('alerts-stock', { at: 'after-shipment' });
      const got = await group();
      assert.equal(got.length, 2);
      assert.match(got[1], /^#### 库存预警：3 种物料低于安全库存/);
      assert.match(got[1], /- M0001 六轴工业机器人（QH-R6-20kg）：2 个，安全库存 5/);
    });
  });

  describe('sync failures and dead letters', () => {
    let slot: number;

    it('a check reports the dead letters of its period: counts by flow and the partner messages', async () => {
      for (let i = 1; i <= 3; i++)
        assert.equal((await start('failing-sync', { number: `BAD${i}` })).status, 'failed');
      slot = Date.now() + 1;
      const at = new Date(slot).toISOString();
      const run = await start('alerts-failures', { scheduledAt: at }, `cron:${at}`);
      assert.equal(run.status, 'completed');
      const got = await group();
      const alert = got.at(-1)!;
      assert.match(alert, /^#### 同步失败告警：新增 3 条死信\n\n- failing-sync：3 条\n\n/);
      assert.match(alert, /> failing-sync \/ customer：.*客户名称/);
      assert.match(alert, /待处理共 3 条：qiao dlq list$/);
    });

    it('the next period, still failing: counted, held back for the summary; an empty period is silent', async () => {
      const before = (await group()).length;
      for (let i = 4; i <= 8; i++) await start('failing-sync', { number: `BAD${i}` });
      const next = new Date(slot + 300_000).toISOString();
      const run = await start('alerts-failures', { scheduledAt: next }, `cron:${next}`);
      const alert = (await hub.store.getRun(run.id))!.steps.find((s) => s.name === 'alert')!;
      assert.deepEqual((alert.input as Rec).suppress, { key: 'dead-letters', windowMs: 1_800_000, count: 5 });
      assert.equal((alert.output as Rec).suppressed, true);
      const later = new Date(slot + 600_000).toISOString();
      assert.equal(
        (await start('alerts-failures', { scheduledAt: later }, `cron:${later}`)).status,
        'filtered',
      );
      assert.equal((await group()).length, before);
    });
  });

  describe('approvals past their SLA', () => {
    let tasks: RunRow[];

    it('watches every approval task that starts', async () => {
      const filed = await dt.admin('POST', '/__sandbox/approvals', {
        template: 'expense',
        originatorUserId: 'manager4004',
        form: { 报销事由: '展会差旅', 报销金额: '800', 费用日期: '2026-03-10', 费用类型: '差旅费' },
        count: 50,
      });
      assert.equal(filed.processInstanceIds.length, 50);
      await waitFor('50 watching runs', async () => {
        const runs = await runsOf('alerts-approval-sla');
        return runs.length === 50 && runs.every((r) => r.status === 'waiting');
      });
      tasks = await runsOf('alerts-approval-sla');
      assert.ok(tasks.every((r) => (r.event as Rec).staffId === APPROVER));
    });

    it('a task decided in time ends its watch without a reminder', async () => {
      const first = tasks[0];
      await dt.admin('POST', `/__sandbox/approvals/${(first.event as Rec).processInstanceId}/approve`, {
        remark: '同意',
      });
      await untilStatus(first.id, ['completed']);
      const got = (await hub.store.getRun(first.id))!;
      assert.deepEqual(got.steps.find((s) => s.name === 'outcome')!.output, {
        approver: APPROVER,
        decided: true,
        result: 'agree',
        timedOut: false,
      });
    });

    it('4 h: each approver is reminded; 8 h: the group hears once, the other 48 wait for the summary', async () => {
      const auditFrom = (await hub.store.listAudit({ limit: 100_000 })).at(-1)?.seq ?? 0;
      const before = (await group()).length;
      const noticesBefore = (await dt.admin('GET', `/__sandbox/notices?userId=${APPROVER}`)).deliveries
        .length;
      const open = tasks.slice(1);
      // Time travel: the reminder and escalation timers of the 49 open tasks fall due now.
      for (const r of open) {
        const wait = (await hub.store.getRun(r.id))!.steps.find((s) => s.name === 'decision')!;
        assert.equal(wait.status, 'waiting');
        await hub.store.rescheduleTimer(`${wait.id}:timer:0`, Date.now());
        await hub.store.rescheduleTimer(`${wait.id}:timer:1`, Date.now());
      }
      hub.engine.kick();
      const fired = async () =>
        (await hub.store.listAudit({ afterSeq: auditFrom, limit: 10_000 })).filter(
          (a) => a.actor === 'flow:alerts-approval-sla' && a.action.startsWith('notify:'),
        );
      await waitFor('98 timers', async () => (await fired()).length === 98, 30_000);
      const actions = (await fired()).map((a) => a.action);
      assert.equal(actions.filter((a) => a === 'notify:dingtalk.notice.send').length, 49, '49 reminders');
      assert.equal(actions.filter((a) => a === 'notify:dingtalk.robot.send').length, 49, '49 escalations');

      const notices = (await dt.admin('GET', `/__sandbox/notices?userId=${APPROVER}`)).deliveries.slice(
        noticesBefore,
      );
      assert.equal(notices.length, 49);
      assert.match(
        notices[0].msg.text.content,
        /^审批提醒：《.*》（审批单号 \d+）已等待您审批 4 小时，请尽快处理。$/,
      );
      const got = (await group()).slice(before);
      assert.equal(got.length, 1, 'one escalation in the group');
      assert.match(got[0], /^#### 审批超时告警\n\n《.*》已等待 8 小时未审批。\n\n- 审批人：@manager4006/);
      // Nothing resumed or failed: the runs still wait for the decisions.
      for (const r of open) assert.equal((await hub.store.getRun(r.id))!.run.status, 'waiting');
    });

    it('when the hub stops, the held-back alerts are summed up: 1 message + 1 summary per storm', async () => {
      const before = (await group()).length;
      await hub.close();
      closed = true;
      const summaries = (await group()).slice(before);
      assert.equal(summaries.length, 3, JSON.stringify(summaries));
      const of = (key: string) => summaries.find((s) => s.startsWith(`【告警汇总】${key}：`))!;
      assert.match(
        of('approval-sla'),
        /1 小时内另有 48 条同类告警未单独发送（.*，48 条消息）。最后一条：审批超时告警/,
      );
      assert.match(of('dead-letters'), /30 分钟内另有 5 条同类告警未单独发送（.*，1 条消息）/);
      assert.match(of('stock:M0002,M0006'), /24 小时内另有 1 条同类告警未单独发送/);
    });
  });
});
