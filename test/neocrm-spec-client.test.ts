/**
 * A client written from shared/specs/neocrm.md (beside the repository) alone — plain fetch, none of Qiao's code — gets
 * exactly the spec's shapes from the sandbox: URLs, parameter encodings, envelopes and the type of
 * `code` per family, id forms, the scroll locator placement.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from '../src/sandbox/neocrm/index.ts';

const V2_ENVELOPE = ['code', 'data', 'debugInfo', 'errorInfo', 'msg'];

describe('neocrm: a spec-only client', () => {
  let sb: NeocrmSandboxHandle;
  let api: string;
  let auth: Record<string, string>;
  before(async () => {
    sb = await startNeocrmSandbox();
  });
  after(() => sb.close());

  const c = () => sb.credentials as Record<string, string>;
  const get = async (path: string) => {
    const res = await fetch(`${api}${path}`, { headers: auth });
    return { status: res.status, text: await res.text() };
  };
  const send = async (
    method: string,
    path: string,
    body: string,
    type: string,
    extra: Record<string, string> = {},
  ) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { ...auth, 'content-type': type, ...extra },
      body,
    });
    return { status: res.status, text: await res.text() };
  };

  it('2.4: password grant on /auc/oauth2/token, then data calls on https?:// + instance_uri', async () => {
    const res = await fetch(`${sb.baseUrl}/auc/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body:
        `grant_type=password&client_id=${c().clientId}&client_secret=${c().clientSecret}` +
        `&redirect_uri=${encodeURIComponent(c().redirectUri)}&username=${encodeURIComponent(c().username)}` +
        `&password=${encodeURIComponent(c().password + c().securityToken)}`,
    });
    const body = await res.json();
    assert.equal(res.status, 200);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(typeof body.expires_in, 'number');
    assert.match(body.instance_uri, /^[^/:]+(:\d+)?$/, 'a bare host');
    api = `http://${body.instance_uri}`;
    // xsy-criteria: 10 runs calls with administrator data permission (spec 2.5); the integration user is an admin.
    auth = { authorization: `Bearer ${body.access_token}`, 'xsy-criteria': '10' };
  });

  let createdId = '';

  it('4.1: create returns {"code":"200","msg":null,"errorInfo":null,"data":{"id":<number>}}', async () => {
    // Business-type ids exceed 2^53 no more than any id may: read them from the text, exactly.
    const raw = (await get('/rest/data/v2.0/xobjects/account/busiType')).text;
    const exactType = /"records":\[\{"id":(\d+)/.exec(raw)![1];
    const r = await send(
      'POST',
      '/rest/data/v2.0/xobjects/account',
      `{"data": {"accountName": "示例科技有限公司", "entityType": ${exactType}, "phone": "010-12345678", "fState": 1, "fCity": 101}}`,
      'application/json',
    );
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.deepEqual(Object.keys(body).sort(), V2_ENVELOPE);
    assert.equal(body.code, '200');
    assert.equal(body.msg, null);
    assert.equal(body.errorInfo, null);
    const m = /^\{"code":"200","msg":null,"errorInfo":null,"debugInfo":null,"data":\{"id":(\d{16})\}\}$/.exec(
      r.text,
    );
    assert.ok(m, r.text);
    createdId = m[1];
  });

  it('4.2: get returns the flat record with ms timestamps', async () => {
    const r = await get(`/rest/data/v2.0/xobjects/account/${createdId}`);
    const body = JSON.parse(r.text);
    assert.equal(body.code, '200');
    for (const k of [
      'id',
      'accountName',
      'entityType',
      'ownerId',
      'dimDepart',
      'lockStatus',
      'createdAt',
      'createdBy',
      'updatedAt',
      'updatedBy',
    ]) {
      assert.ok(k in body.data, k);
    }
    assert.match(r.text, new RegExp(`"id":${createdId}[,}]`), 'the id is an exact JSON number');
    assert.ok(Number.isInteger(body.data.createdAt) && body.data.createdAt > 1_600_000_000_000);
  });

  it('4.3/4.4: PATCH with {"data":{…}} and DELETE answer code "200"', async () => {
    const u = await send(
      'PATCH',
      `/rest/data/v2.0/xobjects/account/${createdId}`,
      '{"data": {"phone": "010-87654321"}}',
      'application/json',
    );
    assert.equal(JSON.parse(u.text).code, '200');
    const d = await fetch(`${api}/rest/data/v2.0/xobjects/account/${createdId}`, {
      method: 'DELETE',
      headers: auth,
    });
    const body = await d.json();
    assert.equal(body.code, '200');
    assert.equal(body.msg, null);
  });

  it('4.5: batch with xsy-execmode returns per-item code/msg/data.id', async () => {
    const account = /"id":(\d+)/.exec(
      (await get(`/rest/data/v2/query?q=${encodeURIComponent('select id from account limit 0,1')}`)).text,
    )![1];
    const type = /"records":\[\{"id":(\d+)/.exec(
      (await get('/rest/data/v2.0/xobjects/contact/busiType')).text,
    )![1];
    const r = await send(
      'POST',
      '/rest/data/v2.0/xobjects/contact/batch',
      `{"batchData": [ {"data": {"contactName": "张三", "accountId": ${account}, "entityType": ${type}}}, {"data": {"contactName": "李四", "accountId": ${account}, "entityType": ${type}}} ]}`,
      'application/json',
      { 'xsy-execmode': 'continue' },
    );
    const body = JSON.parse(r.text);
    const items = body.data?.batchData ?? body.batchData;
    assert.equal(items.length, 2);
    for (const item of items) {
      assert.equal(item.code, '200');
      assert.ok('msg' in item);
      assert.ok(item.data.id);
    }
  });

  it('4.6/4.7: describe and busiType', async () => {
    const d = JSON.parse((await get('/rest/data/v2.0/xobjects/account/description')).text);
    assert.equal(d.code, '200');
    const f = d.data.fields.find((x: any) => x.apiKey === 'accountName');
    for (const k of [
      'apiKey',
      'label',
      'type',
      'itemType',
      'defaultValue',
      'enabled',
      'required',
      'createable',
      'updateable',
      'sortable',
      'minLength',
      'maxLength',
      'unique',
      'encrypt',
      'dependentPropertyName',
    ]) {
      assert.ok(k in f, k);
    }
    const level = d.data.fields.find((x: any) => x.apiKey === 'level');
    assert.ok(Array.isArray(level.selectitem) && Number.isInteger(level.selectitem[0].value));
    const bt = JSON.parse((await get('/rest/data/v2.0/xobjects/account/busiType')).text);
    assert.equal(bt.code, '200');
    assert.equal(bt.data.totalSize, bt.data.records.length);
  });

  it('4.8: the metadata object list', async () => {
    const r = JSON.parse((await get('/rest/metadata/v2.0/xobjects/filter?active=true&custom=false')).text);
    assert.ok(['200', 200, '0', 0].includes(r.code));
    assert.ok(r.data.records.some((o: any) => o.apiKey === 'account'));
  });

  it('4.10: the spec\'s query v2 URL answers {"code":200,"msg":"操作成功","result":{totalSize,count,records}}', async () => {
    const r = await get(
      '/rest/data/v2/query?q=select%20id%2CaccountName%2CupdatedAt%20from%20account%20where%20updatedAt%20%3E%3D%201732200000000%20order%20by%20id%20asc%20limit%200%2C100',
    );
    const body = JSON.parse(r.text);
    assert.deepEqual(Object.keys(body).sort(), ['code', 'msg', 'result']);
    assert.equal(body.code, 200, 'a number here, not a string');
    assert.equal(body.msg, '操作成功');
    assert.deepEqual(Object.keys(body.result).sort(), ['count', 'records', 'totalSize']);
    assert.deepEqual(Object.keys(body.result.records[0]), ['id', 'accountName', 'updatedAt']);
    assert.match(r.text, /"records":\[\{"id":\d{16},/);
  });

  it("4.11: the spec's XOQL statement answers dotted keys and string ids", async () => {
    const r = await send(
      'POST',
      '/rest/data/v2.0/query/xoql',
      'xoql=select id, accountName, ownerId.name, dimDepart.departName from account where updatedAt >= 1732200000000 limit 0,100',
      'application/x-www-form-urlencoded',
    );
    const body = JSON.parse(r.text);
    assert.deepEqual(Object.keys(body).sort(), V2_ENVELOPE);
    assert.equal(body.code, '200');
    assert.ok(body.data.totalSize >= 10 && body.data.count === body.data.records.length);
    const row = body.data.records[0];
    assert.deepEqual(Object.keys(row), ['id', 'accountName', 'ownerId.name', 'dimDepart.departName']);
    assert.match(row.id, /^\d{16}$/);
    assert.equal(typeof row['ownerId.name'], 'string');
  });

  it('4.12: xoqlScroll returns a top-level queryLocator, empty on the last batch', async () => {
    let locator = '';
    let rows = 0;
    let calls = 0;
    do {
      const r = await send(
        'POST',
        '/rest/data/v2.0/query/xoqlScroll',
        `xoql=${encodeURIComponent('select id, accountName, updatedAt from account where updatedAt >= 1732200000000')}&batchCount=4&queryLocator=${encodeURIComponent(locator)}`,
        'application/x-www-form-urlencoded',
      );
      const body = JSON.parse(r.text);
      assert.equal(body.code, '200');
      assert.equal(typeof body.queryLocator, 'string');
      rows += body.data.records.length;
      locator = body.queryLocator;
      calls++;
    } while (locator);
    assert.ok(rows >= 10);
    assert.equal(calls, Math.ceil(rows / 4));
  });

  it('4.16: bulk job creation answers {"code":200,"result":{"id":"…"}}', async () => {
    const r = await send(
      'POST',
      '/rest/bulk/v2/job',
      '{"data": {"operation": "insert", "object": "account", "execOption": ["CHECK_RULE", "CHECK_DUPLICATE"]}}',
      'application/json',
    );
    const body = JSON.parse(r.text);
    assert.equal(body.code, 200);
    assert.match(body.result.id, /^\d{16}$/);
  });

  it('2.7: a bad token is refused (HTTP 401)', async () => {
    const r = await fetch(`${api}/rest/data/v2.0/xobjects/account/description`, {
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(r.status, 401);
  });
});
