/**
 * The Kingdee sandbox over real HTTP: auth, sessions, the status machine, Save options, queries,
 * Push, faults and the admin surface. (The spec's exact shapes are also checked from a client written
 * from the spec alone: test/kingdee-spec-client.test.ts.)
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type KingdeeSandbox, startKingdeeSandbox } from './index.ts';
import { signNotification } from './notify.ts';

const FORMS = 'Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.';
const AUTH = 'Kingdee.BOS.WebApi.ServicesStub.AuthService.';

interface Kd {
  sb: KingdeeSandbox;
  cookie: string;
  call(method: string, ...params: unknown[]): Promise<any>;
  raw(
    service: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json?: any }>;
  admin(path: string, body?: unknown, method?: string): Promise<any>;
  login(user?: string, password?: string): Promise<any>;
}

async function kd(sb: KingdeeSandbox): Promise<Kd> {
  const c = sb.credentials as Record<string, string>;
  const k: Kd = {
    sb,
    cookie: '',
    async raw(service, body, headers = {}) {
      const res = await fetch(`${sb.baseUrl}${service}.common.kdsvc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: k.cookie, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {}
      return { status: res.status, text, json };
    },
    async call(method, ...params) {
      const body = { parameters: params.map((p) => (typeof p === 'object' ? JSON.stringify(p) : p)) };
      return (await k.raw(`${FORMS}${method}`, body)).json;
    },
    async admin(path, body, method) {
      const res = await fetch(`${sb.urls.admin}${path}`, {
        method: method ?? (body === undefined ? 'GET' : 'POST'),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return res.json();
    },
    async login(user = c.username, password = c.password) {
      const res = await fetch(`${sb.baseUrl}${AUTH}ValidateUser.common.kdsvc`, {
        method: 'POST',
        body: JSON.stringify({ parameters: [c.acctId, user, password, 2052] }),
      });
      const json = await res.json();
      if (json.LoginResultType === 1)
        k.cookie = res.headers
          .getSetCookie()
          .map((s) => s.split(';')[0])
          .join('; ');
      return json;
    },
  };
  await k.login();
  return k;
}

const order = (extra: Record<string, unknown> = {}) => ({
  Model: {
    FCustId: { FNumber: 'C0003' },
    FSalerId: { FNumber: 'E0004' },
    FSaleOrderEntry: [
      { FMaterialId: { FNumber: 'M0002' }, FQty: 2, FTaxPrice: 98_000 },
      { FMaterialId: { FNumber: 'M0007' }, FQty: 5, FTaxPrice: 2_000 },
    ],
    ...extra,
  },
});

describe('kingdee sandbox', () => {
  let k: Kd;
  before(async () => {
    k = await kd(await startKingdeeSandbox());
  });
  after(() => k.sb.close());

  describe('auth', () => {
    it('locks a user after five wrong passwords, and unlocks from the admin surface', async () => {
      const c = k.sb.credentials as Record<string, string>;
      const other = await kd(k.sb);
      for (let i = 0; i < 5; i++) assert.equal((await other.login(c.username, 'wrong')).LoginResultType, 0);
      const locked = await other.login();
      assert.equal(locked.LoginResultType, -1);
      assert.match(locked.Message, /锁定/);
      await k.admin(`users/${c.username}`, { locked: false });
      assert.equal((await other.login()).LoginResultType, 1);
    });

    it('refuses users not allowed to call the WebAPI, and forced LoginResultTypes', async () => {
      const other = await kd(k.sb);
      const r = await other.login('杨帆', '888888');
      assert.equal(r.LoginResultType, -1);
      assert.match(r.Message, /未指定允许调用WebAPI接口/);
      await k.admin('users/杨帆', { webApiAllowed: true, loginResultType: -3 });
      assert.equal((await other.login('杨帆', '888888')).LoginResultType, -3);
      await k.admin('users/杨帆', { loginResultType: null });
      assert.equal((await other.login('杨帆', '888888')).LoginResultType, 1);
    });

    it('takes the session from the kdservice-sessionid or SID header as well as the cookie', async () => {
      const sid = /kdservice-sessionid=([^;]+)/.exec(k.cookie)![1];
      const q = {
        parameters: ['{"FormId":"BD_Currency","FieldKeys":"FNumber","FilterString":"FNumber = \'PRE001\'"}'],
      };
      for (const headers of [{ 'kdservice-sessionid': sid }, { SID: sid }] as Record<string, string>[]) {
        const res = await fetch(`${k.sb.baseUrl}${FORMS}ExecuteBillQuery.common.kdsvc`, {
          method: 'POST',
          headers,
          body: JSON.stringify(q),
        });
        assert.deepEqual(await res.json(), [['PRE001']]);
      }
    });

    it('loses idle sessions and revoked sessions with MsgCode 1', async () => {
      const other = await kd(k.sb);
      await k.admin('options', { sessionIdleMs: 1 });
      await k.admin('clock', { shiftMs: 10 });
      const lost = await other.call('View', 'BD_Customer', { Number: 'C0001' });
      assert.equal(lost.Result.ResponseStatus.MsgCode, 1);
      await k.admin('options', { sessionIdleMs: 20 * 60_000 });
      await k.admin('clock', { shiftMs: -10 });
      await other.login();
      await k.admin('partner-faults', { sessionLossNext: 1 });
      assert.equal(
        (await other.call('View', 'BD_Customer', { Number: 'C0001' })).Result.ResponseStatus.MsgCode,
        1,
      );
      assert.equal(
        (await other.call('View', 'BD_Customer', { Number: 'C0001' })).Result.ResponseStatus.MsgCode,
        1,
        'the session is gone',
      );
      await k.login();
    });
  });

  describe('documents', () => {
    it('moves FDocumentStatus Z → A → B → C → D and refuses wrong transitions with K/3 messages', async () => {
      const drafted = await k.call('Draft', 'SAL_SaleOrder', { Model: { FNote: '暂存' } });
      assert.equal(drafted.Result.ResponseStatus.IsSuccess, true, 'Draft skips required fields');
      const id = drafted.Result.Id;
      assert.equal(drafted.Result.Number, '', '暂存的单据是没有编码的');
      const submitDraft = await k.call('Submit', 'SAL_SaleOrder', { Ids: String(id) });
      assert.match(submitDraft.Result.ResponseStatus.Errors[0].Message, /暂存/);
      const saved = await k.call('Save', 'SAL_SaleOrder', order({ FID: id }));
      assert.equal(saved.Result.Id, id);
      const status = async () => (await k.admin(`records/SAL_SaleOrder/${id}`)).FDocumentStatus;
      assert.equal(await status(), 'A');
      const notSubmitted = await k.call('Audit', 'SAL_SaleOrder', { Ids: String(id) });
      assert.match(notSubmitted.Result.ResponseStatus.Errors[0].Message, /未提交，不能审核/);
      assert.equal(
        (await k.call('UnAudit', 'SAL_SaleOrder', { Ids: String(id) })).Result.ResponseStatus.MsgCode,
        11,
      );
      await k.call('Submit', 'SAL_SaleOrder', { Ids: String(id) });
      assert.equal(await status(), 'B');
      const edit = await k.call('Save', 'SAL_SaleOrder', order({ FID: id, FNote: 'x' }));
      assert.equal(edit.Result.ResponseStatus.MsgCode, 12);
      assert.match(edit.Result.ResponseStatus.Errors[0].Message, /正在审核中，不允许修改/);
      await k.call('Audit', 'SAL_SaleOrder', { Ids: [String(id)] });
      const rec = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.equal(rec.FDocumentStatus, 'C');
      assert.ok(rec.FApproveDate, 'FApproveDate set on audit');
      assert.match(
        (await k.call('Delete', 'SAL_SaleOrder', { Ids: String(id) })).Result.ResponseStatus.Errors[0]
          .Message,
        /已经审核，不允许删除/,
      );
      await k.call('UnAudit', 'SAL_SaleOrder', { Ids: String(id) });
      const un = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.equal(un.FDocumentStatus, 'D');
      assert.equal(un.FApproveDate, null);
      const del = await k.call('Delete', 'SAL_SaleOrder', { Ids: String(id) });
      assert.equal(del.Result.ResponseStatus.IsSuccess, true);
      const gone = await k.call('Delete', 'SAL_SaleOrder', { Ids: String(id) });
      assert.equal(gone.Result.ResponseStatus.MsgCode, 10);
    });

    it('computes amounts, keeps entry ids, honours NeedUpDateFields and IsDeleteEntry', async () => {
      const saved = await k.call('Save', 'SAL_SaleOrder', {
        ...order(),
        NeedReturnFields: ['FBillNo', 'FSaleOrderEntry.FEntryID'],
      });
      const id = saved.Result.Id;
      const rec = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.equal(rec.FBillAllAmount, 206_000);
      assert.equal(rec.FSaleOrderEntry[0].FAllAmount, 196_000);
      assert.equal(rec.FSaleOrderEntry[0].FPriceUnitId, 'Pcs', 'defaults from the material');
      const [e1, e2] = saved.Result.NeedReturnData[0].FSaleOrderEntry.map(
        (r: { FEntryID: number }) => r.FEntryID,
      );
      const modify0 = rec.FModifyDate;
      await k.admin('clock', { shiftMs: 1000 });
      // Only FNote changes; FCustId in the package is ignored.
      await k.call('Save', 'SAL_SaleOrder', {
        NeedUpDateFields: ['FNote'],
        Model: { FID: id, FNote: '只改备注', FCustId: { FNumber: 'C0001' } },
      });
      let now = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.equal(now.FNote, '只改备注');
      assert.equal(now.FCustId, 'C0003');
      assert.ok(now.FModifyDate > modify0, 'FModifyDate moves on every save');
      // IsDeleteEntry false keeps the rows not in the package.
      await k.call('Save', 'SAL_SaleOrder', {
        IsDeleteEntry: false,
        Model: { FID: id, FSaleOrderEntry: [{ FEntryID: e1, FQty: 3 }] },
      });
      now = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.deepEqual(
        now.FSaleOrderEntry.map((r: any) => [r.FEntryID, r.FQty]),
        [
          [e1, 3],
          [e2, 5],
        ],
      );
      // The default (true) drops them.
      await k.call('Save', 'SAL_SaleOrder', {
        Model: { FID: id, FSaleOrderEntry: [{ FEntryID: e2, FQty: 6 }] },
      });
      now = await k.admin(`records/SAL_SaleOrder/${id}`);
      assert.deepEqual(
        now.FSaleOrderEntry.map((r: any) => [r.FEntryID, r.FQty]),
        [[e2, 6]],
      );
      await k.admin('clock', { shiftMs: -1000 });
    });

    it('refuses a duplicate number and unresolved or unaudited base data', async () => {
      const dup = await k.call('Save', 'BD_Customer', {
        Model: { FNumber: 'c0001', FName: '重复', FCreateOrgId: { FNumber: '100' } },
      });
      assert.equal(dup.Result.ResponseStatus.MsgCode, 11);
      assert.equal(dup.Result.ResponseStatus.Errors[0].FieldName, 'FNumber');
      assert.equal(
        dup.Result.ResponseStatus.Errors[0].Message,
        '违反字段唯一性要求：编码唯一。[c0001]在当前系统中已经被使用。',
      );
      // A customer saved but not audited cannot be referenced yet.
      await k.call('Save', 'BD_Customer', {
        Model: { FNumber: 'NEW-1', FName: '新客户', FCreateOrgId: { FNumber: '100' } },
      });
      const early = await k.call('Save', 'SAL_SaleOrder', order({ FCustId: { FNumber: 'NEW-1' } }));
      assert.equal(early.Result.ResponseStatus.Errors[0].FieldName, 'FCustId');
      await k.call('Submit', 'BD_Customer', { Numbers: ['NEW-1'] });
      await k.call('Audit', 'BD_Customer', { Numbers: ['NEW-1'] });
      assert.equal(
        (await k.call('Save', 'SAL_SaleOrder', order({ FCustId: { FNumber: 'NEW-1' } }))).Result
          .ResponseStatus.IsSuccess,
        true,
      );
      // An entry-level required reference.
      const line = await k.call(
        'Save',
        'SAL_SaleOrder',
        order({ FSaleOrderEntry: [{ FMaterialId: { FNumber: 'NOPE' }, FQty: 1 }] }),
      );
      assert.deepEqual(line.Result.ResponseStatus.Errors[0], {
        FieldName: 'FMaterialId',
        Message: '单据体实体【明细信息】第【1】行分录，【物料编码】字段必录',
        DIndex: 0,
      });
      // Reference keys vary by template: FSTAFFNUMBER, FNAME, FID.
      const exp = await k.call('Save', 'ER_ExpReimbursement', {
        Model: {
          FProposerID: { FSTAFFNUMBER: 'E0005' },
          FRequestDeptID: { FNAME: '销售部' },
          FCausa: '客户拜访交通费',
          FEntity: [
            { FExpID: { FNumber: 'FYXM02' }, FTaxSubmitAmt: 86.5, F_QH_Project: { FNumber: 'PRJ002' } },
          ],
        },
      });
      assert.equal(exp.Result.ResponseStatus.IsSuccess, true);
      const er = await k.admin(`records/ER_ExpReimbursement/${exp.Result.Id}`);
      assert.equal(er.FProposerID, 'E0005');
      assert.equal(er.FCONTACTUNIT, 'E0005', 'the contact unit defaults to the proposer (BD_Empinfo)');
      assert.equal(er.FReqReimbAmount, 86.5);
    });

    it('IsAutoSubmitAndAudit on Save audits at once; Forbid makes base data unusable', async () => {
      const r = await k.call('Save', 'BD_Customer', {
        IsAutoSubmitAndAudit: 'true',
        Model: { FNumber: 'AUTO-1', FName: '自动审核客户', FCreateOrgId: { FNumber: '100' } },
      });
      const rec = await k.admin(`records/BD_Customer/${r.Result.Id}`);
      assert.equal(rec.FDocumentStatus, 'C');
      assert.ok(rec.FApproveDate);
      await k.call('ExcuteOperation', 'BD_Customer', 'Forbid', { Numbers: ['AUTO-1'] });
      const refused = await k.call('Save', 'SAL_SaleOrder', order({ FCustId: { FNumber: 'AUTO-1' } }));
      assert.equal(
        refused.Result.ResponseStatus.Errors[0].FieldName,
        'FCustId',
        'a forbidden customer cannot be used',
      );
    });

    it('BatchSave: one result per package by DIndex, a failure does not stop the others', async () => {
      const r = await k.call('BatchSave', 'BD_Customer', {
        Model: [
          { FNumber: 'B-1', FName: '批一', FCreateOrgId: { FNumber: '100' } },
          { FNumber: 'B-2' },
          { FNumber: 'B-3', FName: '批三', FCreateOrgId: { FNumber: '100' } },
        ],
      });
      const s = r.Result.ResponseStatus;
      assert.equal(s.IsSuccess, false);
      assert.deepEqual(
        s.SuccessEntitys.map((e: any) => [e.Number, e.DIndex]),
        [
          ['B-1', 0],
          ['B-3', 2],
        ],
      );
      assert.deepEqual(s.Errors, [{ FieldName: 'FName', Message: '字段“客户名称”是必填项', DIndex: 1 }]);
    });

    it('View: property names, references as {Id, Number, Name}, entries by entity name; missing → MsgCode 10', async () => {
      const v = await k.call('View', 'SAL_SaleOrder', { Number: 'XSDD000001' });
      const r = v.Result.Result;
      assert.equal(v.Result.ResponseStatus, null);
      assert.equal(r.BillNo, 'XSDD000001');
      assert.equal(r.DocumentStatus, 'C');
      assert.deepEqual(r.CustId.Number, 'C0001');
      assert.deepEqual(r.CustId.Name, [{ Key: 2052, Value: '苏州华锐精密机械有限公司' }]);
      assert.equal(r.SaleOrderEntry.length, 2);
      assert.equal(r.SaleOrderEntry[0].MaterialId.Number, 'M0001');
      assert.equal(r.SaleOrderFinance[0].SettleCurrId.Number, 'PRE001');
      const cust = (await k.call('View', 'BD_Customer', { Number: 'C0001' })).Result.Result;
      assert.equal(cust.TEL, cust.MOBILE);
      assert.equal(cust.CustTypeId.FNumber, 'KHLB001_SYS', 'assistant data as {Id, FNumber, FDataValue}');
      const missing = await k.call('View', 'BD_Customer', { Number: 'NOPE' });
      assert.equal(missing.Result.ResponseStatus.MsgCode, 10);
      assert.equal(missing.Result.Result, null);
    });
  });

  describe('queries', () => {
    it('pages with StartRow/Limit, caps Limit, orders, flattens entries', async () => {
      const all = await k.call('ExecuteBillQuery', {
        FormId: 'BD_MATERIAL',
        FieldKeys: 'FNumber',
        OrderString: 'FNumber DESC',
      });
      assert.equal(all[0][0], 'M0008');
      const page = await k.call('ExecuteBillQuery', {
        FormId: 'BD_MATERIAL',
        FieldKeys: 'FNumber',
        OrderString: 'FNumber ASC',
        StartRow: 2,
        Limit: 3,
      });
      assert.deepEqual(page, [['M0003'], ['M0004'], ['M0005']]);
      await k.admin('options', { queryLimitMax: 2 });
      assert.equal(
        (await k.call('ExecuteBillQuery', { FormId: 'BD_MATERIAL', FieldKeys: 'FNumber', Limit: 5 })).length,
        2,
      );
      await k.admin('options', { queryLimitMax: 10_000 });
      const lines = await k.call('ExecuteBillQuery', {
        FormId: 'SAL_SaleOrder',
        FieldKeys:
          'FBillNo,FSaleOrderEntry_FEntryID,FSaleOrderEntry_FSeq,FMaterialId.FNumber,FMaterialId.FName',
        FilterString: "FBillNo = 'XSDD000001'",
      });
      assert.deepEqual(
        lines.map((r: unknown[]) => [r[0], r[2], r[3], r[4]]),
        [
          ['XSDD000001', 1, 'M0001', '六轴工业机器人'],
          ['XSDD000001', 2, 'M0007', '安装调试服务'],
        ],
      );
    });

    it('filters: like, in, or, parentheses, dates, and the array form with Compare codes', async () => {
      const q = async (filter: unknown) =>
        (
          await k.call('ExecuteBillQuery', {
            FormId: 'BD_Customer',
            FieldKeys: 'FNumber',
            FilterString: filter,
            OrderString: 'FNumber',
          })
        ).map((r: string[]) => r[0]);
      assert.deepEqual(
        await q("FNumber like 'C00%' and (FName like '%汽车%' or FSELLER.FNumber = 'E0012')"),
        ['C0003', 'C0007', 'C0010'],
      );
      assert.deepEqual(
        await q(
          "FNumber in ('C0002','C0004') AND FModifyDate >= '2025-01-02' AND FModifyDate < '2025-01-03 00:00:00'",
        ),
        ['C0002', 'C0004'],
      );
      assert.deepEqual(
        await q([
          { Left: '(', FieldName: 'FNumber', Compare: '67', Value: 'C0005', Right: '', Logic: 1 },
          { Left: '', FieldName: 'FNumber', Compare: '=', Value: 'C0006', Right: ')', Logic: 0 },
          { Left: '', FieldName: 'FDocumentStatus', Compare: '105', Value: 'C', Right: '', Logic: 0 },
        ]),
        ['C0005', 'C0006'],
      );
      const bad = await k.call('ExecuteBillQuery', {
        FormId: 'BD_Customer',
        FieldKeys: 'FNumber',
        FilterString: 'FNumber = ',
      });
      assert.equal(bad[0][0].Result.ResponseStatus.IsSuccess, false);
      const unknownForm = await k.call('ExecuteBillQuery', { FormId: 'BD_Nope', FieldKeys: 'FID' });
      assert.match(unknownForm[0][0].Result.ResponseStatus.Errors[0].Message, /业务对象不存在/);
    });
  });

  describe('push', () => {
    it('pushes an audited order to a delivery notice, refuses an unaudited one', async () => {
      const r = await k.call('Push', 'SAL_SaleOrder', {
        Numbers: ['XSDD000002'],
        RuleId: 'SaleOrder-DeliveryNotice',
      });
      assert.equal(r.Result.ConvertResponseStatus.IsSuccess, true);
      const target = r.Result.ResponseStatus.SuccessEntitys[0];
      assert.match(target.Number, /^FHTZD/);
      const dn = await k.admin(`records/SAL_DELIVERYNOTICE/${target.Id}`);
      assert.equal(dn.FDocumentStatus, 'A', 'saved, not audited');
      assert.equal(dn.FCustomerID, 'C0002');
      assert.equal(dn.FEntity[0].FSrcBillNo, 'XSDD000002');
      const unaudited = await k.call('Push', 'SAL_SaleOrder', {
        Numbers: ['XSDD000003'],
        TargetFormId: 'SAL_OUTSTOCK',
        IsEnableDefaultRule: true,
      });
      assert.equal(unaudited.Result.ConvertResponseStatus.IsSuccess, false);
      assert.match(unaudited.Result.ConvertResponseStatus.Errors[0].Message, /未审核/);
    });
  });

  describe('faults and admin', () => {
    it('answers MsgCode 14 over the rate budget and response_error: bodies on demand', async () => {
      await k.admin('partner-faults', { ratePerSecond: 3 });
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await k.call('View', 'BD_Customer', { Number: 'C0001' });
        codes.push(r.Result.ResponseStatus?.MsgCode ?? 0);
      }
      await k.admin('partner-faults', undefined, 'DELETE');
      assert.ok(codes.includes(14), `some calls were refused (${codes})`);
      assert.equal(codes[0], 0);
      await k.admin('partner-faults', { responseErrorNext: 1 });
      const r = await k.raw(`${FORMS}View`, { parameters: ['BD_Customer', '{"Number":"C0001"}'] });
      assert.equal(r.status, 200);
      assert.match(r.text, /^response_error:\{"Message":/);
    });

    it('async query mode completes at once and serves QueryAsyncResult (spec 3.6)', async () => {
      const r = await k.raw(`${FORMS}BatchSave`, {
        parameters: [
          'BD_Customer',
          JSON.stringify({
            Model: [{ FNumber: 'ASYNC-1', FName: '异步', FCreateOrgId: { FNumber: '100' } }],
          }),
        ],
        beginmethod: 'BeginQueryImpl',
        querymethod: 'QueryAsyncResult',
      });
      assert.equal(r.json.Status, 2);
      assert.equal(r.json.Result.Result.ResponseStatus.IsSuccess, true);
      const again = await k.raw(`${FORMS}QueryAsyncResult`, {
        queryInfo: JSON.stringify({ TaskId: r.json.TaskId, Cancelled: false }),
      });
      assert.equal(again.json.TaskId, r.json.TaskId);
    });

    it('people act in the client: edit a customer, audit a receipt, pay a payable', async () => {
      const edited = await k.admin('records/BD_Customer/C0002/edit', {
        user: '李娜',
        fields: { FTEL: '0574-87650000' },
      });
      assert.equal(edited.FTEL, '0574-87650000');
      assert.equal(edited.FDocumentStatus, 'C');
      const receipt = await k.admin('records/AR_RECEIVEBILL', {
        user: '赵敏',
        model: {
          FCONTACTUNIT: { FNumber: 'C0002' },
          FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 50_000 }],
        },
      });
      await k.admin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/submit`, { user: '赵敏' });
      const audited = await k.admin(`records/AR_RECEIVEBILL/${receipt.FBillNo}/audit`, { user: '杨帆' });
      assert.equal(audited.FDocumentStatus, 'C');
      assert.equal(audited.FApproverId, 'E0006', 'audited by 杨帆 (user number = staff number)');
      const paid = await k.admin('records/AP_Payable/AP00000001/pay', { user: '赵敏' });
      assert.equal(paid.payBill.FDocumentStatus, 'C');
      assert.equal(paid.payBill.FCONTACTUNIT, 'VEN0001');
      assert.equal(paid.payBill.FPAYBILLSRCENTRY[0].FSRCBILLNO, 'AP00000001');
      const er = await k.admin('records/ER_ExpReimbursement/FYBX000001/pay', {});
      assert.equal(er.source.FPayedAmount, 1280);
    });

    it('sends signed change notifications to a hub URL, with drop and duplicate faults', async () => {
      const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
      const hub = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
          body += c;
        });
        req.on('end', () => {
          got.push({ headers: req.headers, body });
          res.end('{"ok":true}');
        });
      });
      await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(hub.address() as AddressInfo).port}/hooks/kingdee/erp`;
        await k.admin('notify', { url, forms: ['AR_RECEIVEBILL'], operations: ['Audit'] });
        const make = async () => {
          const r = await k.admin('records/AR_RECEIVEBILL', {
            model: {
              FCONTACTUNIT: { FNumber: 'C0001' },
              FRECEIVEBILLENTRY: [{ FSETTLETYPEID: { FNumber: 'JSFS04_SYS' }, FRECTOTALAMOUNTFOR: 1 }],
            },
            status: 'C',
          });
          await k.admin('notify/flush', {});
          return r.FBillNo as string;
        };
        const no = await make();
        assert.equal(got.length, 1);
        const body = JSON.parse(got[0].body);
        assert.equal(body.number, no);
        assert.equal(body.operation, 'Audit');
        assert.equal(body.documentStatus, 'C');
        const secret = String(k.sb.credentials.pushSecret);
        assert.equal(
          got[0].headers['x-qiao-signature'],
          signNotification(secret, String(got[0].headers['x-qiao-timestamp']), got[0].body),
        );
        await k.admin('notify', { dropNext: 1 });
        await make();
        assert.equal(got.length, 1, 'dropped');
        await k.admin('notify', { duplicateNext: 1 });
        await make();
        assert.equal(got.length, 3, 'delivered twice');
        assert.equal(
          JSON.parse(got[1].body).eventId,
          JSON.parse(got[2].body).eventId,
          'a duplicate has the same eventId',
        );
      } finally {
        await k.admin('notify', undefined, 'DELETE');
        hub.close();
      }
    });
  });
});
