/**
 * Scenario 1 latency (issue 7): a change of a Neocrm account → its Kingdee customer holding the new
 * value, through the shipped flows/customer-sync-crm-to-erp.yaml over real HTTP, by poll and by push
 * (flows/customer-sync-crm-to-erp-push.yaml). The Neocrm and Kingdee sandboxes run in a process of their
 * own (bench/support/sandboxes-process.ts), as the real partners share nothing with the hub.
 *
 * N accounts made in the CRM are first synced (Kingdee customers KH<id>). Each phase then edits the phone
 * (CRM-owned) of every account once, at a fixed rate, and measures each edit from the account's
 * `updatedAt` stamped by the Neocrm sandbox to the `FModifyDate` Kingdee stamps on the customer now
 * holding the new phone (both stamps taken in the sandboxes' process: one clock). p50/p99 of:
 *
 * - poll at the flow's shipped interval, the edits spread over one interval (so their wait for the next
 *   poll covers the whole interval);
 * - poll every 1 s, the edits over 5 s (40 a second);
 * - push: the tenant's trigger posts each edit to /hooks/http/customer-sync-crm-to-erp-push, the edits
 *   over 5 s; the poll hourly meanwhile, so every write is the push's;
 * - the ceiling: a Kingdee Save of one customer by the connector's client alone, one at a time.
 *
 * Only the CRM → ERP half is loaded (no echo runs from the other half). The connections have the
 * sandboxes' generous limits (SANDBOX_LIMITS): at Neocrm's documented 10 calls/s, one `neocrm.get` a
 * change would cap either path near 10 changes a second.
 *
 * Run: npx node bench/customer-sync.bench.ts (CUSTOMER_SYNC_BENCH_N=200 edits a phase).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KingdeeClient } from '../src/connectors/kingdee/client.ts';
import { kingdeeSettings } from '../src/connectors/kingdee/settings.ts';
import { silentLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { startHub } from '../src/hub.ts';
import type { SandboxHandle } from '../src/sandbox/common/server.ts';
import { connectHub, FLOWS_DIR, SANDBOX_LIMITS } from '../src/sandbox/connect-hub.ts';
import { parseLocal } from '../src/sandbox/kingdee/clock.ts';
import { startChild } from './support/child.ts';
import { figure, fixedRate, percentile } from './support/load.ts';

const N = Number(process.env.CUSTOMER_SYNC_BENCH_N ?? 200);
const POLL = 'customer-sync-crm-to-erp';
const PUSH = 'customer-sync-crm-to-erp-push';
const SHORT_SPREAD_MS = 5_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shipped = readFileSync(join(FLOWS_DIR, `${POLL}.yaml`), 'utf8');
/** The poll flow as shipped but for its interval. */
const pollingEvery = (every: string) => shipped.replace(/^(\s*every:\s*)\S+/m, `$1${every}`);

const dir = mkdtempSync(join(tmpdir(), 'qiao-bench-customer-sync-'));
const partners = await startChild<Record<string, Omit<SandboxHandle, 'system' | 'close'>>>(
  './sandboxes-process.ts',
  ['neocrm', 'kingdee'],
);
const handle = (system: string): SandboxHandle => ({
  system,
  ...partners.ready[system],
  close: async () => {},
});
const [neo, kd] = [handle('neocrm'), handle('kingdee')];
const hub = await startHub({
  dataDir: dir,
  box: new SecretBox([randomBytes(32)]),
  port: 0,
  concurrency: 32,
  log: silentLogger,
});
try {
  const { crm, erp } = await connectHub(hub, { neocrm: neo, kingdee: kd });
  const save = (id: string, type: string, settings: Record<string, unknown>) =>
    hub.connections.save({ id, type, settings, limits: SANDBOX_LIMITS, origin: 'api' }, 'bench');
  await save('hub', 'qiao', {});
  await save('qiao-api', 'http', { baseUrl: `${hub.url}/api/` });
  const loadPoll = (text: string) => hub.saveFlow(text, `flows/${POLL}.yaml`, 'config', 'bench');
  // The push flow reads its webhook secret from the hub's environment (`${QIAO_NEOCRM_PUSH_SECRET}`).
  const secret = randomBytes(24).toString('hex');
  process.env.QIAO_NEOCRM_PUSH_SECRET = secret;
  await hub.saveFlow(
    readFileSync(join(FLOWS_DIR, `${PUSH}.yaml`), 'utf8'),
    `flows/${PUSH}.yaml`,
    'config',
    'bench',
  );
  const { utcOffsetMinutes } = (await erp('state')).clock;

  /** Kingdee's customers by number. */
  const erpCustomers = async (): Promise<Map<string, Record<string, any>>> =>
    new Map(
      ((await erp('records/BD_Customer?limit=100000')).records as Record<string, any>[]).map((c) => [
        c.FNumber,
        c,
      ]),
    );

  // Warm-up: N new accounts, synced to Kingdee by the poll every second (with the numbers written back).
  const made = await crm('/records/account/generate', { count: N, as: 'E0003', prefix: '压测客户' });
  const ids: string[] = made.ids;
  await loadPoll(pollingEvery('1s'));
  const end = Date.now() + 120_000;
  for (;;) {
    const have = await erpCustomers();
    if (ids.every((id) => have.has(`KH${id}`))) break;
    if (Date.now() > end) throw new Error('the first sync did not finish in 120 s');
    await pause(250);
  }
  await hub.engine.drain(60_000);
  await pause(2_500); // two more polls: the numbers written back come round as echoes
  await hub.engine.drain(60_000);

  let round = 0;
  /**
   * Edits every account's phone once over `spreadMs` (a push per edit when `pushed`), waits until Kingdee
   * holds every new phone, and returns each edit's latency and the Kingdee saves made.
   */
  const phase = async (spreadMs: number, pushed: boolean): Promise<{ ms: number[]; saves: number }> => {
    round += 1;
    await erp('stats', undefined, 'DELETE');
    const stamped = new Map<string, { phone: string; at: number }>();
    await fixedRate(N / (spreadMs / 1000), spreadMs, async (i) => {
      const phone = `0512-${round}${String(i).padStart(7, '0')}`;
      const rec = await crm(`/records/account/${ids[i]}`, { as: 'E0003', data: { phone } }, 'PATCH');
      stamped.set(`KH${ids[i]}`, { phone, at: rec.updatedAt });
      if (!pushed) return;
      // The tenant's trigger, after the account's save (the contract in the push flow's header).
      const res = await fetch(`${hub.url}/hooks/http/${PUSH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-qiao-secret': secret },
        body: JSON.stringify({ object: 'account', id: ids[i], updatedAt: rec.updatedAt }),
      });
      if (res.status !== 202) throw new Error(`push answered ${res.status}: ${await res.text()}`);
    });
    const until = Date.now() + 120_000;
    for (;;) {
      const have = await erpCustomers();
      const ms: number[] = [];
      for (const [number, { phone, at }] of stamped) {
        const c = have.get(number);
        if (c?.FTEL === phone) ms.push(parseLocal(c.FModifyDate, utcOffsetMinutes) - at);
      }
      if (ms.length === N) {
        await hub.engine.drain(60_000);
        return { ms, saves: (await erp('stats')).calls.Save ?? 0 };
      }
      if (Date.now() > until) throw new Error(`only ${ms.length} of ${N} changes reached Kingdee in 120 s`);
      await pause(100);
    }
  };

  // (a) poll every second: the scheduler polls again 1 s after a poll ends.
  const short = await phase(SHORT_SPREAD_MS, false);
  // (b) push, the poll hourly meanwhile (it polls once now, on the reload, and finds nothing new).
  await loadPoll(pollingEvery('1h'));
  await pause(1_000);
  const push = await phase(SHORT_SPREAD_MS, true);
  // (a) the shipped interval. The reload polls within a scheduler tick (250 ms), the next poll comes one
  // interval after that one ends: edits over the interval less a second all wait for that next poll.
  const flow = await loadPoll(shipped);
  const intervalMs = flow.trigger.type === 'poll' ? flow.trigger.intervalMs : 30_000;
  await pause(300);
  const slow = await phase(intervalMs - 1_000, false);

  // Ceiling: one Kingdee Save of a synced customer at a time, by the connector's client alone.
  const client = new KingdeeClient(
    kingdeeSettings.parse({ baseUrl: kd.baseUrl, ...kd.credentials }),
    silentLogger,
  );
  const have = await erpCustomers();
  const raw: number[] = [];
  for (let i = 0; i < N; i++) {
    const c = have.get(`KH${ids[i]}`)!;
    const t0 = performance.now();
    await client.save('BD_Customer', { Model: { FCUSTID: c.FCUSTID ?? c.id, FTEL: `0512-9${i}` } });
    raw.push(performance.now() - t0);
  }

  const s = intervalMs / 1000;
  const line = (what: string, ms: number[], ceiling?: number[]) => {
    for (const p of [50, 99])
      console.log(
        figure(`customer-sync ${what} p${p}`, percentile(ms, p), 'ms', ceiling && percentile(ceiling, p)),
      );
  };
  line(`CRM change → Kingdee write, poll every ${s} s (shipped)`, slow.ms);
  line('CRM change → Kingdee write, poll every 1 s', short.ms);
  line('CRM change → Kingdee write, push (ceiling: a Kingdee Save alone)', push.ms, raw);
  const saves = slow.saves + short.saves + push.saves;
  console.log(
    `customer-sync Kingdee saves per CRM change: ${(saves / (3 * N)).toFixed(2)} (${saves} for ${3 * N})`,
  );
  console.log(
    `customer-sync note: ${N} accounts, each edited once a phase; shipped poll edits over ${s - 1} s, the 1 s poll and the push over ${SHORT_SPREAD_MS / 1000} s; only the CRM → ERP half loaded`,
  );
} finally {
  await hub.close();
  await partners.stop();
  rmSync(dir, { recursive: true, force: true });
}
