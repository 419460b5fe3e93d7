/**
 * The reconciler's reading of K/3 against what the BOS plugin pushed for the same changes: query rows
 * map to the plugin's notifications, and over the sandbox every audit and payment the plugin pushed is
 * answered under the same inbox key, nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InboundEvent } from '../../core/connector.ts';
import type { ChangeNotification } from './change.ts';
import { auditChange, type DocState, parseCorrelation, payChange } from './reconcile.ts';
import { type HookServer, type KingdeeFixture, startHookServer, startKingdeeFixture } from './testing.ts';

const doc: DocState = {
  id: 100231,
  number: 'FYBX000123',
  documentStatus: 'C',
  modifyDate: '2025-03-11T09:05:00',
  approveDate: '2025-03-11T10:15:30',
  approver: '杨帆',
};

describe('kingdee reconcile: mapping', () => {
  it('splits a correlation at its first colon', () => {
    assert.deepEqual(parseCorrelation('ER_ExpReimbursement:FYBX000123'), {
      formId: 'ER_ExpReimbursement',
      number: 'FYBX000123',
    });
    assert.deepEqual(parseCorrelation('BD_Customer:A:1'), { formId: 'BD_Customer', number: 'A:1' });
    for (const bad of ['FYBX000123', ':FYBX000123', 'ER_ExpReimbursement:']) {
      assert.equal(parseCorrelation(bad), undefined, bad);
    }
  });

  it('an audited document is the Audit the plugin sends, by its approver at its approve stamp', () => {
    assert.deepEqual(auditChange('ER_ExpReimbursement', doc, 'acct', 480), {
      eventId: 'er_expreimbursement:100231:audit@2025-03-11T02:15:30.000Z',
      acctId: 'acct',
      formId: 'ER_ExpReimbursement',
      operation: 'Audit',
      id: 100231,
      number: 'FYBX000123',
      documentStatus: 'C',
      modifyDate: '2025-03-11T09:05:00',
      approveDate: '2025-03-11T10:15:30',
      userName: '杨帆',
      occurredAt: '2025-03-11T10:15:30',
      reconciled: true,
    } satisfies ChangeNotification);
    for (const status of ['Z', 'A', 'B', 'D']) {
      assert.equal(
        auditChange('ER_ExpReimbursement', { ...doc, documentStatus: status }, 'acct', 480),
        undefined,
      );
    }
    assert.equal(auditChange('ER_ExpReimbursement', { ...doc, approveDate: null }, 'acct', 480), undefined);
  });

  it('an audited payment bill from the document is the Pay the plugin sends, by the cashier', () => {
    const line = {
      id: 100400,
      number: 'FKD00000007',
      approveDate: '2025-03-20T16:00:00',
      approver: '赵敏',
      sourceForm: 'ER_ExpReimbursement',
      sourceNumber: 'FYBX000123',
    };
    const pay = payChange('ER_ExpReimbursement', doc, line, 'acct', 480);
    assert.equal(pay.eventId, 'er_expreimbursement:100231:pay:100400');
    assert.equal(pay.operation, 'Pay');
    assert.equal(pay.userName, '赵敏');
    assert.equal(pay.occurredAt, '2025-03-20T16:00:00');
    assert.deepEqual(pay.payBill, { id: 100400, number: 'FKD00000007' });
    assert.equal(pay.approveDate, doc.approveDate, "the document's own stamps, as the plugin sends them");
    assert.equal(pay.reconciled, true);
  });
});

describe('kingdee reconcile: against what the plugin pushed', () => {
  let f: KingdeeFixture;
  let hub: HookServer;
  const reconcile = (correlations: string[]) =>
    f.connector.reconcile!('kingdee.change', correlations, AbortSignal.timeout(30_000));
  const pushedFor = (correlations: string[]) =>
    hub.events.filter((e) => correlations.includes(e.correlation ?? ''));
  const keys = (events: InboundEvent[]) => events.map((e) => e.key).sort();

  before(async () => {
    f = await startKingdeeFixture();
    hub = await startHookServer(f.connector.hooks![0]);
    await f.admin('notify', {
      url: hub.url,
      forms: ['AR_RECEIVEBILL', 'ER_ExpReimbursement', 'AP_Payable'],
      operations: ['Audit', 'Pay'],
    });
  });
  after(async () => {
    await f.admin('notify', undefined, 'DELETE');
    await hub.close();
    await f.close();
  });

  it('an audited receipt and a paid expense bill: the Audits and the Pay, under the pushed keys', async () => {
    const receipt = await f.admin('records/AR_RECEIVEBILL', {
      user: '杨帆',
      model: {
        FCONTACTUNIT: { FNumber: 'C0004' },
        FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 42_000 }],
      },
      status: 'C',
    });
    const saved = await f.admin('records/AR_RECEIVEBILL', {
      model: {
        FCONTACTUNIT: { FNumber: 'C0004' },
        FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 1 }],
      },
    });
    const bill = await f.admin('records/ER_ExpReimbursement', {
      user: '杨帆',
      model: {
        FProposerID: { FSTAFFNUMBER: 'E0004' },
        FRequestDeptID: { FNumber: 'D01' },
        FCausa: '客户现场差旅',
        FEntity: [{ FExpID: { FNumber: 'FYXM01' }, FTaxSubmitAmt: 860 }],
      },
      status: 'C',
    });
    await f.admin(`records/ER_ExpReimbursement/${bill.FBillNo}/pay`, { user: '赵敏' });
    await f.admin('notify/flush', {});
    const asked = [
      `AR_RECEIVEBILL:${receipt.FBillNo}`,
      `ER_ExpReimbursement:${bill.FBillNo}`,
      `AR_RECEIVEBILL:${saved.FBillNo}`,
      'ER_ExpReimbursement:FYBX999999',
    ];
    const pushed = pushedFor(asked);
    assert.deepEqual(
      pushed.map((e) => [e.correlation, (e.data as ChangeNotification).operation]),
      [
        [asked[0], 'Audit'],
        [asked[1], 'Audit'],
        [asked[1], 'Pay'],
      ],
    );
    const got = await reconcile(asked);
    assert.deepEqual(keys(got), keys(pushed), 'the same changes under the same keys');
    for (const r of got) {
      const p = pushed.find((e) => e.key === r.key)!;
      assert.equal(r.type, p.type);
      assert.equal(r.correlation, p.correlation);
      const [rd, pd] = [r.data as ChangeNotification, p.data as ChangeNotification];
      for (const k of [
        'acctId',
        'formId',
        'operation',
        'id',
        'number',
        'documentStatus',
        'userName',
      ] as const) {
        assert.equal(rd[k], pd[k], `${r.key}: ${k}`);
      }
      assert.deepEqual(rd.payBill, pd.payBill);
      assert.equal(rd.reconciled, true);
      assert.equal(pd.reconciled, undefined);
    }
    const pay = got.find((e) => (e.data as ChangeNotification).operation === 'Pay')!;
    assert.equal((pay.data as ChangeNotification).userName, '赵敏', 'the cashier');
  });

  it('a payable paid twice: one Pay per payment bill', async () => {
    const payable = await f.admin('records/AP_Payable', {
      user: '杨帆',
      model: {
        FSUPPLIERID: { FNumber: 'VEN0002' },
        FEntityDetail: [{ FMATERIALID: { FNumber: 'M0006' }, FPriceQty: 2, FTaxPrice: 300 }],
      },
      status: 'C',
    });
    const first = await f.admin(`records/AP_Payable/${payable.FBillNo}/pay`, { user: '赵敏' });
    const second = await f.admin(`records/AP_Payable/${payable.FBillNo}/pay`, { user: '赵敏' });
    await f.admin('notify/flush', {});
    const asked = [`AP_Payable:${payable.FBillNo}`];
    const got = await reconcile(asked);
    assert.deepEqual(keys(got), keys(pushedFor(asked)));
    const bills = got
      .filter((e) => (e.data as ChangeNotification).operation === 'Pay')
      .map((e) => (e.data as ChangeNotification).payBill?.number)
      .sort();
    assert.deepEqual(bills, [first.payBill.FBillNo, second.payBill.FBillNo].sort());
  });

  it('a form K/3 does not know is skipped; the other forms are answered', async () => {
    const receipt = await f.admin('records/AR_RECEIVEBILL', {
      model: {
        FCONTACTUNIT: { FNumber: 'C0005' },
        FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS01_SYS' }, FRECTOTALAMOUNTFOR: 10 }],
      },
      status: 'C',
    });
    const got = await reconcile(['QH_NoSuchForm:X1', `AR_RECEIVEBILL:${receipt.FBillNo}`]);
    assert.deepEqual(
      got.map((e) => e.correlation),
      [`AR_RECEIVEBILL:${receipt.FBillNo}`],
    );
  });

  it('answers only for kingdee.change', async () => {
    const got = await f.connector.reconcile!('approval.change', ['AP_Payable:AP00000001']);
    assert.deepEqual(got, []);
  });
});
