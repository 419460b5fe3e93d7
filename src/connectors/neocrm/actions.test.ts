import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionResult } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { employeeByStaffNumber } from '../../sandbox/common/company.ts';
import { INTEGRATION_USER } from '../../sandbox/neocrm/index.ts';
import { testActionContext } from '../conformance.ts';
import { createNeocrmConnector } from './index.ts';
import { neocrmSettings } from './settings.ts';
import { type NeocrmFixture, startNeocrmFixture } from './testing.ts';

describe('neocrm actions', () => {
  let f: NeocrmFixture;
  let run: (
    action: string,
    input: Record<string, unknown>,
    links?: Map<string, string>,
    attempt?: number,
  ) => Promise<ActionResult>;
  before(async () => {
    f = await startNeocrmFixture();
    run = async (action, input, links, attempt = 1) => {
      const a = f.connector.actions[action];
      return a.run(a.input.parse(input), {
        ...testActionContext(`k-${action}-${Math.random()}`, links),
        attempt,
      });
    };
  });
  after(() => f.close());

  const accountOf = async (name: string) =>
    (await f.admin('/records/account?limit=100000')).records.find((r: any) => r.accountName === name);

  it('create fills entityType with the default business type and returns the id as a string', async () => {
    const out = (
      await run('create', {
        object: 'account',
        data: { accountName: '嘉兴新创机电有限公司', phone: '0573-82000001' },
      })
    ).output as { id: string; created: boolean };
    assert.equal(out.created, true);
    assert.match(out.id, /^\d{16}$/);
    const stored = await f.admin(`/records/account/${out.id}`);
    assert.equal(stored.entityType, f.sandbox.tenant.meta.get('account')!.busiTypes[0].id);
    assert.equal(stored.ownerId, INTEGRATION_USER.id, "ownerId defaults to the token's user");
  });

  it('64-bit ids survive a round trip unchanged (ids above 2^53)', async () => {
    const account = await accountOf('苏州华锐精密机械有限公司');
    assert.ok(BigInt(account.id) > 2n ** 53n);
    const owner = employeeByStaffNumber('E0003')!.neocrmUserId; // 张伟: above 2^53
    assert.ok(BigInt(owner) > 2n ** 53n);
    const created = (
      await run('create', {
        object: 'contact',
        data: { contactName: '钱多多', accountId: account.id, ownerId: owner, mobile: '13900000000' },
      })
    ).output as { id: string };
    assert.ok(BigInt(created.id) > 2n ** 53n);
    const got = (await run('get', { object: 'contact', id: created.id })).output as Record<string, unknown>;
    assert.equal(got.id, created.id);
    assert.equal(got.accountId, account.id, 'reference read back exactly');
    assert.equal(got.ownerId, owner);
    assert.equal(got.createdBy, INTEGRATION_USER.id);
    assert.equal(typeof got.createdAt, 'number');
    // and written back unchanged
    await run('update', {
      object: 'contact',
      id: created.id,
      data: { accountId: got.accountId, post: '总经理' },
    });
    const stored = await f.admin(`/records/contact/${created.id}`);
    assert.equal(stored.accountId, account.id);
    assert.equal(stored.post, '总经理');
  });

  it("a validation error is permanent with Neocrm's own message and field", async () => {
    await assert.rejects(
      run('create', { object: 'account', data: { accountName: '评级错误公司', creditRating__c: 9 } }),
      (err: unknown) => {
        assert.ok(err instanceof QiaoError);
        assert.equal(err.errorClass, 'permanent');
        assert.equal(err.fault, 'user');
        assert.equal(err.partner?.message, '字段[信用等级(creditRating__c)]的选项值[9]不存在');
        assert.equal(err.partner?.field, 'creditRating__c');
        assert.equal(err.partner?.code, '400');
        return true;
      },
    );
    await assert.rejects(
      run('create', { object: 'account', data: { phone: '1' } }),
      /必填字段\[客户名称\(accountName\)\]不能为空/,
    );
    await assert.rejects(
      run('create', { object: 'account', data: { accountName: 'x', noSuchField: 1 } }),
      /字段\[noSuchField\]不存在/,
    );
  });

  it('create with unique finds the existing record instead of creating a second', async () => {
    const input = {
      object: 'account',
      unique: 'taxNumber__c',
      data: { accountName: '温州瓯海阀门有限公司', taxNumber__c: '91330304MA2XX0001Q' },
    };
    const a = (await run('create', input)).output as { id: string; created: boolean };
    const b = (await run('create', input)).output as { id: string; created: boolean };
    assert.equal(b.id, a.id);
    assert.equal(b.created, false);
  });

  it('upsert by id link updates the linked record; by unique field; else creates', async () => {
    const created = (
      await run('upsert', {
        object: 'account',
        unique: 'accountName',
        data: { accountName: '台州椒江模具有限公司' },
      })
    ).output as { id: string; created: boolean };
    assert.equal(created.created, true);
    const links = new Map([['account:kingdee:BD_Customer:C9001', created.id]]);
    const viaLink = await run(
      'upsert',
      { object: 'account', link: 'kingdee:BD_Customer:C9001', data: { phone: '0576-88001234' } },
      links,
    );
    assert.deepEqual(viaLink.output, { id: created.id, created: false });
    assert.deepEqual(viaLink.links, [{ object: 'account', id: created.id }]);
    const viaUnique = await run('upsert', {
      object: 'account',
      unique: 'accountName',
      data: { accountName: '台州椒江模具有限公司', fax: '0576-1' },
    });
    assert.deepEqual(viaUnique.output, { id: created.id, created: false });
    const stored = await f.admin(`/records/account/${created.id}`);
    assert.equal(stored.phone, '0576-88001234');
    assert.equal(stored.fax, '0576-1');
  });

  it('upsert recreates when the linked record was deleted in the CRM', async () => {
    const a = (await run('create', { object: 'lead', data: { name: '林一', companyName: '临时公司' } }))
      .output as { id: string };
    await f.admin(`/records/lead/${a.id}`, undefined, 'DELETE');
    const links = new Map([['lead:src:1', a.id]]);
    const out = (await run('upsert', { object: 'lead', link: 'src:1', data: { name: '林一' } }, links))
      .output as { id: string; created: boolean };
    assert.equal(out.created, true);
    assert.notEqual(out.id, a.id);
  });

  it('upsert refuses to guess when the unique field matches two records', async () => {
    await run('create', { object: 'lead', data: { name: '重名', companyName: 'A' } });
    await run('create', { object: 'lead', data: { name: '重名', companyName: 'B' } });
    await assert.rejects(
      run('upsert', { object: 'lead', unique: 'name', data: { name: '重名' } }),
      (err: unknown) => {
        assert.ok(err instanceof QiaoError && err.errorClass === 'permanent');
        return true;
      },
    );
  });

  it('delete is idempotent on a retry only', async () => {
    const a = (await run('create', { object: 'lead', data: { name: '待删除' } })).output as { id: string };
    assert.deepEqual((await run('delete', { object: 'lead', id: a.id })).output, { id: a.id, deleted: true });
    await assert.rejects(
      run('delete', { object: 'lead', id: a.id }),
      (err: unknown) => err instanceof QiaoError && err.errorClass === 'permanent',
    );
    const again = await run('delete', { object: 'lead', id: a.id }, undefined, 2);
    assert.deepEqual(again.output, { id: a.id, deleted: false, alreadyGone: true });
  });

  it('batch creates in chunks with per-item results; stop mode halts after a failure', async () => {
    const records = Array.from({ length: 7 }, (_, i) => ({ name: `批量线索${i}`, status: i === 3 ? 99 : 1 }));
    const cont = (await run('batch', { object: 'lead', operation: 'create', records, chunkSize: 3 }))
      .output as any;
    assert.equal(cont.results.length, 7);
    assert.equal(cont.failed, 1);
    assert.equal(cont.results[3].ok, false);
    assert.match(cont.results[3].msg, /选项值\[99\]不存在/);
    assert.ok(cont.results.filter((r: any) => r.ok).every((r: any) => /^\d{16}$/.test(r.id)));

    const stop = (
      await run('batch', {
        object: 'lead',
        operation: 'create',
        records: records.map((r) => ({ ...r, name: `${r.name}-s` })),
        chunkSize: 3,
        execMode: 'stop',
      })
    ).output as any;
    assert.deepEqual(
      stop.results.map((r: any) => r.ok),
      [true, true, true, false, false, false, false],
    );
    assert.equal(stop.results[4].code, '-1');

    const ids = cont.results.filter((r: any) => r.ok).map((r: any) => r.id);
    const upd = (
      await run('batch', {
        object: 'lead',
        operation: 'update',
        records: ids.map((id: string) => ({ id, status: 2 })),
      })
    ).output as any;
    assert.equal(upd.failed, 0);
    assert.equal((await f.admin(`/records/lead/${ids[0]}`)).status, 2);
    const del = (
      await run('batch', { object: 'lead', operation: 'delete', records: ids.map((id: string) => ({ id })) })
    ).output as any;
    assert.equal(del.failed, 0);
  });

  it('batch reads results at the top level too (spec 4.5)', async () => {
    await f.admin('/config', { batchResultPlacement: 'top' });
    try {
      const out = (
        await run('batch', { object: 'lead', operation: 'create', records: [{ name: '顶层结果' }] })
      ).output as any;
      assert.equal(out.succeeded, 1);
    } finally {
      await f.admin('/config', { batchResultPlacement: 'data' });
    }
  });

  it('query: query v2 paged by id, XOQL scrolled, maxRecords honoured', async () => {
    await f.admin('/records/product/generate', { count: 250, prefix: 'qp' });
    const v2 = (await run('query', { q: "select id,productName from product where productName like 'qp%'" }))
      .output as any;
    assert.equal(v2.count, 250);
    assert.equal(v2.totalSize, 250);
    assert.equal(new Set(v2.records.map((r: any) => r.id)).size, 250);
    assert.equal(typeof v2.records[0].id, 'string');
    const xo = (
      await run('query', {
        xoql: "select id, productName, ownerId.name from product where productName like '%qp-%'",
        batchCount: 100,
      })
    ).output as any;
    assert.equal(xo.count, 250);
    assert.equal(xo.records[0]['ownerId.name'], '桥集成账号');
    const capped = (await run('query', { xoql: 'select id from product', maxRecords: 30 })).output as any;
    assert.equal(capped.count, 30);
    assert.equal(capped.truncated, true);
    const one = (await run('query', { q: 'select id from _order limit 0,5' })).output as any;
    assert.equal(one.count, 5);
    assert.ok(one.totalSize >= 10);
  });

  it("a query restriction becomes a permanent error with Neocrm's message", async () => {
    await assert.rejects(
      run('query', { q: "select id from account where accountName like '%华'" }),
      (err: unknown) => {
        assert.ok(err instanceof QiaoError && err.errorClass === 'permanent');
        assert.match(String(err.partner?.message), /后缀通配符/);
        return true;
      },
    );
  });

  it('before describe, custom objects and fields are left to describe, not refused', () => {
    const offline = createNeocrmConnector(
      neocrmSettings.parse({ ...f.settings, objects: ['contract', 'project__c'] }),
      silentLogger,
    );
    const fieldsOf = offline.actions.update.fieldsOf!;
    // A standard object: its standard fields are checked, the tenant's custom ones are not.
    assert.deepEqual(
      fieldsOf({ object: 'contract', id: '1', data: { status: 3, erpOrderNumber__c: 'SO-1' } }),
      { object: 'contract', fields: ['status'] },
    );
    // A custom object is only known by name (declared in `objects`), with the system fields.
    assert.equal(fieldsOf({ object: 'project__c', id: '1', data: { projectCode__c: 'P1' } }), undefined);
    assert.ok(offline.schema.objects.project__c.fields.ownerId);
    assert.equal(offline.schema.objects.customEntity42__c, undefined, 'undeclared objects stay unknown');
  });

  it("describe reads the tenant's real fields, custom ones included, and refreshes", async () => {
    const schema = await f.connector.describe!();
    const account = schema.objects.account;
    assert.equal(account.fields.creditRating__c.type, 'integer');
    assert.deepEqual(
      account.fields.creditRating__c.options?.map((o) => o.label),
      ['AAA', 'AA', 'A', 'B', 'C'],
    );
    assert.equal(account.fields.parentAccountId.type, 'ref');
    assert.equal(account.fields.parentAccountId.ref, 'account');
    assert.equal(account.fields.tags__c.type, 'array');
    assert.equal(account.fields.accountName.required, true);
    assert.equal(account.numberField, 'accountName');
    assert.equal(
      f.connector.schema.objects.account.fields.creditRating__c.type,
      'integer',
      'the connector schema is the described one',
    );
    const fields = f.connector.actions.upsert.fieldsOf!({
      object: 'account',
      data: { accountName: 'x', creditRating__c: 1 },
    });
    assert.deepEqual(fields, { object: 'account', fields: ['accountName', 'creditRating__c'] });
  });
});
