import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, type DingtalkSandbox, json, oapi, oldToken, startDingtalkSandbox } from './test-kit.ts';

describe('dingtalk sandbox: tokens and envelopes (spec §2, §3)', () => {
  let sb: DingtalkSandbox;
  before(async () => {
    sb = await startDingtalkSandbox();
  });
  after(() => sb.close());

  it('gettoken takes query parameters only; a form body answers 40035', async () => {
    const { appKey, appSecret } = sb.credentials;
    const r = await json(
      await fetch(`${sb.urls.oapi}/gettoken`, {
        method: 'GET',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.errcode, 40035);
    const ok = await json(await fetch(`${sb.urls.oapi}/gettoken?appkey=${appKey}&appsecret=${appSecret}`));
    assert.deepEqual(Object.keys(ok.body).sort(), ['access_token', 'errcode', 'errmsg', 'expires_in']);
    assert.equal(ok.body.expires_in, 7200);
  });

  it('returns the same token while it is valid, on both endpoints', async () => {
    const a = await oldToken(sb);
    const b = await json(
      await fetch(`${sb.urls.api}/v1.0/oauth2/accessToken`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ appKey: sb.credentials.appKey, appSecret: sb.credentials.appSecret }),
      }),
    );
    assert.deepEqual(b.body, { accessToken: a, expireIn: 7200 });
  });

  it('bad credentials: 40096 with HTTP 200 on oapi, HTTP 400 invalidClientIdOrSecret on api', async () => {
    const old = await json(
      await fetch(`${sb.urls.oapi}/gettoken?appkey=${sb.credentials.appKey}&appsecret=x`),
    );
    assert.deepEqual(
      [old.status, old.body.errcode, old.body.errmsg],
      [200, 40096, '不合法的appKey或appSecret'],
    );
    const neu = await json(
      await fetch(`${sb.urls.api}/v1.0/oauth2/accessToken`, {
        method: 'POST',
        body: JSON.stringify({ appKey: 'x', appSecret: 'y' }),
      }),
    );
    assert.equal(neu.status, 400);
    assert.equal(neu.body.code, 'invalidClientIdOrSecret');
    assert.match(neu.body.requestid, /^[0-9A-F-]{36}$/);
  });

  it('old APIs read only ?access_token: a header alone is "88/40000 access_token is blank"', async () => {
    const t = await oldToken(sb);
    const r = await json(
      await fetch(`${sb.urls.oapi}/topapi/v2/user/get`, {
        method: 'POST',
        headers: { 'x-acs-dingtalk-access-token': t, 'content-type': 'application/json' },
        body: JSON.stringify({ userid: 'manager4001' }),
      }),
    );
    assert.deepEqual(
      [r.status, r.body.errcode, r.body.sub_code, r.body.sub_msg],
      [200, 88, '40000', 'access_token is blank'],
    );
  });

  it('new APIs read only the header: a query token is 400 AuthenticationFailed.MissingParameter', async () => {
    const t = await oldToken(sb);
    const r = await json(
      await fetch(`${sb.urls.api}/v1.0/workflow/processInstances?processInstanceId=x&access_token=${t}`),
    );
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'AuthenticationFailed.MissingParameter');
  });

  it('a revoked token: 88/40014 on oapi (or 40014/42001), 400 InvalidAuthentication on api', async () => {
    const t = await oldToken(sb);
    await sb.admin('POST', '/__sandbox/tokens/revoke');
    const old = await oapi(sb, '/topapi/v2/user/get', { userid: 'manager4001' }, t);
    assert.deepEqual(
      [old.body.errcode, old.body.sub_code, old.body.sub_msg],
      [88, '40014', '不合法的access_token'],
    );
    await sb.admin('POST', '/__sandbox/tokens/config', { oldStyle: '42001' });
    assert.equal((await oapi(sb, '/topapi/v2/user/get', { userid: 'manager4001' }, t)).body.errcode, 42001);
    const neu = await api(sb, 'GET', '/v1.0/workflow/processInstances?processInstanceId=x', undefined, t);
    assert.deepEqual([neu.status, neu.body.code], [400, 'InvalidAuthentication']);
  });

  it('old /topapi bodies may be form-encoded with JSON-string object fields', async () => {
    const t = await oldToken(sb);
    const r = await json(
      await fetch(`${sb.urls.oapi}/topapi/message/corpconversation/asyncsend_v2?access_token=${t}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          agent_id: String(sb.credentials.agentId),
          userid_list: 'manager4001',
          msg: JSON.stringify({ msgtype: 'text', text: { content: '表单编码' } }),
        }).toString(),
      }),
    );
    assert.equal(r.body.errcode, 0);
    assert.equal(typeof r.body.task_id, 'number');
    assert.match(r.body.request_id, /^[0-9a-z]{12}$/);
  });

  it('unknown paths: errcode 22 on /topapi, 404 InvalidAction.NotFound on api', async () => {
    const old = await oapi(sb, '/topapi/v2/user/notexist', {});
    assert.equal(old.body.errcode, 22);
    assert.match(
      old.body.errmsg,
      /^Invalid method\[submsg=不合法ApiName，ApiName = dingtalk\.oapi\.v2\.user\.notexist\]$/,
    );
    const neu = await api(sb, 'GET', '/v1.0/nothing/here');
    assert.equal(neu.status, 404);
  });

  it('users: documented errors, mobile omitted without the permission, resigned users not found by mobile', async () => {
    assert.equal((await oapi(sb, '/topapi/v2/user/get', { userid: 'bad id!' })).body.errcode, 33012);
    assert.equal((await oapi(sb, '/topapi/v2/user/get', { userid: 'manager9999' })).body.errcode, 60121);
    assert.equal((await oapi(sb, '/topapi/v2/user/get', {})).body.errcode, 400002);
    await sb.admin('POST', '/__sandbox/users/permissions', { mobile: false });
    const u = await oapi(sb, '/topapi/v2/user/get', { userid: 'manager4012' });
    assert.equal('mobile' in u.body.result, false);
    assert.deepEqual(u.body.result.dept_id_list, [2]);
    await sb.admin('POST', '/__sandbox/users/manager4012', { active: false });
    assert.equal(
      (await oapi(sb, '/topapi/v2/user/getbymobile', { mobile: '13800000012' })).body.errcode,
      60121,
    );
    assert.equal(
      (await oapi(sb, '/topapi/v2/user/getbymobile', { mobile: '+86-13800000011' })).body.result.userid,
      'manager4011',
    );
    assert.equal((await oapi(sb, '/topapi/v2/user/getbymobile', { mobile: 'abc' })).body.errcode, 40104);
  });

  it('the per-IP limit bans for 5 minutes with an HTML page; the QPS limit answers 90018 / 403', async () => {
    await sb.admin('POST', '/__sandbox/limits', { ipLimit: { calls: 5, windowMs: 60_000 } });
    const t = await oldToken(sb);
    const answers = [];
    for (let i = 0; i < 6; i++)
      answers.push(await oapi(sb, '/topapi/v2/user/get', { userid: 'manager4001' }, t));
    assert.match(answers[5].type, /text\/html/);
    assert.match(answers[5].body, /访问过于频繁/);
    await sb.admin('DELETE', '/__sandbox/limits');
    // One call a second per API: three quick calls span at most two one-second windows.
    await sb.admin('POST', '/__sandbox/limits', { qpsPerApi: 1 });
    const burst = await Promise.all(
      Array.from({ length: 3 }, () => oapi(sb, '/topapi/v2/user/get', { userid: 'manager4001' }, t)),
    );
    assert.ok(burst.some((r) => r.body.errcode === 90018));
    const neu = await Promise.all(
      Array.from({ length: 3 }, () =>
        api(sb, 'GET', '/v1.0/workflow/processInstances?processInstanceId=x', undefined, t),
      ),
    );
    assert.ok(
      neu.some((r) => r.status === 403 && r.body.code === 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi'),
    );
    await sb.admin('DELETE', '/__sandbox/limits');
  });
});
