import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from './index.ts';
import { admin, call, login, raw } from './testing.ts';

describe('neocrm sandbox: admin surface and faults', () => {
  let sb: NeocrmSandboxHandle;
  let token: string;
  before(async () => {
    sb = await startNeocrmSandbox();
    token = await login(sb);
  });
  after(() => sb.close());

  it('is seeded with the shared company: users above 2^53, customers with credit ratings', async () => {
    const state = await admin(sb, '/state');
    assert.equal(state.counts.account, 10);
    assert.equal(state.counts.user, 13);
    assert.equal(state.counts.department, 6);
    assert.ok(
      state.counts.opportunity >= 20 && state.counts.contract >= 10 && state.counts.paymentApplication >= 10,
    );
    const users = (await admin(sb, '/records/user')).records;
    const zhang = users.find((u: any) => u.employeeCode === 'E0003');
    assert.equal(zhang.name, '张伟');
    assert.equal(zhang.id, '9007199254743993');
    const hr = (await admin(sb, '/records/account')).records.find((a: any) => a.erpNumber__c === 'C0001');
    assert.equal(hr.accountName, '苏州华锐精密机械有限公司');
    assert.equal(hr.creditRating__c, 1, 'AAA');
    assert.equal(hr.ownerId, zhang.id);
  });

  it('acts as a salesperson: create a customer, win an opportunity, create a contract', async () => {
    const c = await admin(sb, '/act/create-customer', {
      as: 'E0004',
      accountName: '南京金陵自动化有限公司',
      creditRating__c: 2,
    });
    assert.equal(c.ownerId, '9007199254744993');
    const opps = (await admin(sb, '/records/opportunity')).records.filter((o: any) => o.status === 1);
    const won = await admin(sb, '/act/win-opportunity', { id: opps[0].id, as: 'E0003' });
    assert.equal(won.status, 2);
    assert.equal(won.saleStageId, 5);
    assert.ok(won.updatedAt > opps[0].updatedAt);
    const contract = await admin(sb, '/act/create-contract', { opportunityId: won.id, as: 'E0003' });
    assert.equal(contract.opportunityId, won.id);
    assert.equal(contract.amount, won.money);
    assert.equal(contract.status, 2, 'submitted for approval (审批中)');
    // With a product (by its code, the Kingdee material number) and a quantity: the contract's line.
    const robots = await admin(sb, '/act/create-contract', {
      accountId: c.id,
      amount: 294_000,
      product: 'M0002',
      quantity: 3,
    });
    const product = (await admin(sb, '/records/product')).records.find(
      (p: any) => p.productCode__c === 'M0002',
    );
    assert.equal(robots.product__c, product.id);
    assert.equal(robots.quantity__c, 3);
    const lost = await admin(sb, '/act/lose-opportunity', { id: opps[1].id });
    assert.equal(lost.status, 3);
  });

  it('edits, touches and generates records', async () => {
    const acc = (await admin(sb, '/records/account?limit=1')).records[0];
    const edited = await admin(
      sb,
      `/records/account/${acc.id}`,
      { as: 'E0003', data: { phone: '0512-1' } },
      'PATCH',
    );
    assert.equal(edited.phone, '0512-1');
    const at = 1_800_000_000_000;
    const touched = await admin(sb, '/records/account/touch', { count: 3, at });
    assert.ok(touched.touched.every((t: any) => t.updatedAt === at));
    const gen = await admin(sb, '/records/lead/generate', { count: 3, at, prefix: 'g' });
    assert.equal(gen.count, 3);
    assert.equal((await admin(sb, `/records/lead/${gen.ids[0]}`)).updatedAt, at);
  });

  it('generic faults: the next call fails with 502, then heals', async () => {
    await admin(sb, '/faults', { failNext: 1 });
    const r = await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType');
    assert.equal(r.status, 502);
    assert.equal((await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status, 200);
  });

  it('rate limiting: a ban with Retry-After, and a token bucket', async () => {
    await admin(sb, '/partner-faults', { rateLimited: { retryAfterSeconds: 30 } });
    const banned = await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType');
    assert.equal(banned.status, 429);
    assert.equal(banned.headers.get('retry-after'), '30');
    assert.equal(banned.json.code, '429');
    await admin(sb, '/partner-faults', undefined, 'DELETE');
    await admin(sb, '/clock', { frozen: true });
    try {
      await admin(sb, '/partner-faults', { rateLimit: { perSecond: 2, burst: 3 } });
      const statuses = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      await admin(sb, '/clock', { advanceMs: 1000 });
      assert.equal((await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status, 200);
    } finally {
      await admin(sb, '/partner-faults', undefined, 'DELETE');
      await admin(sb, '/clock', { frozen: false });
    }
  });

  it('failing writes (e.g. a duplicate-check failure)', async () => {
    await admin(sb, '/partner-faults', { failWrites: { count: 1 } });
    const type = sb.tenant.meta.get('lead')!.busiTypes[0].id;
    const r = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/lead', {
      data: { name: '查重', entityType: type },
    });
    assert.match(r.json.msg, /查重/);
    const ok = await call(sb, token, 'POST', '/rest/data/v2.0/xobjects/lead', {
      data: { name: '查重', entityType: type },
    });
    assert.equal(ok.json.code, '200');
  });

  it('legacy v1 endpoints only behind the flag, with the v1 error body', async () => {
    const q = new URLSearchParams({ q: 'select id,accountName from account limit 0,300' });
    assert.equal((await call(sb, token, 'POST', '/data/v1/query', q)).status, 404);
    await admin(sb, '/config', { legacy: true });
    try {
      const r = await call(sb, token, 'POST', '/data/v1/query', q);
      assert.equal(r.status, 200);
      assert.deepEqual(Object.keys(r.json).sort(), ['count', 'records', 'totalSize']);
      const bad = await raw(`${sb.baseUrl}/data/v1/query`, {
        method: 'POST',
        headers: { authorization: 'nope' },
        body: q,
      });
      assert.deepEqual(bad.json, { error_code: 20000002, message: 'invalid access token' });
      const docs = await call(sb, token, 'GET', '/data/v1/objects/document/list?belongId=1&dataId=1');
      assert.deepEqual(docs.json, { totalSize: 0, count: 0, record: [] });
    } finally {
      await admin(sb, '/config', { legacy: false });
    }
  });

  it('reset restores the seed; two sandboxes run side by side', async () => {
    const other = await startNeocrmSandbox({ seed: 7 });
    try {
      assert.notEqual(other.baseUrl, sb.baseUrl);
      assert.notEqual(other.tenant.tenantId, sb.tenant.tenantId);
      const t2 = await login(other);
      assert.equal(
        (await call(sb, t2, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status,
        401,
        'tokens are per sandbox',
      );
    } finally {
      await other.close();
    }
    await admin(sb, '/reset', {});
    const state = await admin(sb, '/state');
    assert.equal(state.counts.account, 10);
    assert.equal(state.tokens, 0);
  });
});
