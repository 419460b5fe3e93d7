import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cursor, PollPage, PollTriggerSpec } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from '../../sandbox/wecom/index.ts';
import type { Approval } from '../../sandbox/wecom/state.ts';
import { testActionContext } from '../conformance.ts';
import { CallbackEndpoint } from './callback.ts';
import { WecomClient } from './client.ts';
import { WecomContext } from './context.ts';
import type { ApprovalState } from './events.ts';
import { type WecomConnector, wecomConnector } from './index.ts';
import { wecomSettings } from './settings.ts';
import { sandboxAdmin } from './test-kit.ts';
import { makeTriggers } from './triggers.ts';

describe('wecom triggers', () => {
  let sb: WecomSandbox;
  before(async () => {
    sb = await startWecomSandbox();
  });
  after(() => sb.close());

  it('approval.submitted pages through 1,200 approvals sharing one second, none lost or repeated, within the documented budgets', async () => {
    // A client on a clock we move: when it refuses locally (600/min detail reads), we play the
    // engine and wait out retryAfterMs.
    let clock = Date.now();
    const settings = wecomSettings.parse({ baseUrl: sb.baseUrl, ...sb.credentials });
    const client = new WecomClient({ settings, log: silentLogger, now: () => clock });
    const ctx = new WecomContext(client, new CallbackEndpoint(settings, silentLogger), silentLogger);
    const trigger = makeTriggers(ctx)['approval.submitted'] as PollTriggerSpec;
    const params = trigger.params.parse({ pageSize: 100 });
    const pc = { signal: AbortSignal.timeout(120_000), log: silentLogger };
    const poll = async (cursor: Cursor | null): Promise<PollPage> => {
      for (;;) {
        try {
          return await trigger.poll(params, cursor, pc);
        } catch (e) {
          if (!(e instanceof QiaoError) || e.errorClass !== 'rate_limited') throw e;
          clock += e.retryAfterMs ?? 60_000;
        }
      }
    };

    // Drain whatever exists, then 1,200 applications all submitted in the same second.
    let cursor: Cursor | null = null;
    for (let page = await poll(null); ; page = await poll(cursor)) {
      cursor = page.cursor ?? cursor;
      if (!page.more) break;
    }
    const w = sb.world;
    const second = Math.floor(Date.now() / 1000) - 5;
    const template = [...w.approvals.values()][0];
    const day = (() => {
      const d = new Date((second + 8 * 3600) * 1000);
      return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
    })();
    const made: string[] = [];
    for (let i = 0; i < 1200; i++) {
      const n = (w.daySeq.get(day) ?? 0) + 1;
      w.daySeq.set(day, n);
      const spNo = `${day}${String(n).padStart(4, '0')}`;
      const a: Approval = {
        spNo,
        spName: '项目立项',
        templateId: TEMPLATE_IDS.project,
        applyTime: second,
        applyer: { userid: 'Chenjing', partyid: '2' },
        spStatus: 1,
        nodes: [
          {
            type: 1,
            apvRel: 2,
            status: 1,
            approvers: [{ userid: 'Zhoujie', status: 1, speech: '', sptime: 0, mediaIds: [] }],
          },
        ],
        notifyers: [],
        notifyType: 1,
        contents: template?.contents ?? [],
        summary: [],
        comments: [],
        agentId: Number(sb.credentials.agentId),
      };
      w.approvals.set(spNo, a);
      made.push(spNo);
    }
    const seen = new Map<string, number>();
    let pages = 0;
    for (;;) {
      const page = await poll(cursor);
      pages++;
      for (const r of page.records)
        seen.set((r.data as ApprovalState).spNo, (seen.get((r.data as ApprovalState).spNo) ?? 0) + 1);
      if (page.cursor && cursor)
        assert.ok(
          page.cursor.time > cursor.time || (page.cursor.time === cursor.time && page.cursor.id >= cursor.id),
          'cursor never moves back',
        );
      cursor = page.cursor ?? cursor;
      if (!page.more) break;
      assert.ok(pages < 100, 'terminates');
    }
    assert.equal(seen.size, 1200);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      'each exactly once',
    );
    assert.deepEqual([...seen.keys()].sort(), made.sort());
    assert.equal(pages, 12);
    assert.ok(client.stats.refusedLocally > 0, 'the 600/min detail budget was honoured by waiting');

    // An application that shows up late in the listing, below the cursor but inside the overlap
    // window, is still picked up once.
    const late = `${day}0000`;
    w.approvals.set(late, { ...w.approvals.get(made[0])!, spNo: late });
    const next = await poll(cursor);
    assert.deepEqual(
      next.records.map((r) => (r.data as ApprovalState).spNo),
      [late],
    );
    assert.deepEqual((await poll(next.cursor)).records, []);
  });

  it('reconcile returns the final state of waited-on approvals whose callback never came', async () => {
    const conn = wecomConnector.create({
      connectionId: 'rc',
      settings: wecomConnector.settings.parse({ baseUrl: sb.baseUrl, ...sb.credentials }),
      log: silentLogger,
    }) as WecomConnector;
    const start = async (i: number) => {
      const a = conn.actions['approval.start'];
      const out = await a.run(
        a.input.parse({
          templateId: TEMPLATE_IDS.expense,
          creator: 'liuyang',
          fields: { 报销类型: '交通费', 报销金额: 100 + i, 发生日期: '2026-03-10', 报销事由: `打车 ${i}` },
        }),
        testActionContext(`rc-${i}`),
      );
      return (out.output as { spNo: string }).spNo;
    };
    // No callback URL configured: every change is "lost".
    const few = [await start(1), await start(2)];
    await sandboxAdmin(sb.baseUrl, `approvals/${few[0]}/agree`, {});
    const direct = await conn.reconcile('approval.change', few);
    assert.deepEqual(
      direct.map((e) => [e.correlation, (e.data as ApprovalState).status]),
      [[few[0], 'approved']],
    );
    assert.equal(direct[0].type, 'approval.change');

    // Many waits: listed by final status first, details read only for the ones that moved.
    const many: string[] = [];
    for (let i = 0; i < 12; i++) many.push(await start(10 + i));
    await sandboxAdmin(sb.baseUrl, `approvals/${many[3]}/reject`, { speech: '票据不全' });
    await sandboxAdmin(sb.baseUrl, `approvals/${many[7]}/withdraw`, {});
    await sandboxAdmin(sb.baseUrl, 'calls', undefined, 'DELETE');
    const events = await conn.reconcile('approval.change', many);
    assert.deepEqual(
      events.map((e) => [e.correlation, (e.data as ApprovalState).status]).sort(),
      [
        [many[3], 'rejected'],
        [many[7], 'withdrawn'],
      ].sort(),
    );
    const counts = (await sandboxAdmin(sb.baseUrl, 'calls')).counts;
    assert.equal(counts['/cgi-bin/oa/getapprovaldetail'], 2, 'details only for the two that moved');
    assert.ok(counts['/cgi-bin/oa/getapprovalinfo'] >= 6, 'one listing per final status');
    assert.deepEqual(await conn.reconcile('dingtalk.thing', many), []);
  });

  it('event triggers match by template, status, change and terminal state', () => {
    const conn = wecomConnector.create({
      connectionId: 'm',
      settings: wecomConnector.settings.parse({ baseUrl: sb.baseUrl, ...sb.credentials }),
      log: silentLogger,
    });
    const t = conn.triggers['approval.changed'];
    assert.equal(t.kind, 'event');
    if (t.kind !== 'event') return;
    const ev = (spStatus: number, change: number, templateId = TEMPLATE_IDS.contract) => ({
      key: 'k',
      type: 'approval.change',
      data: {
        spStatus,
        templateId,
        terminal: [2, 3, 4, 6, 7, 10].includes(spStatus),
        change: { event: change },
      },
    });
    const m = (p: unknown, e: ReturnType<typeof ev>) => t.matches!(e, t.params.parse(p));
    assert.equal(m({}, ev(1, 1)), true);
    assert.equal(m({ terminalOnly: true }, ev(1, 10)), false);
    assert.equal(m({ terminalOnly: true }, ev(2, 2)), true);
    assert.equal(m({ statuses: [3] }, ev(2, 2)), false);
    assert.equal(m({ templateIds: [TEMPLATE_IDS.expense] }, ev(2, 2)), false);
    assert.equal(m({ changes: [10] }, ev(1, 10)), true);
    const c = conn.triggers['card.clicked'];
    if (c.kind !== 'event') return;
    assert.equal(
      c.matches!(
        { key: 'k', type: 'card.click', data: { taskId: 'pay-1', key: 'confirm' } },
        c.params.parse({ taskIdPrefix: 'pay-', keys: ['confirm'] }),
      ),
      true,
    );
    assert.equal(
      c.matches!(
        { key: 'k', type: 'card.click', data: { taskId: 'pay-1', key: 'reject' } },
        c.params.parse({ keys: ['confirm'] }),
      ),
      false,
    );
  });
});
