/**
 * Scenario 1 under a backlog (flows/customer-sync-crm-to-erp.yaml, loaded as shipped, with its
 * `serialize`): runs about one customer never overtake each other. A CRM change whose run must retry
 * (Kingdee answers 502 once) is followed by a newer change of the same account; the newer run waits
 * its turn, so Kingdee ends with the newer value — without the serial key the newer run would write
 * during the older one's backoff, and the older one would land its stale value last.
 *
 * Polls are driven by the test (the hub's scheduler is off), one at a time as the scheduler does them
 * (test/support/scenario-hub.ts, `pollOnce`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Hub } from '../src/hub.ts';
import type { RunRow } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub, waitFor } from './support/scenario-hub.ts';

const FLOW = 'customer-sync-crm-to-erp';
type Rec = Record<string, any>;

describe('scenario 1 under a backlog: runs about one customer take turns', () => {
  let env: ScenarioHub<'kingdee' | 'neocrm'>;
  let hub: Hub;

  const runsOf = async (accountId: string): Promise<RunRow[]> =>
    (await hub.store.listRuns({ flowId: FLOW, limit: 1000 }))
      .filter((r) => (r.event as Rec).id === accountId)
      .sort((a, b) => a.startedAt - b.startedAt);
  /** One poll of the flow, as the scheduler does it at its interval. */
  const poll = () => env.pollOnce(FLOW);
  /** Polls and lets the runs finish until a poll starts nothing new (Qiao's own writes come back). */
  const settle = async () => {
    for (let round = 0; round < 6; round++) {
      const before = (await hub.store.listRuns({ flowId: FLOW, limit: 1000 })).length;
      await poll();
      await hub.engine.drain();
      if ((await hub.store.listRuns({ flowId: FLOW, limit: 1000 })).length === before) return;
    }
    throw new Error('the flow never settled');
  };
  const erpCustomer = async (number: string): Promise<Rec> =>
    (await env.erp('records/BD_Customer?limit=1000')).records.find((c: Rec) => c.FNumber === number);

  before(async () => {
    env = await startScenarioHub({
      name: 'sync-order',
      systems: ['kingdee', 'neocrm'],
      hub: { concurrency: 16, runScheduler: false },
      own: ['hub'],
      flows: [FLOW],
    });
    hub = env.hub;
    await settle();
  });
  after(async () => {
    await env?.close();
  });

  it('declares the account as its serial key', async () => {
    assert.equal((await hub.store.getFlow(FLOW))?.definition.serialize, '=id');
    const [run] = await hub.store.listRuns({ flowId: FLOW, limit: 1 });
    assert.equal(run.serialKey, (run.event as Rec).id);
  });

  it('an older run that must retry is not overtaken by a newer one: Kingdee keeps the newer value', async () => {
    const account = ((await env.crm('/records/account?limit=1000')).records as Rec[]).find(
      (a) => a.erpNumber__c === 'C0003',
    )!;
    const edit = (accountName: string) =>
      env.crm(`/records/account/${account.id}`, { as: 'E0003', data: { accountName } }, 'PATCH');
    const seen = (await runsOf(account.id)).length;

    // The first change's run reads the account, then Kingdee fails it once: it retries after a backoff.
    await env.erp('faults', { failNext: 1 });
    await edit('合肥智驰汽车零部件（第一次改名）');
    await poll();
    let older: RunRow | undefined;
    await waitFor('the older run to be retrying', async () => {
      older = (await runsOf(account.id))[seen];
      const steps = older ? (await hub.store.getRun(older.id))!.steps : [];
      return steps.some((s) => s.history.some((h) => h.outcome === 'retry'));
    });

    // A newer change comes in during that backoff.
    await edit('合肥智驰汽车零部件（第二次改名）');
    await poll();
    await hub.engine.drain();
    const runs = (await runsOf(account.id)).slice(seen);
    assert.equal(runs.length, 2);
    const [first, second] = await Promise.all(runs.map(async (r) => (await hub.store.getRun(r.id))!));
    assert.equal(first.run.id, older!.id);
    assert.deepEqual([first.run.status, second.run.status], ['completed', 'completed']);
    assert.ok(
      second.steps[0].startedAt! >= first.run.finishedAt!,
      'the newer run started only after the older one ended',
    );
    const saved = (r: typeof first) => (r.steps.find((s) => s.name === 'saveErp')?.input as Rec)?.model.FName;
    assert.deepEqual(
      [saved(first), saved(second)],
      ['合肥智驰汽车零部件（第一次改名）', '合肥智驰汽车零部件（第二次改名）'],
      'each wrote its own change, in order',
    );
    assert.equal(
      (await erpCustomer('C0003')).FName,
      '合肥智驰汽车零部件（第二次改名）',
      'the newer value stays',
    );
    assert.equal(
      (await hub.store.getSyncState('customer', 'C0003'))?.base.name,
      '合肥智驰汽车零部件（第二次改名）',
    );
  });
});
