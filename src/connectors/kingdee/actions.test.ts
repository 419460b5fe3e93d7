/**
 * The Kingdee actions against the sandbox: idempotent writes (upsert, batch-upsert,
 * save-submit-audit at every step), status operations that skip what is done, push without
 * double targets, paged queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionResult } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { testActionContext } from '../conformance.ts';
import { type KingdeeFixture, startKingdeeFixture } from './testing.ts';

describe('kingdee actions', () => {
  let f: KingdeeFixture;
  const run = async (
    name: string,
    input: Record<string, unknown>,
    links = new Map<string, string>(),
  ): Promise<any> => {
    const a = f.connector.actions[name];
    const r: ActionResult = await a.run(a.input.parse(input), testActionContext(`t-${name}`, links));
    return r.output;
  };
  const calls = async () => (await f.admin('stats')).calls as Record<string, number>;
  before(async () => {
    f = await startKingdeeFixture();
  });
  after(() => f.close());

  const order = (billNo: string, extra: Record<string, unknown> = {}) => ({
    formId: 'SAL_SaleOrder',
    model: {
      FBillNo: billNo,
      FCustId: { FNumber: 'C0004' },
      FSalerId: { FNumber: 'E0004' },
      FSaleOrderEntry: [{ FMaterialId: { FNumber: 'M0003' }, FQty: 2, FTaxPrice: 56_000 }],
      ...extra,
    },
  });

  it('save-submit-audit: a fresh run saves, submits and audits; a replay does nothing', async () => {
    const first = await run('save-submit-audit', order('QIAO-SSA-1'));
    assert.deepEqual(first.steps, ['create', 'submit', 'audit']);
    assert.equal(first.documentStatus, 'C');
    const before = await calls();
    const again = await run('save-submit-audit', order('QIAO-SSA-1'));
    assert.deepEqual(again.steps, []);
    assert.equal(again.id, first.id);
    const after = await calls();
    assert.equal(after.Save, before.Save, 'no second save');
    assert.equal(after.Audit, before.Audit, 'no second audit');
  });

  it('save-submit-audit resumes after a crash at any step', async () => {
    // Crashed after the save: the document is A.
    await f.admin('records/SAL_SaleOrder', { model: order('QIAO-SSA-2').model });
    assert.deepEqual((await run('save-submit-audit', order('QIAO-SSA-2'))).steps, [
      'update',
      'submit',
      'audit',
    ]);
    // Crashed after the submit: the document is B, so no save (it cannot be edited) and only the audit.
    await f.admin('records/SAL_SaleOrder', { model: order('QIAO-SSA-3').model, status: 'B' });
    assert.deepEqual((await run('save-submit-audit', order('QIAO-SSA-3'))).steps, ['audit']);
    // Un-audited meanwhile (D): saved again and re-submitted.
    await f.admin('records/SAL_SaleOrder', { model: order('QIAO-SSA-4').model, status: 'C' });
    await f.admin('records/SAL_SaleOrder/QIAO-SSA-4/unaudit', {});
    const r = await run('save-submit-audit', order('QIAO-SSA-4', { FNote: '重新审核' }));
    assert.deepEqual(r.steps, ['update', 'submit', 'audit']);
    assert.equal((await f.admin('records/SAL_SaleOrder/QIAO-SSA-4')).FNote, '重新审核');
  });

  it('upsert: finds by id link before number, updates only the keys given', async () => {
    const created = await run('upsert', {
      formId: 'BD_Customer',
      model: { FNumber: 'UP-1', FName: '上游客户', FTEL: '1' },
    });
    assert.equal(created.created, true);
    // The number changed in the source, the link still finds the document.
    const links = new Map([[`BD_Customer:crm-42`, String(created.id)]]);
    const renamed = await run(
      'upsert',
      { formId: 'BD_Customer', linkKey: 'crm-42', model: { FNumber: 'UP-1B', FName: '改名客户' } },
      links,
    );
    assert.equal(renamed.created, false);
    assert.equal(renamed.id, created.id);
    const rec = await f.admin(`records/BD_Customer/${created.id}`);
    assert.equal(rec.FNumber, 'UP-1B');
    assert.equal(rec.FTEL, '1', 'fields not in the model are kept (NeedUpDateFields)');
    await assert.rejects(
      run('upsert', { formId: 'BD_Customer', model: { FName: '无编码' } }),
      (e: unknown) =>
        e instanceof QiaoError && e.errorClass === 'permanent' && /needs a number/.test(e.message),
    );
  });

  it('upsert with audit, and ifLocked: error / skip / unaudit on an audited bill', async () => {
    const a = await run('upsert', { ...order('QIAO-UP-2'), audit: true });
    assert.equal(a.documentStatus, 'C');
    await assert.rejects(run('upsert', order('QIAO-UP-2', { FNote: 'x' })), (e: unknown) => {
      assert.ok(e instanceof QiaoError);
      assert.equal(e.errorClass, 'permanent');
      assert.match(e.partner?.message ?? '', /已经审核，不允许修改/);
      return true;
    });
    const skipped = await run('upsert', { ...order('QIAO-UP-2', { FNote: 'x' }), ifLocked: 'skip' });
    assert.equal(skipped.skipped, true);
    const redone = await run('upsert', { ...order('QIAO-UP-2', { FNote: '改后重审' }), ifLocked: 'unaudit' });
    assert.equal(redone.documentStatus, 'C');
    assert.equal((await f.admin('records/SAL_SaleOrder/QIAO-UP-2')).FNote, '改后重审');
  });

  it('upsert after losing a create race updates the winner (duplicate number → update)', async () => {
    const input = { formId: 'BD_Customer', model: { FNumber: 'RACE-1', FName: '竞争客户' } };
    const results = await Promise.all([run('upsert', input), run('upsert', input), run('upsert', input)]);
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.equal(
      (await f.admin('records/BD_Customer?limit=100000')).records.filter((r: any) => r.FNumber === 'RACE-1')
        .length,
      1,
    );
  });

  it('batch-upsert: creates and updates in one BatchSave per batch; a failing package is reported', async () => {
    const models = Array.from({ length: 250 }, (_, i) => ({ FNumber: `BU-${i}`, FName: `批量${i}` }));
    const r1 = await run('batch-upsert', { formId: 'BD_Customer', models });
    assert.deepEqual([r1.created, r1.updated], [250, 0]);
    const before = await calls();
    const r2 = await run('batch-upsert', {
      formId: 'BD_Customer',
      models: models.map((m) => ({ ...m, FTEL: '2' })),
      audit: true,
    });
    assert.deepEqual([r2.created, r2.updated], [0, 250]);
    const after = await calls();
    assert.equal(after.BatchSave - before.BatchSave, 3, 'batches of 100');
    assert.equal((await f.admin('records/BD_Customer/BU-7')).FDocumentStatus, 'C');
    await assert.rejects(
      run('batch-upsert', {
        formId: 'BD_Customer',
        models: [{ FNumber: 'BU-X1', FName: 'ok' }, { FNumber: 'BU-X2' }],
      }),
      (e: unknown) =>
        e instanceof QiaoError &&
        e.errorClass === 'permanent' &&
        e.partner?.field === 'FName' &&
        /1 of 2 failed/.test(e.message),
    );
    assert.equal((await f.admin('records/BD_Customer/BU-X1')).FName, 'ok', 'the good package is saved');
  });

  it('submit / audit / unaudit / delete skip what is already done', async () => {
    await f.admin('records/BD_Customer', {
      model: { FNumber: 'ST-1', FName: '状态', FCreateOrgId: { FNumber: '100' } },
    });
    const audited = await run('audit', { formId: 'BD_Customer', numbers: ['ST-1'] });
    assert.deepEqual(
      audited.done.map((d: any) => d.number),
      ['ST-1'],
    );
    const again = await run('audit', { formId: 'BD_Customer', numbers: ['ST-1'] });
    assert.deepEqual(
      again.alreadyDone.map((d: any) => d.number),
      ['ST-1'],
    );
    assert.equal((await run('submit', { formId: 'BD_Customer', numbers: ['ST-1'] })).done.length, 0);
    assert.equal((await run('unaudit', { formId: 'BD_Customer', numbers: ['ST-1'] })).done.length, 1);
    assert.equal((await run('unaudit', { formId: 'BD_Customer', numbers: ['ST-1'] })).done.length, 0);
    assert.equal((await run('delete', { formId: 'BD_Customer', numbers: ['ST-1'] })).done.length, 1);
    assert.deepEqual((await run('delete', { formId: 'BD_Customer', numbers: ['ST-1'] })).notFound, ['ST-1']);
    await assert.rejects(
      run('audit', { formId: 'BD_Customer', numbers: ['ST-1'] }),
      (e: unknown) => e instanceof QiaoError && e.partner?.code === 10,
    );
  });

  it('push: a second push finds the target already made', async () => {
    const first = await run('push', {
      formId: 'AR_receivable',
      numbers: ['AR00000001'],
      targetFormId: 'AR_RECEIVEBILL',
      ruleId: 'AR_ReceivableToReceiveBill',
    });
    assert.equal(first.pushed, 1);
    const receipt = first.targets[0];
    assert.match(receipt.number, /^SKD/);
    const again = await run('push', {
      formId: 'AR_receivable',
      numbers: ['AR00000001'],
      targetFormId: 'AR_RECEIVEBILL',
      ruleId: 'AR_ReceivableToReceiveBill',
    });
    assert.deepEqual([again.pushed, again.alreadyPushed], [0, 1]);
    assert.equal(again.targets[0].id, receipt.id);
    const r = await f.admin(`records/AR_RECEIVEBILL/${receipt.number}`);
    assert.equal(r.FCONTACTUNIT, 'C0001');
    assert.equal(r.FRECEIVEAMOUNTFOR_H, 356_000);
    await assert.rejects(
      run('push', {
        formId: 'SAL_SaleOrder',
        numbers: ['XSDD000003'],
        targetFormId: 'SAL_OUTSTOCK',
        enableDefaultRule: true,
      }),
      (e: unknown) =>
        e instanceof QiaoError && e.errorClass === 'permanent' && /未审核/.test(e.partner?.message ?? ''),
    );
  });

  it('query pages through everything in a stable order, up to maxRows', async () => {
    const all = await run('query', {
      formId: 'BD_Customer',
      fields: 'FNumber,FName',
      filter: "FNumber like 'BU-%'",
      maxRows: 100_000,
    });
    assert.equal(all.count, 251);
    assert.equal(all.truncated, false);
    const some = await run('query', {
      formId: 'BD_Customer',
      fields: ['FNumber'],
      filter: "FNumber like 'BU-%'",
      maxRows: 10,
    });
    assert.deepEqual([some.count, some.truncated], [10, true]);
  });

  it('view and operation (Forbid / Enable)', async () => {
    const v = await run('view', { formId: 'BD_MATERIAL', number: 'M0004' });
    assert.equal(v.record.Name[0].Value, 'AGV搬运车');
    assert.equal(v.documentStatus, 'C');
    await run('operation', { formId: 'BD_MATERIAL', opNumber: 'Forbid', numbers: ['M0004'] });
    assert.equal((await f.admin('records/BD_MATERIAL/M0004')).FForbidStatus, 'B');
    await run('operation', { formId: 'BD_MATERIAL', opNumber: 'Enable', numbers: ['M0004'] });
    assert.equal((await f.admin('records/BD_MATERIAL/M0004')).FForbidStatus, 'A');
  });

  it('fieldsOf names the form and its fields in the schema’s spelling', () => {
    const a = f.connector.actions.upsert;
    assert.deepEqual(
      a.fieldsOf?.({ formId: 'bd_material', model: { fnumber: 'x', FName: 'y', F_Custom: 1 } }),
      {
        object: 'BD_MATERIAL',
        fields: ['FNumber', 'FName', 'F_Custom'],
      },
    );
  });
});
