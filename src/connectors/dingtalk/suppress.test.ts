/**
 * Alert suppression (`robot.send` with `suppress`): the window logic with a hand-driven clock, and a
 * storm of 50 alerts over real HTTP to the sandbox's group robot becoming one message and one summary.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { testActionContext } from '../conformance.ts';
import type { DingtalkConnector } from './index.ts';
import { type Summary, Suppressor, summaryText } from './suppress.ts';
import { connectorFor, startDingtalkSandbox, waitFor } from './test-helpers.ts';

/** A suppressor on a clock the test moves; scheduled summaries run when the clock passes them. */
function manual() {
  let now = 1_773_100_800_000; // 2026-03-10T00:00:00Z
  const timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  const sent: Summary[] = [];
  const s = new Suppressor({
    now: () => now,
    schedule(fn, ms) {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
    async sendSummary(summary) {
      sent.push(summary);
    },
  });
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers) {
      if (t.live && t.at <= now) {
        t.live = false;
        t.fn();
      }
    }
  };
  /** One alert through admit/sent as robot.send does; true when it was posted. */
  const alert = (key: string, idem: string, text = idem, count?: number) => {
    const input = { key, windowMs: 600_000, count };
    const d = s.admit('alerts', input, idem, text);
    if (d.send) s.sent('alerts', input, idem, d);
    return d.send;
  };
  return { s, sent, advance, alert };
}

describe('Suppressor', () => {
  it('posts the first alert of a key, holds back the rest of the window, then sends one summary', () => {
    const { sent, advance, alert } = manual();
    assert.equal(alert('dead-letters', 'a1'), true);
    for (let i = 2; i <= 50; i++) assert.equal(alert('dead-letters', `a${i}`, `第${i}条`), false);
    assert.equal(sent.length, 0, 'nothing before the window ends');
    advance(599_999);
    assert.equal(sent.length, 0);
    advance(1);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].suppressed, 49);
    assert.equal(sent[0].messages, 49);
    assert.equal(sent[0].last, '第50条');
    assert.equal(
      summaryText(sent[0]),
      '【告警汇总】dead-letters：10 分钟内另有 49 条同类告警未单独发送（08:00:00–08:00:00，49 条消息）。最后一条：第50条',
    );
    // The next storm opens a new window.
    assert.equal(alert('dead-letters', 'b1'), true);
  });

  it('keeps keys apart, sends no summary for a window with nothing held back, sums counts', () => {
    const { sent, advance, alert } = manual();
    assert.equal(alert('stock', 's1'), true);
    assert.equal(alert('dead-letters', 'd1', 'x', 3), true);
    assert.equal(alert('dead-letters', 'd2', '12 条死信', 12), false);
    advance(600_000);
    assert.deepEqual(
      sent.map((x) => [x.key, x.suppressed, x.messages]),
      [['dead-letters', 12, 1]],
    );
  });

  it('a retried step gets the answer it got before, and is not counted twice', () => {
    const { s, sent, advance, alert } = manual();
    assert.equal(alert('k', 'first'), true);
    assert.equal(alert('k', 'first'), true, 'the retry of the posted one posts again (msgUuid dedupes)');
    assert.equal(alert('k', 'second'), false);
    assert.equal(alert('k', 'second'), false);
    assert.equal(s.open()[0].suppressed, 1);
    advance(600_000);
    assert.equal(sent[0].suppressed, 1);
  });

  it('flush() ends every window at once (on shutdown)', async () => {
    const { s, sent, alert } = manual();
    alert('k', '1');
    alert('k', '2');
    alert('other', '3');
    await s.flush();
    assert.deepEqual(
      sent.map((x) => x.key),
      ['k'],
    );
    assert.deepEqual(s.open(), []);
  });
});

describe('robot.send with suppress, over HTTP', () => {
  let sb: DingtalkSandbox;
  let dt: DingtalkConnector;
  const send = async (key: string, input: Record<string, unknown>, attempt = 1) => {
    const a = dt.actions['robot.send'];
    return (await a.run(a.input.parse(input), { ...testActionContext(key), attempt })).output as any;
  };
  const messages = async (robot: string): Promise<string[]> =>
    (await sb.admin('GET', `/__sandbox/robots/${robot}/messages`)).messages.map(
      (m: any) => m.message.text?.content ?? m.message.markdown?.text,
    );

  before(async () => {
    sb = await startDingtalkSandbox();
    dt = connectorFor(sb, { ingress: 'http' });
  });
  after(() => sb.close());

  it('a storm of 50 alerts is 1 message + 1 summary in the group', async () => {
    const outs = [];
    for (let i = 1; i <= 50; i++) {
      outs.push(
        await send(`storm-${i}`, {
          robot: 'alerts',
          text: `同步失败：BD_Customer C${String(i).padStart(4, '0')}`,
          suppress: { key: 'sync-failures', windowMs: 600_000 },
        }),
      );
    }
    assert.equal(outs[0].suppressed, false);
    assert.equal(outs.filter((o) => o.suppressed).length, 49);
    assert.equal(outs[49].suppressedSoFar, 49);
    assert.deepEqual(await messages('alerts'), ['同步失败：BD_Customer C0001']);
    // Without suppression the 21st message in a minute would have been refused (spec §5.3).
    await dt.close?.(); // a connection that stops sends the summaries it holds
    const got = await messages('alerts');
    assert.equal(got.length, 2);
    assert.match(got[1], /^【告警汇总】sync-failures：10 分钟内另有 49 条同类告警未单独发送/);
    assert.match(got[1], /最后一条：同步失败：BD_Customer C0050$/);
  });

  it('when the window ends, the summary is posted by the robot on its own', async () => {
    dt = connectorFor(sb, { ingress: 'http' });
    const before = (await messages('ops')).length;
    const input = (n: number) => ({
      robot: 'ops',
      markdown: { title: '告警', text: `#### 告警\n库存低于安全库存 ${n}` },
      suppress: { key: 'stock', windowMs: 1_000 },
    });
    assert.equal((await send('w1', input(1))).suppressed, false);
    // Held back while the window that the first message opened is still open.
    const second = await send('w2', input(2));
    if (second.suppressed) {
      await waitFor('the summary', async () => (await messages('ops')).length === before + 2);
      const got = await messages('ops');
      assert.match(got[before + 1], /^【告警汇总】stock：1 秒内另有 1 条同类告警/);
    } else {
      // The second came after the window (a slow machine): posted as the first of a new window.
      assert.equal((await messages('ops')).length, before + 2);
    }
    await dt.close?.();
  });
});
