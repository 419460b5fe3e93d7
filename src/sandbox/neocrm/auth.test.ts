import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from './index.ts';
import { admin, call, login, raw } from './testing.ts';

describe('neocrm sandbox: OAuth', () => {
  let sb: NeocrmSandboxHandle;
  let c: Record<string, string>;
  before(async () => {
    sb = await startNeocrmSandbox();
    c = sb.credentials as Record<string, string>;
  });
  after(() => sb.close());

  const grant = () => ({
    grant_type: 'password',
    client_id: c.clientId,
    client_secret: c.clientSecret,
    redirect_uri: c.redirectUri,
    username: c.username,
    password: c.password + c.securityToken,
  });
  const tokenRe = () =>
    new RegExp(
      `^[0-9a-f]{64}\\.${Buffer.from(sb.tenant.tenantId)
        .toString('base64')
        .replace(/[=+/]/g, (m) => `\\${m}`)}0$`,
    );

  it('unified endpoint: form body, query with empty body, and GET all work (spec 2.4)', async () => {
    const q = new URLSearchParams(grant()).toString();
    const answers = [
      await raw(`${sb.baseUrl}/auc/oauth2/token`, { method: 'POST', body: new URLSearchParams(grant()) }),
      await raw(`${sb.baseUrl}/auc/oauth2/token?${q}`, { method: 'POST' }),
      await raw(`${sb.baseUrl}/auc/oauth2/token?${q}`),
    ];
    for (const r of answers) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), [
        'access_token',
        'client_id',
        'encryption_key',
        'expires_in',
        'instance_uri',
        'login_type',
        'mobile_params',
        'passport_id',
        'scope',
        'tenant_id',
        'token_type',
      ]);
      assert.match(r.json.access_token, tokenRe());
      assert.equal(r.json.token_type, 'Bearer');
      assert.equal(r.json.expires_in, 7199);
      assert.equal(r.json.tenant_id, sb.tenant.tenantId);
      assert.equal(typeof r.json.tenant_id, 'string');
      assert.equal(r.json.instance_uri, new URL(sb.baseUrl).host, 'a bare host, no scheme');
    }
  });

  it('legacy endpoints: /oauth2/token.action and /oauth2/token, GET and POST (spec 2.2)', async () => {
    const q = new URLSearchParams(grant()).toString();
    for (const r of [
      await raw(`${sb.baseUrl}/oauth2/token.action`, { method: 'POST', body: new URLSearchParams(grant()) }),
      await raw(`${sb.baseUrl}/oauth2/token?${q}`),
      await raw(`${sb.baseUrl}/oauth2/token`, { method: 'POST', body: new URLSearchParams(grant()) }),
    ]) {
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'id', 'issued_at', 'token_type']);
      assert.equal(r.json.id, '9007199254749001');
      assert.equal(typeof r.json.issued_at, 'number');
      assert.ok(Math.abs(r.json.issued_at - Date.now()) < 60_000, 'issued_at is the issue time in ms');
    }
  });

  it('the password must carry the security token; failures are OAuth-style', async () => {
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ password: c.password }, 400, 'invalid_grant'],
      [{ password: `${c.password}WRONG` }, 400, 'invalid_grant'],
      [{ username: 'nobody@example.cn' }, 400, 'invalid_grant'],
      [{ client_secret: 'nope' }, 401, 'invalid_client'],
      [{ redirect_uri: 'https://elsewhere.example.cn' }, 400, 'invalid_grant'],
      [{ grant_type: 'client_credentials' }, 400, 'unsupported_grant_type'],
    ];
    for (const [override, status, error] of cases) {
      const r = await raw(`${sb.baseUrl}/auc/oauth2/token`, {
        method: 'POST',
        body: new URLSearchParams({ ...grant(), ...override }),
      });
      assert.equal(r.status, status, JSON.stringify(override));
      assert.equal(r.json.error, error);
      assert.ok(r.json.error_description);
    }
    await admin(sb, '/config', { tokenFailureStatus: 200 });
    const ok200 = await raw(`${sb.baseUrl}/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ ...grant(), password: 'x' }),
    });
    assert.equal(ok200.status, 200, 'the failure status is configurable');
    assert.equal(ok200.json.error, 'invalid_grant');
    await admin(sb, '/config', { tokenFailureStatus: null });
    await admin(sb, '/config', { requireSecurityToken: false });
    try {
      assert.ok(
        await login(sb, { password: c.password }),
        'the bare password works when tokens are not required',
      );
    } finally {
      await admin(sb, '/config', { requireSecurityToken: true });
    }
  });

  it('accepts the token with and without Bearer (spec 2.5)', async () => {
    const token = await login(sb);
    const path = '/rest/data/v2.0/xobjects/account/description';
    assert.equal(
      (await raw(`${sb.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).status,
      200,
    );
    assert.equal((await raw(`${sb.baseUrl}${path}`, { headers: { authorization: token } })).status, 200);
    assert.equal((await raw(`${sb.baseUrl}${path}`)).status, 401);
  });

  it('an expired token answers in the configured form (spec 2.7, 10.3)', async () => {
    const token = await login(sb);
    await admin(sb, '/clock', { advanceMs: 7199_000 });
    const r401 = await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/description');
    assert.equal(r401.status, 401);
    assert.equal(r401.json.code, '401');
    const token2 = await login(sb);
    await admin(sb, '/config', { tokenErrorMode: 'errorCode' });
    try {
      await admin(sb, '/tokens/revoke', {});
      const r = await call(sb, token2, 'GET', '/rest/data/v2.0/xobjects/account/description');
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { error_code: 20000002, message: 'invalid access token' });
    } finally {
      await admin(sb, '/config', { tokenErrorMode: 'http401' });
    }
  });

  it('authorization code flow: one-time code, then refresh_token (spec 2.3, 2.4)', async () => {
    const auth = await raw(
      `${sb.baseUrl}/auc/oauth2/authorize?response_type=code&client_id=${c.clientId}&redirect_uri=${encodeURIComponent(c.redirectUri)}&scope=all&state=s1`,
      { redirect: 'manual' },
    );
    assert.equal(auth.status, 302);
    const loc = new URL(auth.headers.get('location')!);
    assert.equal(loc.searchParams.get('state'), 's1');
    const code = loc.searchParams.get('code')!;
    const form = (extra: Record<string, string>) =>
      new URLSearchParams({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        redirect_uri: c.redirectUri,
        ...extra,
      });
    const first = await raw(
      `${sb.baseUrl}/oauth2/token.action?${form({ grant_type: 'authorization_code', code })}`,
    );
    assert.equal(first.status, 200);
    assert.ok(first.json.refresh_token, 'the code grant returns a refresh token');
    const again = await raw(
      `${sb.baseUrl}/oauth2/token.action?${form({ grant_type: 'authorization_code', code })}`,
    );
    assert.equal(again.json.error, 'invalid_grant', 'the code is single-use');
    const refreshed = await raw(`${sb.baseUrl}/auc/oauth2/token`, {
      method: 'POST',
      body: form({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token }),
    });
    assert.equal(refreshed.status, 200);
    assert.ok(refreshed.json.access_token);
    assert.equal(
      (await call(sb, refreshed.json.access_token, 'GET', '/rest/data/v2.0/xobjects/account/busiType'))
        .status,
      200,
    );
  });

  it('revocation from the admin surface', async () => {
    const token = await login(sb);
    assert.equal((await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status, 200);
    const { revoked } = await admin(sb, '/tokens/revoke', {});
    assert.ok(revoked >= 1);
    assert.equal((await call(sb, token, 'GET', '/rest/data/v2.0/xobjects/account/busiType')).status, 401);
  });
});
