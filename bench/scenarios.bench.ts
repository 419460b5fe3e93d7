/**
 * Scenario 2 latency (issue 7): 200 contracts through the shipped flows/contract-approval.yaml over real
 * HTTP (Neocrm, WeCom and Kingdee sandboxes). Figures: time from the CRM submission to the WeCom approval
 * being started (the poll forced at once, so this is Qiao's own part of the path), and from the approver's
 * decision (WeCom sends the callback) to the audited Kingdee SAL_SaleOrder, p50/p99.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QiaoConfig } from '../src/core/config.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { startHub } from '../src/hub.ts';
import { startKingdeeSandbox } from '../src/sandbox/kingdee/index.ts';
import { startNeocrmSandbox } from '../src/sandbox/neocrm/index.ts';
import { startWecomSandbox } from '../src/sandbox/wecom/index.ts';
import { call } from '../test/support/admin-call.ts';
import { figure, percentile } from './support/load.ts';

const N = Number(process.env.BENCH_CONTRACTS ?? 200);
const FLOW = join(import.meta.dirname, '..', 'flows', 'contract-approval.yaml');

const dir = mkdtempSync(join(tmpdir(), 'qiao-bench-scenario-'));
const [neo, wc, kd] = await Promise.all([startNeocrmSandbox(), startWecomSandbox(), startKingdeeSandbox()]);
const conn = (id: string, settings: Record<string, unknown>) => ({
  id,
  type: id,
  settings,
  limits: { rate: { perSecond: 1000, burst: 1000 } },
});
const config: QiaoConfig = {
  file: join(dir, 'qiao.yaml'),
  dir,
  dataDir: dir,
  server: { port: 0, host: '127.0.0.1', bodyLimit: 1024 * 1024 },
  connections: {
    neocrm: conn('neocrm', { baseUrl: neo.baseUrl, ...neo.credentials }),
    wecom: conn('wecom', { baseUrl: wc.baseUrl, ...wc.credentials }),
    kingdee: conn('kingdee', { baseUrl: kd.baseUrl, ...kd.credentials }),
  },
  flows: [FLOW],
  workers: { concurrency: 32 },
  log: { level: 'silent' },
};
const hub = await startHub({ config, box: new SecretBox([randomBytes(32)]) });
const crm = (path: string, body?: unknown) => call(`${neo.urls.admin}${path}`, body);
const wecom = (path: string, body?: unknown) => call(`${wc.baseUrl}/__sandbox/${path}`, body);
try {
  await wecom('callback', { url: `${hub.url}/hooks/wecom/wecom` });
  const account = (await crm('/records/account?limit=1000')).records.find(
    (a: any) => a.erpNumber__c === 'C0001',
  );
  const submitted = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const c = await crm('/act/create-contract', {
      as: 'E0003',
      accountId: account.id,
      title: `压测合同${i}`,
      amount: 28_000,
      product: 'M0005',
      quantity: 10,
    });
    submitted.set(String(c.id), Date.now());
  }
  await hub.engine.reloadFlows(); // the poll runs now instead of within 30 s
  const waiting = async () =>
    (await hub.store.listRuns({ flowId: 'contract-approval', status: 'waiting', limit: 1000 })).length;
  const end = Date.now() + 300_000;
  while ((await waiting()) < N && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  const runs = await hub.store.listRuns({ flowId: 'contract-approval', status: 'waiting', limit: 1000 });
  const toStart: number[] = [];
  const decided = new Map<string, number>();
  for (const r of runs) {
    const got = (await hub.store.getRun(r.id))!;
    const start = got.steps.find((s) => s.name === 'start');
    const contractId = /^contract:(\d+)#/.exec(r.eventKey ?? '')?.[1];
    if (start?.finishedAt && contractId && submitted.has(contractId))
      toStart.push(start.finishedAt - submitted.get(contractId)!);
    const spNo = (start?.output as { spNo?: string } | undefined)?.spNo;
    if (!spNo) continue;
    decided.set(r.id, Date.now());
    await wecom(`approvals/${spNo}/agree`, { userid: 'Lina', speech: '同意' });
    await new Promise((r) => setTimeout(r, 20)); // approvers at ~40 decisions/s
  }
  await hub.engine.drain(300_000);
  const toAudited: number[] = [];
  for (const [runId, t] of decided) {
    const got = (await hub.store.getRun(runId))!;
    const order = got.steps.find((s) => s.name === 'order');
    if (order?.finishedAt && order.status === 'completed') toAudited.push(order.finishedAt - t);
  }
  console.log(
    figure(`scenarios contracts through approval to an audited order`, toAudited.length, `of ${N}`),
  );
  console.log(
    figure(
      'scenarios CRM submission → WeCom approval started (poll forced) p50',
      percentile(toStart, 50),
      'ms',
    ),
  );
  console.log(
    figure(
      'scenarios CRM submission → WeCom approval started (poll forced) p99',
      percentile(toStart, 99),
      'ms',
    ),
  );
  console.log(
    figure('scenarios approval decision → audited SAL_SaleOrder p50', percentile(toAudited, 50), 'ms'),
  );
  console.log(
    figure('scenarios approval decision → audited SAL_SaleOrder p99', percentile(toAudited, 99), 'ms'),
  );
  console.log(
    "scenarios note: approvals start at WeCom applyevent's documented 60/min, so with 200 contracts the first figure is the partner's queue; the shipped 30 s poll interval adds up to 30 s more",
  );
} finally {
  await hub.close();
  await Promise.all([neo.close(), wc.close(), kd.close()]);
  rmSync(dir, { recursive: true, force: true });
}
