import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cursor, PollPage, PollTriggerSpec } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import { type NeocrmFixture, startNeocrmFixture } from './testing.ts';
import type { PollParams } from './triggers.ts';

const ctx = () => ({ signal: AbortSignal.timeout(60_000), log: silentLogger });

/** Polls until `more` is false; returns every page. */
async function drain(t: PollTriggerSpec<PollParams>, params: Partial<PollParams>, cursor: Cursor | null) {
  const parsed = t.params.parse(params);
  const pages: PollPage[] = [];
  for (let i = 0; i < 10_000; i++) {
    const page = await t.poll(parsed, cursor, ctx());
    if (page.cursor && cursor) {
      assert.ok(
        page.cursor.time > cursor.time || (page.cursor.time === cursor.time && page.cursor.id >= cursor.id),
        'the cursor never moves back',
      );
    }
    pages.push(page);
    cursor = page.cursor ?? cursor;
    if (!page.more) return { pages, cursor };
  }
  throw new Error('the poll did not terminate');
}

const keysOf = (pages: PollPage[]) => pages.flatMap((p) => p.records.map((r) => r.key));

function countKeys(keys: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

describe('neocrm poll trigger', () => {
  let f: NeocrmFixture;
  let poll: PollTriggerSpec<PollParams>;
  before(async () => {
    f = await startNeocrmFixture();
    poll = f.connector.triggers.poll as PollTriggerSpec<PollParams>;
  });
  after(() => f.close());

  for (const reader of ['scroll', 'query'] as const) {
    it(`1,000 records sharing one updatedAt are each seen once across pages (${reader})`, async () => {
      const at = Date.now() + 10_000_000 + (reader === 'scroll' ? 0 : 1_000_000);
      const gen = await f.admin('/records/lead/generate', { count: 1000, at, prefix: `tie-${reader}` });
      assert.equal(gen.count, 1000);
      const { pages } = await drain(poll, { object: 'lead', pageSize: 100, reader, overlapMs: 0 }, null);
      const counts = countKeys(keysOf(pages));
      for (const id of gen.ids as string[])
        assert.equal(counts.get(`lead:${id}@${at}`), 1, `lead ${id} seen once`);
      for (const [k, n] of counts) assert.equal(n, 1, `${k} seen ${n} times`);
      assert.ok(pages.length >= 10, `paged (${pages.length} pages)`);
      assert.ok(
        pages.every((p) => p.records.length <= 100),
        'no page exceeds pageSize',
      );
      // Records come out in (updatedAt, id) order.
      const cursors = pages.flatMap((p) => p.records.map((r) => `${r.cursor.time}|${r.cursor.id}`));
      assert.deepEqual(cursors, [...cursors].sort());
    });
  }

  it('reads a backlog spread over time oldest first, every record once, with narrowed windows', async () => {
    const base = Date.now() + 50_000_000;
    // 12 bursts of 150 records, 1 s apart, plus single records in between.
    const expected = new Set<string>();
    for (let b = 0; b < 12; b++) {
      const at = base + b * 1000;
      const gen = await f.admin('/records/contact/generate', {
        count: 150,
        at,
        data: { accountId: (await firstAccount()).id },
        prefix: `burst${b}`,
      });
      for (const id of gen.ids) expected.add(`contact:${id}@${at}`);
    }
    const start = (await f.admin('/state')).now;
    void start;
    const { pages } = await drain(poll, { object: 'contact', pageSize: 200, since: base }, null);
    const keys = keysOf(pages);
    assert.equal(keys.length, expected.size, 'every record once');
    assert.deepEqual(new Set(keys), expected);
    assert.ok(pages.length >= 9, `paged into windows (${pages.length})`);
  });

  async function firstAccount() {
    return (await f.admin('/records/account?limit=1')).records[0];
  }

  it('a token revoked mid-sync costs one login, and nothing is lost or repeated', async () => {
    const at = Date.now() + 90_000_000;
    const gen = await f.admin('/records/product/generate', { count: 450, at, prefix: 'revoke' });
    const params = poll.params.parse({ object: 'product', pageSize: 100, since: at, reader: 'query' });
    const first = await poll.poll(params, null, ctx());
    assert.equal(first.more, true);
    const before = f.connector.client.tokenRequests;
    const issued = (await f.admin('/stats')).tokenIssued;
    await f.admin('/tokens/revoke', {});
    const rest = await drain(poll, params, first.cursor);
    assert.equal(f.connector.client.tokenRequests - before, 1, 'one login after the revocation');
    assert.equal((await f.admin('/stats')).tokenIssued - issued, 1, 'the sandbox issued one token');
    const counts = countKeys(keysOf([first, ...rest.pages]));
    assert.equal(counts.size, 450);
    for (const id of gen.ids as string[]) assert.equal(counts.get(`product:${id}@${at}`), 1);
  });

  it('filters opportunities that became won, once per opportunity (keyBy transition)', async () => {
    const params = {
      object: 'opportunity',
      filter: { status: 2 },
      keyBy: 'transition' as const,
      overlapMs: 2000,
    };
    const initial = await drain(poll, params, null);
    const seededWon = keysOf(initial.pages).length;
    assert.ok(seededWon >= 10, 'the seeded won opportunities');
    const open = (await f.admin('/records/opportunity?limit=1000')).records.filter(
      (o: any) => o.status === '1' || o.status === 1,
    );
    assert.ok(open.length >= 2);
    await f.admin('/act/win-opportunity', { id: open[0].id });
    // Another change to an open opportunity is not an event.
    await f.admin(`/records/opportunity/${open[1].id}`, { data: { winRate: 55 } }, 'PATCH');
    const pass = await drain(poll, params, initial.cursor);
    const keys = keysOf(pass.pages);
    assert.ok(
      keys.includes(`opportunity:${open[0].id}#${keys[0]?.split('#')[1]}`),
      'the newly won opportunity',
    );
    const wonNow = keys.filter((k) => k.startsWith(`opportunity:${open[0].id}#`));
    assert.equal(wonNow.length, 1);
    assert.ok(
      !keys.some((k) => k.startsWith(`opportunity:${open[1].id}#`)),
      'the other change is filtered out',
    );
    // Editing the won opportunity again keeps the same transition key (the inbox drops it).
    await f.admin(`/records/opportunity/${open[0].id}`, { data: { comment: '合同已签' } }, 'PATCH');
    const again = await drain(poll, params, pass.cursor);
    for (const k of keysOf(again.pages)) assert.equal(k, wonNow[0]);
    for (const p of pass.pages) for (const r of p.records) assert.equal((r.data as any).status, 2);
  });

  it('keyBy transition with episodeBy: a record sent back and resubmitted is an event again, edits within an episode are not', async () => {
    const params = {
      object: 'contract',
      filter: { status: 2 },
      keyBy: 'transition' as const,
      episodeBy: ['returnedApprovalNo__c'],
      overlapMs: 2000,
    };
    const plain = { ...params, episodeBy: undefined };
    const initial = await drain(poll, params, null);
    const account = (await f.admin('/records/account?limit=1')).records[0];
    const contract = await f.admin('/act/create-contract', { accountId: account.id, amount: 10_000 });
    const mine = (pages: PollPage[]) => keysOf(pages).filter((k) => k.startsWith(`contract:${contract.id}#`));
    /** A pass from `cursor`: this contract's keys, and where the next pass starts. */
    const pass = async (cursor: Cursor | null) => {
      const got = await drain(poll, params, cursor);
      return { keys: [...new Set(mine(got.pages))], cursor: got.cursor };
    };
    const edit = (data: Record<string, unknown>) =>
      f.admin(`/records/contract/${contract.id}`, { as: 'E0003', data }, 'PATCH');

    const submitted = await pass(initial.cursor);
    assert.equal(submitted.keys.length, 1, 'submitted: one event');
    const [first] = submitted.keys;
    // Without an episode value the key is the plain transition key: adding episodeBy restarts nothing.
    assert.deepEqual(mine((await drain(poll, plain, initial.cursor)).pages), [first]);

    await edit({ amount: 12_000 }); // edited while 审批中: the same episode
    const edited = await pass(submitted.cursor);
    assert.deepEqual(edited.keys, [first]);

    await edit({ status: 1, returnedApprovalNo__c: 'SP-1' }); // sent back to 草稿: not an event
    const returned = await pass(edited.cursor);
    assert.deepEqual(returned.keys, []);

    await edit({ status: 2, amount: 11_000 }); // resubmitted: a new episode, a new key
    const again = await pass(returned.cursor);
    assert.equal(again.keys.length, 1);
    const [second] = again.keys;
    assert.notEqual(second, first);
    assert.ok(second.startsWith(`${first}#`), second);
    await edit({ quantity__c: 2 });
    assert.deepEqual((await pass(again.cursor)).keys, [second], 'edits keep the second key');
    // Re-read from the start (a lost cursor): still only these two keys.
    assert.deepEqual((await pass(null)).keys, [second]);

    await edit({ status: 1, returnedApprovalNo__c: 'SP-2' });
    await edit({ status: 2 });
    const third = await pass(again.cursor);
    assert.equal(third.keys.length, 1);
    assert.ok(![first, second].includes(third.keys[0]), 'a third episode, a third key');
  });

  it('episodeBy needs keyBy transition', () => {
    assert.throws(
      () => poll.params.parse({ object: 'contract', episodeBy: ['returnedApprovalNo__c'] }),
      /episodeBy needs keyBy: transition/,
    );
  });

  it('a new pass re-reads the overlap window once; a continuation does not', async () => {
    const at = Date.now() + 120_000_000;
    await f.admin('/records/lead/generate', { count: 30, at, prefix: 'ovl-a' });
    const params = { object: 'lead', pageSize: 20, overlapMs: 5000, since: at };
    const one = await drain(poll, params, null);
    assert.equal(keysOf(one.pages).length, 30, 'first pass: 30 once (continuations skip the overlap)');
    await f.admin('/records/lead/generate', { count: 5, at: at + 1000, prefix: 'ovl-b' });
    const two = await drain(poll, params, one.cursor);
    const keys = keysOf(two.pages);
    const counts = countKeys(keys);
    for (const n of counts.values()) assert.equal(n, 1);
    assert.ok(keys.filter((k) => k.endsWith(`@${at + 1000}`)).length === 5, 'the 5 new records');
    assert.ok(keys.length >= 5 && keys.length <= 35, 'plus at most the overlap window');
  });

  it('two flows polling with the same params, interleaved, each see every record once', async () => {
    const at = Date.now() + 150_000_000;
    const gen = await f.admin('/records/lead/generate', { count: 350, at, prefix: 'twin' });
    const params = poll.params.parse({ object: 'lead', pageSize: 50, since: at, overlapMs: 60_000 });
    const state = [
      { cursor: null as Cursor | null, keys: [] as string[], more: true },
      { cursor: null as Cursor | null, keys: [] as string[], more: true },
    ];
    for (let i = 0; i < 100 && state.some((s) => s.more); i++) {
      for (const s of state) {
        if (!s.more) continue;
        const page = await poll.poll(params, s.cursor, ctx());
        s.keys.push(...page.records.map((r) => r.key));
        s.cursor = page.cursor ?? s.cursor;
        s.more = page.more;
      }
    }
    for (const s of state) {
      assert.equal(s.more, false, 'terminated');
      assert.equal(s.keys.length, 350);
      assert.deepEqual(new Set(s.keys), new Set((gen.ids as string[]).map((id) => `lead:${id}@${at}`)));
    }
  });

  it('emits ids above 2^53 exactly, as strings, and data ids as strings', async () => {
    const page = await poll.poll(poll.params.parse({ object: 'account', pageSize: 5 }), null, ctx());
    for (const r of page.records) {
      const d = r.data as Record<string, unknown>;
      assert.equal(typeof d.id, 'string');
      assert.ok(BigInt(d.id as string) > 2n ** 53n, 'seeded ids are above 2^53');
      assert.equal(typeof d.ownerId, 'string');
      assert.equal(r.cursor.id, (d.id as string).padStart(20, '0'));
      assert.equal(r.cursor.time, String(d.updatedAt).padStart(13, '0'));
    }
  });

  it('terminates with more=false and an unchanged cursor when nothing changed', async () => {
    const params = { object: 'department', overlapMs: 0 };
    const { cursor } = await drain(poll, params, null);
    const page = await poll.poll(poll.params.parse(params), cursor, ctx());
    assert.equal(page.more, false);
    assert.deepEqual(page.records, []);
    assert.deepEqual(page.cursor, cursor);
  });
});
