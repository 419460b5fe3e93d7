/**
 * The client's token handling and error table against the sandbox over real HTTP: single-flight
 * tokens on both surfaces, refresh-once on every invalid-token style, and each documented failure
 * mapped to its class with the partner's own code and message and no secret in sight.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { classify, type DingtalkClient, msUntilNextMonth, WAITS } from './client.ts';
import { connectorFor, startDingtalkSandbox } from './test-helpers.ts';

const rejectsWith = async (p: Promise<unknown>, check: (e: QiaoError) => void) => {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
    check(err);
    return true;
  });
};

describe('dingtalk client', () => {
  let sb: DingtalkSandbox;
  let client: DingtalkClient;
  const getUser = () => client.oapi('user.get', '/topapi/v2/user/get', { userid: 'manager4001' });
  const getInstance = () =>
    client.api('workflow.processInstances.get', '/v1.0/workflow/processInstances', undefined, {
      query: { processInstanceId: 'nope' },
    });

  before(async () => {
    sb = await startDingtalkSandbox();
    client = connectorFor(sb).client;
  });
  afterEach(async () => {
    await sb.admin('DELETE', '/__sandbox/limits');
    await sb.admin('POST', '/__sandbox/tokens/config', { oldStyle: 'sub40014', newStatus: 400 });
    for (const u of [sb.urls.oapi, sb.urls.api]) await fetch(`${u}/__sandbox/faults`, { method: 'DELETE' });
  });
  after(() => sb.close());

  it('fetches one token for many concurrent calls (single flight)', async () => {
    const before = client.stats.tokenFetches;
    await Promise.all(Array.from({ length: 10 }, () => getUser()));
    assert.equal(client.stats.tokenFetches, before + 1);
    const tokens = await sb.admin('GET', '/__sandbox/tokens');
    assert.equal(tokens.valid.length, 1, 'the same token was returned while valid (spec §2.1)');
  });

  for (const style of ['sub40014', '40014', '42001'] as const) {
    it(`re-authenticates once and retries once on an old-API invalid token (${style})`, async () => {
      await getUser();
      await sb.admin('POST', '/__sandbox/tokens/config', { oldStyle: style });
      await sb.admin('POST', '/__sandbox/tokens/revoke');
      const reauths = client.stats.reauths;
      const r = await getUser();
      assert.equal((r.result as { name: string }).name, '王建国');
      assert.equal(client.stats.reauths, reauths + 1);
    });
  }

  for (const status of [400, 401] as const) {
    it(`re-authenticates once on the new API's InvalidAuthentication (HTTP ${status})`, async () => {
      await sb.admin('POST', '/__sandbox/tokens/config', { newStatus: status });
      await client.token('api');
      await sb.admin('POST', '/__sandbox/tokens/revoke');
      const reauths = client.stats.reauths;
      await rejectsWith(getInstance(), (e) => assert.equal(e.partner?.code, 'processInstanceNotExist'));
      assert.equal(client.stats.reauths, reauths + 1);
    });
  }

  it('bad credentials are permanent with the partner message, on both token endpoints, secret scrubbed', async () => {
    const bad = connectorFor(sb, { appSecret: 'not-the-secret-9876' }).client;
    await rejectsWith(bad.token('oapi'), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 40096);
      assert.equal(e.partner?.message, '不合法的appKey或appSecret');
      assert.ok(!e.message.includes('not-the-secret-9876'));
    });
    await rejectsWith(bad.token('api'), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 'invalidClientIdOrSecret');
      assert.equal(e.partner?.httpStatus, 400);
    });
  });

  const forced: Array<[string, 'oapi' | 'api', string, string | number, number]> = [
    ['qps', 'oapi', 'rate_limited', 90018, WAITS.qpsMs],
    ['qps', 'api', 'rate_limited', 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', WAITS.qpsMs],
    ['globalQps', 'oapi', 'rate_limited', 90002, WAITS.qpsMs],
    ['globalQps', 'api', 'rate_limited', 'Forbidden.AccessDenied.QpsLimitForApi', WAITS.qpsMs],
    ['busy', 'oapi', 'transient', -1, 0],
    ['busy', 'api', 'rate_limited', 'systemBusy', WAITS.qpsMs],
    ['gatewayTimeout', 'oapi', 'transient', 88, 0],
    ['gatewayTimeout', 'api', 'transient', 'GatewayTimeout', 0],
  ];
  for (const [mode, surface, cls, code, wait] of forced) {
    it(`classifies ${mode} on ${surface} as ${cls} (${code})`, async () => {
      await getUser();
      await client.token('api');
      await sb.admin('POST', '/__sandbox/limits', { forced: mode });
      await rejectsWith(surface === 'oapi' ? getUser() : getInstance(), (e) => {
        assert.equal(e.errorClass, cls);
        assert.equal(e.partner?.code, code);
        assert.ok(e.partner?.message);
        if (wait) assert.equal(e.retryAfterMs, wait);
      });
    });
  }

  it('the monthly quota (90020 / ApiCountLimitForOrg) waits until the next month', async () => {
    await sb.admin('POST', '/__sandbox/limits', { monthlyQuota: 0 });
    await rejectsWith(getUser(), (e) => {
      assert.equal(e.errorClass, 'rate_limited');
      assert.equal(e.partner?.code, 90020);
      assert.ok(e.retryAfterMs! > 60_000 && e.retryAfterMs! <= 31 * 86_400_000);
    });
    await rejectsWith(getInstance(), (e) =>
      assert.equal(e.partner?.code, 'Forbidden.AccessDenied.ApiCountLimitForOrg'),
    );
  });

  it('the IP ban answers HTML instead of JSON: rate limited for 5 minutes', async () => {
    await sb.admin('POST', '/__sandbox/limits', { ipBan: true });
    for (const call of [getUser, getInstance]) {
      await rejectsWith(call(), (e) => {
        assert.equal(e.errorClass, 'rate_limited');
        assert.equal(e.retryAfterMs, 300_000);
        assert.equal(e.partner?.code, 'ip-ban');
        assert.match(e.partner?.message ?? '', /访问过于频繁/);
      });
    }
  });

  it('the x5 JSON ban body waits as many minutes as it says', async () => {
    await sb.admin('POST', '/__sandbox/limits', { ipBan: true, banFormat: 'json', banStatus: 403 });
    await rejectsWith(getUser(), (e) => {
      assert.equal(e.errorClass, 'rate_limited');
      assert.equal(e.partner?.code, 'x5:1111');
      assert.equal(e.retryAfterMs, 5 * 60_000);
    });
  });

  it('enforced per-IP limit: over the threshold the IP is banned, and the HTML page classified', async () => {
    await sb.admin('POST', '/__sandbox/limits', {
      ipLimit: { calls: 3, windowMs: 60_000 },
      banFormat: 'html',
      banStatus: 200,
    });
    const results = await Promise.allSettled([getUser(), getUser(), getUser(), getUser()]);
    const banned = results.filter(
      (r) => r.status === 'rejected' && (r.reason as QiaoError).retryAfterMs === WAITS.ipBanMs,
    );
    assert.ok(banned.length >= 1);
  });

  it('a 5xx HTML page is transient, not a ban', async () => {
    await fetch(`${sb.urls.oapi}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ failNext: 1, errorStatus: 502 }),
    });
    await rejectsWith(getUser(), (e) => {
      assert.equal(e.errorClass, 'transient');
      assert.equal(e.partner?.httpStatus, 502);
    });
  });

  it('a dropped connection is transient', async () => {
    await fetch(`${sb.urls.oapi}/__sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ dropRate: 1 }),
    });
    await rejectsWith(getUser(), (e) => assert.equal(e.errorClass, 'transient'));
  });

  it('paces its own fan-out below 20 calls per second per API, so the documented QPS is never hit', async () => {
    const before = (await sb.admin('GET', '/__sandbox/limits')).limited;
    await Promise.all(Array.from({ length: 45 }, () => getUser()));
    assert.equal((await sb.admin('GET', '/__sandbox/limits')).limited, before, 'no call was limited');
  });

  it('maps the documented body codes (spec §13) without a partner round trip', () => {
    const c = (surface: 'oapi' | 'api', status: number, body: unknown, contentType = 'application/json') => {
      try {
        classify(client, surface, 'op', {
          status,
          text: typeof body === 'string' ? body : JSON.stringify(body),
          contentType,
          retryAfter: null,
        });
        return undefined;
      } catch (e) {
        return e as QiaoError;
      }
    };
    assert.equal(
      c('oapi', 200, { errcode: '0', errmsg: 'ok' }),
      undefined,
      'errcode "0" as a string is success',
    );
    assert.equal(c('oapi', 200, { errcode: 33012, errmsg: '无效的USERID' })?.errorClass, 'permanent');
    assert.equal(
      c('oapi', 200, { errcode: 15, sub_code: 'isp.top-remote-connection-timeout' })?.errorClass,
      'transient',
    );
    assert.equal(c('oapi', 200, { errcode: 90005, errmsg: 'banned' })?.retryAfterMs, WAITS.otherBanMs);
    for (const code of [410100, 130101, 660026]) {
      const e = c('oapi', 200, { errcode: code, errmsg: 'send too fast' })!;
      assert.equal(e.errorClass, 'rate_limited');
      assert.equal(e.retryAfterMs, WAITS.robotThrottleMs);
    }
    assert.equal(c('oapi', 200, { errcode: 310000, errmsg: 'sign not match' })?.errorClass, 'permanent');
    assert.equal(c('api', 429, { code: 'system.busy', message: 'busy' })?.errorClass, 'rate_limited');
    assert.equal(
      c('api', 403, { code: 'Forbidden.AccessDenied.IpNotInWhiteList', message: 'ip' })?.errorClass,
      'permanent',
    );
    assert.equal(c('api', 504, '')?.errorClass, 'transient');
    assert.equal(c('api', 200, 'garbage')?.errorClass, 'transient');
    assert.equal(c('api', 403, '<html><body>denied</body></html>', 'text/html')?.retryAfterMs, WAITS.ipBanMs);
  });

  it('scrubs tokens and secrets from messages', async () => {
    const token = await client.token('oapi');
    const e = c2(client, `boom ${token} ${sb.credentials.appSecret} ${sb.credentials.robots.alerts.secret}`);
    assert.ok(
      !e.includes(token) &&
        !e.includes(sb.credentials.appSecret) &&
        !e.includes(String(sb.credentials.robots.alerts.secret)),
    );
  });

  it('msUntilNextMonth counts to the first of next month, China time', () => {
    // 2026-03-31 23:00 China = 15:00 UTC; the quota resets at 2026-04-01 00:00 China, an hour later.
    assert.equal(msUntilNextMonth(Date.UTC(2026, 2, 31, 15, 0, 0)), 3_600_000);
  });
});

function c2(client: DingtalkClient, text: string): string {
  return client.scrub(text);
}
