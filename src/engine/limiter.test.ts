import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConnectionLimiter } from './limiter.ts';

describe('ConnectionLimiter', () => {
  it('spends a burst, then refills at the configured rate', async () => {
    let now = 0;
    const l = new ConnectionLimiter({ rate: { perSecond: 1, burst: 2 } }, () => now);
    for (let i = 0; i < 2; i++) {
      const p = await l.acquire();
      assert.equal(p.ok, true);
      if (p.ok) p.release('ok');
    }
    const denied = await l.acquire();
    assert.equal(denied.ok, false, 'third call within the same instant waits');
    if (!denied.ok) assert.equal(denied.notBefore, 1_000);
    now = 1_000;
    assert.equal((await l.acquire()).ok, true, 'one token back after a second');
  });

  it('caps calls in flight and hands the slot to the next caller', async () => {
    const l = new ConnectionLimiter({ concurrency: 1 });
    const first = await l.acquire();
    assert.ok(first.ok);
    let second = false;
    const pending = l.acquire().then((p) => {
      second = true;
      return p;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(second, false, 'the second waits while the first is in flight');
    first.release('ok');
    const p2 = await pending;
    assert.equal(p2.ok, true);
  });

  it('makes no call during a ban', async () => {
    let now = 10_000;
    const l = new ConnectionLimiter({}, () => now);
    l.ban(70_000, 'WeCom 45009');
    const p = await l.acquire();
    assert.deepEqual(p, { ok: false, notBefore: 70_000, reason: 'WeCom 45009' });
    now = 70_000;
    assert.equal((await l.acquire()).ok, true);
  });

  it('opens the breaker after consecutive transient failures and probes once after the reset', async () => {
    let now = 0;
    const l = new ConnectionLimiter({ breaker: { failures: 3, resetMs: 5_000 } }, () => now);
    for (let i = 0; i < 3; i++) {
      const p = await l.acquire();
      assert.ok(p.ok);
      p.release('transient');
    }
    const open = await l.acquire();
    assert.equal(open.ok, false);
    if (!open.ok) assert.equal(open.reason, 'circuit breaker open');
    now = 5_000;
    const probe = await l.acquire();
    assert.ok(probe.ok, 'one probe after the reset');
    const second = await l.acquire();
    assert.equal(second.ok, false, 'only one probe at a time');
    probe.release('ok');
    assert.equal(l.state.breaker, 'closed');
    assert.equal((await l.acquire()).ok, true);
  });
});
