/**
 * Kingdee connector throughput against its in-process sandbox, each figure beside the raw-HTTP ceiling
 * measured in the same run: plain `fetch` with a session cookie making the same wire calls, with no
 * classification, no idempotency bookkeeping and no row objects.
 *
 * - upsert, one record a call: the `upsert` action (ExecuteBillQuery by FNumber, then Save), 4 in
 *   flight (the connector's default concurrency cap);
 * - upsert with BatchSave: the `batch-upsert` action, 100 records a call (one ExecuteBillQuery with
 *   `FNumber in (…)`, one BatchSave), 2 in flight;
 * - full paged read: the `poll` trigger draining BD_Customer by (FModifyDate, FID), against raw
 *   ExecuteBillQuery pages of the same fields.
 *
 * Each figure is the best of three rounds per side, raw and Qiao alternating, so load from other
 * processes on the machine does not land on one side only.
 *
 * Run: npx node bench/kingdee.bench.ts
 */
import { testActionContext } from '../src/connectors/conformance.ts';
import { startKingdeeFixture } from '../src/connectors/kingdee/testing.ts';
import type { PollTriggerSpec } from '../src/core/connector.ts';
import { silentLogger } from '../src/core/logger.ts';

const UPSERTS = Number(process.env.KINGDEE_BENCH_UPSERTS ?? 900);
const BATCHED = Number(process.env.KINGDEE_BENCH_BATCHED ?? 6000);
const ROUNDS = 3;

function line(what: string, value: number, ceiling: number, unit = 'records/s'): void {
  console.log(
    `kingdee ${what}: ${Math.round(value)} ${unit} (ceiling ${Math.round(ceiling)} ${unit}, ratio ${(value / ceiling).toFixed(2)})`,
  );
}

/** Runs `n` tasks with `width` in flight; returns tasks per second. */
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

async function bestOf(raw: (round: number) => Promise<number>, qiao: (round: number) => Promise<number>) {
  let r = 0;
  let q = 0;
  for (let i = 0; i < ROUNDS; i++) {
    r = Math.max(r, await raw(i));
    q = Math.max(q, await qiao(i));
  }
  return { raw: r, qiao: q };
}

const f = await startKingdeeFixture();
try {
  const { connector, sandbox, settings } = f;
  // Raw side: one ValidateUser, then the session cookie on every call (spec 3.1, 3.4).
  const login = await fetch(
    `${sandbox.baseUrl}Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser.common.kdsvc`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: [settings.acctId, settings.username, settings.password, 2052] }),
    },
  );
  await login.json();
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const raw = async (method: string, params: unknown[]) => {
    const res = await fetch(
      `${sandbox.baseUrl}Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.${method}.common.kdsvc`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie },
        body: JSON.stringify({ parameters: params }),
      },
    );
    return res.json();
  };
  const customer = (n: string) => ({
    FNumber: n,
    FName: `客户${n}`,
    FCreateOrgId: { FNumber: '100' },
    FTEL: '0571-88880000',
  });

  // 1. upsert, one record a call (every record new: the find-then-create path).
  const perRound = Math.ceil(UPSERTS / ROUNDS);
  const upsert = connector.actions.upsert;
  const up = await bestOf(
    (round) =>
      rate(perRound, 4, async (i) => {
        const n = `RAW-U${round}-${i}`;
        await raw('ExecuteBillQuery', [
          JSON.stringify({
            FormId: 'BD_Customer',
            FieldKeys: 'FCUSTID,FNumber,FDocumentStatus',
            FilterString: `FNumber = '${n}'`,
          }),
        ]);
        await raw('Save', ['BD_Customer', JSON.stringify({ Model: customer(n) })]);
      }),
    (round) =>
      rate(perRound, 4, async (i) => {
        const n = `QIAO-U${round}-${i}`;
        await upsert.run(
          upsert.input.parse({ formId: 'BD_Customer', model: customer(n) }),
          testActionContext(n),
        );
      }),
  );
  line('upsert one at a time', up.qiao, up.raw);

  // 2. upsert with BatchSave, 100 records a call.
  const chunks = Math.ceil(BATCHED / 100 / ROUNDS);
  const batch = connector.actions['batch-upsert'];
  const bt = await bestOf(
    async (round) =>
      (await rate(chunks, 2, async (c) => {
        const models = Array.from({ length: 100 }, (_, k) => customer(`RAW-B${round}-${c}-${k}`));
        const list = models.map((m) => `'${m.FNumber}'`).join(',');
        await raw('ExecuteBillQuery', [
          JSON.stringify({
            FormId: 'BD_Customer',
            FieldKeys: 'FCUSTID,FNumber,FDocumentStatus',
            FilterString: `FNumber in (${list})`,
          }),
        ]);
        await raw('BatchSave', ['BD_Customer', JSON.stringify({ Model: models })]);
      })) * 100,
    async (round) =>
      (await rate(chunks, 2, async (c) => {
        const models = Array.from({ length: 100 }, (_, k) => customer(`QIAO-B${round}-${c}-${k}`));
        await batch.run(
          batch.input.parse({ formId: 'BD_Customer', models }),
          testActionContext(`b${round}-${c}`),
        );
      })) * 100,
  );
  line('upsert with BatchSave', bt.qiao, bt.raw);

  // 3. full paged read of every customer.
  const total = (await f.admin('state')).forms.BD_Customer as number;
  const poll = connector.triggers.poll as PollTriggerSpec;
  const params = poll.params.parse({ formId: 'BD_Customer', overlapMs: 0, pageSize: 2000 });
  const keys = 'FCUSTID,FNumber,FModifyDate,FDocumentStatus';
  const rd = await bestOf(
    async () => {
      let rows = 0;
      const t0 = performance.now();
      for (let start = 0; ; start += 2000) {
        const page = (await raw('ExecuteBillQuery', [
          JSON.stringify({
            FormId: 'BD_Customer',
            FieldKeys: keys,
            OrderString: 'FModifyDate ASC, FCUSTID ASC',
            StartRow: start,
            Limit: 2000,
          }),
        ])) as unknown[];
        rows += page.length;
        if (page.length < 2000) break;
      }
      if (rows !== total) throw new Error(`raw read ${rows} of ${total}`);
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
      if (seen !== total) throw new Error(`poll read ${seen} of ${total}`);
      return seen / ((performance.now() - t0) / 1000);
    },
  );
  line('full paged read', rd.qiao, rd.raw);
} finally {
  await f.close();
}
