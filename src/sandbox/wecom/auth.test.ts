import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWecomSandbox, type WecomSandbox } from './index.ts';
import { admin, api, token } from './test-kit.ts';

describe('wecom sandbox: gettoken and the access_token check (spec §2)', () => {
  let sb: WecomSandbox;
  before(async () => {
    sb = await startWecomSandbox();
  });
  after(() => sb.close());

  const userGet = (t?: string) =>
    api(sb, '/cgi-bin/user/get', { query: { ...(t ? { access_token: t } : {}), userid: 'LiNa' } });

  it('issues one token per app and returns the same one while valid', async () => {
    const r = await api(sb, '/cgi-bin/gettoken', {
      query: { corpid: 'wwqinghe0000000001', corpsecret: String(sb.credentials.secret) },
    });
    assert.equal(r.errcode, 0);
    assert.equal(r.errmsg, 'ok');
    assert.equal(r.expires_in, 7200);
    assert.equal(await token(sb), r.access_token);
    const other = await token(sb, 'qiaoSandboxSecret0000000000000000000000002Cd');
    assert.notEqual(other, r.access_token, 'each application has its own token');
    assert.equal((await userGet(r.access_token)).errcode, 0);
  });

  it('answers 40013 for a wrong corpid and 40001 for a wrong secret, with the hint tail and Error-Code header', async () => {
    const a = await api(sb, '/cgi-bin/gettoken', { query: { corpid: 'wwnope', corpsecret: 'x' } });
    assert.equal(a.errcode, 40013);
    const res = await fetch(`${sb.baseUrl}/cgi-bin/gettoken?corpid=wwqinghe0000000001&corpsecret=wrong`);
    assert.equal(res.status, 200, 'business errors come with HTTP 200');
    assert.equal(res.headers.get('error-code'), '40001');
    const b = (await res.json()) as { errcode: number; errmsg: string };
    assert.equal(b.errcode, 40001);
    assert.match(
      b.errmsg,
      /, hint: \[\d+\], from ip: [\d.]+, more info at https:\/\/open\.work\.weixin\.qq\.com\/devtool\/query\?e=40001$/,
    );
  });

  it('41001 without a token, 40014 for an unknown or revoked one, 42001 once expired', async () => {
    assert.equal((await userGet()).errcode, 41001);
    assert.equal((await userGet('nonsense')).errcode, 40014);
    const t = await token(sb);
    assert.equal((await admin(sb, 'tokens/revoke', {})).revoked >= 1, true);
    assert.equal((await userGet(t)).errcode, 40014);
    const t2 = await token(sb);
    assert.notEqual(t2, t, 'a new token after revocation');
    await admin(sb, 'clock', { advanceSeconds: 7201 });
    assert.equal((await userGet(t2)).errcode, 42001);
    const t3 = await token(sb);
    assert.notEqual(t3, t2);
    assert.equal((await userGet(t3)).errcode, 0);
  });

  it('blocks the IP with 45009 after too many wrong secrets', async () => {
    await admin(sb, 'limits', { badSecretsPerHour: 3 });
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await api(sb, '/cgi-bin/gettoken', { query: { corpid: 'wwqinghe0000000001', corpsecret: 'bad' } }))
            .errcode,
          40001,
        );
      }
      const r = await api(sb, '/cgi-bin/gettoken', {
        query: { corpid: 'wwqinghe0000000001', corpsecret: String(sb.credentials.secret) },
      });
      assert.equal(r.errcode, 45009, 'even the right secret is refused during the hour');
      await admin(sb, 'clock', { advanceSeconds: 3601 });
      assert.equal(
        (
          await api(sb, '/cgi-bin/gettoken', {
            query: { corpid: 'wwqinghe0000000001', corpsecret: String(sb.credentials.secret) },
          })
        ).errcode,
        0,
      );
    } finally {
      await admin(sb, 'limits', { badSecretsPerHour: 2000 });
      await admin(sb, 'limits', undefined, 'DELETE');
    }
  });
});
