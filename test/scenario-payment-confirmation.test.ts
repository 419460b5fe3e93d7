/**
 * Scenario 5 end to end (flows/payment-confirmation*.yaml, loaded as shipped): a hub with `kingdee`
 * and `dingtalk` (Stream mode) connections to the two sandboxes. Every audited, unpaid payable becomes
 * an interactive card to the cashier (赵敏); her reply "确认付款 <单号>", or her press of the card's
 * button, makes exactly one audited AP_PAYBILL and is acknowledged in the chat and on the card; anyone
 * else's "确认付款" is refused politely, pays nothing and is in the audit log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import type { DingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';
import type { RunRow, RunStatus } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub, waitFor } from './support/scenario-hub.ts';

const CASHIER = 'manager4007'; // 赵敏, 出纳, Kingdee staff E0007
const STRANGER = 'manager4008'; // 黄磊, 会计, not a payer
const FLOWS = ['payment-confirmation', 'payment-confirmation-button', 'payment-confirmation-refusal'];
type Rec = Record<string, any>;

describe('scenario 5: payment-confirmation (Kingdee payable → DingTalk card → 确认付款 → AP_PAYBILL)', () => {
  let env: ScenarioHub<'kingdee' | 'dingtalk'>;
  let dt: DingtalkSandbox;
  let hub: Hub;
  const kdAdmin = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);
  const runsOf = (flowId: string): Promise<RunRow[]> => hub.store.listRuns({ flowId, limit: 1000 });
  /** The main flow's run about one payable (its event is the polled payable). */
  const askRun = async (bill: string): Promise<RunRow | undefined> =>
    (await runsOf('payment-confirmation')).find((r) => (r.event as Rec).FBillNo === bill);
  const until = async (runId: string, statuses: RunStatus[]) => {
    let got: Awaited<ReturnType<Hub['store']['getRun']>>;
    await waitFor(`run ${runId} in ${statuses}`, async () => {
      got = await hub.store.getRun(runId);
      return !!got && statuses.includes(got.run.status);
    });
    return got!;
  };
  const payBills = async (source: string): Promise<Rec[]> =>
    (await kdAdmin('records/AP_PAYBILL?limit=10000')).records.filter((r: Rec) =>
      (r.FPAYBILLSRCENTRY ?? []).some((e: Rec) => e.FSRCBILLNO === source),
    );
  const cardFor = async (bill: string): Promise<Rec> =>
    (await dt.admin('GET', '/__sandbox/cards')).cards.find((c: Rec) => c.cardParamMap.bill === bill);
  const replies = async (userId: string): Promise<string[]> =>
    (await dt.admin('GET', `/__sandbox/robot/replies?userId=${userId}`)).replies.map(
      // Session-webhook replies carry `text`; OpenAPI ones `msgKey` + `msgParam` (§6.2, kept parsed).
      (r: Rec) => r.message?.text?.content ?? r.message?.msgParam?.content ?? '',
    );
  /** A person writes to the robot; resolves once the hub has stored (and acked) the message. */
  const say = async (userId: string, text: string) => {
    const said = await dt.admin('POST', '/__sandbox/robot/say', { userId, text });
    await waitFor('the message to be acked', async () =>
      (await dt.admin('GET', '/__sandbox/robot/messages')).incoming.some(
        (m: Rec) => m.msgId === said.msgId && m.status === 'acked',
      ),
    );
  };
  const pollNow = () => env.pollNow();
  /** A payable entered and audited in Kingdee, then the poll that asks about it. */
  const newPayable = async (supplier: string, qty: number, price: number): Promise<string> => {
    const saved = await kdAdmin('records/AP_Payable', {
      model: {
        FDATE: '2026-03-10',
        FSUPPLIERID: { FNumber: supplier },
        FEntityDetail: [{ FMATERIALID: { FNumber: 'M0005' }, FPriceQty: qty, FTaxPrice: price }],
      },
      user: '黄磊',
      status: 'B',
    });
    await kdAdmin(`records/AP_Payable/${saved.FBillNo}/audit`, { user: '杨帆' });
    await pollNow();
    await waitFor(
      `the question about ${saved.FBillNo}`,
      async () => (await askRun(saved.FBillNo))?.status === 'waiting',
    );
    return saved.FBillNo;
  };

  before(async () => {
    env = await startScenarioHub({ name: 'payment', systems: ['kingdee', 'dingtalk'], flows: FLOWS });
    ({ hub } = env);
    dt = env.sandboxes.dingtalk;
    // The first poll asks about the payables already audited and unpaid: the seeded AP00000001–2.
    await waitFor('the first questions', async () => {
      const runs = await runsOf('payment-confirmation');
      return runs.length === 2 && runs.every((r) => r.status === 'waiting');
    });
  });
  after(() => env?.close());

  it('asks the cashier on an interactive card, once per unpaid payable', async () => {
    const card = await cardFor('AP00000001');
    assert.equal(card.spaces.length, 1);
    assert.equal(card.spaces[0].spaceType, 'IM_ROBOT');
    assert.equal(card.spaces[0].spaceId, CASHIER);
    assert.equal(card.cardParamMap.supplier, '上海精工伺服科技有限公司');
    assert.equal(card.cardParamMap.status, '待确认');
    assert.match(card.cardParamMap.note, /确认付款 AP00000001/);
    const cards = (await dt.admin('GET', '/__sandbox/cards')).cards;
    assert.equal(cards.filter((c: Rec) => c.cardParamMap.bill === 'AP00000001').length, 1);
    assert.equal(cards.length, 2);
  });

  it('the reply path: "确认付款 <单号>" from the cashier pays that payable once, audited, and is acknowledged', async () => {
    const bill = await newPayable('VEN0003', 10, 1_200);
    const run = (await askRun(bill))!;
    // A bare "确认付款" could mean any open question: it pays nothing and gets a hint.
    await say(CASHIER, '确认付款');
    await waitFor('the hint', async () =>
      (await replies(CASHIER)).some((t) => t.startsWith('请回复“确认付款 单号”')),
    );
    assert.equal((await hub.store.getRun(run.id))!.run.status, 'waiting');

    await say(CASHIER, `确认付款 ${bill}`);
    const done = await until(run.id, ['completed']);
    const bills = await payBills(bill);
    assert.equal(bills.length, 1, 'exactly one payment bill');
    assert.equal(bills[0].FDocumentStatus, 'C', 'audited');
    assert.equal(bills[0].FCONTACTUNIT, 'VEN0003');
    assert.equal(bills[0].FPAYBILLENTRY[0].FPAYTOTALAMOUNTFOR, 12_000);
    assert.match(bills[0].FREMARK, /^钉钉确认付款：赵敏（E0007）/);
    const ack = (await replies(CASHIER)).filter((t) => t.startsWith(`已确认付款：${bill}`));
    assert.deepEqual(ack, [`已确认付款：${bill}，付款单 ${bills[0].FBillNo} 已审核。`]);
    const card = await cardFor(bill);
    assert.equal(card.cardParamMap.status, '已付款');
    assert.equal(done.steps.find((s) => s.name === 'remind')?.status, 'skipped');
    // The other questions are still open: the reply named one bill.
    assert.equal((await askRun('AP00000001'))!.status, 'waiting');
    assert.deepEqual(await payBills('AP00000001'), []);
  });

  it('the button path: the cashier presses 确认付款 on the card; one audited payment; the question ends quietly', async () => {
    const card = await cardFor('AP00000001');
    await dt.admin('POST', `/__sandbox/cards/${card.outTrackId}/click`, {
      userId: CASHIER,
      params: { action: 'confirm' },
    });
    await waitFor('the button run', async () => {
      const runs = await runsOf('payment-confirmation-button');
      return runs.length === 1 && runs[0].status === 'completed';
    });
    const bills = await payBills('AP00000001');
    assert.equal(bills.length, 1);
    assert.equal(bills[0].FDocumentStatus, 'C');
    assert.equal(bills[0].FCONTACTUNIT, 'VEN0001');
    assert.match(bills[0].FREMARK, /^钉钉确认付款：赵敏（E0007）/);
    assert.equal((await cardFor('AP00000001')).cardParamMap.status, '已付款');
    assert.ok(
      (await replies(CASHIER)).includes(`已确认付款：AP00000001，付款单 ${bills[0].FBillNo} 已审核。`),
    );

    // The chat question about AP00000001 waited for a reply that will not come; a day later it looks,
    // finds the payment and ends without a reminder (the timer is brought forward, not waited for).
    const run = (await askRun('AP00000001'))!;
    const got = await hub.store.getRun(run.id);
    const confirm = got!.steps.find((s) => s.name === 'confirm')!;
    await hub.store.rescheduleTimer(`${confirm.id}:timeout`, Date.now());
    hub.engine.kick();
    const done = await until(run.id, ['completed']);
    assert.deepEqual(done.steps.find((s) => s.name === 'confirm')!.output, { timedOut: true });
    assert.equal(done.steps.find((s) => s.name === 'pay')!.status, 'skipped');
    assert.equal(done.steps.find((s) => s.name === 'remind')!.status, 'skipped');
    assert.equal((await payBills('AP00000001')).length, 1, 'still one payment bill');
  });

  it("a stranger's 确认付款 is refused politely: nothing paid, the reply recorded and audited", async () => {
    const auditBefore = (await hub.store.listAudit({ limit: 100_000 })).at(-1)?.seq ?? 0;
    await say(STRANGER, '确认付款 AP00000002');
    await waitFor('the refusal', async () => (await replies(STRANGER)).length === 1);
    const [text] = await replies(STRANGER);
    assert.equal(
      text,
      '抱歉，黄磊，您不在付款确认授权名单中，本次回复不会触发付款。如需付款，请联系出纳或财务经理。',
    );
    const refusal = (await runsOf('payment-confirmation-refusal')).find(
      (r) => (r.event as Rec).senderStaffId === STRANGER,
    )!;
    await until(refusal.id, ['completed']);
    const rows = (await hub.store.listAudit({ afterSeq: auditBefore, limit: 1000 })).filter(
      (a) => a.actor === 'flow:payment-confirmation-refusal',
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0].action, 'write:dingtalk.robot.reply');
    assert.equal((rows[0].detail as Rec).step, 'refuse');
    assert.equal((rows[0].detail as Rec).runId, refusal.id);
    // Nothing paid, and the cashier's question is still open.
    assert.deepEqual(await payBills('AP00000002'), []);
    assert.equal((await askRun('AP00000002'))!.status, 'waiting');
    assert.equal((await cardFor('AP00000002')).cardParamMap.status, '待确认');
  });

  it('a payable paid before the poll reads it is not asked about; polls never ask twice', async () => {
    const saved = await kdAdmin('records/AP_Payable', {
      model: {
        FDATE: '2026-03-11',
        FSUPPLIERID: { FNumber: 'VEN0002' },
        FEntityDetail: [{ FMATERIALID: { FNumber: 'M0006' }, FPriceQty: 5, FTaxPrice: 4_100 }],
      },
      user: '黄磊',
      status: 'B',
    });
    await kdAdmin(`records/AP_Payable/${saved.FBillNo}/audit`, { user: '杨帆' });
    // Paid at once in the K/3 client, before Qiao looked.
    await kdAdmin(`records/AP_Payable/${saved.FBillNo}/pay`, { user: '赵敏' });
    await pollNow();
    await waitFor(
      'the run about the paid payable',
      async () => (await askRun(saved.FBillNo))?.status === 'filtered',
    );
    assert.equal(await cardFor(saved.FBillNo), undefined, 'no card');
    await pollNow();
    const runs = await runsOf('payment-confirmation');
    assert.equal(runs.length, 4, 'one run per payable, however often the poll reads it');
    assert.equal((await dt.admin('GET', '/__sandbox/cards')).cards.length, 3);
  });
});
