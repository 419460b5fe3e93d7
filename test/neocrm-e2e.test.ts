/**
 * Neocrm end to end over real HTTP: a hub (engine, SQLite store, scheduler) with a `neocrm` connection to
 * the Neocrm sandbox. Polls enqueue every record version once — 1,000 records sharing one `updatedAt`
 * included — and a token revoked mid-sync costs one login with nothing lost or repeated; ids above 2^53
 * travel CRM → engine → CRM unchanged; a validation error is a dead letter with Neocrm's own message,
 * and an edited replay completes the run once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NeocrmConnector } from '../src/connectors/neocrm/index.ts';
import { createLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from '../src/sandbox/neocrm/index.ts';
import type { RunStatus } from '../src/store/store.ts';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('neocrm end to end: hub + sandbox over HTTP', () => {
  let dir: string;
  let sb: NeocrmSandboxHandle;
  let hub: Hub;
  const startedAt = Date.now();

  const admin = async (path: string, body?: unknown, method?: string): Promise<any> => {
    const res = await fetch(`${sb.urls.admin}${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `admin ${path}: ${text}`);
    return JSON.parse(text);
  };
  const runsOf = (flowId: string) => hub.store.listRuns({ flowId, limit: 100_000 });
  /** Waits (on state, not on time) until the flow has `n` runs; fails after `ms`. */
  const untilRuns = async (flowId: string, n: number, ms = 30_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const runs = await runsOf(flowId);
      if (runs.length >= n) return runs;
      if (Date.now() > end) throw new Error(`flow ${flowId} has ${runs.length} runs, expected ${n}`);
      await wait(25);
    }
  };
  const until = async (runId: string, statuses: RunStatus[], ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const got = await hub.store.getRun(runId);
      if (got && statuses.includes(got.run.status)) return got;
      if (Date.now() > end) {
        throw new Error(
          `run ${runId} is ${got?.run.status}: ${JSON.stringify(got?.steps.map((s) => [s.name, s.status, s.error?.message]))}`,
        );
      }
      await wait(20);
    }
  };
  const connector = () => hub.connections.get('crm')!.connector as NeocrmConnector;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-neocrm-e2e-'));
    sb = await startNeocrmSandbox();
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      serve: false,
      concurrency: 16,
      log: createLogger({}, { level: 'silent' }),
    });
    await hub.connections.save(
      {
        id: 'crm',
        type: 'neocrm',
        settings: { baseUrl: sb.baseUrl, ...sb.credentials },
        // The default budget (10/s) would make 1,000-record syncs slow to test; the sandbox has no limit.
        limits: { rate: { perSecond: 1000, burst: 1000 }, concurrency: 8 },
        origin: 'api',
      },
      'test',
    );
    // Flows are validated against the tenant's real fields: load them from describe (custom fields
    // such as creditRating__c are not in the static schema).
    await connector().describe!();
  });
  after(async () => {
    await hub?.close();
    await sb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('1,000 records sharing one updatedAt are each enqueued once across pages', async () => {
    const at = startedAt + 3_600_000;
    const gen = await admin('/records/lead/generate', { count: 1000, at, prefix: 'e2e-tie' });
    await hub.saveFlow(
      `id: lead-sync
name: 线索同步
trigger: { type: poll, connection: crm, trigger: poll, params: { object: lead, pageSize: 100, since: ${at} }, every: 1s }
steps:
  - id: keep
    map: { id: '=event.id', at: '=event.updatedAt' }
`,
      'lead-sync.yaml',
      'api',
      'test',
    );
    const runs = await untilRuns('lead-sync', 1000);
    // Another poll or two (with their overlap re-reads) must not start anything new.
    const polled = (await admin('/stats')).byOperation.query ?? 0;
    for (
      const end = Date.now() + 10_000;
      ((await admin('/stats')).byOperation.query ?? 0) < polled + 2 && Date.now() < end;
    )
      await wait(50);
    const after = await runsOf('lead-sync');
    assert.equal(after.length, 1000, 'one run per record');
    assert.deepEqual(
      new Set(after.map((r) => r.eventKey)),
      new Set((gen.ids as string[]).map((id) => `lead:${id}@${at}`)),
    );
    assert.equal(runs.length, 1000);
    const inbox = await hub.store.getInbox('poll:lead-sync', `lead:${gen.ids[0]}@${at}`);
    assert.ok(inbox, 'the record is in the inbox');
    await hub.saveFlow(
      `id: lead-sync
name: 线索同步
enabled: false
trigger: { type: poll, connection: crm, trigger: poll, params: { object: lead, pageSize: 100, since: ${at} }, every: 1s }
steps:
  - id: keep
    map: { id: '=event.id' }
`,
      'lead-sync.yaml',
      'api',
      'test',
    );
  });

  it('a token revoked mid-sync costs one login; nothing is lost or repeated', async () => {
    const at = startedAt + 7_200_000;
    const gen = await admin('/records/product/generate', { count: 600, at, prefix: 'e2e-revoke' });
    // Slow each call a little so the sync is still going when the token is revoked.
    await admin('/faults', { latencyMs: 40 });
    const logins = connector().client.tokenRequests;
    const issued = (await admin('/stats')).tokenIssued;
    try {
      await hub.saveFlow(
        `id: product-sync
name: 产品同步
trigger: { type: poll, connection: crm, trigger: poll, params: { object: product, pageSize: 50, since: ${at}, reader: query }, every: 1s }
steps:
  - id: keep
    map: { id: '=event.id' }
`,
        'product-sync.yaml',
        'api',
        'test',
      );
      const partial = await untilRuns('product-sync', 50);
      assert.ok(partial.length < 600, 'the sync is under way');
      await admin('/tokens/revoke', {});
    } finally {
      await admin('/faults', undefined, 'DELETE');
    }
    const runs = await untilRuns('product-sync', 600);
    assert.equal(connector().client.tokenRequests - logins, 1, 'the connector logged in once more');
    assert.equal((await admin('/stats')).tokenIssued - issued, 1, 'the sandbox issued one token');
    assert.equal(runs.length, 600);
    assert.deepEqual(
      new Set(runs.map((r) => r.eventKey)),
      new Set((gen.ids as string[]).map((id) => `product:${id}@${at}`)),
    );
  });

  it('ids above 2^53 travel CRM → engine → CRM unchanged (won opportunity → contract)', async () => {
    await hub.saveFlow(
      `id: won-to-contract
name: 赢单生成合同
trigger:
  type: poll
  connection: crm
  trigger: poll
  params: { object: opportunity, filter: { status: 2 }, keyBy: transition, since: ${Date.now()} }
  every: 1s
  source: { object: opportunity, id: '=event.id' }
steps:
  - id: contract
    action: crm.upsert
    input:
      object: contract
      unique: title
      data:
        title: '="合同-" & event.opportunityName'
        accountId: '=event.accountId'
        opportunityId: '=event.id'
        ownerId: '=event.ownerId'
        amount: '=event.money'
        status: 1
  - id: read
    action: crm.get
    input: { object: contract, id: '=steps.contract.id' }
`,
      'won-to-contract.yaml',
      'api',
      'test',
    );
    const open = (await admin('/records/opportunity?limit=1000')).records.find((o: any) => o.status === 1);
    assert.ok(
      BigInt(open.id) > 2n ** 53n && BigInt(open.accountId) > 2n ** 53n && BigInt(open.ownerId) > 2n ** 53n,
    );
    await admin('/act/win-opportunity', { id: open.id, as: 'E0003' });
    const [run] = await untilRuns('won-to-contract', 1);
    const got = await until(run.id, ['completed']);
    const created = got.steps[0].output as { id: string; created: boolean };
    assert.equal(created.created, true);
    const read = got.steps[1].output as Record<string, unknown>;
    assert.equal(read.opportunityId, open.id, 'the opportunity id came back exactly');
    assert.equal(read.accountId, open.accountId);
    assert.equal(read.ownerId, open.ownerId);
    const stored = await admin(`/records/contract/${created.id}`);
    assert.equal(stored.opportunityId, open.id, 'and was written to the CRM exactly');
    assert.equal(stored.accountId, open.accountId);
    assert.equal(stored.ownerId, open.ownerId);
    const links = await hub.store.findLinks({ connection: 'crm', object: 'contract' });
    assert.ok(
      links.some((l) => l.externalId === created.id),
      'the id map holds the exact id',
    );
    // Editing the won opportunity again starts nothing (transition key).
    await admin(`/records/opportunity/${open.id}`, { data: { comment: '已签约' } }, 'PATCH');
    const polled = (await admin('/stats')).byOperation.query ?? 0;
    for (
      const end = Date.now() + 10_000;
      ((await admin('/stats')).byOperation.query ?? 0) < polled + 2 && Date.now() < end;
    )
      await wait(50);
    assert.equal((await runsOf('won-to-contract')).length, 1);
  });

  it('flows are validated against the described fields', () => {
    const { problems } = hub.validateFlow(
      `id: typo
name: typo
trigger: { type: webhook }
steps:
  - id: account
    action: crm.create
    input: { object: account, data: { accountName: x, creditRatng__c: 1 } }
`,
      'typo.yaml',
    );
    assert.equal(problems.length, 1);
    assert.match(
      problems[0].message,
      /unknown field 'creditRatng__c' of neocrm account; did you mean 'creditRating__c'/,
    );
  });

  it("a validation error is a dead letter with Neocrm's own message; an edited replay completes once", async () => {
    await hub.saveFlow(
      `id: new-customer
name: 新客户
trigger: { type: webhook }
steps:
  - id: account
    action: crm.upsert
    input:
      object: account
      unique: accountName
      data: { accountName: '=event.name', creditRating__c: '=event.rating' }
  - id: done
    map: { id: '=steps.account.id' }
`,
      'new-customer.yaml',
      'api',
      'test',
    );
    const out = await hub.engine.startFlow('new-customer', { name: '绍兴柯桥纺机有限公司', rating: 9 });
    const failed = await until(out.runIds[0], ['failed']);
    assert.equal(failed.steps[0].history.length, 1, 'not retried');
    const [dl] = await hub.store.listDeadLetters({ flowId: 'new-customer', status: 'open' });
    assert.equal(dl.error.errorClass, 'permanent');
    assert.equal(dl.error.partner?.system, 'neocrm');
    assert.equal(dl.error.partner?.message, '字段[信用等级(creditRating__c)]的选项值[9]不存在');
    assert.equal(dl.error.partner?.field, 'creditRating__c');
    assert.equal(dl.error.partner?.code, '400');
    const input = dl.input as { data: Record<string, unknown> };
    await hub.store.editDeadLetter(
      dl.id,
      { ...input, data: { ...input.data, creditRating__c: 2 } },
      { actor: 'ops', action: 'dead-letter.edit', target: dl.id },
    );
    await hub.engine.replay(dl.id, 'ops');
    const done = await until(out.runIds[0], ['completed']);
    const id = (done.steps[1].output as { id: string }).id;
    const accounts = (await admin('/records/account?limit=100000')).records.filter(
      (a: any) => a.accountName === '绍兴柯桥纺机有限公司',
    );
    assert.equal(accounts.length, 1, 'created once');
    assert.equal(accounts[0].id, id);
    assert.equal(accounts[0].creditRating__c, 2);
  });
});
