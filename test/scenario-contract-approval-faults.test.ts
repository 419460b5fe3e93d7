/**
 * Scenario 2 under fire: the shipped contract-approval flow over ten contracts while every sandbox it
 * uses misbehaves at once — 10 % of Neocrm, WeCom and Kingdee calls answer 502, all three revoke
 * Qiao's token or session twice, WeCom loses one decision callback (the reconciler reads it instead)
 * and delivers another three times. Every contract must end with exactly one WeCom approval (with the
 * chain of the rule table), exactly one audited SAL_SaleOrder with the right customer, material and
 * amounts, its number on the CRM contract, and one message to its owner.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import { CUSTOMERS, EMPLOYEES, PRODUCTS } from '../src/sandbox/common/company.ts';
import type { WecomSandbox } from '../src/sandbox/wecom/index.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rule table of the flow, restated: who must approve a contract. */
function expectedChain(amount: number, rating: string, creditLimit: number): string[] {
  const low = rating === 'B' || rating === 'C';
  const over = amount > creditLimit;
  if (amount >= 500_000) return low || over ? ['Lina', 'Yangfan', 'WangJianGuo'] : ['Lina', 'WangJianGuo'];
  return low || over ? ['Lina', 'Yangfan'] : ['Lina'];
}

describe('scenario 2 with faults in every sandbox: ten contracts, one audited order each', () => {
  let env: ScenarioHub<'neocrm' | 'wecom' | 'kingdee'>;
  let wc: WecomSandbox;
  let hub: Hub;
  const crm = (path: string, body?: unknown, method?: string) => env.crm(path, body, method);
  const wecom = (path: string, body?: unknown, method?: string) => env.wecom(path, body, method);
  const erp = (path: string, body?: unknown, method?: string) => env.erp(path, body, method);
  const faultsOn = (on: boolean) => {
    const [body, method] = on ? [{ errorRate: 0.1, errorStatus: 502 }, 'POST'] : [undefined, 'DELETE'];
    return Promise.all([
      crm('/faults', body, method),
      wecom('faults', body, method),
      erp('faults', body, method),
    ]);
  };
  const revokeAll = async () => {
    await crm('/tokens/revoke', {});
    await wecom('tokens/revoke', {});
    await erp('sessions/revoke', {});
  };

  before(async () => {
    env = await startScenarioHub({
      name: 'contract-faults',
      systems: ['neocrm', 'wecom', 'kingdee'],
      // No rate limit in the sandboxes; and random 502s are not an outage, so the breaker must not
      // hold the test up for its default 30 s.
      limits: { rate: { perSecond: 500, burst: 500 }, breaker: { failures: 50, resetMs: 1_000 } },
      flows: ['contract-approval'],
      // The reconciler asks WeCom about waits older than a second, twice a second.
      hub: { concurrency: 16, reconcileIntervalMs: 500, reconcileAfterMs: 1_000 },
    });
    ({ hub } = env);
    wc = env.sandboxes.wecom;
  });
  after(() => env?.close());

  it('every contract ends with exactly one audited sales order', async () => {
    const accounts = (await crm('/records/account?limit=1000')).records as any[];
    const wanted = CUSTOMERS.map((c, i) => {
      const product = PRODUCTS[i % PRODUCTS.length];
      const quantity = 1 + (i % 3);
      const owner = EMPLOYEES.find((e) => e.staffNumber === c.ownerStaffNumber)!;
      return {
        customer: c,
        account: accounts.find((a) => a.erpNumber__c === c.number),
        product,
        quantity,
        amount: product.price * quantity,
        owner,
      };
    });

    await faultsOn(true);
    const contracts: any[] = [];
    for (const w of wanted) {
      contracts.push(
        await crm('/act/create-contract', {
          as: w.owner.staffNumber,
          accountId: w.account.id,
          title: `${w.customer.shortName}合同`,
          amount: w.amount,
          product: w.product.number,
          quantity: w.quantity,
        }),
      );
    }
    await revokeAll();

    // Wait (on state) for every contract's approval; poll again at once whenever a poll failed.
    const runs = new Map<string, string>();
    for (const end = Date.now() + 30_000; runs.size < contracts.length; ) {
      if (Date.now() > end) throw new Error(`only ${runs.size} of ${contracts.length} runs waiting`);
      await hub.engine.reloadFlows();
      await wait(200);
      for (const r of await hub.store.listRuns({ flowId: 'contract-approval', limit: 1000 })) {
        if (r.status !== 'waiting') continue;
        const c = contracts.find((x) => r.eventKey?.startsWith(`contract:${x.id}#`));
        if (c) runs.set(c.id, r.id);
      }
    }
    const spNos = new Map<string, string>();
    for (const c of contracts) {
      const got = await hub.store.getRun(runs.get(c.id)!);
      spNos.set(c.id, (got!.steps.find((s) => s.name === 'start')!.output as { spNo: string }).spNo);
    }

    const completed = async (ids: string[]) =>
      (await Promise.all(ids.map((id) => hub.store.getRun(runs.get(id)!)))).every(
        (g) => g?.run.status === 'completed',
      );
    await wc.idle();
    for (const [i, c] of contracts.entries()) {
      if (i === 5) {
        // Half way: once the first orders are in Kingdee, every partner forgets Qiao's token/session.
        for (const end = Date.now() + 30_000; !(await completed(contracts.slice(1, 5).map((x) => x.id))); ) {
          if (Date.now() > end) throw new Error('the first contracts did not complete');
          await wait(50);
        }
        await revokeAll();
      }
      const spNo = spNos.get(c.id)!;
      const { info } = await wecom(`approvals/${spNo}`);
      const chain = info.sp_record.map((n: any) => n.details[0].approver.userid);
      const w = wanted[i];
      assert.deepEqual(
        chain,
        expectedChain(w.amount, w.customer.creditRating, w.customer.creditLimit),
        c.title,
      );
      for (const [k, userid] of chain.entries()) {
        if (k === chain.length - 1) {
          // The decision of the first contract is lost; that of the second is delivered three times.
          await wc.idle();
          if (i === 0) await wecom('callback-faults', { dropNext: 1 });
          if (i === 1) await wecom('callback-faults', { duplicateNext: 1, duplicateTimes: 2 });
        }
        await wecom(`approvals/${spNo}/agree`, { userid, speech: '同意' });
        if (k === chain.length - 1 && i < 2) await wc.idle();
      }
    }

    // Every run completes: by callback, and for the first contract by the reconciler.
    for (const end = Date.now() + 60_000; ; ) {
      const all = await Promise.all([...runs.values()].map((id) => hub.store.getRun(id)));
      if (all.every((g) => g?.run.status === 'completed')) break;
      if (Date.now() > end) {
        const stuck = all.filter((g) => g?.run.status !== 'completed');
        throw new Error(
          `runs not completed: ${JSON.stringify(stuck.map((g) => [g?.run.status, g?.steps.map((s) => [s.name, s.status, s.error?.message])]))}`,
        );
      }
      await wait(50);
    }
    await faultsOn(false);
    const histories = (await Promise.all([...runs.values()].map((id) => hub.store.getRun(id)))).flatMap((g) =>
      g!.steps.flatMap((s) => s.history),
    );
    // The faults did happen: failed attempts retried, and each partner made Qiao log in again.
    assert.ok(
      histories.some((h) => h.error?.errorClass === 'transient'),
      'some attempts met a 502 and were retried',
    );
    assert.ok((await crm('/stats')).authFailures >= 1, 'Neocrm refused a revoked token');
    assert.ok((await erp('stats')).sessionLost >= 1, 'Kingdee lost a session');
    assert.ok(
      ((await wecom('calls')).calls as any[]).some((c) => c.errcode === 40014),
      'WeCom refused a token',
    );

    const events = (await wecom('callbacks')).events as Array<{ ref: string; outcome: string }>;
    assert.equal(events.filter((e) => e.outcome === 'dropped').length, 1, 'one decision was lost');
    const lost = await hub.store.findInboxByCorrelation(
      'wecom',
      'approval.change',
      spNos.get(contracts[0].id)!,
    );
    assert.ok(
      lost.some((e) => e.key.includes(':read:')),
      'the lost decision came from the reconciler',
    );
    const doubled = await hub.store.findInboxByCorrelation(
      'wecom',
      'approval.change',
      spNos.get(contracts[1].id)!,
    );
    assert.equal(
      doubled.filter((e) => e.duplicates === 2).length,
      1,
      'the repeated decision was stored once',
    );
    const approvals = (await wecom('approvals')).approvals as any[];
    const orders = (await erp('records/SAL_SaleOrder?limit=10000')).records as any[];
    for (const [i, c] of contracts.entries()) {
      const w = wanted[i];
      const mine = approvals.filter((a) =>
        a.apply_data.contents.some(
          (x: any) => x.title[0].text === '合同编号' && x.value.text === c.contractCode,
        ),
      );
      assert.equal(mine.length, 1, `${c.contractCode}: one approval`);
      assert.equal(mine[0].sp_status, 2, `${c.contractCode}: approved`);

      const billNo = `SO-${c.contractCode}`;
      const own = orders.filter((o) => o.FBillNo === billNo);
      assert.equal(own.length, 1, `${billNo}: exactly one sales order`);
      const [o] = own;
      assert.equal(o.FDocumentStatus, 'C', `${billNo}: audited`);
      assert.equal(o.FCustId, w.customer.number);
      assert.equal(o.FSalerId, w.owner.staffNumber);
      assert.equal(o.FSaleOrderEntry.length, 1);
      assert.equal(o.FSaleOrderEntry[0].FMaterialId, w.product.number);
      assert.equal(o.FSaleOrderEntry[0].FQty, w.quantity);
      assert.equal(o.FSaleOrderEntry[0].FTaxPrice, w.product.price);
      assert.equal(o.FBillAllAmount, w.amount);

      const after = await crm(`/records/contract/${c.id}`);
      assert.equal(after.status, 3);
      assert.equal(after.erpOrderNumber__c, billNo);
      assert.equal(after.erpStatus__c, '已审核');

      const told = ((await wecom(`messages/${w.owner.wecomUserId}`)).messages as any[]).filter((m) =>
        JSON.stringify(m.body).includes(billNo),
      );
      assert.equal(told.length, 1, `${w.owner.name} told once about ${billNo}`);
    }
    // No other sales order was made: the seed's three and one per contract.
    assert.equal(orders.filter((o) => String(o.FBillNo).startsWith('SO-')).length, contracts.length);
  });
});
