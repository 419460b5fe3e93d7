/**
 * The `approval.instances` poll: pages by (time, id), never skips or repeats within a pass even
 * when many instances share one timestamp (createTime has minute precision, §10.2), and returns
 * instances of the current minute without moving the cursor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cursor, PollTriggerSpec } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { connectorFor, startDingtalkSandbox } from './test-helpers.ts';
import { chatMatches } from './triggers.ts';

describe('dingtalk approval.instances poll', () => {
  let sb: DingtalkSandbox;
  let poll: PollTriggerSpec;
  const ctx = { signal: AbortSignal.timeout(60_000), log: silentLogger };

  before(async () => {
    sb = await startDingtalkSandbox();
    poll = connectorFor(sb).triggers['approval.instances'] as PollTriggerSpec;
  });
  after(() => sb.close());

  it('walks 60 instances that share one minute in pages of 7, by id, then stops', async () => {
    const minute = Math.floor((Date.now() - 10 * 60_000) / 60_000) * 60_000;
    const seeded = await sb.admin('POST', '/__sandbox/approvals', {
      template: 'project',
      originatorUserId: 'manager4009',
      form: { 项目名称: '历史项目', 预算金额: '1' },
      count: 60,
      createdAt: minute + 30_000,
    });
    const params = poll.params.parse({ processCode: sb.processCodes.project, pageSize: 7 });
    const seen: string[] = [];
    let cursor: Cursor | null = null;
    let pages = 0;
    for (;;) {
      const page = await poll.poll(params, cursor, ctx);
      pages += 1;
      for (const r of page.records) {
        assert.equal(r.cursor.time, String(minute).padStart(13, '0'));
        seen.push(r.key);
      }
      if (cursor && page.cursor)
        assert.ok(
          page.cursor.time > cursor.time || (page.cursor.time === cursor.time && page.cursor.id > cursor.id),
        );
      cursor = page.cursor;
      if (!page.more) break;
    }
    assert.equal(pages, 9);
    assert.deepEqual(seen, [...seeded.processInstanceIds].sort(), 'each once, in id order');
    // Nothing new: an empty page, the cursor stays.
    const again = await poll.poll(params, cursor, ctx);
    assert.deepEqual([again.records.length, again.cursor, again.more], [0, cursor, false]);

    // Instances of the current minute come back without moving the cursor, until their minute is over.
    const fresh = await sb.admin('POST', '/__sandbox/approvals', {
      template: 'project',
      originatorUserId: 'manager4009',
      form: { 项目名称: '新项目', 预算金额: '2' },
      count: 2,
    });
    const p1 = await poll.poll(params, cursor, ctx);
    assert.deepEqual(p1.records.map((r) => r.key).sort(), [...fresh.processInstanceIds].sort());
    assert.deepEqual(p1.cursor, cursor);
  });
});

describe('dingtalk chat trigger matching', () => {
  const ev = (text: string, internal = true, conversationType = 'single') => ({
    key: 'k',
    type: 'chat.message',
    data: { text, internal, conversationType, conversationId: 'cid1' },
  });
  it('matches the whole text, a substring or a pattern, employees only by default', () => {
    const p = (x: Record<string, unknown>) => ({ employeesOnly: true, ...x });
    assert.equal(chatMatches(ev('确认付款'), p({ text: '确认付款' })), true);
    assert.equal(chatMatches(ev('确认付款了吗'), p({ text: '确认付款' })), false);
    assert.equal(chatMatches(ev('报销差旅费1280元'), p({ contains: '报销' })), true);
    assert.equal(chatMatches(ev('报销差旅费1280元'), p({ pattern: '^报销.*\\d+元' })), true);
    assert.equal(chatMatches(ev('确认付款', false), p({ text: '确认付款' })), false, 'a guest');
    assert.equal(chatMatches(ev('确认付款', false), { employeesOnly: false, text: '确认付款' }), true);
    assert.equal(chatMatches(ev('确认付款', true, 'group'), p({ conversationType: 'single' })), false);
  });
});
