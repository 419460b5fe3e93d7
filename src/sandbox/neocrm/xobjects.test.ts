import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { employeeByStaffNumber } from '../common/company.ts';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from './index.ts';
import { admin, call, login } from './testing.ts';

describe('neocrm sandbox: xobjects', () => {
  let sb: NeocrmSandboxHandle;
  let token: string;
  let accountType: string;
  before(async () => {
    sb = await startNeocrmSandbox();
    token = await login(sb);
    accountType = sb.tenant.meta.get('account')!.busiTypes[0].id;
  });
  after(() => sb.close());

  const create = (object: string, data: string | object, headers?: Record<string, string>) =>
    call(
      sb,
      token,
      'POST',
      `/rest/data/v2.0/xobjects/${object}`,
      typeof data === 'string' ? data : { data },
      headers,
    );
  const idIn = (text: string) => /"id":(\d+)/.exec(text)![1];

  it('create → get → update → delete, ids exact above 2^53, updatedAt moves (spec 4.1–4.4)', async () => {
    const c = await create(
      'account',
      `{"data":{"accountName":"杭州测试科技有限公司","entityType":${accountType},"phone":"0571-1"}}`,
    );
    assert.equal(c.status, 200);
    assert.equal(c.json.code, '200');
    assert.equal(c.json.msg, null);
    const id = idIn(c.text);
    assert.ok(BigInt(id) > 2n ** 53n, 'a 16-digit id above 2^53');
    assert.match(c.text, new RegExp(`"data":\\{"id":${id}\\}`), 'the id is an exact JSON number');
    const g = await call(sb, token, 'GET', `/rest/data/v2.0/xobjects/account/${id}`);
    assert.match(g.text, new RegExp(`"id":${id},`));
    assert.equal(g.json.data.accountName, '杭州测试科技有限公司');
    assert.equal(g.json.data.lockStatus, 1);
    assert.equal(g.json.data.createdAt, g.json.data.updatedAt);
    const before = g.json.data.updatedAt;
    const u = await call(sb, token, 'PATCH', `/rest/data/v2.0/xobjects/account/${id}`, {
      data: { phone: '0571-2', id },
    });
    assert.equal(u.json.code, '200');
    const g2 = await call(sb, token, 'GET', `/rest/data/v2.0/xobjects/account/${id}`);
    assert.equal(g2.json.data.phone, '0571-2');
    assert.ok(g2.json.data.updatedAt > before, 'updatedAt moves on every change');
    const d = await call(sb, token, 'DELETE', `/rest/data/v2.0/xobjects/account/${id}`);
    assert.equal(d.json.code, '200');
    const g3 = await call(sb, token, 'GET', `/rest/data/v2.0/xobjects/account/${id}`);
    assert.equal(g3.status, 404);
    assert.equal(g3.json.code, '404');
    assert.ok(g3.json.msg);
  });

  it('validation failures: code ≠ "200" with a Chinese msg and errorInfo.field (spec 10.5)', async () => {
    const cases: Array<[object, RegExp, string | undefined]> = [
      [{ accountName: '无业务类型公司' }, /业务类型/, 'entityType'],
      [{ entityType: accountType }, /必填字段\[客户名称/, 'accountName'],
      [{ entityType: accountType, accountName: 'a', bogus__c: 1 }, /字段\[bogus__c\]不存在/, 'bogus__c'],
      [{ entityType: accountType, accountName: 'b', level: 9 }, /选项值\[9\]不存在/, 'level'],
      [
        { entityType: accountType, accountName: 'c', employeeNumber: 'many' },
        /值类型不正确/,
        'employeeNumber',
      ],
      [{ entityType: accountType, accountName: 'd', tags__c: 1 }, /值类型不正确/, 'tags__c'],
      [
        { entityType: accountType, accountName: 'e', parentAccountId: '1234567890123456' },
        /关联的数据/,
        'parentAccountId',
      ],
      [
        { entityType: accountType, accountName: '苏州华锐精密机械有限公司' },
        /已存在，不能重复/,
        'accountName',
      ],
      [{ entityType: accountType, accountName: 'f', createdAt: 1 }, /不允许写入/, 'createdAt'],
      [{ entityType: '1', accountName: 'g' }, /业务类型\[1\]不存在/, 'entityType'],
    ];
    for (const [data, msg, field] of cases) {
      const r = await create('account', data);
      assert.equal(r.status, 400, JSON.stringify(data));
      assert.equal(r.json.code, '400');
      assert.match(r.json.msg, msg);
      assert.equal(r.json.errorInfo?.field, field);
      assert.equal(r.json.data, null);
    }
    const unwrapped = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/account', { accountName: 'x' });
    assert.match(unwrapped.json.msg, /\{"data"/, 'the body must be wrapped in data');
  });

  it('errorStatusMode ok answers failures with HTTP 200', async () => {
    await admin(sb, '/config', { errorStatusMode: 'ok' });
    try {
      const r = await create('account', { accountName: 'x' });
      assert.equal(r.status, 200);
      assert.equal(r.json.code, '400');
    } finally {
      await admin(sb, '/config', { errorStatusMode: 'http' });
    }
  });

  it('multi-select values are arrays; references accept strings and exact integers', async () => {
    const parent = (await admin(sb, '/records/account?limit=1')).records[0].id as string;
    const r = await create(
      'account',
      `{"data":{"accountName":"多选测试","entityType":"${accountType}","tags__c":[1,3],"parentAccountId":${parent}}}`,
    );
    assert.equal(r.json.code, '200', r.text);
    const stored = await admin(sb, `/records/account/${idIn(r.text)}`);
    assert.deepEqual(stored.tags__c, [1, 3]);
    assert.equal(stored.parentAccountId, parent);
  });

  it("ownerId defaults to the token user, dimDepart to the owner's department", async () => {
    const zhang = employeeByStaffNumber('E0003')!;
    const r = await create('lead', {
      name: '默认值',
      entityType: sb.tenant.meta.get('lead')!.busiTypes[0].id,
      ownerId: zhang.neocrmUserId,
    });
    const stored = await admin(sb, `/records/lead/${idIn(r.text)}`);
    assert.equal(stored.ownerId, zhang.neocrmUserId);
    const dept = (await admin(sb, `/records/user/${zhang.neocrmUserId}`)).dimDepart;
    assert.equal(stored.dimDepart, dept);
    assert.equal(stored.createdBy, '9007199254749001');
  });

  it('owner-based visibility: xsy-criteria: 10 lets the admin see everything (spec 2.5)', async () => {
    const sales = (await admin(sb, '/records/account?limit=1')).records[0];
    const path = `/rest/data/v2.0/xobjects/account/${sales.id}`;
    assert.equal((await call(sb, token, 'GET', path)).json.code, '200');
    const hidden = await call(sb, token, 'GET', path, undefined, { 'xsy-criteria': '' });
    assert.equal(hidden.json.code, '403');
    assert.equal(hidden.status, 400, 'never HTTP 403, which clients read as a login failure');
    const q = encodeURIComponent('select id from account limit 0,100');
    const all = await call(sb, token, 'GET', `/rest/data/v2/query?q=${q}`);
    const mine = await call(sb, token, 'GET', `/rest/data/v2/query?q=${q}`, undefined, {
      'xsy-criteria': '',
    });
    assert.ok(all.json.result.totalSize > mine.json.result.totalSize);
  });

  it('batch: per-item results, stop mode, both result placements (spec 4.5)', async () => {
    const type = sb.tenant.meta.get('contact')!.busiTypes[0].id;
    const account = (await admin(sb, '/records/account?limit=1')).records[0].id;
    const items = [
      { data: { contactName: '张三', accountId: account, entityType: type } },
      { data: { contactName: '无客户', entityType: type } },
      { data: { contactName: '李四', accountId: account, entityType: type } },
    ];
    const cont = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/contact/batch', {
      batchData: items,
    });
    assert.equal(cont.json.code, '200');
    assert.deepEqual(
      cont.json.data.batchData.map((r: any) => r.code),
      ['200', '400', '200'],
    );
    assert.match(cont.json.data.batchData[1].msg, /必填字段\[客户/);
    const stop = await call(
      sb,
      token,
      'POST',
      '/rest/data/v2.0/xobjects/contact/batch',
      { batchData: items },
      { 'xsy-execmode': 'stop' },
    );
    assert.deepEqual(
      stop.json.data.batchData.map((r: any) => r.code),
      ['200', '400', '-1'],
    );
    await admin(sb, '/config', { batchResultPlacement: 'top' });
    const top = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/contact/batch', {
      batchData: [items[0]],
    });
    assert.equal(top.json.batchData[0].code, '200');
    await admin(sb, '/config', { batchResultPlacement: 'data' });
    const ids = cont.json.data.batchData
      .filter((r: any) => r.code === '200')
      .map((r: any) => String(r.data.id));
    const ids2 = [...cont.text.matchAll(/"id":(\d+)/g)].map((m) => m[1]);
    assert.equal(ids.length, 2);
    const upd = await call(sb, token, 'PATCH', '/rest/data/v2.0/xobjects/contact/batch', {
      batchData: ids2.map((id) => ({ data: { id, post: '经理' } })),
    });
    assert.deepEqual(
      upd.json.data.batchData.map((r: any) => r.code),
      ['200', '200'],
    );
    const del = await call(sb, token, 'DELETE', '/rest/data/v2.0/xobjects/contact/batch', {
      batchData: ids2.map((id) => ({ data: { id } })),
    });
    assert.deepEqual(
      del.json.data.batchData.map((r: any) => r.code),
      ['200', '200'],
    );
    await admin(sb, '/config', { batchMaxSize: 2 });
    const big = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/contact/batch', { batchData: items });
    assert.match(big.json.msg, /最多2条/);
    await admin(sb, '/config', { batchMaxSize: 200 });
  });

  it('record actions: lock blocks updates, unlock, transfer, release, payment activation (spec 4.9)', async () => {
    const acc = (await admin(sb, '/records/account?limit=2')).records[1];
    const lock = await call(
      sb,
      token,
      'PUT',
      `/rest/data/v2.0/xobjects/account/actions/locks/${acc.id}/lock`,
    );
    assert.equal(lock.json.code, '200');
    const blocked = await call(sb, token, 'PATCH', `/rest/data/v2.0/xobjects/account/${acc.id}`, {
      data: { phone: '1' },
    });
    assert.match(blocked.json.msg, /锁定/);
    await call(sb, token, 'DELETE', `/rest/data/v2.0/xobjects/account/actions/locks/${acc.id}/lock`);
    assert.equal(
      (await call(sb, token, 'PATCH', `/rest/data/v2.0/xobjects/account/${acc.id}`, { data: { phone: '1' } }))
        .json.code,
      '200',
    );
    const lock2 = await call(
      sb,
      token,
      'PUT',
      `/rest/data/v2.0/xobjects/account/actions/locks?recordId=${acc.id}`,
    );
    assert.equal(lock2.json.data.lockStatus, 2);
    await call(sb, token, 'DELETE', `/rest/data/v2.0/xobjects/account/actions/locks?recordId=${acc.id}`);
    const chen = employeeByStaffNumber('E0005')!.neocrmUserId;
    const tr = await call(
      sb,
      token,
      'POST',
      `/rest/data/v2.0/xobjects/account/actions/transfers?recordId=${acc.id}&targetUserId=${chen}`,
    );
    assert.equal(tr.json.code, '200');
    assert.equal((await admin(sb, `/records/account/${acc.id}`)).ownerId, chen);
    const rel = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/account/actions/release', {
      reasonType: 1,
      accountIds: acc.id,
    });
    assert.equal(rel.json.code, '200');
    assert.equal((await admin(sb, `/records/account/${acc.id}`)).highSeaStatus, 2);
    const pay = (await admin(sb, '/records/paymentApplication?limit=1')).records[0];
    await call(
      sb,
      token,
      'PATCH',
      `/rest/data/v2.0/xobjects/paymentApplication/actions/deactivation?dataId=${pay.id}`,
    );
    assert.equal((await admin(sb, `/records/paymentApplication/${pay.id}`)).activationStatus, 1);
    await call(
      sb,
      token,
      'PATCH',
      `/rest/data/v2.0/xobjects/paymentApplication/actions/activation?dataId=${pay.id}`,
    );
    assert.equal((await admin(sb, `/records/paymentApplication/${pay.id}`)).activationStatus, 2);
  });

  it('describe, busiType and the metadata list (spec 4.6–4.8)', async () => {
    const d = await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/description');
    assert.equal(d.json.data.apiKey, 'account');
    assert.equal(d.json.data.label, '客户');
    for (const k of [
      'custom',
      'disabled',
      'createable',
      'updateable',
      'deletable',
      'queryable',
      'feedEnabled',
      'fields',
    ]) {
      assert.ok(k in d.json.data, k);
    }
    const level = d.json.data.fields.find((f: any) => f.apiKey === 'level');
    assert.deepEqual(Object.keys(level.selectitem[0]).sort(), [
      'apiKey',
      'dependentValue',
      'isActive',
      'label',
      'value',
    ]);
    assert.equal(typeof level.selectitem[0].value, 'number');
    assert.deepEqual(d.json.data.fields.find((f: any) => f.apiKey === 'parentAccountId').referTo, {
      apiKey: 'account',
    });
    assert.ok(d.json.data.fields.find((f: any) => f.apiKey === 'tags__c').checkitem.length > 0);
    const older = await call(sb, token, 'GET', '/rest/data/v2/objects/account/description');
    assert.deepEqual(older.json.data, d.json.data);
    const bt = await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/opportunity/busiType');
    assert.equal(bt.json.data.totalSize, 2);
    assert.match(bt.text, /"records":\[\{"id":\d{16},/);
    const std = await call(sb, token, 'GET', '/rest/metadata/v2.0/xobjects/filter?active=true&custom=false');
    assert.ok(std.json.data.records.every((r: any) => r.custom === false));
    const custom = await call(
      sb,
      token,
      'GET',
      '/rest/metadata/v2.0/xobjects/filter?active=true&custom=true',
    );
    assert.deepEqual(
      custom.json.data.records.map((r: any) => r.apiKey),
      ['project__c'],
    );
    const items = await call(sb, token, 'GET', '/rest/metadata/v2.0/xobjects/contract/items');
    assert.ok(items.json.data.records.some((f: any) => f.apiKey === 'erpOrderNumber__c'));
  });

  it('the older /rest/data/v2/objects family has the same semantics (spec 4.14)', async () => {
    const r = await call(sb, token, 'POST', '/rest/data/v2/objects/lead', {
      data: { name: '旧接口', entityType: sb.tenant.meta.get('lead')!.busiTypes[0].id },
    });
    assert.equal(r.json.code, '200');
    const g = await call(sb, token, 'GET', `/rest/data/v2/objects/lead/${idIn(r.text)}`);
    assert.equal(g.json.data.name, '旧接口');
  });

  it('users and departments are read-only through the API', async () => {
    const r = await create('user', { name: 'x', entityType: sb.tenant.meta.get('user')!.busiTypes[0].id });
    assert.equal(r.json.code, '403');
  });

  it('idsAsStrings sends ids as strings on xobjects reads', async () => {
    await admin(sb, '/config', { idsAsStrings: true });
    try {
      const acc = (await admin(sb, '/records/account?limit=1')).records[0];
      const g = await call(sb, token, 'GET', `/rest/data/v2.0/xobjects/account/${acc.id}`);
      assert.equal(g.json.data.id, acc.id);
      assert.equal(typeof g.json.data.ownerId, 'string');
    } finally {
      await admin(sb, '/config', { idsAsStrings: false });
    }
  });
});
