/**
 * Neocrm connector throughput against its in-process sandbox, each figure beside the raw-HTTP ceiling
 * measured in the same run (plain fetch making the same wire calls, no classification, no id-exact
 * parsing, no sorting):
 *
 * - upsert: the `upsert` action by a unique field (XOQL find + create), 8 in flight;
 * - batch create: the `batch` action, 100 records a call;
 * - full paged read: the `poll` trigger draining every record (time windows read with xoqlScroll),
 *   against a raw xoqlScroll of the same fields.
 *
 * Each figure is the best of three rounds per side, raw and Qiao alternating.
 *
 * Run: npx node bench/neocrm.bench.ts
 */

import { testActionContext } from '../src/connectors/conformance.ts';
import { startNeocrmFixture } from '../src/connectors/neocrm/testing.ts';
import type { PollParams } from '../src/connectors/neocrm/triggers.ts';
import type { PollTriggerSpec } from '../src/core/connector.ts';
import { silentLogger } from '../src/core/logger.ts';

const UPSERTS = Number(process.env.NEOCRM_BENCH_UPSERTS ?? 2000);
const BATCHED = Number(process.env.NEOCRM_BENCH_BATCHED ?? 10_000);
const READ = Number(process.env.NEOCRM_BENCH_READ ?? 20_000);
const IN_FLIGHT = 8;

function line(what: string, value: number, ceiling: number, unit = 'records/s'): void {
  console.log(
    `neocrm ${what}: ${Math.round(value)} ${unit} (ceiling ${Math.round(ceiling)} ${unit}, ratio ${(value / ceiling).toFixed(2)})`,
  );
}

/** Runs `n` tasks with `width` in flight; returns records per second. */
async function rate(n: number, width: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) await task(i);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

/**
 * Alternates raw and Qiao rounds and keeps each side's best, so load from other processes on the
 * machine (which comes and goes) does not land on one side only.
 */
async function bestOf(
  rounds: number,
  raw: (round: number) => Promise<number>,
  qiao: (round: number) => Promise<number>,
) {
  let r = 0;
  let q = 0;
  for (let i = 0; i < rounds; i++) {
    r = Math.max(r, await raw(i));
    q = Math.max(q, await qiao(i));
  }
  return { raw: r, qiao: q };
}

const ROUNDS = 3;
const f = await startNeocrmFixture();
try {
  const { connector, sandbox, admin } = f;
  const token = await connector.client.accessToken();
  const headers = { authorization: `Bearer ${token}`, 'xsy-criteria': '10' };
  const api = sandbox.baseUrl;
  const accountType = sandbox.tenant.meta.get('account')!.busiTypes[0].id;
  const leadType = sandbox.tenant.meta.get('lead')!.busiTypes[0].id;

  // upsert: find by accountName, then create (every record is new, the costlier path).
  const perRound = Math.ceil(UPSERTS / ROUNDS);
  const upsert = connector.actions.upsert;
  const up = await bestOf(
    ROUNDS,
    (round) =>
      rate(perRound, IN_FLIGHT, async (i) => {
        const name = `raw-upsert-${round}-${i}`;
        const found = await fetch(`${api}/rest/data/v2.0/query/xoql`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            xoql: `select id from account where accountName = '${name}' limit 0,2`,
          }),
        });
        await found.json();
        const res = await fetch(`${api}/rest/data/v2.0/xobjects/account`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: `{"data":{"accountName":"${name}","entityType":${accountType},"phone":"0571-1"}}`,
        });
        await res.json();
      }),
    (round) =>
      rate(perRound, IN_FLIGHT, async (i) => {
        await upsert.run(
          upsert.input.parse({
            object: 'account',
            unique: 'accountName',
            data: { accountName: `qiao-upsert-${round}-${i}`, phone: '0571-1' },
          }),
          testActionContext(`u${round}-${i}`),
        );
      }),
  );
  line('upsert', up.qiao, up.raw);

  // batch create, 100 a call.
  const chunks = Math.ceil(BATCHED / 100 / ROUNDS);
  const batch = connector.actions.batch;
  const bt = await bestOf(
    ROUNDS,
    async (round) =>
      (await rate(chunks, 2, async (c) => {
        const items = Array.from(
          { length: 100 },
          (_, k) => `{"data":{"name":"raw-batch-${round}-${c}-${k}","entityType":${leadType}}}`,
        );
        const res = await fetch(`${api}/rest/data/v2.0/xobjects/lead/batch`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'xsy-execmode': 'continue' },
          body: `{"batchData":[${items.join(',')}]}`,
        });
        await res.json();
      })) * 100,
    async (round) =>
      (await rate(chunks, 2, async (c) => {
        const records = Array.from({ length: 100 }, (_, k) => ({ name: `qiao-batch-${round}-${c}-${k}` }));
        await batch.run(
          batch.input.parse({ object: 'lead', operation: 'create', records }),
          testActionContext(`b${round}-${c}`),
        );
      })) * 100,
  );
  line('batch create', bt.qiao, bt.raw);

  // full paged read of `product` records (generated in-process so the read dominates).
  await admin('/records/product/generate', { count: READ, prefix: 'read' });
  const total = (await admin('/state')).counts.product as number;
  const fields = Object.keys((await connector.api.schema.get('product')).fields);
  const statement = `select ${fields.join(', ')} from product where updatedAt >= 0`;
  const poll = connector.triggers.poll as PollTriggerSpec<PollParams>;
  const params = poll.params.parse({ object: 'product', pageSize: 2000, overlapMs: 0 });
  const rd = await bestOf(
    ROUNDS,
    async () => {
      let rows = 0;
      const t0 = performance.now();
      for (let locator = '', first = true; first || locator; first = false) {
        const res = await fetch(`${api}/rest/data/v2.0/query/xoqlScroll`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ xoql: statement, batchCount: '2000', queryLocator: locator }),
        });
        const body = (await res.json()) as { data: { records: unknown[] }; queryLocator: string };
        rows += body.data.records.length;
        locator = body.queryLocator;
      }
      if (rows !== total) throw new Error(`raw read ${rows} of ${total} records`);
      return rows / ((performance.now() - t0) / 1000);
    },
    async () => {
      let seen = 0;
      const t0 = performance.now();
      for (let cursor = null, more = true; more; ) {
        const page = await poll.poll(params, cursor, {
          signal: AbortSignal.timeout(120_000),
          log: silentLogger,
        });
        seen += page.records.length;
        cursor = page.cursor;
        more = page.more;
      }
      if (seen !== total) throw new Error(`poll read ${seen} of ${total} records`);
      return seen / ((performance.now() - t0) / 1000);
    },
  );
  line('full paged read', rd.qiao, rd.raw);
} finally {
  await f.close();
}
