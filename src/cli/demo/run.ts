/**
 * The scenario demo end to end, without the terminal: sandboxes + hub + connections + shipped flows,
 * then every scene in turn. `qiao demo` will print what this returns (live lines through `step`).
 */
import { createLogger, type Logger } from '../../core/logger.ts';
import { type Hub, startHub } from '../../hub.ts';
import { type Sandboxes, startSandboxes } from '../../sandbox/index.ts';
import { ALERT_FLOWS, playAlerts } from './alerts.ts';
import { CONTRACT_FLOW, playContractApproval } from './contract-approval.ts';
import { playCustomerSync, SYNC_FLOWS } from './customer-sync.ts';
import { EXPENSE_FLOWS, playExpenseReimbursement } from './expense-reimbursement.ts';
import { FILE_FLOWS, playFileCustomers } from './file-customers.ts';
import { PAYMENT_FLOWS, playPaymentConfirmation } from './payment-confirmation.ts';
import { PROJECT_FLOW, playProjectInitiation } from './project-initiation.ts';
import { playReceiptToCrm, RECEIPT_FLOW } from './receipt-to-crm.ts';
import { playScene, type Scene, type SceneSummary, wire } from './scene.ts';

/** The scenes in the order they are played. */
export const SCENES: Scene[] = [
  {
    id: CONTRACT_FLOW,
    title: '合同审批 — Neocrm contract → WeCom approval → Kingdee sales order',
    flows: [CONTRACT_FLOW],
    play: playContractApproval,
  },
  {
    id: RECEIPT_FLOW,
    title: '收款回写CRM — Kingdee receipt → Neocrm payment → DingTalk notice',
    flows: [RECEIPT_FLOW],
    play: playReceiptToCrm,
  },
  {
    id: 'payment-confirmation',
    title: '付款确认 — Kingdee payable → DingTalk card → 确认付款 → Kingdee payment bill',
    flows: PAYMENT_FLOWS,
    play: playPaymentConfirmation,
  },
  {
    id: 'expense-reimbursement',
    title: '费用报销 — WeCom expense → Kingdee bill → paid → told in WeCom',
    flows: EXPENSE_FLOWS,
    play: playExpenseReimbursement,
  },
  {
    id: PROJECT_FLOW,
    title: '项目立项 — Neocrm project → WeCom approval → Kingdee project',
    flows: [PROJECT_FLOW],
    play: playProjectInitiation,
  },
  {
    id: 'alerts',
    title: '告警 — Kingdee stock below safety stock, approvals past their SLA → DingTalk group robot',
    flows: ALERT_FLOWS,
    play: playAlerts,
  },
  {
    id: 'file-customers',
    title: '文件导入导出 — Kingdee customers → Excel; a GBK CSV of dealers → Neocrm, with a result file',
    flows: FILE_FLOWS,
    play: playFileCustomers,
  },
  {
    id: 'customer-sync',
    title: '客户同步 — Neocrm account ⇄ Kingdee customer, both ways, with the review queue',
    flows: SYNC_FLOWS,
    play: playCustomerSync,
  },
];

export interface ScenarioDemoSummary {
  status: 'ok' | 'failed';
  elapsedMs: number;
  hub: string;
  dataDir: string;
  scenarios: SceneSummary[];
}

export interface ScenarioDemo {
  summary: ScenarioDemoSummary;
  hub: Hub;
  sandboxes: Sandboxes;
  close(): Promise<void>;
}

/** A hub on the asked port, or on a free one when that is taken (another demo, another service). */
async function startDemoHub(dataDir: string, port: number, log: Logger): Promise<Hub> {
  try {
    return await startHub({ dataDir, port, host: '127.0.0.1', log });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    return startHub({ dataDir, port: 0, host: '127.0.0.1', log });
  }
}

export async function runScenarioDemo(opts: {
  dataDir: string;
  port?: number;
  log?: Logger;
  step?: (scene: string, line: string) => void;
}): Promise<ScenarioDemo> {
  const started = performance.now();
  const log = opts.log ?? createLogger({}, { level: 'error' });
  const sandboxes = await startSandboxes({});
  let hub: Hub | undefined;
  try {
    hub = await startDemoHub(opts.dataDir, opts.port ?? 0, log);
    let current = '';
    const ctx = await wire(hub, sandboxes, (line) => opts.step?.(current, line));
    ctx.dataDir = opts.dataDir;
    const scenarios: SceneSummary[] = [];
    for (const scene of SCENES) {
      current = scene.id;
      scenarios.push(await playScene(scene, ctx));
    }
    await hub.engine.drain(30_000);
    const h = hub;
    return {
      summary: {
        status: scenarios.every((s) => s.status === 'ok') ? 'ok' : 'failed',
        elapsedMs: Math.round(performance.now() - started),
        hub: h.url!,
        dataDir: opts.dataDir,
        scenarios,
      },
      hub: h,
      sandboxes,
      close: async () => {
        await h.close().catch(() => {});
        await sandboxes.close().catch(() => {});
      },
    };
  } catch (err) {
    await hub?.close().catch(() => {});
    await sandboxes.close().catch(() => {});
    throw err;
  }
}
