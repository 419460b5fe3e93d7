import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../core/logger.ts';
import { SecretBox } from '../core/secret-box.ts';
import { type Hub, startHub } from '../hub.ts';
import { connectHub, type HubWiring, NEOCRM_OBJECTS, SANDBOX_LIMITS, waitFor } from './connect-hub.ts';
import type { DingtalkSandbox } from './dingtalk/index.ts';
import { type Sandboxes, startSandboxes } from './index.ts';
import { TEMPLATE_IDS } from './wecom/index.ts';

const PROBE = `id: probe
trigger: { type: manual }
steps:
  - id: check
    map:
      ok: '=ok ? ok : $error("probe " & name & " is not ok")'
`;

describe('connectHub: a hub wired to the sandboxes as an operator would wire it', () => {
  const dirs: string[] = [];
  let sandboxes: Sandboxes;
  let hub: Hub;
  let w: HubWiring;
  const tempHub = (serve = true) => {
    const dir = mkdtempSync(join(tmpdir(), 'qiao-connect-hub-'));
    dirs.push(dir);
    return startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      port: 0,
      serve,
      log: silentLogger,
    });
  };

  before(async () => {
    sandboxes = await startSandboxes({ only: ['kingdee', 'neocrm', 'wecom', 'dingtalk'] });
    hub = await tempHub();
    w = await connectHub(hub, sandboxes.handles, {
      flows: ['contract-approval', 'expense-reimbursement'],
      kingdeePush: { forms: ['ER_ExpReimbursement'], operations: ['Pay'] },
      own: ['hub', 'qiao-api'],
    });
  });
  after(async () => {
    await hub?.close();
    await sandboxes?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('saves the conventional connections with the sandboxes’ credentials and no partner budget', async () => {
    const rows = Object.fromEntries(hub.connections.list().map((c) => [c.row.id, c.row]));
    for (const id of ['kingdee', 'neocrm', 'wecom', 'dingtalk']) {
      assert.equal(rows[id]?.type, id, `connection ${id}`);
      assert.deepEqual(rows[id].limits, SANDBOX_LIMITS);
    }
    const h = sandboxes.handles;
    assert.equal(rows.kingdee.settings.baseUrl, h.kingdee!.baseUrl);
    assert.equal(rows.neocrm.settings.baseUrl, h.neocrm!.baseUrl);
    assert.deepEqual(rows.neocrm.settings.objects, NEOCRM_OBJECTS);
    assert.equal(rows.wecom.settings.corpId, h.wecom!.credentials.corpId);
    assert.equal(rows.dingtalk.settings.oapiUrl, h.dingtalk!.urls.oapi);
    assert.equal(rows.dingtalk.settings.ingress, 'stream');
    // The connections work: each answers a call through its connector.
    for (const id of ['kingdee', 'neocrm', 'wecom', 'dingtalk'])
      assert.equal((await hub.connections.require(id).connector.check()).ok, true, id);
  });

  it("saves Qiao's own connections asked for: the sync and review queue, and the hub's own API", async () => {
    const rows = Object.fromEntries(hub.connections.list().map((c) => [c.row.id, c.row]));
    assert.deepEqual([rows.hub?.type, rows.hub?.settings], ['qiao', {}]);
    assert.deepEqual(
      [rows['qiao-api']?.type, rows['qiao-api']?.settings.baseUrl],
      ['http', `${hub.url}/api/`],
    );
    // qiao-api reaches this hub's REST API.
    const got = await hub.connections.call(
      'qiao-api',
      'request',
      { method: 'GET', path: 'flows/contract-approval' },
      { idempotencyKey: 'connect-hub-own', attempt: 1 },
    );
    assert.equal((got.output as { body: { id: string } }).body.id, 'contract-approval');
  });

  it('points the partners at the hub: WeCom callback URL, Kingdee push, DingTalk Stream', async () => {
    assert.equal((await w.wecom('callback')).callback.url, `${hub.url}/hooks/wecom/wecom`);
    const { config: notify } = await w.erp('notify');
    assert.equal(notify.url, `${hub.url}/hooks/kingdee/kingdee`);
    assert.deepEqual([notify.forms, notify.operations], [['ER_ExpReimbursement'], ['Pay']]);
    assert.equal((await w.ding('GET', '/__sandbox/stream')).connections.length, 1);
  });

  it('partner events reach the hub: a WeCom decision by callback, a DingTalk one by Stream', async () => {
    const filed = await hub.connections.call(
      'wecom',
      'approval.start',
      {
        templateId: TEMPLATE_IDS.expense,
        creator: 'Liuyang',
        fields: {
          报销类型: '差旅费',
          报销金额: 480,
          发生日期: '2026-03-10',
          关联项目: '项目A',
          报销事由: '接线测试',
          费用明细: [{ 费用项目: '交通费', 金额: 480, 日期: '2026-03-10' }],
        },
      },
      { idempotencyKey: 'connect-hub-wecom', attempt: 1 },
    );
    const { spNo } = filed.output as { spNo: string };
    await w.wecom(`approvals/${spNo}/approve-all`, {});
    await waitFor('the WeCom decision in the inbox', async () =>
      (await hub.store.findInboxByCorrelation('wecom', 'approval.change', spNo)).some(
        (e) => (e.data as { spStatus?: number }).spStatus === 2,
      ),
    );

    const dt = sandboxes.handles.dingtalk as DingtalkSandbox;
    const { processInstanceIds } = await w.ding('POST', '/__sandbox/approvals', {
      template: 'expense',
      originatorUserId: 'manager4005',
      form: {
        报销事由: '接线测试',
        报销金额: '80',
        费用日期: '2026-03-09',
        费用类型: '招待费',
        项目: 'PRJ002',
      },
    });
    await dt.admin('POST', `/__sandbox/approvals/${processInstanceIds[0]}/approve`, {});
    await waitFor('the DingTalk decision in the inbox', async () =>
      (await hub.store.findInboxByCorrelation('dingtalk', 'approval.instance', processInstanceIds[0])).some(
        (e) => (e.data as { type?: string }).type === 'finish',
      ),
    );
  });

  it('loads the shipped flows by name, as the example configuration would', async () => {
    for (const id of ['contract-approval', 'expense-reimbursement']) {
      const flow = await hub.store.getFlow(id);
      assert.equal(flow?.origin, 'config', id);
      assert.equal(flow?.enabled, true, id);
    }
    assert.equal(await hub.store.getFlow('receipt-to-crm'), undefined, 'only the flows asked for');
  });

  it('waitRun picks a run by event-key prefix or predicate, and names its steps when it gives up', async () => {
    await hub.saveFlow(PROBE, 'probe.yaml', 'api', 'test');
    await hub.engine.startFlow('probe', { ok: true, name: 'a' }, 'probe:a');
    const good = await w.waitRun('probe', 'probe:a', ['completed']);
    assert.equal(good.run.eventKey, 'probe:a');
    await hub.engine.startFlow('probe', { ok: false, name: 'b' }, 'probe:b');
    const bad = await w.waitRun('probe', (r) => (r.event as { name?: string }).name === 'b', ['failed']);
    assert.equal(bad.run.eventKey, 'probe:b');
    await assert.rejects(
      w.waitRun('probe', 'probe:b', ['completed'], 0),
      /probe: the run of probe:b is failed, not completed: \[\["check","dead",".*probe b is not ok/,
    );
    await assert.rejects(w.waitRun('probe', 'probe:c', ['completed'], 0), /probe:c is not started/);
  });

  it('refuses to point callbacks at a hub without HTTP, before saving anything', async () => {
    const worker = await tempHub(false);
    try {
      await assert.rejects(
        connectHub(worker, { wecom: sandboxes.handles.wecom }),
        /wecom callbacks need a hub that serves HTTP/,
      );
      assert.equal(worker.connections.get('wecom'), undefined, 'no connection saved');
      await assert.rejects(
        connectHub(worker, {}, { own: ['qiao-api'] }),
        /the qiao-api connection needs a hub that serves HTTP/,
      );
      assert.equal(worker.connections.get('qiao-api'), undefined, 'no connection saved');
      // DingTalk over HTTP events needs neither a URL here nor a Stream to wait for.
      await connectHub(
        worker,
        { dingtalk: sandboxes.handles.dingtalk },
        { settings: { dingtalk: { ingress: 'http' } } },
      );
      assert.equal(worker.connections.get('dingtalk')?.row.settings.ingress, 'http');
    } finally {
      await worker.close();
    }
  });
});
