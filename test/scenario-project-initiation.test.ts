/**
 * Scenario 6, project initiation, end to end over real HTTP with the shipped template
 * (flows/project-initiation.yaml): a salesperson registers a project in the Neocrm sandbox (the custom
 * object project__c, from a project opportunity) → the hub's poll starts a WeCom 项目立项 with the
 * template's own approvers → approved: the project exists once in Kingdee as audited cost-accounting
 * base data (BAS_PreBaseDataOne) and its number is on the CRM project; rejected: nothing in Kingdee,
 * no number in the CRM; the owner is told either way. Projects that already have a code are left alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import { TEMPLATE_IDS } from '../src/sandbox/wecom/index.ts';
import type { RunStatus } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const FLOW_ID = 'project-initiation';

describe('scenario 6: project initiation — Neocrm, WeCom and Kingdee over HTTP', () => {
  let env: ScenarioHub<'neocrm' | 'wecom' | 'kingdee'>;
  let hub: Hub;
  const crm = (path: string, body?: unknown, method?: string) => env.crm(path, body, method);
  const wecom = (path: string, body?: unknown) => env.wecom(path, body);
  const erp = (path: string, body?: unknown) => env.erp(path, body);

  // The Neocrm connection lists the tenant's custom object project__c, so the hub knows and describes it.
  before(async () => {
    env = await startScenarioHub({
      name: 'project',
      systems: ['neocrm', 'wecom', 'kingdee'],
      flows: [FLOW_ID],
      hub: { concurrency: 8 },
    });
    ({ hub } = env);
  });
  after(() => env?.close());

  /** A salesperson registers a project from a project opportunity; the hub polls at once. */
  const register = async (name: string, budget: number) => {
    const opportunity = (await crm('/records/opportunity?limit=1000')).records.find(
      (o: any) => o.status === 1 && o.ownerId === '9007199254743993', // an open one of 张伟 (E0003)
    );
    const project = await crm('/records/project__c', {
      as: 'E0003',
      data: {
        name,
        accountId__c: opportunity.accountId,
        opportunityId__c: opportunity.id,
        budget__c: budget,
      },
    });
    await hub.engine.reloadFlows(); // poll now rather than in a minute
    return { project, opportunity };
  };
  const runOf = (projectId: string, statuses: RunStatus[]) =>
    env.waitRun(FLOW_ID, `project__c:${projectId}#`, statuses);
  const spNoOf = async (projectId: string) => {
    const got = await runOf(projectId, ['waiting']);
    return (got.steps.find((s) => s.name === 'start')!.output as { spNo: string }).spNo;
  };
  const projectsIn = async () => (await erp('records/BAS_PreBaseDataOne?limit=10000')).records as any[];
  const toldZhangwei = async (text: string) =>
    ((await wecom('messages/Zhangwei')).messages as any[]).filter((m) =>
      JSON.stringify(m.body).includes(text),
    );

  it('approved: the project once in Kingdee, audited, and its number on the CRM project', async () => {
    const { project, opportunity } = await register('华锐二期产线改造项目', 860_000);
    const spNo = await spNoOf(project.id);
    const number = `PRJ${project.id}`;
    const { info } = await wecom(`approvals/${spNo}`);
    assert.equal(info.template_id, TEMPLATE_IDS.project);
    assert.equal(info.applyer.userid, 'Zhangwei');
    assert.deepEqual(
      info.sp_record.map((n: any) => n.details.map((d: any) => d.approver.userid)),
      [['Zhoujie'], ['WangJianGuo']],
      "the template's own approvers",
    );
    const form = Object.fromEntries(info.apply_data.contents.map((c: any) => [c.title[0].text, c.value]));
    assert.equal(form.项目编号.text, number);
    assert.equal(form.项目名称.text, '华锐二期产线改造项目');
    assert.equal(Number(form.预算金额.new_money), 860_000);
    assert.match(form.项目说明.text, new RegExp(opportunity.opportunityName));

    await wecom(`approvals/${spNo}/agree`, { userid: 'Zhoujie', speech: '资源可以安排' });
    await wecom(`approvals/${spNo}/agree`, { userid: 'WangJianGuo', speech: '同意立项' });
    await runOf(project.id, ['completed']);

    const mine = (await projectsIn()).filter((p) => p.FNumber === number);
    assert.equal(mine.length, 1, 'exactly one Kingdee project');
    assert.equal(mine[0].FName, '华锐二期产线改造项目');
    assert.equal(mine[0].FDocumentStatus, 'C', 'audited: bills can reference it');
    assert.equal(mine[0].FForbidStatus, 'A');
    assert.equal(mine[0].FCreateOrgId, '100');
    assert.match(mine[0].FDescription, new RegExp(spNo));
    // Cost accounting: an expense bill can now be charged to the project.
    const expense = await erp('records/ER_ExpReimbursement', {
      user: '张伟',
      model: {
        FProposerID: { FSTAFFNUMBER: 'E0003' },
        FRequestDeptID: { FNumber: 'D01' },
        FCausa: '二期产线现场勘察差旅费',
        FEntity: [{ FExpID: { FNumber: 'FYXM01' }, FTaxSubmitAmt: 860, F_QH_Project: { FNumber: number } }],
      },
    });
    assert.equal(
      (await erp(`records/ER_ExpReimbursement/${expense.FBillNo}`)).FEntity[0].F_QH_Project,
      number,
    );
    const after = await crm(`/records/project__c/${project.id}`);
    assert.equal(after.projectCode__c, number, 'the number is written back to the CRM');
    assert.equal((await toldZhangwei(number)).length, 1, 'the owner is told once');
  });

  it('rejected: nothing in Kingdee, no number in the CRM, the owner told', async () => {
    const before = (await projectsIn()).length;
    const { project } = await register('东海储能试点项目', 120_000);
    const spNo = await spNoOf(project.id);
    await wecom(`approvals/${spNo}/reject`, { userid: 'Zhoujie', speech: '研发资源已排满' });
    await runOf(project.id, ['completed']);
    assert.equal((await projectsIn()).length, before, 'no project in Kingdee');
    assert.equal((await crm(`/records/project__c/${project.id}`)).projectCode__c ?? null, null);
    const told = await toldZhangwei('东海储能试点项目');
    assert.equal(told.length, 1);
    assert.match(JSON.stringify(told[0].body), /未获立项：Zhoujie：研发资源已排满/);
  });

  it('projects that already have a code start no approval', async () => {
    const seeded = (await crm('/records/project__c')).records as any[];
    assert.ok(seeded.some((p) => p.projectCode__c === 'PRJ001'));
    for (const p of seeded.filter((x) => x.projectCode__c?.startsWith('PRJ00'))) {
      assert.equal((await runOf(p.id, ['filtered'])).run.status, 'filtered');
    }
    const applied = ((await wecom('approvals')).approvals as any[]).filter(
      (a) => a.template_id === TEMPLATE_IDS.project,
    );
    assert.equal(applied.length, 2, 'only the two projects registered above');
  });
});
