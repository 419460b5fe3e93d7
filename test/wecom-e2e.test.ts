/**
 * WeCom end to end over real HTTP: a hub (engine, SQLite store, callback server) with a `wecom`
 * connection to the WeCom sandbox, whose callbacks go to the hub's `/hooks/wecom/{connectionId}`.
 * A run starts an approval, waits, the approver approves in the sandbox and the callback resumes the
 * run; a dropped callback is made good by the reconciler; a callback delivered three times resumes
 * the run once; a 45009 ban is waited out without calling into it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WecomConnector } from '../src/connectors/wecom/index.ts';
import { createLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from '../src/sandbox/wecom/index.ts';
import type { RunStatus } from '../src/store/store.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FLOW = `id: contract-approval
name: 合同审批
trigger: { type: webhook }
steps:
  - id: start
    action: wecom.approval.start
    input:
      templateId: ${TEMPLATE_IDS.contract}
      creator: zhangwei
      fields:
        合同编号: '=event.contract'
        客户名称: '=event.customer'
        合同金额: '=event.amount'
        付款方式: 分期付款
        签订日期: '2026-03-10'
      approvers: [{ userids: [lina] }]
      summary: ['=event.contract']
  - id: decision
    wait:
      connection: wecom
      event: approval.change
      correlation: '=steps.start.spNo'
      until: '=event.terminal = true'
      timeout: 1h
      onTimeout: fail
  - id: result
    map: { status: '=steps.decision.status', spNo: '=steps.decision.spNo' }
`;

const LOOKUP_FLOW = `id: who
name: 查人
trigger: { type: webhook }
steps:
  - id: find
    action: wecom.user.lookup
    input: { mobile: '=event.mobile' }
`;

describe('wecom end to end: hub + sandbox over HTTP', () => {
  let dir: string;
  let sb: WecomSandbox;
  let hub: Hub;

  const admin = async (path: string, body?: unknown, method?: string): Promise<Record<string, any>> => {
    const res = await fetch(`${sb.baseUrl}/__sandbox/${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, ...((await res.json()) as Record<string, any>) };
  };
  const until = async (runId: string, statuses: RunStatus[], ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const got = await hub.store.getRun(runId);
      if (got && statuses.includes(got.run.status)) return got;
      if (Date.now() > end)
        throw new Error(
          `run ${runId} is ${got?.run.status}: ${JSON.stringify(got?.steps.map((s) => [s.name, s.status, s.error?.message]))}`,
        );
      await wait(20);
    }
  };
  const startAndWait = async (contract: string) => {
    const out = await hub.engine.startFlow('contract-approval', {
      contract,
      customer: '苏州华锐精密机械有限公司',
      amount: 128000,
    });
    const got = await until(out.runIds[0], ['waiting']);
    return { runId: out.runIds[0], spNo: (got.steps[0].output as { spNo: string }).spNo };
  };
  const connector = () => hub.connections.get('wecom')!.connector as WecomConnector;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-wecom-e2e-'));
    sb = await startWecomSandbox();
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      port: 0,
      concurrency: 8,
      log: createLogger({}, { level: 'silent' }),
    });
    await hub.connections.save(
      // rateLimitWaitMs: WeCom's ban is 60 s; the sandbox's injected ban lasts 1 s, so wait 1.5 s.
      {
        id: 'wecom',
        type: 'wecom',
        settings: { baseUrl: sb.baseUrl, ...sb.credentials, rateLimitWaitMs: 1_500 },
        origin: 'api',
      },
      'test',
    );
    await hub.saveFlow(FLOW, 'contract-approval.yaml', 'api', 'test');
    await hub.saveFlow(LOOKUP_FLOW, 'who.yaml', 'api', 'test');
    await admin('callback-settings', { timeoutMs: 2_000, retryDelaysMs: [50, 50, 50] });
    // Saving the callback URL in WeCom's console runs the URL verification against the hub.
    const cb = await admin('callback', { url: `${hub.url}/hooks/wecom/wecom` });
    assert.equal(cb.ok, true, JSON.stringify(cb));
  });
  after(async () => {
    await hub?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts an approval, waits, and resumes on the approver’s decision pushed by callback', async () => {
    const { runId, spNo } = await startAndWait('HT-E2E-001');
    const detail = await admin(`approvals/${spNo}`);
    assert.equal(detail.info.sp_status, 1);
    assert.deepEqual(detail.info.summary_list, [{ summary_info: [{ text: 'HT-E2E-001', lang: 'zh_CN' }] }]);
    await admin(`approvals/${spNo}/agree`, { userid: 'lina', speech: '同意' });
    const got = await until(runId, ['completed']);
    assert.deepEqual(got.steps[2].output, { status: 'approved', spNo });
    await sb.idle();
    const deliveries = (await admin('callbacks')).deliveries.filter((d: any) => d.ref === spNo);
    assert.ok(
      deliveries.length >= 2 && deliveries.every((d: any) => d.status === 200),
      'submitted and agreed, both acknowledged',
    );
    const inbox = await hub.store.findInboxByCorrelation('wecom', 'approval.change', spNo);
    assert.deepEqual(inbox.map((e) => (e.data as any).change.name).sort(), ['agreed', 'submitted']);
    assert.match(
      inbox[0].key,
      new RegExp(`^wecom:${sb.credentials.corpId}:approval:${spNo}:\\d+:\\d+:\\d+$`),
    );
  });

  it('with the callback dropped, the reconciler resumes the run', async () => {
    const { runId, spNo } = await startAndWait('HT-E2E-002');
    await sb.idle();
    await admin('callback-faults', { dropNext: 1 });
    await admin(`approvals/${spNo}/reject`, { userid: 'lina', speech: '价格太低' });
    await sb.idle();
    assert.equal(
      (await admin('callbacks')).events.filter((e: any) => e.ref === spNo).at(-1).outcome,
      'dropped',
    );
    assert.equal(
      (await hub.store.getRun(runId))?.run.status,
      'waiting',
      'the lost callback leaves the run waiting',
    );
    // The engine's reconciler asks the connector about every wait and ingests what it answers.
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 1, 'one waiting run resumed');
    const got = await until(runId, ['completed']);
    assert.deepEqual(got.steps[2].output, { status: 'rejected', spNo });
    // Reconciling again changes nothing: the same state has the same key.
    const [again] = await hub.engine.ingest('wecom', await connector().reconcile('approval.change', [spNo]));
    assert.equal(again.duplicate, true);
  });

  it('with the callback delivered three times, the run resumes once', async () => {
    const { runId, spNo } = await startAndWait('HT-E2E-003');
    await sb.idle();
    const stats = connector().callbacks.stats;
    const dupsBefore = stats.duplicates;
    await admin('callback-faults', { duplicateNext: 1, duplicateTimes: 2 });
    await admin(`approvals/${spNo}/agree`, { userid: 'lina' });
    await sb.idle();
    const got = await until(runId, ['completed']);
    const deliveries = (await admin('callbacks')).deliveries.filter(
      (d: any) => d.ref === spNo && d.plaintext.includes('<StatuChangeEvent>2</StatuChangeEvent>'),
    );
    assert.equal(deliveries.length, 3, 'WeCom delivered the decision three times');
    assert.ok(deliveries.every((d: any) => d.status === 200));
    assert.equal(stats.duplicates - dupsBefore, 2, 'the endpoint recognised two duplicates');
    const inbox = (await hub.store.findInboxByCorrelation('wecom', 'approval.change', spNo)).filter(
      (e) => (e.data as any).change?.event === 2,
    );
    assert.equal(inbox.length, 1, 'one inbox row');
    assert.equal(inbox[0].duplicates, 2, 'two duplicates counted, not re-run');
    assert.equal(got.steps.length, 3, 'the run went on once');
    assert.equal(got.steps[1].status, 'completed');
    assert.deepEqual(got.steps[2].output, { status: 'approved', spNo });
  });

  it('waits out a 45009 ban without calling into it', async () => {
    await admin('calls', undefined, 'DELETE');
    await admin('ban', { path: '*', seconds: 1 });
    const out = await hub.engine.startFlow('who', { mobile: '13800000006' });
    const got = await until(out.runIds[0], ['completed']);
    assert.equal((got.steps[0].output as { userid: string }).userid, 'Yangfan');
    const calls = (await admin('calls')).calls as Array<{ errcode: number; path: string }>;
    assert.equal(
      calls.filter((c) => c.errcode === 45009).length,
      1,
      'exactly one call met the ban; none during it',
    );
    assert.equal(got.steps[0].attempt, 0, 'a rate-limit wait does not use up an attempt');
    assert.equal(got.steps[0].history[0].error?.errorClass, 'rate_limited');
  });
});
