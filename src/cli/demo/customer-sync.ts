/**
 * The customer-sync scene of `qiao demo` (flows/customer-sync-*.yaml, scenario 1): the first polls link
 * the customers Neocrm and Kingdee already have; 刘洋 (sales) creates an account in Neocrm and Kingdee
 * gets one audited BD_Customer numbered KH + its id; finance raises a credit limit in Kingdee and the
 * CRM account follows; then the same customer's address is edited in both systems between two syncs,
 * waits in the review queue, and 李娜 resolves it through the hub's API (what `qiao review resolve`
 * does) — written once to both systems. The admin calls are those of test/scenario-customer-sync.test.ts.
 *
 * Polls run now through `reloadFlows()`, and the scene waits on the store until every write the hub
 * made has come back through the other system's poll (as an echo) and every run has ended, so the runs
 * and writes it counts are the same on every run of the demo.
 */
import type { Hub } from '../../hub.ts';
import type { RunRow, StepRow } from '../../store/store.ts';
import type { DemoContext, SceneResult } from './scene.ts';
import { waitFor } from './scene.ts';

export const TO_ERP = 'customer-sync-crm-to-erp';
export const TO_CRM = 'customer-sync-erp-to-crm';
export const SYNC_FLOWS = [TO_ERP, TO_CRM];
type Rec = Record<string, any>;

/** A run of either flow with its steps by name, and the record its event names. */
interface SyncRun {
  run: RunRow;
  steps: Record<string, StepRow>;
  /** `crm:<account id>` (CRM → ERP) or `erp:<FCUSTID>` (ERP → CRM). */
  record: string;
}

const ENDED = ['completed', 'filtered', 'failed', 'cancelled', 'waiting'];

/** The runs of both flows started by this demo run, oldest first. */
async function syncRuns(hub: Hub, since: number): Promise<SyncRun[]> {
  const out: SyncRun[] = [];
  for (const flowId of SYNC_FLOWS) {
    for (const r of await hub.store.listRuns({ flowId, limit: 100_000 })) {
      if (r.startedAt < since) continue;
      const got = (await hub.store.getRun(r.id))!;
      const ev = r.event as Rec;
      out.push({
        run: got.run,
        steps: Object.fromEntries(got.steps.map((s) => [s.name, s])),
        record: flowId === TO_ERP ? `crm:${ev.id}` : `erp:${ev.FCUSTID}`,
      });
    }
  }
  return out.sort((a, b) => a.run.startedAt - b.run.startedAt);
}

/** A changed record, `crm:<id>` / `erp:<id>`, and when the change began. */
interface Change {
  record: string;
  at: number;
}

/** What a run wrote. */
function writesOf(r: SyncRun): Change[] {
  const out: Change[] = [];
  const erp = r.steps.saveErp;
  if (erp?.status === 'completed')
    out.push({ record: `erp:${(erp.output as Rec).id}`, at: erp.startedAt ?? 0 });
  const crm = r.steps.saveCrm;
  if (crm?.status === 'completed')
    out.push({ record: `crm:${(crm.output as Rec).id}`, at: crm.startedAt ?? 0 });
  return out;
}

/**
 * Polls both systems until they are quiet: every run has ended (or waits for a person), and every
 * record changed — by a person (`changed`) or by the hub — was read by its flow's poll after the change.
 * A poll happens only when asked (`reloadFlows`), once the runs that could still write have ended.
 */
async function settle(hub: Hub, since: number, changed: Change[] = []): Promise<SyncRun[]> {
  let runs: SyncRun[] = [];
  let asked = 0;
  let seen = -1;
  await waitFor('the two systems to settle', async () => {
    runs = await syncRuns(hub, since);
    if (runs.some((r) => !ENDED.includes(r.run.status))) return false;
    const pending = [...changed, ...runs.flatMap(writesOf)].filter(
      (w) => !runs.some((r) => r.record === w.record && r.run.startedAt >= w.at),
    );
    if (pending.length === 0) return true;
    // Ask for a poll when something changed since the last one (or it has been a while).
    if (runs.length !== seen || Date.now() - asked > 1_000) {
      seen = runs.length;
      asked = Date.now();
      await hub.engine.reloadFlows();
    }
    return false;
  });
  return runs;
}

/** Records written per system: one a write step (the link's corrections too); echoes write nothing. */
function writtenBy(runs: SyncRun[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const w of runs.flatMap(writesOf)) {
    const system = w.record.startsWith('crm:') ? 'neocrm' : 'kingdee';
    out[system] = (out[system] ?? 0) + 1;
  }
  return out;
}

/** `4 runs: 2 wrote, 2 saw Qiao's own write come back (echo)`. */
function tally(runs: SyncRun[]): string {
  const wrote = runs.filter((r) => writesOf(r).length > 0).length;
  const echoes = runs.filter((r) => (r.steps.check?.output as Rec | undefined)?.reason === 'echo').length;
  return `${runs.length} runs: ${wrote} wrote, ${echoes} saw Qiao's own write come back (echo)`;
}

export async function playCustomerSync(ctx: DemoContext): Promise<SceneResult> {
  const { crm, erp, hub } = ctx;
  const problems: string[] = [];
  const before = await ctx.playedBefore(TO_ERP);
  // The flows write through the `hub` connection (type qiao): Qiao's own sync state and review queue.
  await hub.connections.save({ id: 'hub', type: 'qiao', settings: {}, origin: 'api' }, 'demo');
  if (before) {
    // The store keeps the link and both cursors: the fresh sandboxes' customers are not read again.
    for (const f of SYNC_FLOWS) await ctx.load(f);
    const runs = await settle(hub, ctx.startedAt);
    ctx.step('already played on this data folder: nothing to do');
    const written = writtenBy(runs);
    if (Object.keys(written).length)
      problems.push(`wrote ${JSON.stringify(written)} on a folder already played`);
    return { runs: runs.length, duplicates: 1, written, problems };
  }
  const since = Date.now();
  const accounts = async (): Promise<Rec[]> => (await crm('/records/account?limit=100000')).records;
  const customers = async (): Promise<Rec[]> => (await erp('records/BD_Customer?limit=100000')).records;

  // 1. The first polls read every customer of both systems from the beginning. Loaded one after the
  //    other, so each customer is linked by one run and the other direction sees it agreed. Kingdee's
  //    first: its poll then reads the customers as seeded and moves its cursor past them. Read only
  //    after the link wrote them, they would be stamped within the poll's overlap window, the cursor
  //    would stay before them, and a later demo run would read its fresh sandbox's seeds as changes.
  ctx.step('the first polls link the customers Kingdee and Neocrm already have');
  const nCustomers = (await customers()).length;
  await ctx.load(TO_CRM);
  await waitFor('the ERP → CRM link', async () => {
    const runs = (await syncRuns(hub, since)).filter((r) => r.run.flowId === TO_CRM);
    return runs.length >= nCustomers && runs.every((r) => ENDED.includes(r.run.status));
  });
  await ctx.load(TO_ERP);
  let runs = await settle(hub, since);
  const nAccounts = (await accounts()).length;
  const fresh = (await customers()).length - nCustomers;
  ctx.step(
    `${nAccounts} customers linked by number, each field set from its owner` +
      `${fresh ? ` (${fresh} new to Kingdee)` : ''}; ${tally(runs)}`,
  );
  let mark = runs.length;

  // 2. A new account in the CRM → one Kingdee customer KH<id>, audited, its number back on the CRM.
  ctx.step('刘洋 (sales) creates 杭州云帆智能装备有限公司 in Neocrm');
  let at = Date.now();
  const created = await crm('/act/create-customer', {
    as: 'E0004',
    accountName: '杭州云帆智能装备有限公司',
    shortName__c: '云帆智能',
    taxNumber__c: '91330106MA2YF0001K',
    industryId: 4,
    phone: '0571-88886666',
    address: '浙江省杭州市滨江区网商路699号',
    creditLimit__c: 300_000,
  });
  runs = await settle(hub, since, [{ record: `crm:${created.id}`, at }]);
  const number = `KH${created.id}`;
  const kh = (await customers()).filter((c) => c.FNumber === number);
  if (kh.length !== 1) problems.push(`${kh.length} Kingdee customers ${number}, expected 1`);
  else {
    const k = kh[0];
    const got = [k.FName, k.FDocumentStatus, k.FTAXREGISTERCODE, k.F_QH_Industry, k.F_QH_CreditLimit, k.FTEL];
    const want = ['杭州云帆智能装备有限公司', 'C', '91330106MA2YF0001K', 'HY04', 300_000, '0571-88886666'];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems.push(`Kingdee customer ${number} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    }
  }
  const account = await crm(`/records/account/${created.id}`);
  if (account.erpNumber__c !== number) problems.push(`the CRM account does not carry ${number}`);
  ctx.step(`Kingdee customer ${number} created and audited; the number is back on the CRM account`);
  ctx.step(tally(runs.slice(mark)));
  mark = runs.length;

  // 3. Finance raises 东海新能源's credit limit in Kingdee (the ERP owns credit) → the CRM account.
  ctx.step('杨帆 (finance) raises 东海新能源 (C0002) to a 1,800,000 credit limit, AAA, in Kingdee');
  const erpId = async (number: string) => `erp:${(await customers()).find((c) => c.FNumber === number)!.id}`;
  at = Date.now();
  await erp('records/BD_Customer/C0002/edit', {
    fields: { F_QH_CreditLimit: 1_800_000, F_QH_CreditRating: 'AAA' },
    user: '杨帆',
  });
  runs = await settle(hub, since, [{ record: await erpId('C0002'), at }]);
  const c2 = (await accounts()).filter((a) => a.erpNumber__c === 'C0002');
  if (c2.length !== 1 || c2[0].creditLimit__c !== 1_800_000 || c2[0].creditRating__c !== 1) {
    problems.push('the CRM account C0002 does not have the 1,800,000 AAA credit');
  }
  const k2 = (await customers()).filter((c) => c.FNumber === 'C0002');
  if (k2.length !== 1 || k2[0].F_QH_CreditLimit !== 1_800_000) {
    problems.push('Kingdee customer C0002 lost its 1,800,000 credit limit');
  }
  ctx.step(`the Neocrm account has the new credit limit and rating (AAA → 1); ${tally(runs.slice(mark))}`);
  mark = runs.length;

  // 4. The same customer's address edited in both systems between two syncs → the review queue.
  const kangning = (await accounts()).find((a) => a.erpNumber__c === 'C0005')!;
  ctx.step("陈静 edits 康宁医药 (C0005)'s address in Neocrm; 赵敏 edits it in Kingdee, before a sync");
  at = Date.now();
  await crm(
    `/records/account/${kangning.id}`,
    { as: 'E0005', data: { address: '四川省成都市高新区天府大道1200号' } },
    'PATCH',
  );
  await erp('records/BD_Customer/C0005/edit', {
    fields: { FADDRESS: '四川省成都市武侯区人民南路四段1号' },
    user: '赵敏',
  });
  runs = await settle(hub, since, [
    { record: `crm:${kangning.id}`, at },
    { record: await erpId('C0005'), at },
  ]);
  const api = async (method: string, path: string, body?: unknown): Promise<Rec> => {
    const res = await fetch(`${hub.url}/api${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-qiao-actor': encodeURIComponent('李娜') },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /api${path} → ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const open = ((await api('GET', '/reviews?status=open')).items as Rec[]).filter((r) => r.key === 'C0005');
  if (open.length !== 1) throw new Error(`${open.length} open reviews of C0005, expected 1`);
  const review = open[0];
  const conflict = review.conflicts.address as Rec;
  ctx.step(
    `review ${review.id} in the queue (GET /api/reviews): address was ${conflict.base}, ` +
      `now crm ${conflict.crm}, erp ${conflict.erp}`,
  );
  const merged = '四川省成都市高新区天府大道1200号A座';
  ctx.step(`李娜 resolves it through the API (as \`qiao review resolve\`): ${merged}`);
  await api('POST', `/reviews/${review.id}/resolve`, { values: { address: merged } });
  runs = await settle(hub, since);
  const waiting = runs.find((r) => r.run.id === review.runId);
  if (waiting?.run.status !== 'completed')
    problems.push(`the run waiting for review ${review.id} did not finish`);
  const c5crm = (await accounts()).filter((a) => a.erpNumber__c === 'C0005');
  const c5erp = (await customers()).filter((c) => c.FNumber === 'C0005');
  if (c5crm.length !== 1 || c5crm[0].address !== merged)
    problems.push('the CRM account C0005 lacks the decision');
  if (c5erp.length !== 1 || c5erp[0].FADDRESS !== merged)
    problems.push('Kingdee customer C0005 lacks the decision');
  ctx.step(`applied once in both systems; ${tally(runs.slice(mark))}`);

  // Each system holds one record per customer: none was made twice.
  const [all, allErp] = [await accounts(), await customers()];
  if (all.length !== nAccounts + 1) problems.push(`${all.length} Neocrm accounts, expected ${nAccounts + 1}`);
  const numbers = allErp.map((c) => c.FNumber);
  if (new Set(numbers).size !== numbers.length) problems.push('a Kingdee customer number is there twice');
  const names = all.map((a) => a.accountName);
  if (new Set(names).size !== names.length) problems.push('a Neocrm account is there twice');
  if (runs.some((r) => r.run.status === 'failed')) problems.push('a sync run failed');

  return {
    runs: runs.length,
    duplicates: 0,
    written: writtenBy(runs),
    problems,
  };
}
