/**
 * The project scene of `qiao demo` (flows/project-initiation.yaml, scenario 6): 张伟 registers a project
 * on one of his opportunities in Neocrm, the hub starts a WeCom 项目立项, 周杰 and 王建国 agree, and Kingdee
 * gets one audited project (BAS_PreBaseDataOne) whose number lands back on the CRM project. The calls
 * are those of test/scenario-project-initiation.test.ts.
 */
import type { DemoContext, SceneResult } from './scene.ts';
import { waitRun } from './scene.ts';

export const PROJECT_FLOW = 'project-initiation';
type Rec = Record<string, any>;

export async function playProjectInitiation(ctx: DemoContext): Promise<SceneResult> {
  const { crm, wecom, erp, hub } = ctx;
  const problems: string[] = [];
  const before = await ctx.playedBefore(PROJECT_FLOW);
  await ctx.load(PROJECT_FLOW);
  if (before) {
    ctx.step('already played on this data folder: nothing to do');
    return { runs: 0, duplicates: 1, written: {}, problems };
  }
  const opportunity = ((await crm('/records/opportunity?limit=1000')).records as Rec[]).find(
    (o) => o.status === 1 && o.ownerId === '9007199254743993', // an open one of 张伟 (E0003)
  );
  if (!opportunity) throw new Error('张伟 has no open opportunity in the Neocrm sandbox');
  ctx.step(`张伟 registers 华锐二期产线改造项目 (860,000) on ${opportunity.opportunityName} in Neocrm`);
  const project = await crm('/records/project__c', {
    as: 'E0003',
    data: {
      name: '华锐二期产线改造项目',
      accountId__c: opportunity.accountId,
      opportunityId__c: opportunity.id,
      budget__c: 860_000,
    },
  });
  await hub.engine.reloadFlows(); // poll now rather than in a minute
  const prefix = `project__c:${project.id}#`;
  const waiting = await waitRun(hub, PROJECT_FLOW, prefix, ['waiting', 'failed']);
  const spNo = (waiting.steps.find((s) => s.name === 'start')?.output as { spNo?: string } | undefined)?.spNo;
  if (!spNo) throw new Error(`no WeCom approval for project ${project.id}`);
  ctx.step(`WeCom 项目立项 ${spNo}: 周杰 and 王建国 agree`);
  await wecom(`approvals/${spNo}/agree`, { userid: 'Zhoujie', speech: '资源可以安排' });
  await wecom(`approvals/${spNo}/agree`, { userid: 'WangJianGuo', speech: '同意立项' });
  const done = await waitRun(hub, PROJECT_FLOW, prefix, ['completed', 'failed']);
  if (done.run.status !== 'completed') problems.push(`the run of project ${project.id} failed`);

  const number = `PRJ${project.id}`;
  const mine = ((await erp('records/BAS_PreBaseDataOne?limit=10000')).records as Rec[]).filter(
    (p) => p.FNumber === number,
  );
  if (mine.length !== 1) problems.push(`${mine.length} Kingdee projects ${number}, expected 1`);
  else if (mine[0].FDocumentStatus !== 'C') problems.push(`Kingdee project ${number} is not audited`);
  const after = await crm(`/records/project__c/${project.id}`);
  if (after.projectCode__c !== number) problems.push(`the CRM project does not carry ${number}`);
  const told = ((await wecom('messages/Zhangwei')).messages as Rec[]).filter((m) =>
    JSON.stringify(m.body).includes(number),
  );
  if (told.length !== 1) problems.push(`张伟 was told ${told.length} times, expected once`);
  ctx.step(`Kingdee project ${number} audited; its number on the CRM project; 张伟 told in WeCom`);
  return {
    runs: 1,
    duplicates: 0,
    written: { wecom: 1 + told.length, kingdee: mine.length, neocrm: 1 },
    problems,
  };
}
