/**
 * The contract-approval scene of `qiao demo` (flows/contract-approval.yaml, scenario 2): 陈静 (E0005)
 * submits a contract for 康宁医药 in Neocrm, the hub starts a WeCom 合同审批, 李娜 and 杨帆 agree in WeCom,
 * and Kingdee gets one audited sales order whose number lands back on the contract. The same admin calls
 * as test/scenario-contract-approval.test.ts play the people.
 */
import type { DemoContext, SceneResult } from './scene.ts';
import { waitRun } from './scene.ts';

export const CONTRACT_FLOW = 'contract-approval';

export async function playContractApproval(ctx: DemoContext): Promise<SceneResult> {
  const { crm, wecom, erp, hub } = ctx;
  const problems: string[] = [];
  await ctx.load(CONTRACT_FLOW);
  if (await ctx.playedBefore(CONTRACT_FLOW)) {
    // The sandboxes start afresh, the store does not: the contract's event is already in the inbox.
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  const account = (await crm('/records/account?limit=1000')).records.find(
    (a: { erpNumber__c?: string }) => a.erpNumber__c === 'C0005',
  );
  ctx.step('陈静 submits a 294,000 contract for 康宁医药 in Neocrm');
  const contract = await crm('/act/create-contract', {
    as: 'E0005',
    accountId: account.id,
    title: `${account.shortName__c}设备合同`,
    amount: 294_000,
    product: 'M0002',
    quantity: 3,
  });
  const prefix = `contract:${contract.id}#`;
  await hub.engine.reloadFlows(); // poll now rather than in 30 s
  const waiting = await waitRun(hub, CONTRACT_FLOW, prefix, ['waiting', 'failed']);
  const spNo = (waiting.steps.find((s) => s.name === 'start')?.output as { spNo?: string } | undefined)?.spNo;
  if (!spNo) throw new Error(`no WeCom approval for contract ${contract.contractCode}`);
  ctx.step(`WeCom approval ${spNo}: 李娜 (sales director) agrees`);
  await wecom(`approvals/${spNo}/agree`, { userid: 'Lina', speech: '同意' });
  ctx.step('杨帆 (finance, rating B) agrees');
  await wecom(`approvals/${spNo}/agree`, { userid: 'Yangfan', speech: '信用额度内，同意' });
  const done = await waitRun(hub, CONTRACT_FLOW, prefix, ['completed', 'failed']);
  if (done.run.status !== 'completed') problems.push(`the run of contract ${contract.contractCode} failed`);

  const billNo = `SO-${contract.contractCode}`;
  const orders = (await erp('records/SAL_SaleOrder?limit=10000')).records.filter(
    (r: { FBillNo: string }) => r.FBillNo === billNo,
  );
  if (orders.length !== 1) problems.push(`${orders.length} Kingdee sales orders ${billNo}, expected 1`);
  else if (orders[0].FDocumentStatus !== 'C') problems.push(`sales order ${billNo} is not audited`);
  const after = await crm(`/records/contract/${contract.id}`);
  if (after.erpOrderNumber__c !== billNo || after.status !== 3) {
    problems.push(`contract ${contract.contractCode} does not carry ${billNo} as 执行中`);
  }
  const told = ((await wecom(`messages/Chenjing`)).messages as unknown[]).filter((m) =>
    JSON.stringify(m).includes(billNo),
  );
  if (told.length !== 1) problems.push(`陈静 was told ${told.length} times, expected once`);
  ctx.step(`Kingdee sales order ${billNo} audited; contract 执行中; 陈静 told in WeCom`);
  return {
    runs: 1,
    duplicates: 0,
    written: { wecom: 1 + told.length, kingdee: orders.length, neocrm: 1 },
    problems,
  };
}
