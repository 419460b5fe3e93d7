/**
 * Scenario 4 end to end (flows/expense-reimbursement.yaml and flows/expense-reimbursement-dingtalk.yaml,
 * loaded as shipped): one hub with `wecom` (callbacks to /hooks/wecom/wecom), `dingtalk` (Stream) and
 * `kingdee` (the BOS plugin's push path to /hooks/kingdee/kingdee) connections to the three sandboxes.
 * Leg 1: an expense approved in WeCom or DingTalk → exactly one audited ER_ExpReimbursement with the
 * applicant's Kingdee employee, department, project and expense items. Leg 2: the cashier pays it in
 * Kingdee → the waiting run hears the Pay operation → the applicant is told, in the app they used.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import type { DingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import { TEMPLATE_IDS, type WecomSandbox } from '../src/sandbox/wecom/index.ts';
import type { RunRow, RunStatus } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

type Rec = Record<string, any>;

describe('scenario 4: expense-reimbursement (approved in WeCom / DingTalk → Kingdee bill → paid → told)', () => {
  let env: ScenarioHub<'kingdee' | 'wecom' | 'dingtalk'>;
  let wc: WecomSandbox;
  let dt: DingtalkSandbox;
  let hub: Hub;
  const kdAdmin = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);
  const wcAdmin = (path: string, body?: unknown): Promise<Rec> => env.wecom(path, body);
  /** The run about one approval: its event carries the WeCom spNo or the DingTalk processInstanceId. */
  const about = (sourceId: string) => (r: RunRow) =>
    (r.event as Rec).spNo === sourceId || (r.event as Rec).processInstanceId === sourceId;
  const runOf = async (flowId: string, sourceId: string): Promise<RunRow | undefined> =>
    (await hub.store.listRuns({ flowId, limit: 1000 })).find(about(sourceId));
  const until = (flowId: string, sourceId: string, statuses: RunStatus[]) =>
    env.waitRun(flowId, about(sourceId), statuses, 15_000);
  const bills = async (number: string): Promise<Rec[]> =>
    (await kdAdmin('records/ER_ExpReimbursement?limit=10000')).records.filter(
      (r: Rec) => r.FBillNo === number,
    );
  const wecomTexts = async (userid: string): Promise<string[]> =>
    (await wcAdmin(`messages/${userid}`)).messages.map((m: Rec) => String(m.body?.content ?? ''));
  const dingtalkTexts = async (userId: string): Promise<string[]> =>
    (await dt.admin('GET', `/__sandbox/notices?userId=${userId}`)).deliveries.map(
      (d: Rec) => d.msg.text?.content ?? '',
    );
  /** The cashier pays the bill in the K/3 client; the BOS plugin pushes the Pay to the hub. */
  const pay = async (number: string): Promise<Rec> => {
    const paid = await kdAdmin(`records/ER_ExpReimbursement/${number}/pay`, { user: '赵敏' });
    await kdAdmin('notify/flush', {});
    return paid;
  };

  before(async () => {
    // The consoles: WeCom's callback URL (verified at once), the BOS plugin's target, DingTalk Stream.
    env = await startScenarioHub({
      name: 'expense',
      systems: ['kingdee', 'wecom', 'dingtalk'],
      kingdeePush: { forms: ['ER_ExpReimbursement'], operations: ['Pay'] },
      flows: ['expense-reimbursement', 'expense-reimbursement-dingtalk'],
    });
    ({ hub } = env);
    ({ wecom: wc, dingtalk: dt } = env.sandboxes);
  });
  after(() => env?.close());

  describe('WeCom', () => {
    let spNo: string;
    let number: string;

    it('leg 1: approved in WeCom → one audited Kingdee bill for 刘洋, 销售部, 项目A, one line per 费用明细 row', async () => {
      // 刘洋 files a travel expense in WeCom (the app submits it, as WeCom's own form would).
      const filed = await hub.connections.call(
        'wecom',
        'approval.start',
        {
          templateId: TEMPLATE_IDS.expense,
          creator: 'Liuyang',
          fields: {
            报销类型: '差旅费',
            报销金额: 3_680,
            发生日期: '2026-03-10',
            关联项目: '项目A',
            报销事由: '苏州华锐精密现场调试差旅',
            费用明细: [
              { 费用项目: '交通费', 金额: 480, 日期: '2026-03-10' },
              { 费用项目: '住宿费', 金额: 3_200, 日期: '2026-03-11' },
            ],
          },
        },
        { idempotencyKey: 'scenario-4-wecom', attempt: 1 },
      );
      spNo = (filed.output as { spNo: string }).spNo;
      // 杨帆 approves in WeCom (王建国 too from 5,000 up); WeCom delivers the decision twice.
      await wc.idle();
      await wcAdmin('callback-faults', { duplicateNext: 1, duplicateTimes: 1 });
      const approved = await wcAdmin(`approvals/${spNo}/approve-all`, { speech: '同意' });
      assert.equal(approved.info.sp_status, 2);
      await wc.idle();

      const got = await until('expense-reimbursement', spNo, ['waiting']);
      number = (got.steps.find((s) => s.name === 'bill')!.output as { number: string }).number;
      assert.equal(number, `BXQW${spNo}`);
      const found = await bills(number);
      assert.equal(found.length, 1, 'exactly one bill');
      const bill = found[0];
      assert.equal(bill.FDocumentStatus, 'C', 'saved, submitted and audited');
      assert.equal(bill.FCausa, '苏州华锐精密现场调试差旅');
      assert.equal(bill.FRequestDeptID, 'D01', "刘洋's department in Kingdee: 销售部");
      assert.equal(bill.FExpenseDeptID, 'D01');
      assert.equal(bill.FReqReimbAmount, 3_680);
      assert.deepEqual(
        bill.FEntity.map((e: Rec) => [e.FExpID, e.FTaxSubmitAmt, e.F_QH_Project, e.FRemark]),
        [
          ['FYXM02', 480, 'PRJ001', '交通费'],
          ['FYXM03', 3_200, 'PRJ001', '住宿费'],
        ],
      );
      const emp = (await kdAdmin('records/BD_Empinfo?limit=100')).records.find(
        (e: Rec) => e.FStaffNumber === 'E0004',
      );
      assert.equal(bill.FProposerID, emp.FNumber, 'the applicant is 刘洋 (E0004)');
      assert.equal((await runOf('expense-reimbursement', spNo))!.status, 'waiting', 'one run, waiting');
      assert.equal((await hub.store.listRuns({ flowId: 'expense-reimbursement' })).length, 1);
      const decided = (await hub.store.findInboxByCorrelation('wecom', 'approval.change', spNo)).filter(
        (e) => (e.data as Rec).spStatus === 2,
      );
      assert.equal(decided.length, 1, 'the approval stored once');
      assert.equal(decided[0].duplicates, 1, 'its second delivery dropped by the inbox');
      const texts = await wecomTexts('Liuyang');
      assert.ok(texts.some((t) => t.includes(`已生成金蝶报销单 ${number}`)));
    });

    it('leg 2: paid in Kingdee → the applicant is told in WeCom', async () => {
      const paid = await pay(number);
      assert.equal(paid.payBill.FDocumentStatus, 'C');
      const done = await until('expense-reimbursement', spNo, ['completed']);
      assert.equal((done.steps.find((s) => s.name === 'paid')!.output as Rec).operation, 'Pay');
      const told = (await wecomTexts('Liuyang')).filter((t) => t.startsWith('您的报销已付款'));
      assert.deepEqual(told, [`您的报销已付款：${number}，3,680.00 元（苏州华锐精密现场调试差旅）。`]);
      assert.equal((await bills(number))[0].FPayedAmount, 3_680);
    });
  });

  describe('DingTalk', () => {
    let instanceId: string;
    let number: string;

    it('leg 1: agreed in DingTalk → one audited Kingdee bill for 陈静, 销售部, 项目B', async () => {
      const filed = await dt.admin('POST', '/__sandbox/approvals', {
        template: 'expense',
        originatorUserId: 'manager4005',
        form: {
          报销事由: '东海新能源客户招待',
          报销金额: '1280.5',
          费用日期: '2026-03-09',
          费用类型: '招待费',
          项目: 'PRJ002',
          备注: '晚餐',
        },
      });
      [instanceId] = filed.processInstanceIds;
      await dt.admin('POST', `/__sandbox/approvals/${instanceId}/approve`, { remark: '同意' });

      const got = await until('expense-reimbursement-dingtalk', instanceId, ['waiting']);
      number = (got.steps.find((s) => s.name === 'bill')!.output as { number: string }).number;
      assert.match(number, /^BXDD\d+/);
      const found = await bills(number);
      assert.equal(found.length, 1);
      assert.equal(found[0].FDocumentStatus, 'C');
      assert.equal(found[0].FCausa, '东海新能源客户招待');
      assert.equal(found[0].FRequestDeptID, 'D01');
      assert.equal(found[0].FReqReimbAmount, 1_280.5);
      assert.deepEqual(
        found[0].FEntity.map((e: Rec) => [e.FExpID, e.FTaxSubmitAmt, e.F_QH_Project, e.FRemark]),
        [['FYXM04', 1_280.5, 'PRJ002', '晚餐']],
      );
      const emp = (await kdAdmin('records/BD_Empinfo?limit=100')).records.find(
        (e: Rec) => e.FStaffNumber === 'E0005',
      );
      assert.equal(found[0].FProposerID, emp.FNumber);
      assert.ok((await dingtalkTexts('manager4005')).some((t) => t.includes(`已生成金蝶报销单 ${number}`)));
    });

    it('leg 2: paid in Kingdee → the applicant gets a DingTalk work notice', async () => {
      await pay(number);
      await until('expense-reimbursement-dingtalk', instanceId, ['completed']);
      const told = (await dingtalkTexts('manager4005')).filter((t) => t.startsWith('您的报销已付款'));
      assert.deepEqual(told, [`您的报销已付款：${number}，1,280.50 元（东海新能源客户招待）。`]);
      // The WeCom run was not disturbed by this Pay: it heard only its own bill's.
      assert.equal((await wecomTexts('Liuyang')).filter((t) => t.startsWith('您的报销已付款')).length, 1);
    });
  });
});
