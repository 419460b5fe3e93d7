import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { NeocrmClient } from './client.ts';
import { neocrmSettings } from './settings.ts';
import { type NeocrmFixture, startNeocrmFixture } from './testing.ts';

const baseSettings = neocrmSettings.parse({
  baseUrl: 'https://api-p10.xiaoshouyi.com',
  clientId: 'cid',
  clientSecret: 'very-secret-value',
  redirectUri: 'http://localhost',
  username: 'u@example.cn',
  password: 'Passw0rd!',
  securityToken: 'SecTokenABCD',
});

/** A client over a scripted fetch: each call is answered by the next `answers` entry. */
function scripted(answers: Array<{ status: number; body: unknown; headers?: Record<string, string> }>) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    calls.push({ url: String(url), init });
    const a = answers.shift();
    if (!a) throw new Error('no scripted answer left');
    const text = typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
    return new Response(text, { status: a.status, headers: a.headers });
  }) as unknown as typeof fetch;
  return { client: new NeocrmClient(baseSettings, silentLogger, { fetch: fetchImpl }), calls };
}

const TOKEN = {
  status: 200,
  body: { access_token: 'tok-1', token_type: 'Bearer', expires_in: 7199, tenant_id: '3410524095677424' },
};

async function classOf(p: Promise<unknown>): Promise<QiaoError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
    return err;
  }
  throw new Error('expected a failure');
}

describe('neocrm client: error table', () => {
  const req = {
    operation: 'get account',
    method: 'GET' as const,
    path: '/rest/data/v2.0/xobjects/account/1',
  };
  const cases: Array<
    [string, { status: number; body: unknown; headers?: Record<string, string> }, string, unknown?]
  > = [
    [
      'HTTP 400 with code',
      {
        status: 400,
        body: { code: '400', msg: '必填字段[客户名称]不能为空', errorInfo: { field: 'accountName' } },
      },
      'permanent',
      '400',
    ],
    [
      'HTTP 200 with a non-200 string code',
      { status: 200, body: { code: '404', msg: '数据不存在' } },
      'permanent',
      '404',
    ],
    [
      'HTTP 200 with a non-200 numeric code',
      { status: 200, body: { code: 400, msg: 'order by 只支持 id 字段', result: null } },
      'permanent',
      400,
    ],
    ['HTTP 502 HTML page', { status: 502, body: '<html>502 Bad Gateway</html>' }, 'transient'],
    ['HTTP 503 JSON', { status: 503, body: { code: '503', msg: '系统繁忙' } }, 'transient', '503'],
    [
      'HTTP 200 with body code 500',
      { status: 200, body: { code: '500', msg: '系统异常' } },
      'transient',
      '500',
    ],
    ['HTTP 200 that is not JSON', { status: 200, body: 'OK' }, 'transient'],
    ['HTTP 404 that is not JSON', { status: 404, body: 'Not Found' }, 'permanent'],
    [
      'HTTP 429 with Retry-After',
      { status: 429, body: { code: '429', msg: '请求过于频繁' }, headers: { 'retry-after': '7' } },
      'rate_limited',
      '429',
    ],
    [
      'legacy error_code',
      { status: 200, body: { error_code: 30000001, message: '参数错误' } },
      'permanent',
      30000001,
    ],
  ];
  for (const [name, answer, cls, code] of cases) {
    it(`${name} → ${cls}`, async () => {
      const { client } = scripted([TOKEN, answer]);
      const err = await classOf(client.request(req));
      assert.equal(err.errorClass, cls);
      assert.equal(err.partner?.system, 'neocrm');
      assert.equal(err.partner?.operation, 'get account');
      assert.equal(err.partner?.httpStatus, answer.status);
      if (code !== undefined) assert.equal(err.partner?.code, code);
      if (cls === 'rate_limited') assert.equal(err.retryAfterMs, 7000);
    });
  }

  it("keeps Neocrm's own message and blamed field", async () => {
    const { client } = scripted([
      TOKEN,
      {
        status: 400,
        body: {
          code: '400',
          msg: '字段[信用等级(creditRating__c)]的选项值[9]不存在',
          errorInfo: { field: 'creditRating__c' },
        },
      },
    ]);
    const err = await classOf(client.request(req));
    assert.equal(err.partner?.message, '字段[信用等级(creditRating__c)]的选项值[9]不存在');
    assert.equal(err.partner?.field, 'creditRating__c');
    assert.match(err.message, /选项值\[9\]不存在/);
  });

  it('a 429 without Retry-After waits rateLimitWaitMs', async () => {
    const { client } = scripted([TOKEN, { status: 429, body: 'Too Many Requests' }]);
    const err = await classOf(client.request(req));
    assert.equal(err.errorClass, 'rate_limited');
    assert.equal(err.retryAfterMs, 10_000);
  });

  it('a network failure is transient', async () => {
    const client = new NeocrmClient(baseSettings, silentLogger, {
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as unknown as typeof fetch,
    });
    const err = await classOf(client.request(req));
    assert.equal(err.errorClass, 'transient');
  });

  it('code "200" and 200 both succeed', async () => {
    const { client } = scripted([
      TOKEN,
      { status: 200, body: { code: 200, result: { records: [] } } },
      { status: 200, body: { code: '200', data: {} } },
    ]);
    await client.request(req);
    await client.request(req);
  });

  it('token endpoint refusals are permanent and scrub secrets', async () => {
    const { client, calls } = scripted([
      {
        status: 400,
        body: {
          error: 'invalid_grant',
          error_description: 'bad password Passw0rd!SecTokenABCD for very-secret-value',
        },
      },
    ]);
    const err = await classOf(client.request(req));
    assert.equal(err.errorClass, 'permanent');
    assert.equal(err.partner?.code, 'invalid_grant');
    assert.ok(!err.message.includes('Passw0rd!'), 'password scrubbed');
    assert.ok(!err.message.includes('SecTokenABCD'), 'security token scrubbed');
    assert.ok(!err.message.includes('very-secret-value'), 'client secret scrubbed');
    assert.ok(!String(err.partner?.message).includes('very-secret-value'));
    // The unified endpoint on the pod's login host (spec 1.1), password + security token (spec 2.1).
    assert.equal(calls[0].url, 'https://login-p10.xiaoshouyi.com/auc/oauth2/token');
    const form = new URLSearchParams(String(calls[0].init.body));
    assert.equal(form.get('grant_type'), 'password');
    assert.equal(form.get('password'), 'Passw0rd!SecTokenABCD');
    assert.equal(form.get('redirect_uri'), 'http://localhost');
  });

  it('a token endpoint 5xx is transient', async () => {
    const { client } = scripted([{ status: 503, body: '<html>busy</html>' }]);
    assert.equal((await classOf(client.request(req))).errorClass, 'transient');
  });

  it('an expired token on both tries is auth_expired', async () => {
    const { client } = scripted([
      TOKEN,
      { status: 401, body: { code: '401', msg: 'token invalid' } },
      { ...TOKEN, body: { ...TOKEN.body, access_token: 'tok-2' } },
      { status: 200, body: { error_code: 20000002, message: 'invalid access token' } },
    ]);
    const err = await classOf(client.request(req));
    assert.equal(err.errorClass, 'auth_expired');
    assert.equal(err.partner?.code, 20000002);
  });

  it('refreshes proactively at min(expires_in, 3600) − 60 s', async () => {
    let now = 1_000_000;
    const answers = [
      TOKEN,
      { status: 200, body: { code: '200', data: {} } },
      { ...TOKEN, body: { ...TOKEN.body, access_token: 'tok-2' } },
      { status: 200, body: { code: '200', data: {} } },
    ];
    const seen: string[] = [];
    const client = new NeocrmClient(baseSettings, silentLogger, {
      now: () => now,
      fetch: (async (url: string, init: RequestInit) => {
        seen.push(
          `${String(url).includes('oauth2') ? 'token' : 'data'}:${(init.headers as Record<string, string>)?.authorization ?? ''}`,
        );
        const a = answers.shift()!;
        return new Response(JSON.stringify(a.body), { status: a.status });
      }) as unknown as typeof fetch,
    });
    await client.request(req);
    now += 3540_000 - 1;
    assert.equal(client.tokenRequests, 1);
    now += 1;
    await client.request(req);
    assert.equal(client.tokenRequests, 2, 'refreshed at 3600 − 60 s although expires_in is 7199');
    assert.deepEqual(seen, ['token:', 'data:Bearer tok-1', 'token:', 'data:Bearer tok-2']);
  });
});

describe('neocrm client against the sandbox', () => {
  let f: NeocrmFixture;
  before(async () => {
    f = await startNeocrmFixture();
  });
  after(() => f.close());

  const ping = (client: NeocrmClient) =>
    client.request({
      operation: 'query',
      method: 'GET',
      path: '/rest/data/v2/query',
      query: { q: 'select id from user limit 0,1' },
    });

  it('concurrent calls share one login (single flight)', async () => {
    const client = new NeocrmClient(f.settings, silentLogger);
    const before = (await f.admin('/stats')).tokenIssued;
    await Promise.all(Array.from({ length: 20 }, () => ping(client)));
    assert.equal(client.tokenRequests, 1);
    assert.equal((await f.admin('/stats')).tokenIssued - before, 1);
  });

  it('a revoked token: concurrent calls re-login once and all succeed', async () => {
    const client = new NeocrmClient(f.settings, silentLogger);
    await ping(client);
    await f.admin('/tokens/revoke', {});
    await Promise.all(Array.from({ length: 10 }, () => ping(client)));
    assert.equal(client.tokenRequests, 2);
  });

  it('copes with the error_code form of an expired token (spec 2.7)', async () => {
    const client = new NeocrmClient(f.settings, silentLogger);
    await ping(client);
    await f.admin('/config', { tokenErrorMode: 'errorCode' });
    try {
      await f.admin('/clock', { advanceMs: 7200_000 });
      await ping(client);
      assert.equal(client.tokenRequests, 2, 'logged in again after the token expired');
    } finally {
      await f.admin('/config', { tokenErrorMode: 'http401' });
    }
  });

  it('follows instance_uri and sends the bare host scheme of baseUrl', async () => {
    const client = new NeocrmClient(f.settings, silentLogger);
    await ping(client);
    assert.equal(client.identity().apiBase, f.sandbox.baseUrl);
    assert.equal(client.identity().tenantId, f.sandbox.tenant.tenantId);
  });

  it('logs in on the legacy endpoint too (no expires_in: 1 h)', async () => {
    const client = new NeocrmClient(
      neocrmSettings.parse({ ...f.settings, authEndpoint: 'legacy' }),
      silentLogger,
    );
    await ping(client);
    assert.equal(client.identity().userId, f.sandbox.tenant.logins.get(f.settings.username)?.userId);
  });

  it("a wrong security token fails fast with Neocrm's message", async () => {
    const client = new NeocrmClient(
      neocrmSettings.parse({ ...f.settings, securityToken: 'WrongToken123' }),
      silentLogger,
    );
    const err = await classOf(ping(client));
    assert.equal(err.errorClass, 'permanent');
    assert.match(String(err.partner?.message), /安全令牌/);
    assert.ok(!err.message.includes('WrongToken123'));
  });

  it('HTTP 200 failures (errorStatusMode ok) are classified the same', async () => {
    await f.admin('/config', { errorStatusMode: 'ok' });
    try {
      const client = new NeocrmClient(f.settings, silentLogger);
      const err = await classOf(
        client.request({
          operation: 'get account',
          method: 'GET',
          path: '/rest/data/v2.0/xobjects/account/9007199254740993',
        }),
      );
      assert.equal(err.errorClass, 'permanent');
      assert.equal(err.partner?.httpStatus, 200);
      assert.equal(err.partner?.code, '404');
    } finally {
      await f.admin('/config', { errorStatusMode: 'http' });
    }
  });
});
