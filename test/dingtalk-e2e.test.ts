/**
 * DingTalk end to end: a hub (store, engine, HTTP server) and the DingTalk sandbox over real HTTP and
 * over Stream. Scenario 5 of DESIGN.md: a payment waits for the cashier's "确认付款" in chat. The
 * right person's reply resumes the waiting run; a stranger's, or one with a bad signature, does not;
 * a Stream disconnect in the middle loses nothing. Approvals resume runs on both channels too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { QiaoConfig } from '../src/core/config.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type DingtalkSandbox, startDingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import type { RunStatus } from '../src/store/store.ts';

const CASHIER = 'manager4007'; // 赵敏, 出纳, Kingdee staff E0007
const STRANGER = 'manager4008'; // 黄磊, 会计

const payFlow = (conn: string) => `id: pay-confirm-${conn}
name: 付款确认（${conn}）
trigger: { type: webhook }
steps:
  - id: ask
    action: ${conn}.notice.send
    input:
      userIds: ['=event.cashier']
      text: '="请确认付款：" & event.bill & "，金额 " & $string(event.amount) & " 元。回复“确认付款”。"'
  - id: confirm
    wait:
      connection: ${conn}
      event: chat.message
      correlation: '=event.cashier'
      # The correlation is the person: only a reply received after the question counts.
      until: '=event.text = "确认付款" and event.receivedAt >= steps.ask.sentAt'
      timeout: 1h
      onTimeout: fail
  - id: ack
    action: ${conn}.robot.reply
    input:
      sessionWebhook: '=steps.confirm.sessionWebhook'
      sessionWebhookExpiredTime: '=steps.confirm.sessionWebhookExpiredTime'
      userId: '=steps.confirm.senderStaffId'
      text: '="已确认付款：" & event.bill'
`;

const approvalFlow = (conn: string, processCode: string) => `id: expense-${conn}
name: 报销审批（${conn}）
trigger: { type: webhook }
steps:
  - id: start
    action: ${conn}.approval.start
    input:
      processCode: ${processCode}
      originatorUserId: '=event.applicant'
      form: { 报销事由: '=event.reason', 报销金额: '=event.amount', 费用日期: '=event.date' }
  - id: decision
    wait:
      connection: ${conn}
      event: approval.instance
      correlation: '=steps.start.processInstanceId'
      until: '=event.finished'
      timeout: 1h
      onTimeout: fail
  - id: result
    map: { approved: '=steps.decision.approved', result: '=steps.decision.result' }
`;

describe('dingtalk end to end: hub + sandbox', () => {
  let hub: Hub;
  let sbStream: DingtalkSandbox;
  let sbHttp: DingtalkSandbox;
  let dataDir: string;

  const until = async (runId: string, statuses: RunStatus[], ms = 15_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const got = await hub.store.getRun(runId);
      if (got && statuses.includes(got.run.status)) return got;
      if (Date.now() > end) {
        throw new Error(
          `run ${runId} is ${got?.run.status}: ${JSON.stringify(got?.steps.map((s) => [s.name, s.status, s.error?.message]))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const status = async (runId: string) => (await hub.store.getRun(runId))?.run.status;
  const startPay = async (conn: string, bill: string) => {
    const out = await hub.engine.startFlow(`pay-confirm-${conn}`, { cashier: CASHIER, bill, amount: 128000 });
    await until(out.runIds[0], ['waiting']);
    return out.runIds[0];
  };
  const streamAcked = (sb: DingtalkSandbox, msgId: string) =>
    waitFor(async () => {
      const r = await sb.admin('GET', '/__sandbox/robot/messages');
      return r.incoming.some(
        (m: { msgId: string; status: string }) => m.msgId === msgId && m.status === 'acked',
      );
    });

  before(async () => {
    sbStream = await startDingtalkSandbox();
    sbHttp = await startDingtalkSandbox();
    dataDir = mkdtempSync(join(tmpdir(), 'qiao-dingtalk-e2e-'));
    const conn = (id: string, sb: DingtalkSandbox, ingress: 'stream' | 'http') => ({
      id,
      type: 'dingtalk',
      settings: { ...sb.credentials, oapiUrl: sb.urls.oapi, apiUrl: sb.urls.api, ingress },
      limits: {},
    });
    // Connections come from the configuration, so the hub opens the Stream ingress when it starts.
    const config: QiaoConfig = {
      file: join(dataDir, 'qiao.yaml'),
      dir: dataDir,
      dataDir,
      server: { port: 0, host: '127.0.0.1', bodyLimit: 1024 * 1024 },
      connections: { dts: conn('dts', sbStream, 'stream'), dth: conn('dth', sbHttp, 'http') },
      flows: [],
      workers: { concurrency: 8 },
      log: { level: 'silent' },
    };
    hub = await startHub({ config, box: new SecretBox([randomBytes(32)]), leaseMs: 2_000 });
    for (const c of ['dts', 'dth']) await hub.saveFlow(payFlow(c), `pay-${c}.yaml`, 'api', 'test');
    await hub.saveFlow(approvalFlow('dts', sbStream.processCodes.expense), 'exp-dts.yaml', 'api', 'test');
    await hub.saveFlow(approvalFlow('dth', sbHttp.processCodes.expense), 'exp-dth.yaml', 'api', 'test');
    // DingTalk's console: the HTTP connection's robot and event URLs point at the hub (check_url runs).
    await sbHttp.admin('POST', '/__sandbox/callbacks', {
      robotMode: 'http',
      robotUrl: `${hub.url}/hooks/dingtalk/dth/robot`,
      eventMode: 'http',
      eventUrl: `${hub.url}/hooks/dingtalk/dth`,
    });
    await waitFor(async () => (await sbStream.admin('GET', '/__sandbox/stream')).connections.length === 1);
  });

  after(async () => {
    await hub?.close();
    await sbStream?.close();
    await sbHttp?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe('over HTTP callbacks', () => {
    it("the cashier's 确认付款 resumes the waiting run; a stranger, a bad signature and other words do not", async () => {
      const runId = await startPay('dth', 'AP-2026-0310');
      const notices = await sbHttp.admin('GET', `/__sandbox/notices?userId=${CASHIER}`);
      assert.match(notices.deliveries[0].msg.text.content, /AP-2026-0310/);

      const stranger = await sbHttp.admin('POST', '/__sandbox/robot/say', {
        userId: STRANGER,
        text: '确认付款',
      });
      assert.equal(stranger.status, 'HTTP 200', "the stranger's message is stored");
      const forged = await sbHttp.admin('POST', '/__sandbox/robot/say', {
        userId: CASHIER,
        text: '确认付款',
        badSignature: true,
      });
      assert.equal(forged.status, 'HTTP 403', 'a bad signature is refused before parsing');
      const other = await sbHttp.admin('POST', '/__sandbox/robot/say', {
        userId: CASHIER,
        text: '稍等，我核对一下',
      });
      assert.equal(other.status, 'HTTP 200');
      // Each HTTP answer came after the hub stored the event and decided the resumptions.
      assert.equal(await status(runId), 'waiting');

      await sbHttp.admin('POST', '/__sandbox/robot/say', { userId: CASHIER, text: '确认付款' });
      const done = await until(runId, ['completed']);
      assert.equal((done.steps[1].output as { senderStaffId: string }).senderStaffId, CASHIER);
      assert.equal((done.steps[1].output as { sender: { jobNumber: string } }).sender.jobNumber, 'E0007');
      const replies = await sbHttp.admin('GET', `/__sandbox/robot/replies?userId=${CASHIER}`);
      assert.equal(replies.replies.at(-1).via, 'sessionWebhook');
      assert.equal(replies.replies.at(-1).message.text.content, '已确认付款：AP-2026-0310');
    });

    it('an approval decided in DingTalk resumes the run waiting for it (encrypted event callback)', async () => {
      const out = await hub.engine.startFlow('expense-dth', {
        applicant: 'manager4003',
        reason: '客户拜访差旅',
        amount: 1280,
        date: '2026-03-10',
      });
      const waiting = await until(out.runIds[0], ['waiting']);
      const id = (waiting.steps[0].output as { processInstanceId: string }).processInstanceId;
      await sbHttp.admin('POST', `/__sandbox/approvals/${id}/approve`, { remark: '同意' });
      const done = await until(out.runIds[0], ['completed']);
      assert.deepEqual(done.steps[2].output, { approved: true, result: 'agree' });
    });
  });

  describe('the reconciler', () => {
    it('resumes a run whose approval event was lost on the way', async () => {
      const out = await hub.engine.startFlow('expense-dth', {
        applicant: 'manager4012',
        reason: '客户礼品',
        amount: 560,
        date: '2026-03-13',
      });
      const waiting = await until(out.runIds[0], ['waiting']);
      const id = (waiting.steps[0].output as { processInstanceId: string }).processInstanceId;
      // Every push of the decision is lost, and DingTalk does not push it again.
      await sbHttp.admin('POST', '/__sandbox/callbacks/faults', { dropNext: 10, retryDelaysMs: [] });
      await sbHttp.admin('POST', `/__sandbox/approvals/${id}/approve`, { remark: '同意' });
      await sbHttp.admin('POST', '/__sandbox/flush');
      assert.equal(await status(out.runIds[0]), 'waiting');
      await sbHttp.admin('DELETE', '/__sandbox/callbacks/faults');
      assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 1);
      const done = await until(out.runIds[0], ['completed']);
      assert.deepEqual(done.steps[2].output, { approved: true, result: 'agree' });
      // The late callback, redelivered now, is the same event: the inbox drops it.
      const r = await sbHttp.admin('POST', '/__sandbox/events/redeliver');
      assert.equal(r.redelivered, r.delivered);
    });
  });

  describe('over Stream', () => {
    it("the cashier's 确认付款 resumes the waiting run; a stranger's reply does not", async () => {
      const runId = await startPay('dts', 'AP-2026-0311');
      const stranger = await sbStream.admin('POST', '/__sandbox/robot/say', {
        userId: STRANGER,
        text: '确认付款',
      });
      await streamAcked(sbStream, stranger.msgId);
      // Acked only after the hub stored it and decided the resumptions.
      assert.equal(await status(runId), 'waiting');
      const said = await sbStream.admin('POST', '/__sandbox/robot/say', {
        userId: CASHIER,
        text: '确认付款',
      });
      await streamAcked(sbStream, said.msgId);
      await until(runId, ['completed']);
      const replies = await sbStream.admin('GET', `/__sandbox/robot/replies?userId=${CASHIER}`);
      assert.equal(replies.replies.at(-1).message.text.content, '已确认付款：AP-2026-0311');
    });

    it('a Stream disconnect in the middle loses nothing', async () => {
      const runId = await startPay('dts', 'AP-2026-0312');
      const out = await hub.engine.startFlow('expense-dts', {
        applicant: 'manager4004',
        reason: '展会物料',
        amount: 3600,
        date: '2026-03-11',
      });
      const waiting = await until(out.runIds[0], ['waiting']);
      const id = (waiting.steps[0].output as { processInstanceId: string }).processInstanceId;
      // DingTalk rebalances: SYSTEM disconnect; the reply and the decision happen while Qiao reconnects.
      await sbStream.admin('POST', '/__sandbox/stream/disconnect', { graceMs: 30 });
      await sbStream.admin('POST', '/__sandbox/robot/say', { userId: CASHIER, text: '确认付款' });
      await sbStream.admin('POST', `/__sandbox/approvals/${id}/approve`, { remark: '同意' });
      await until(runId, ['completed']);
      const done = await until(out.runIds[0], ['completed']);
      assert.deepEqual(done.steps[2].output, { approved: true, result: 'agree' });
    });

    it('a dropped socket in the middle loses nothing either', async () => {
      const out = await hub.engine.startFlow('expense-dts', {
        applicant: 'manager4005',
        reason: '样机运输',
        amount: 980,
        date: '2026-03-12',
      });
      const waiting = await until(out.runIds[0], ['waiting']);
      const id = (waiting.steps[0].output as { processInstanceId: string }).processInstanceId;
      await sbStream.admin('POST', '/__sandbox/callbacks/faults', { dropNext: 2 });
      await sbStream.admin('POST', `/__sandbox/approvals/${id}/refuse`, { remark: '请走采购流程' });
      await sbStream.admin('POST', '/__sandbox/stream/drop');
      const done = await until(out.runIds[0], ['completed'], 20_000);
      assert.deepEqual(done.steps[2].output, { approved: false, result: 'refuse' });
    });
  });
});

async function waitFor(fn: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
