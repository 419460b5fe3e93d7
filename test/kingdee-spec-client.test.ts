/**
 * A client written from shared/specs/kingdee-k3cloud.md only — a few lines of `fetch`, nothing from
 * Qiao's connector — exercises the sandbox's login, the signature headers (with the spec's own worked
 * example, byte for byte), Save / Submit / Audit and ExecuteBillQuery, and gets exactly the spec's
 * shapes back.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type KingdeeSandbox, startKingdeeSandbox } from '../src/sandbox/kingdee/index.ts';

// Spec 3.5 "Worked example" credentials.
const EXAMPLE = {
  appId: '200001_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
  appSecret: '0123456789abcdef0123456789abcdef',
  acctId: '65a1b2c3d4e5f6',
  userName: 'apiuser',
};
const FORMS = 'Kingdee.BOS.WebApi.ServicesStub.DynamicFormService';
const AUTH = 'Kingdee.BOS.WebApi.ServicesStub.AuthService';

describe('a client written from the spec alone', () => {
  let sb: KingdeeSandbox;
  let password: string;
  let cookie = '';
  // Spec 1.1: POST {serverUrl}{Namespace}.{ServiceClass}.{Method}.common.kdsvc
  const post = async (service: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${sb.baseUrl}${service}.common.kdsvc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(cookie ? { Cookie: cookie } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.status, cookies: res.headers.getSetCookie(), json: JSON.parse(await res.text()) };
  };

  before(async () => {
    sb = await startKingdeeSandbox({
      tenant: {
        acctId: EXAMPLE.acctId,
        apiUser: EXAMPLE.userName,
        appId: EXAMPLE.appId,
        appSecret: EXAMPLE.appSecret,
      },
    });
    password = String(sb.credentials.password);
  });
  after(() => sb.close());

  it('ValidateUser: LoginResultType 1, KDSVCSessionId, both cookies (spec 3.1)', async () => {
    const r = await post(`${AUTH}.ValidateUser`, {
      parameters: [EXAMPLE.acctId, EXAMPLE.userName, password, 2052],
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.LoginResultType, 1);
    assert.equal(r.json.MessageCode, 'CheckPasswordPolicy');
    assert.equal(r.json.IsSuccessByAPI, true);
    assert.equal(r.json.Context.DBid, EXAMPLE.acctId);
    assert.equal(r.json.Context.UserName, EXAMPLE.userName);
    assert.equal(typeof r.json.KDSVCSessionId, 'string');
    const names = r.cookies.map((c) => c.split('=')[0]);
    assert.deepEqual(names.sort(), ['ASP.NET_SessionId', 'kdservice-sessionid']);
    assert.ok(r.cookies.some((c) => c.startsWith(`kdservice-sessionid=${r.json.KDSVCSessionId}`)));
    // Spec 3.4: send all cookies back, as the SDKs build them.
    cookie = ['Theme=standard', ...r.cookies.map((c) => c.split(';')[0])].join('; ');
  });

  it('ValidateUser with a wrong password: LoginResultType 0 and 用户名或密码错误 (spec 3.2)', async () => {
    const r = await post(`${AUTH}.ValidateUser`, {
      acctID: EXAMPLE.acctId,
      username: EXAMPLE.userName,
      password: 'nope',
      lcid: 2052,
    });
    assert.equal(r.json.LoginResultType, 0);
    assert.match(r.json.Message, /用户名或密码错误/);
    const dc = await post(`${AUTH}.ValidateUser`, {
      parameters: ['00000000000000', EXAMPLE.userName, password, 2052],
    });
    assert.equal(dc.json.LoginResultType, -1);
    assert.match(dc.json.Message, /数据中心无法获取到/);
  });

  it('Save, Submit, Audit a sales order and get the captured envelopes (spec 4.1, 4.2)', async () => {
    const model = {
      FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
      FDate: '2025-03-01',
      FSaleOrgId: { FNumber: '100' },
      FCustId: { FNumber: 'C0001' },
      FSalerId: { FNumber: 'E0003' },
      FSaleOrderFinance: {
        FSettleCurrId: { FNumber: 'PRE001' },
        FExchangeTypeId: { FNumber: 'HLTX01_SYS' },
        FIsIncludedTax: true,
      },
      FSaleOrderEntry: [
        {
          FMaterialId: { FNumber: 'M0005' },
          FUnitID: { FNumber: 'Pcs' },
          FQty: 10,
          FTaxPrice: 113,
          FEntryTaxRate: 13,
          FDeliveryDate: '2025-03-10',
          FSettleOrgIds: { FNumber: '100' },
        },
      ],
    };
    // Spec 2.1: positional, data as a JSON string.
    const saved = await post(`${FORMS}.Save`, {
      parameters: ['SAL_SaleOrder', JSON.stringify({ NeedReturnFields: ['FBillNo'], Model: model })],
    });
    const { Id, Number: No } = saved.json.Result;
    assert.equal(typeof Id, 'number');
    assert.match(No, /^XSDD\d{6}$/);
    assert.deepEqual(saved.json, {
      Result: {
        ResponseStatus: {
          IsSuccess: true,
          Errors: [],
          SuccessEntitys: [{ Id, Number: No, DIndex: 0 }],
          SuccessMessages: [],
          MsgCode: 0,
        },
        Id,
        Number: No,
        NeedReturnData: [{ FBillNo: No }],
      },
    });
    const ok = {
      Result: {
        ResponseStatus: {
          IsSuccess: true,
          Errors: [],
          SuccessEntitys: [{ Id, Number: No, DIndex: 0 }],
          SuccessMessages: [],
          MsgCode: 0,
        },
      },
    };
    const submit = await post(`${FORMS}.Submit`, {
      parameters: ['SAL_SaleOrder', JSON.stringify({ CreateOrgId: 0, Numbers: [No], Ids: '' })],
    });
    assert.deepEqual(submit.json, ok);
    const audit = await post(`${FORMS}.Audit`, {
      parameters: ['SAL_SaleOrder', JSON.stringify({ CreateOrgId: 0, Numbers: [], Ids: String(Id) })],
    });
    assert.deepEqual(audit.json, ok);
    const again = await post(`${FORMS}.Audit`, {
      parameters: ['SAL_SaleOrder', JSON.stringify({ CreateOrgId: 0, Numbers: [No], Ids: '' })],
    });
    assert.deepEqual(again.json, {
      Result: {
        ResponseStatus: {
          ErrorCode: 500,
          IsSuccess: false,
          Errors: [{ FieldName: '', Message: `单据编号为“${No}”的销售订单，单据已经审核！`, DIndex: 0 }],
          SuccessEntitys: [],
          SuccessMessages: [],
          MsgCode: 11,
        },
      },
    });
    // A required base-data reference that does not resolve (spec 4.1 failure example).
    const bad = await post(`${FORMS}.Save`, {
      parameters: [
        'SAL_SaleOrder',
        JSON.stringify({ Model: { ...model, FCustId: { FNumber: 'CUST9999' } } }),
      ],
    });
    assert.deepEqual(bad.json, {
      Result: {
        ResponseStatus: {
          ErrorCode: 500,
          IsSuccess: false,
          Errors: [{ FieldName: 'FCustId', Message: '字段“客户”是必填项', DIndex: 0 }],
          SuccessEntitys: [],
          SuccessMessages: [],
          MsgCode: 11,
        },
        Id: '',
        Number: '',
        NeedReturnData: [{}],
      },
    });
  });

  it('ExecuteBillQuery: arrays in FieldKeys order; a wrong key inside [[…]] (spec 4.4)', async () => {
    // The single parameter may be a JSON object (Postman collection).
    const rows = await post(`${FORMS}.ExecuteBillQuery`, {
      parameters: [
        {
          FormId: 'SAL_SaleOrder',
          FieldKeys: 'FID,FBillNo,FDate,FCustId.FNumber,FQty,FAllAmount',
          FilterString: "FDocumentStatus = 'C' AND FCustId.FNumber = 'C0001' AND FDate >= '2025-03-01'",
          OrderString: 'FID ASC',
          TopRowCount: 0,
          StartRow: 0,
          Limit: 2000,
        },
      ],
    });
    assert.ok(Array.isArray(rows.json));
    const row = rows.json[0];
    assert.equal(row.length, 6);
    assert.equal(typeof row[0], 'number');
    assert.match(row[1], /^XSDD\d{6}$/);
    assert.equal(row[2], '2025-03-01T00:00:00');
    assert.equal(row[3], 'C0001');
    assert.equal(row[4], 10);
    assert.equal(row[5], 1130);
    const wrong = await post(`${FORMS}.ExecuteBillQuery`, {
      parameters: [JSON.stringify({ FormId: 'SAL_SaleOrder', FieldKeys: 'FFoo' })],
    });
    assert.deepEqual(wrong.json, [
      [
        {
          Result: {
            ResponseStatus: {
              ErrorCode: 500,
              IsSuccess: false,
              Errors: [{ FieldName: null, Message: '元数据中标识为FFoo的字段不存在', DIndex: 0 }],
              SuccessEntitys: [],
              SuccessMessages: [],
              MsgCode: 9,
            },
          },
        },
      ],
    ]);
    // BillQuery: objects keyed by the requested key text.
    const objects = await post(`${FORMS}.BillQuery`, {
      data: { FormId: 'BD_Customer', FieldKeys: 'FNumber,FName', FilterString: "FNumber = 'C0001'" },
    });
    assert.deepEqual(objects.json, [{ FNumber: 'C0001', FName: '苏州华锐精密机械有限公司' }]);
  });

  it('without a session: the session-lost envelope, wrapped for queries (spec 3.4, 9.3)', async () => {
    const saved = cookie;
    cookie = '';
    try {
      const lost = {
        Result: {
          ResponseStatus: {
            ErrorCode: 500,
            IsSuccess: false,
            Errors: [{ FieldName: null, Message: '会话信息已丢失，请重新登录', DIndex: 0 }],
            SuccessEntitys: [],
            SuccessMessages: [],
            MsgCode: 1,
          },
        },
      };
      assert.deepEqual(
        (await post(`${FORMS}.View`, { parameters: ['BD_Customer', '{"Number":"C0001"}'] })).json,
        { ...lost, Result: { ...lost.Result, Result: null } },
      );
      assert.deepEqual(
        (
          await post(`${FORMS}.ExecuteBillQuery`, {
            parameters: ['{"FormId":"BD_Customer","FieldKeys":"FID"}'],
          })
        ).json,
        [[lost]],
      );
    } finally {
      cookie = saved;
    }
  });

  it("signature headers: the spec's worked example verbatim is accepted (spec 3.5)", async () => {
    const admin = async (path: string, body: unknown) =>
      fetch(`${sb.urls.admin}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
    await admin('clock', { freeze: 1_700_000_000_000 });
    const saved = cookie;
    cookie = '';
    try {
      const headers = {
        'X-Api-ClientID': '200001',
        'X-Api-Auth-Version': '2.0',
        'x-api-timestamp': '1700000000',
        'x-api-nonce': '1700000000',
        'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
        'X-Api-Signature':
          'N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==',
        'X-Kd-Appkey': EXAMPLE.appId,
        'X-Kd-Appdata': 'NjVhMWIyYzNkNGU1ZjYsYXBpdXNlciwyMDUyLDEwMA==',
        'X-Kd-Signature':
          'YWUwYTA1ODI0OGQ1ZWNjY2JiOWYwZWZhNjhmMTYxNmNhMDRmMjIxMDQ0ZGQzN2NiNWM4ZThlODdjZGJjNWMzOA==',
      };
      const q = {
        parameters: [
          JSON.stringify({ FormId: 'BD_Currency', FieldKeys: 'FNumber', FilterString: "FNUMBER = 'PRE001'" }),
        ],
      };
      const r = await post(`${FORMS}.ExecuteBillQuery`, q, headers);
      assert.deepEqual(r.json, [['PRE001']]);
      assert.ok(
        r.cookies.some((c) => c.startsWith('kdservice-sessionid=')),
        'the server answers with a session cookie',
      );
      // The same headers computed here from the spec's steps match the example.
      const hmacB64 = (msg: string, key: string) =>
        Buffer.from(createHmac('sha256', key).update(msg).digest('hex')).toString('base64');
      const key = Buffer.from('0054f397c6234378b09ca7d3e5debce7');
      const clientSec = Buffer.from(
        Buffer.from('AAECAwQFBgcICQoLDA0ODxAREhMUFRYX', 'base64').map((b, i) => b ^ key[i]),
      ).toString('base64');
      assert.equal(clientSec, 'MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk');
      const path = encodeURIComponent(`/k3cloud/${FORMS}.ExecuteBillQuery.common.kdsvc`);
      assert.equal(
        hmacB64(`POST\n${path}\n\nx-api-nonce:1700000000\nx-api-timestamp:1700000000\n`, clientSec),
        headers['X-Api-Signature'],
      );
      // One wrong byte is refused.
      const tampered = await post(`${FORMS}.ExecuteBillQuery`, q, {
        ...headers,
        'X-Kd-Signature': headers['X-Kd-Signature'].replace('YW', 'ZW'),
      });
      assert.equal(tampered.json[0][0].Result.ResponseStatus.IsSuccess, false);
      // LoginBySign with the same inputs (spec 3.3).
      const login = await post(`${AUTH}.LoginBySign`, {
        parameters: [
          EXAMPLE.acctId,
          EXAMPLE.userName,
          EXAMPLE.appId,
          '1700000000',
          'c8462dcc84d2c530525c787efb2399308d752d3e233b4c853e521e7ff57613bd',
          2052,
        ],
      });
      assert.equal(login.json.LoginResultType, 1);
      assert.equal(typeof login.json.KDSVCSessionId, 'string');
    } finally {
      cookie = saved;
      await admin('clock', { freeze: null });
    }
  });

  it('the other body encodings: named Python-SDK form, parameters as a string, legacy envelope (spec 2)', async () => {
    const named = await post(`${FORMS}.View`, { formid: 'BD_MATERIAL', data: { Number: 'M0001' } });
    assert.equal(named.json.Result.ResponseStatus, null);
    assert.equal(named.json.Result.Result.Number, 'M0001');
    assert.deepEqual(named.json.Result.Result.Name, [{ Key: 2052, Value: '六轴工业机器人' }]);
    const asString = await post(`${FORMS}.ExecuteBillQuery`, {
      parameters: JSON.stringify([
        { FormId: 'BD_Material', FieldKeys: 'FNumber', FilterString: "FNumber like 'M000%'", Limit: 3 },
      ]),
    });
    assert.deepEqual(asString.json, [['M0001'], ['M0002'], ['M0003']]);
    const legacy = await post(`${FORMS}.ExecuteBillQuery`, {
      format: 1,
      useragent: 'ApiClient',
      rid: '123456',
      parameters: JSON.stringify([
        JSON.stringify({ FormId: 'BD_UNIT', FieldKeys: 'FNumber', FilterString: "FNumber = 'Set'" }),
      ]),
      timestamp: '2025-03-01',
      v: '1.0',
    });
    assert.deepEqual(legacy.json, [['Set']]);
    // Lower-case method and the K3Cloud spelling both route (spec 1.1, 9.1).
    const res = await fetch(
      `${sb.baseUrl.replace('/k3cloud/', '/K3Cloud/')}${FORMS}.executebillquery.common.kdsvc`,
      {
        method: 'POST',
        headers: { Cookie: cookie },
        body: JSON.stringify({
          parameters: ['{"FormId":"BD_UNIT","FieldKeys":"FNumber","FilterString":"FNumber = \'Day\'"}'],
        }),
      },
    );
    assert.deepEqual(await res.json(), [['Day']]);
  });
});
