import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { startWecomSandbox, type WecomSandbox } from '../../sandbox/wecom/index.ts';
import { WecomClient } from './client.ts';
import { wecomSettings } from './settings.ts';
import { sandboxAdmin } from './test-kit.ts';

describe('wecom client: tokens, error table, bans (spec §2, §8, §9)', () => {
  let sb: WecomSandbox;
  let clock = Date.now();
  const make = (over: Record<string, unknown> = {}) =>
    new WecomClient({
      settings: wecomSettings.parse({ baseUrl: sb.baseUrl, ...sb.credentials, ...over }),
      log: silentLogger,
      now: () => clock,
    });
  const calls = async (path: string) =>
    ((await sandboxAdmin(sb.baseUrl, 'calls')).counts[path] ?? 0) as number;
  const rejects = async (p: Promise<unknown>, cls: string, code?: number) => {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof QiaoError, String(e));
      assert.equal(e.errorClass, cls, e.message);
      if (code !== undefined) assert.equal(e.partner?.code, code);
      return true;
    });
  };
  const read = (c: WecomClient) =>
    c.call('department/simplelist', '/cgi-bin/department/simplelist', { method: 'GET' });

  before(async () => {
    sb = await startWecomSandbox();
  });
  after(() => sb.close());
  beforeEach(async () => {
    clock = Date.now();
    await sandboxAdmin(sb.baseUrl, 'heal', {});
    await sandboxAdmin(sb.baseUrl, 'limits', { enabled: false, robotPerMinute: 20 });
    await sandboxAdmin(sb.baseUrl, 'tokens/ttl', { seconds: 7200 });
    await sandboxAdmin(sb.baseUrl, 'calls', undefined, 'DELETE');
  });

  it('fetches one token for many concurrent calls (single flight)', async () => {
    const c = make();
    const results = await Promise.all(Array.from({ length: 20 }, () => read(c)));
    assert.ok(results.every((r) => r.errcode === 0));
    assert.equal(c.stats.gettoken, 1);
    assert.equal(await calls('/cgi-bin/gettoken'), 1);
  });

  it('refreshes proactively before expiry while the current token keeps working', async () => {
    await sandboxAdmin(sb.baseUrl, 'tokens/ttl', { seconds: 100 });
    const c = make();
    const t1 = await c.token();
    clock += 80_000; // past expires_in − margin (a quarter of 100 s)
    await read(c);
    assert.equal(c.stats.gettoken, 2, 'a refresh started in the background');
    assert.equal(await c.token(), t1, 'WeCom hands back the same token while valid');
  });

  it('on 40014 (revoked) refreshes once and retries the call once', async () => {
    const c = make();
    await read(c);
    await sandboxAdmin(sb.baseUrl, 'tokens/revoke', {});
    const r = await read(c);
    assert.equal(r.errcode, 0);
    assert.equal(c.stats.gettoken, 2);
    assert.equal(await calls('/cgi-bin/department/simplelist'), 3, 'first call, refused call, retried call');
  });

  it('on 42001 (expired on WeCom’s clock, not ours) refreshes once and retries', async () => {
    const c = make();
    await read(c);
    await sandboxAdmin(sb.baseUrl, 'clock', { advanceSeconds: 7201 });
    try {
      assert.equal((await read(c)).errcode, 0);
      assert.equal(c.stats.gettoken, 2);
    } finally {
      await sandboxAdmin(sb.baseUrl, 'clock', { advanceSeconds: -7201 });
    }
  });

  it('gives up with auth_expired when the fresh token is refused too', async () => {
    await sandboxAdmin(sb.baseUrl, 'tokens/revoke', {});
    await sandboxAdmin(sb.baseUrl, 'tokens/ttl', { seconds: 0 });
    const c = make();
    await rejects(read(c), 'auth_expired', 42001);
    assert.equal(c.stats.gettoken, 2, 'exactly one refresh');
  });

  it('maps a wrong secret to permanent with WeCom’s message, secret scrubbed', async () => {
    const c = make({ secret: 'wrong-secret-123456' });
    await assert.rejects(read(c), (e: unknown) => {
      assert.ok(e instanceof QiaoError);
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 40001);
      assert.match(String(e.partner?.message), /more info at/);
      assert.ok(!e.message.includes('wrong-secret-123456'));
      assert.ok(!JSON.stringify(e.toJSON()).includes('wrong-secret-123456'));
      return true;
    });
  });

  it('maps 5xx, non-JSON 200, network failures to transient and a 404 to permanent', async () => {
    const c = make();
    await read(c);
    await sandboxAdmin(sb.baseUrl, 'faults', { failNext: 1 });
    await rejects(read(c), 'transient', 502);
    const odd = createServer((req, res) => {
      if (req.url?.startsWith('/cgi-bin/gettoken'))
        return res.writeHead(200).end('{"errcode":0,"errmsg":"ok","access_token":"t","expires_in":7200}');
      if (req.url?.startsWith('/cgi-bin/department'))
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>portal</html>');
      res.writeHead(404).end('not here');
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(odd.address() as AddressInfo).port}`;
    try {
      const o = make({ baseUrl: base });
      await rejects(read(o), 'transient');
      await rejects(o.call('user/get', '/cgi-bin/user/get', { method: 'GET' }), 'permanent', 404);
    } finally {
      odd.closeAllConnections();
      odd.close();
    }
    await rejects(read(make({ baseUrl: 'http://127.0.0.1:9' })), 'transient');
  });

  it('waits out a 45009 ban: rate_limited with WeCom’s 60 s, and no call at all until it ends', async () => {
    await sandboxAdmin(sb.baseUrl, 'limits', {
      enabled: true,
      perMinute: { '/cgi-bin/department/simplelist': 2 },
    });
    const c = make();
    await read(c);
    await read(c);
    await assert.rejects(
      read(c),
      (e: unknown) => e instanceof QiaoError && e.errorClass === 'rate_limited' && e.retryAfterMs === 60_000,
    );
    const before = (await sandboxAdmin(sb.baseUrl, 'calls')).calls.length;
    for (let i = 0; i < 5; i++) {
      clock += 10_000;
      await assert.rejects(
        read(c),
        (e: unknown) =>
          e instanceof QiaoError &&
          e.errorClass === 'rate_limited' &&
          (e.retryAfterMs ?? 0) <= 60_000 - (i + 1) * 10_000,
      );
      await rejects(
        c.call('user/get', '/cgi-bin/user/get', { method: 'GET', query: { userid: 'lina' } }),
        'rate_limited',
      );
    }
    assert.equal(
      (await sandboxAdmin(sb.baseUrl, 'calls')).calls.length,
      before,
      'not one call reached WeCom during the ban',
    );
    clock += 10_001;
    await sandboxAdmin(sb.baseUrl, 'clock', { advanceSeconds: 61 });
    try {
      assert.equal((await read(c)).errcode, 0, 'the ban is over');
    } finally {
      await sandboxAdmin(sb.baseUrl, 'clock', { advanceSeconds: -61 });
      await sandboxAdmin(sb.baseUrl, 'limits', { perMinute: { '/cgi-bin/department/simplelist': 10_000 } });
    }
  });

  it('keeps the documented budgets itself: the 21st robot message in a minute is refused without a call', async () => {
    await sandboxAdmin(sb.baseUrl, 'limits', { robotPerMinute: 0 });
    const c = make();
    const msg = { msgtype: 'text', text: { content: '库存告警' } };
    for (let i = 0; i < 20; i++) assert.equal((await c.robot('alerts', msg)).errcode, 0);
    await rejects(c.robot('alerts', msg), 'rate_limited');
    assert.equal(await calls('/cgi-bin/webhook/send'), 20);
    assert.equal((await c.robot('sales', msg)).errcode, 0, 'another robot has its own budget');
    clock += 60_001;
    assert.equal((await c.robot('alerts', msg)).errcode, 0);
  });

  it('a robot’s 45009 bans that robot only', async () => {
    await sandboxAdmin(sb.baseUrl, 'limits', { robotPerMinute: 1 });
    const c = make();
    const msg = { msgtype: 'text', text: { content: 'x' } };
    await c.robot('sales', msg);
    await rejects(c.robot('sales', msg), 'rate_limited', 45009);
    await rejects(c.robot('sales', msg), 'rate_limited');
    assert.equal(await calls('/cgi-bin/webhook/send'), 2);
    assert.equal((await read(c)).errcode, 0, 'the app API is not banned by a robot');
  });
});
