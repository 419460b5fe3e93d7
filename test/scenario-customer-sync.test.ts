/**
 * Scenario 1 end to end (flows/customer-sync-crm-to-erp.yaml and customer-sync-erp-to-crm.yaml, loaded
 * as shipped): a hub with `kingdee`, `neocrm` and `hub` (qiao) connections to the two sandboxes over
 * real HTTP, started and wired by test/support/scenario-hub.ts. Polls are driven by the test (the
 * scheduler is off; `pollOnce` polls as the scheduler does), each followed by the engine draining,
 * until a poll of both systems finds nothing new — a ping-pong would never get there.
 *
 * - the first polls link the ten customers both systems already have, without making any twice;
 * - changes go both ways, a customer made on one side is made on the other once (number rule included);
 * - ownership: a field edited on the side that does not own it is put back, never synced;
 * - echo suppression: 100 changes are 100 writes, and every write coming back is skipped;
 * - a change on both sides waits in the review queue, later changes join it, and the resolution (API,
 *   or CLI then the reconciler) is applied once;
 * - the push path (flows/customer-sync-crm-to-erp-push.yaml, through a `qiao-api` connection to the
 *   hub's own API): a push is one Kingdee write; push then poll of one change is still one write; a
 *   push of Qiao's own CRM write is skipped as an echo; a push the sync cannot use writes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import { CUSTOMERS } from '../src/sandbox/common/company.ts';
import type { RunRow, StepRow } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const TO_ERP = 'customer-sync-crm-to-erp';
const TO_CRM = 'customer-sync-erp-to-crm';
const FLOWS = [TO_ERP, TO_CRM];
const PUSH = 'customer-sync-crm-to-erp-push';
/** The push flow reads its webhook secret from the hub's environment (`${QIAO_NEOCRM_PUSH_SECRET}`). */
const PUSH_SECRET = randomBytes(24).toString('hex');
process.env.QIAO_NEOCRM_PUSH_SECRET = PUSH_SECRET;
const BIN = resolve(import.meta.dirname, '..', 'bin', 'qiao.js');
type Rec = Record<string, any>;

describe('scenario 1: customer-sync (Neocrm account ⇄ Kingdee BD_Customer, both directions)', () => {
  let env: ScenarioHub<'kingdee' | 'neocrm'>;
  let hub: Hub;
  /** Run ids seen so far: "the runs since" a change are the others. */
  const seen = new Set<string>();

  const kdAdmin = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);
  const erpCustomers = async (): Promise<Rec[]> => (await kdAdmin('records/BD_Customer?limit=1000')).records;
  const erpCustomer = async (number: string): Promise<Rec> => {
    const all = (await erpCustomers()).filter((c) => c.FNumber === number);
    assert.equal(all.length, 1, `exactly one Kingdee customer ${number}`);
    return all[0];
  };
  const accounts = async (): Promise<Rec[]> => (await env.crm('/records/account?limit=100000')).records;
  const account = async (erpNumber: string): Promise<Rec> => {
    const all = (await accounts()).filter((a) => a.erpNumber__c === erpNumber);
    assert.equal(all.length, 1, `exactly one Neocrm account with erpNumber__c ${erpNumber}`);
    return all[0];
  };
  /** A salesperson edits an account in the CRM. */
  const crmEdit = (id: string, data: Rec, as = 'E0003') =>
    env.crm(`/records/account/${id}`, { as, data }, 'PATCH');
  /** Someone edits a customer in the K/3 client. */
  const erpEdit = (number: string, fields: Rec, user = '赵敏') =>
    kdAdmin(`records/BD_Customer/${number}/edit`, { fields, user });

  /** One poll of a flow's trigger, stored as the scheduler stores it; the number of new runs. */
  const pollOnce = (flowId: string): Promise<number> => env.pollOnce(flowId);
  /** Polls both systems and lets the runs finish, until a poll brings nothing new. */
  const settle = async (): Promise<void> => {
    for (let round = 0; round < 6; round++) {
      let fresh = 0;
      for (const f of FLOWS) fresh += await pollOnce(f);
      await hub.engine.drain();
      if (fresh === 0) return;
    }
    throw new Error('the two systems never settled: a ping-pong');
  };
  interface Seen {
    run: RunRow;
    steps: Record<string, StepRow>;
  }
  /** The runs of `flows` started since the last call, with their steps by name. */
  const newRuns = async (flows = FLOWS): Promise<Seen[]> => {
    const out: Seen[] = [];
    for (const flowId of flows) {
      for (const run of await hub.store.listRuns({ flowId, limit: 1000 })) {
        if (seen.has(run.id)) continue;
        seen.add(run.id);
        const got = (await hub.store.getRun(run.id))!;
        out.push({ run: got.run, steps: Object.fromEntries(got.steps.map((s) => [s.name, s])) });
      }
    }
    return out;
  };
  const wrote = (r: Seen, step: 'saveErp' | 'saveCrm') => r.steps[step]?.status === 'completed';
  const checkOf = (r: Seen) => r.steps.check?.output as Rec | undefined;
  /** The tenant's Neocrm trigger: posts a changed account to the push flow's hook, with its secret. */
  const push = async (body: Rec, secret?: string): Promise<{ status: number; body: Rec }> => {
    const res = await fetch(`${hub.url}/hooks/http/${PUSH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-qiao-secret': secret ?? PUSH_SECRET,
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Rec };
  };
  /** Kingdee Save calls since the last reset (the sandbox counts every WebAPI call). */
  const kdSaves = async (): Promise<number> => (await kdAdmin('stats')).calls.Save ?? 0;
  const resetKdStats = () => kdAdmin('stats', undefined, 'DELETE');

  before(async () => {
    env = await startScenarioHub({
      name: 'customer-sync',
      systems: ['kingdee', 'neocrm'],
      // The folder `qiao review` finds from `env.dir` (its default data folder is ./.qiao).
      dataSubdir: '.qiao',
      hub: { concurrency: 16, runScheduler: false },
      // The push flow hands each change to the poll flow through the hub's own API (qiao-api).
      own: ['hub', 'qiao-api'],
      flows: [...FLOWS, PUSH],
    });
    hub = env.hub;
  });
  after(async () => {
    await env?.close();
  });

  it('the first polls link the customers both systems already have: each side keeps what it owns, nothing is made twice', async () => {
    await settle();
    const runs = await newRuns();
    assert.ok(runs.length >= 20, 'each system read its ten customers');
    assert.deepEqual(
      runs
        .filter((r) => r.run.status !== 'completed' && r.run.status !== 'filtered')
        .map((r) => r.run.status),
      [],
    );
    assert.equal((await erpCustomers()).length, CUSTOMERS.length, 'no Kingdee customer was made');
    assert.equal((await accounts()).length, CUSTOMERS.length, 'no Neocrm account was made');
    for (const c of CUSTOMERS) {
      const a = await account(c.number);
      const k = await erpCustomer(c.number);
      // The CRM owns contact details: its phone is now Kingdee's; the ERP owns the customer type.
      assert.equal(k.FTEL, a.phone, `${c.number} phone`);
      assert.equal(a.customerType__c, 1, `${c.number} 普通销售客户 → 1`);
      assert.equal(k.FName, c.name);
      assert.equal(a.creditLimit__c, c.creditLimit);
      const state = await hub.store.getSyncState('customer', c.number);
      assert.equal(state?.base.name, c.name);
      assert.deepEqual(state?.ids, { crm: a.id, erp: String(k.id) });
    }
    assert.deepEqual(await hub.store.listReviews({ status: 'open' }), []);
  });

  it('CRM → ERP: a renamed account renames the Kingdee customer; the write coming back is skipped', async () => {
    const a = await account('C0001');
    await crmEdit(a.id, { accountName: '苏州华锐精密机械股份有限公司', shortName__c: '华锐股份' });
    await settle();
    const k = await erpCustomer('C0001');
    assert.equal(k.FName, '苏州华锐精密机械股份有限公司');
    assert.equal(k.FShortName, '华锐股份');
    const runs = await newRuns();
    const toErp = runs.filter((r) => r.run.flowId === TO_ERP);
    const toCrm = runs.filter((r) => r.run.flowId === TO_CRM);
    assert.deepEqual(
      toErp.map((r) => [r.run.status, checkOf(r)?.action, wrote(r, 'saveErp'), wrote(r, 'saveCrm')]),
      [['completed', 'write', true, false]],
    );
    assert.deepEqual(checkOf(toErp[0])?.writes.erp, {
      name: '苏州华锐精密机械股份有限公司',
      shortName: '华锐股份',
    });
    assert.deepEqual(
      toCrm.map((r) => [r.run.status, checkOf(r)?.reason]),
      [['filtered', 'echo']],
      "Kingdee's change is Qiao's own write",
    );
  });

  it('ERP → CRM: credit set by finance in Kingdee reaches the account, through the value tables', async () => {
    await erpEdit('C0002', {
      F_QH_CreditLimit: 1_800_000,
      F_QH_CreditRating: 'AAA',
      F_QH_Industry: { FNumber: 'HY03' },
    });
    await settle();
    const a = await account('C0002');
    assert.equal(a.creditLimit__c, 1_800_000);
    assert.equal(a.creditRating__c, 1, 'AAA → 1');
    assert.equal(a.industryId, 3, 'HY03 汽车 → 3');
    const runs = await newRuns();
    assert.deepEqual(runs.map((r) => [r.run.flowId, r.run.status, checkOf(r)?.reason]).sort(), [
      [TO_ERP, 'filtered', 'echo'],
      [TO_CRM, 'completed', 'changed'],
    ]);
  });

  it('a customer new to either system is made on the other once, with the number rule', async () => {
    const created = await env.crm('/act/create-customer', {
      as: 'E0004',
      accountName: '杭州云帆智能装备有限公司',
      shortName__c: '云帆智能',
      taxNumber__c: '91330106MA2YF0001K',
      industryId: 4,
      phone: '0571-88886666',
      address: '浙江省杭州市滨江区网商路699号',
      creditLimit__c: 300_000,
    });
    await kdAdmin('records/BD_Customer', {
      user: '赵敏',
      status: 'C',
      model: {
        FNumber: 'C0011',
        FName: '广州南沙港机械有限公司',
        FShortName: '南沙港机',
        FTEL: '020-84680000',
        FADDRESS: '广东省广州市南沙区港前大道1号',
        FTAXREGISTERCODE: '91440115MA59NS0011',
        FSOCIALCRECODE: '91440115MA59NS0011',
        F_QH_CreditRating: 'A',
        F_QH_CreditLimit: 500_000,
        F_QH_Industry: { FNumber: 'HY06' },
        FCustTypeId: { FNumber: 'KHLB002_SYS' },
      },
    });
    await settle();

    // Made in the CRM: Kingdee numbers it KH + the account id, audits it, and the CRM gets the number.
    const number = `KH${created.id}`;
    const k = await erpCustomer(number);
    assert.equal(k.FName, '杭州云帆智能装备有限公司');
    assert.equal(k.FDocumentStatus, 'C', 'audited, so orders can name it');
    assert.equal(k.FTAXREGISTERCODE, '91330106MA2YF0001K');
    assert.equal(k.F_QH_Industry, 'HY04', '4 电子 → HY04');
    assert.equal(k.F_QH_CreditLimit, 300_000, 'seeded from the CRM: Kingdee had no credit limit yet');
    const a = await account(number);
    assert.equal(a.id, created.id);
    assert.equal(a.customerType__c, 1, "Kingdee's default 客户类别 comes back");

    // Made in Kingdee: one account, with Kingdee's number and credit.
    const b = await account('C0011');
    assert.equal(b.accountName, '广州南沙港机械有限公司');
    assert.equal(b.taxNumber__c, '91440115MA59NS0011');
    assert.equal(b.creditRating__c, 3, 'A → 3');
    assert.equal(b.creditLimit__c, 500_000);
    assert.equal(b.industryId, 6, 'HY06 物流 → 6');
    assert.equal(b.customerType__c, 2, 'KHLB002_SYS 寄售客户 → 2');
    assert.equal((await erpCustomers()).length, CUSTOMERS.length + 2);
    assert.equal((await accounts()).length, CUSTOMERS.length + 2);
    for (const r of await newRuns())
      assert.ok(['completed', 'filtered'].includes(r.run.status), r.run.status);
  });

  it('ownership: a field edited on the side that does not own it is put back, never synced', async () => {
    const c3 = await account('C0003');
    await crmEdit(c3.id, { creditLimit__c: 9_999_999 }, 'E0004');
    await erpEdit('C0004', { FName: '深圳芯联（改名）' });
    await settle();
    assert.equal((await erpCustomer('C0003')).F_QH_CreditLimit, 800_000, 'Kingdee keeps its credit limit');
    assert.equal((await account('C0003')).creditLimit__c, 800_000, 'and the CRM gets it back');
    assert.equal((await account('C0004')).accountName, '深圳芯联电子股份有限公司', 'the CRM keeps its name');
    assert.equal((await erpCustomer('C0004')).FName, '深圳芯联电子股份有限公司', 'and Kingdee gets it back');
    const runs = await newRuns();
    const putBack = runs.filter((r) => checkOf(r)?.action === 'write');
    assert.deepEqual(
      putBack
        .map((r) => [r.run.flowId, checkOf(r)?.ignored, wrote(r, 'saveErp'), wrote(r, 'saveCrm')])
        .sort(),
      [
        [TO_ERP, ['creditLimit'], false, true],
        [TO_CRM, ['name'], true, false],
      ],
    );
  });

  it('echo suppression: 100 changes in both systems are 100 writes; every write coming back is skipped', async () => {
    const ids = new Map<string, string>();
    for (const c of CUSTOMERS) ids.set(c.number, (await account(c.number)).id);
    await newRuns();
    for (let round = 0; round < 10; round++) {
      for (const c of CUSTOMERS) {
        // Even rounds: sales updates a phone in the CRM; odd rounds: finance a credit limit in Kingdee.
        if (round % 2 === 0)
          await crmEdit(ids.get(c.number)!, { phone: `0512-6${round}${c.number.slice(1)}` });
        else await erpEdit(c.number, { F_QH_CreditLimit: c.creditLimit + round * 1_000 });
      }
      await settle();
    }
    const runs = await newRuns();
    const writes = runs.filter((r) => wrote(r, 'saveErp') || wrote(r, 'saveCrm'));
    const echoes = runs.filter((r) => checkOf(r)?.reason === 'echo');
    assert.equal(writes.length, 100, 'one write per change');
    assert.equal(echoes.length, 100, 'each write came back once and was skipped');
    assert.equal(runs.length, 200, 'nothing else ran');
    assert.deepEqual(
      runs.flatMap((r) => Object.values(r.steps).filter((s) => s.history.length > 1)).map((s) => s.name),
      [],
      'no step needed a retry',
    );
    assert.deepEqual(
      runs.filter((r) => !['completed', 'filtered'].includes(r.run.status)),
      [],
    );
    assert.equal(
      writes.filter((r) => r.run.flowId === TO_ERP && wrote(r, 'saveErp') && !wrote(r, 'saveCrm')).length,
      50,
    );
    assert.equal(
      writes.filter((r) => r.run.flowId === TO_CRM && wrote(r, 'saveCrm') && !wrote(r, 'saveErp')).length,
      50,
    );
    // Quiet afterwards: another poll of both systems starts nothing.
    assert.equal((await pollOnce(TO_ERP)) + (await pollOnce(TO_CRM)), 0);
    for (const c of CUSTOMERS) {
      const a = await account(c.number);
      const k = await erpCustomer(c.number);
      assert.equal(a.phone, `0512-68${c.number.slice(1)}`);
      assert.equal(k.FTEL, a.phone);
      assert.equal(a.creditLimit__c, c.creditLimit + 9_000);
      assert.equal(k.F_QH_CreditLimit, a.creditLimit__c);
    }
  });

  it('a change on both sides waits in the review queue; later changes join; the API resolution is applied once', async () => {
    const c5 = await account('C0005');
    const before = (await erpCustomer('C0005')).FADDRESS;
    await crmEdit(c5.id, { address: '四川省成都市高新区天府大道1200号' }, 'E0005');
    await erpEdit('C0005', { FADDRESS: '四川省成都市武侯区人民南路四段1号' });
    await settle();
    // Neither side was overwritten; one review, one run waiting for it.
    assert.equal((await account('C0005')).address, '四川省成都市高新区天府大道1200号');
    assert.equal((await erpCustomer('C0005')).FADDRESS, '四川省成都市武侯区人民南路四段1号');
    let runs = await newRuns();
    const waiting = runs.filter((r) => r.run.status === 'waiting');
    assert.equal(waiting.length, 1);
    assert.equal(runs.length, 2, 'the other direction joined the review and ended');
    const [review] = await hub.store.listReviews({ status: 'open' });
    assert.equal(review.key, 'C0005');
    assert.equal(review.runId, waiting[0].run.id);

    // A later change of the same customer joins the review (no second review, nothing written).
    await erpEdit('C0005', { FADDRESS: '四川省成都市武侯区人民南路四段2号' });
    await settle();
    runs = await newRuns();
    assert.deepEqual(
      runs.map((r) => [r.run.status, checkOf(r)?.reason]),
      [['filtered', 'review-open']],
    );
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${hub.url}/api${path}`, {
        method,
        headers: { 'content-type': 'application/json', 'x-qiao-actor': encodeURIComponent('李娜') },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Rec };
    };
    const open = await api('GET', '/reviews?status=open');
    assert.equal(open.body.items.length, 1);
    assert.deepEqual(open.body.items[0].conflicts, {
      address: {
        base: before,
        crm: '四川省成都市高新区天府大道1200号',
        erp: '四川省成都市武侯区人民南路四段2号',
      },
    });

    const merged = '四川省成都市高新区天府大道1199号A座';
    const resolved = await api('POST', `/reviews/${review.id}/resolve`, { values: { address: merged } });
    assert.equal(resolved.status, 200);
    assert.equal(resolved.body.resolvedBy, '李娜');
    await hub.engine.drain();
    assert.equal((await hub.store.getRun(waiting[0].run.id))?.run.status, 'completed');
    assert.equal((await account('C0005')).address, merged);
    assert.equal((await erpCustomer('C0005')).FADDRESS, merged);

    // Applied once: a second decision is refused, a redelivery (the reconciler) changes nothing.
    assert.equal((await api('POST', `/reviews/${review.id}/resolve`, { choose: 'crm' })).status, 409);
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 0);
    await settle();
    runs = await newRuns();
    const got = (await hub.store.getRun(waiting[0].run.id))!;
    const resumed: Seen = { run: got.run, steps: Object.fromEntries(got.steps.map((s) => [s.name, s])) };
    assert.ok(wrote(resumed, 'saveErp') && wrote(resumed, 'saveCrm'), 'the resolution wrote both systems');
    assert.equal(resumed.steps.saveErp.history.length, 1, 'once');
    assert.equal(resumed.steps.saveCrm.history.length, 1, 'once');
    assert.deepEqual(
      runs.map((r) => [r.run.status, checkOf(r)?.reason]),
      [
        ['filtered', 'echo'],
        ['filtered', 'echo'],
      ],
      'both writes came back as echoes',
    );
    assert.equal((await hub.store.getInbox('hub', `review.resolved:${review.id}`))?.duplicates, 0);
  });

  it('resolved from the CLI instead: the reconciler hands the decision to the waiting run', async () => {
    const c6 = await account('C0006');
    await crmEdit(c6.id, { industryId: 2 }, 'E0005');
    await erpEdit('C0006', { F_QH_Industry: { FNumber: 'HY03' } });
    await settle();
    const [review] = await hub.store.listReviews({ status: 'open' });
    assert.equal(review.key, 'C0006');
    assert.deepEqual((review.detail as Rec).conflicts, ['industry']);

    const cli = await new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
      const child = spawn(
        process.execPath,
        [BIN, 'review', 'resolve', review.id, '--choose', 'erp', '--actor', '王强'],
        { cwd: env.dir, env: { ...process.env, QIAO_LOG: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => res({ code, stdout, stderr }));
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /writes to crm: \{"industry":"汽车"\}/);

    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 1, 'the waiting run resumed');
    await hub.engine.drain();
    await settle();
    assert.equal((await account('C0006')).industryId, 3, '汽车 → 3');
    assert.equal((await erpCustomer('C0006')).F_QH_Industry, 'HY03');
    assert.equal(await hub.engine.reconcile({ olderThanMs: 0 }), 0, 'delivered once');
    assert.deepEqual(await hub.store.listReviews({ status: 'open' }), []);
    const audit = (await hub.store.listAudit({ limit: 10_000 })).filter((a) => a.action === 'review.resolve');
    assert.deepEqual(
      audit.map((a) => a.actor),
      ['李娜', '王强'],
    );
  });
  it("push: the tenant trigger posts a changed account; the poll flow's steps write Kingdee once, with the right fields", async () => {
    const a = await account('C0007');
    await settle();
    await newRuns([...FLOWS, PUSH]);
    const edited = await crmEdit(a.id, { phone: '0512-66660007', shortName__c: '七号推送' });
    await resetKdStats();
    const change = { object: 'account', id: a.id, updatedAt: edited.updatedAt };
    assert.equal((await push(change, 'not-the-secret')).status, 401, 'a wrong secret is refused');
    const res = await push(change);
    assert.equal(res.status, 202);
    await hub.engine.drain();

    const k = await erpCustomer('C0007');
    assert.equal(k.FTEL, '0512-66660007');
    assert.equal(k.FShortName, '七号推送');
    assert.equal(await kdSaves(), 1, 'one Kingdee write');
    // The pushed change ran the poll flow's own steps: its mapping, owners and sync state.
    const [relay] = await newRuns([PUSH]);
    assert.deepEqual(relay.run.id, res.body.runIds[0]);
    assert.equal(relay.run.status, 'completed');
    const runs = await newRuns();
    assert.deepEqual(
      runs.map((r) => [
        r.run.flowId,
        r.run.status,
        checkOf(r)?.action,
        wrote(r, 'saveErp'),
        wrote(r, 'saveCrm'),
      ]),
      [[TO_ERP, 'completed', 'write', true, false]],
    );
    assert.deepEqual((relay.steps.sync.output as Rec).body.runIds, [runs[0].run.id]);
    assert.equal((runs[0].run.event as Rec).pushRun, relay.run.id);
    assert.deepEqual(checkOf(runs[0])?.writes.erp, { phone: '0512-66660007', shortName: '七号推送' });
    // Its source is the account itself, as for the poll's runs: the same id link, made by the poll.
    assert.equal(runs[0].run.linkKey, await hub.store.findLinkId('neocrm', 'account', a.id));
    assert.equal((await hub.store.getSyncState('customer', 'C0007'))?.base.phone, '0512-66660007');
  });

  it('push then poll of the same change is one Kingdee write; a repeated push starts nothing', async () => {
    await settle();
    await newRuns([...FLOWS, PUSH]);
    const a = await account('C0008');
    const edited = await crmEdit(a.id, { address: '湖北省武汉市东湖高新区光谷大道77号' }, 'E0004');
    await resetKdStats();
    const change = { object: 'account', id: a.id, updatedAt: edited.updatedAt };
    assert.equal((await push(change)).status, 202);
    const again = await push(change);
    assert.deepEqual([again.status, again.body.duplicate], [200, true], 'the same delivery twice');
    await hub.engine.drain();
    // The poll sees the same change afterwards (and Kingdee's write, in the other direction).
    await settle();

    assert.equal((await erpCustomer('C0008')).FADDRESS, '湖北省武汉市东湖高新区光谷大道77号');
    assert.equal(await kdSaves(), 1, 'push and poll together wrote Kingdee once');
    assert.equal((await newRuns([PUSH])).length, 1);
    const runs = await newRuns();
    assert.deepEqual(
      runs
        .map((r) => [
          r.run.flowId,
          (r.run.event as Rec).pushRun ? 'push' : 'poll',
          r.run.status,
          checkOf(r)?.reason,
          wrote(r, 'saveErp') || wrote(r, 'saveCrm'),
        ])
        .sort(),
      [
        [TO_ERP, 'poll', 'filtered', 'echo', false],
        [TO_ERP, 'push', 'completed', 'changed', true],
        [TO_CRM, 'poll', 'filtered', 'echo', false],
      ],
    );
  });

  it("echo suppression holds for pushes: the trigger fires on Qiao's own CRM write too, and that push is skipped", async () => {
    await settle();
    await newRuns([...FLOWS, PUSH]);
    // Finance raises a credit limit in Kingdee; the ERP → CRM half writes it to the account.
    await erpEdit('C0009', { F_QH_CreditLimit: 2_345_000 });
    await pollOnce(TO_CRM);
    await hub.engine.drain();
    const a = await account('C0009');
    assert.equal(a.creditLimit__c, 2_345_000);
    await resetKdStats();
    // The tenant's after-save trigger does not know who saved: it pushes Qiao's own write.
    assert.equal((await push({ object: 'account', id: a.id, updatedAt: a.updatedAt })).status, 202);
    await hub.engine.drain();
    await settle();

    assert.equal(await kdSaves(), 0, 'nothing went back to Kingdee');
    const runs = await newRuns();
    assert.deepEqual(
      runs
        .map((r) => [
          r.run.flowId,
          (r.run.event as Rec).pushRun ? 'push' : 'poll',
          r.run.status,
          checkOf(r)?.reason,
        ])
        .sort(),
      [
        [TO_CRM, 'poll', 'completed', 'changed'],
        [TO_ERP, 'poll', 'filtered', 'echo'],
        [TO_ERP, 'push', 'filtered', 'echo'],
      ].sort(),
    );
  });

  it('a push the sync cannot use writes nothing: another object is filtered, a numeric id is a dead letter', async () => {
    await settle();
    await newRuns([...FLOWS, PUSH]);
    const a = await account('C0010');
    await resetKdStats();
    const contact = await push({ object: 'contact', id: a.id, updatedAt: a.updatedAt });
    // A 64-bit id sent as a JSON number has lost digits before any flow sees it.
    const numeric = await push({ object: 'account', id: Number(a.id), updatedAt: a.updatedAt });
    assert.deepEqual([contact.status, numeric.status], [202, 202]);
    await hub.engine.drain();

    const relays = await newRuns([PUSH]);
    assert.deepEqual(relays.map((r) => r.run.status).sort(), ['failed', 'filtered']);
    const failed = relays.find((r) => r.run.status === 'failed')!;
    assert.match(failed.steps.change.error?.message ?? '', /id must be the account id as a string of digits/);
    const dead = await hub.store.listDeadLetters({ status: 'open' });
    assert.ok(
      dead.some((d) => d.runId === failed.run.id),
      'a dead letter says the trigger needs fixing',
    );
    assert.deepEqual(await newRuns(), [], 'no sync ran');
    assert.equal(await kdSaves(), 0);
  });
});
