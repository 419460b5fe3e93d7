import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type DingtalkSandbox, json, startDingtalkSandbox } from './test-kit.ts';

/** §5.2 step by step: HMAC-SHA256 over timestamp + "\n" + secret, Base64, then URL-encoded. */
function signedQuery(token: string, secret: string, timestamp = String(Date.now())): string {
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  return `access_token=${token}&timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
}

describe('dingtalk sandbox: custom group robot (spec §5)', () => {
  let sb: DingtalkSandbox;
  const post = (query: string, body: unknown, type = 'application/json') =>
    fetch(`${sb.urls.oapi}/robot/send?${query}`, {
      method: 'POST',
      headers: { 'content-type': type },
      body: JSON.stringify(body),
    }).then(json);
  const text = (content: string) => ({ msgtype: 'text', text: { content } });
  const robots = () => sb.credentials.robots;

  before(async () => {
    sb = await startDingtalkSandbox();
  });
  beforeEach(async () => {
    for (const name of ['alerts', 'ops', 'office'])
      await sb.admin('POST', `/__sandbox/robots/${name}/unthrottle`);
  });
  after(() => sb.close());

  it('accepts a correctly signed message and records it', async () => {
    const r = await post(signedQuery(robots().alerts.accessToken, robots().alerts.secret!), text('回款到账'));
    assert.deepEqual(r.body, { errcode: 0, errmsg: 'ok' });
    const got = await sb.admin('GET', '/__sandbox/robots/alerts/messages');
    assert.equal(got.messages.at(-1).message.text.content, '回款到账');
  });

  it('security failures answer HTTP 200 errcode 310000 with the documented errmsg', async () => {
    const { accessToken, secret } = robots().alerts;
    const stale = String(Date.now() - 3_700_000);
    assert.equal(
      (await post(signedQuery(accessToken, secret!, stale), text('x'))).body.errmsg,
      'invalid timestamp',
    );
    assert.equal((await post(signedQuery(accessToken, 'SECother'), text('x'))).body.errmsg, 'sign not match');
    assert.equal((await post(`access_token=${accessToken}`, text('x'))).body.errmsg, 'invalid timestamp');
    const kw = await post(`access_token=${robots().ops.accessToken}`, text('没有关键词'));
    assert.deepEqual([kw.status, kw.body.errcode, kw.body.errmsg], [200, 310000, 'keywords not in content']);
    await sb.admin('POST', '/__sandbox/robots/office', { ipList: ['10.0.0.0/8'] });
    const ip = await post(`access_token=${robots().office.accessToken}`, text('x'));
    assert.equal(ip.body.errmsg, 'ip 127.0.0.1 not in whitelist');
    await sb.admin('POST', '/__sandbox/robots/office', { ipList: ['127.0.0.0/8'] });
  });

  it('keywords match any text field of any message type', async () => {
    const md = await post(`access_token=${robots().ops.accessToken}`, {
      msgtype: 'markdown',
      markdown: { title: '告警', text: '库存' },
    });
    assert.equal(md.body.errcode, 0);
    const card = await post(`access_token=${robots().ops.accessToken}`, {
      msgtype: 'actionCard',
      actionCard: {
        title: '同步',
        text: 'Qiao 同步失败',
        btnOrientation: '1',
        btns: [{ title: '查看', actionURL: 'https://x' }],
      },
    });
    assert.equal(card.body.errcode, 0);
  });

  it('validates message types: 400105 for others, 40035 for missing fields, 43004 for a non-JSON content type', async () => {
    const token = `access_token=${robots().office.accessToken}`;
    assert.equal((await post(token, { msgtype: 'image', image: {} })).body.errcode, 400105);
    assert.equal((await post(token, { msgtype: 'link', link: { title: 't' } })).body.errcode, 40035);
    assert.equal((await post(token, text('x'), 'text/plain')).body.errcode, 43004);
    const feed = await post(token, {
      msgtype: 'feedCard',
      feedCard: { links: [{ title: 'a', messageURL: 'https://a', picURL: 'https://p' }] },
    });
    assert.equal(feed.body.errcode, 0);
  });

  it('an unknown token is 400101, or 300005 as observed (spec §16.2)', async () => {
    assert.equal((await post('access_token=nope', text('x'))).body.errcode, 400101);
    await sb.admin('POST', '/__sandbox/robots/config', { unknownTokenCode: 300005 });
    const r = await post('access_token=nope', text('x'));
    assert.deepEqual([r.body.errcode, r.body.errmsg], [300005, 'token is not exist']);
  });

  it('20 messages a minute, then 10 minutes of throttle with the configured code; msgUuid repeats are not posted', async () => {
    const token = `access_token=${robots().office.accessToken}`;
    const before = (await sb.admin('GET', '/__sandbox/robots/office/messages')).messages.length;
    assert.equal((await post(token, { ...text('幂等'), msgUuid: 'u-1' })).body.errcode, 0);
    assert.equal((await post(token, { ...text('幂等'), msgUuid: 'u-1' })).body.errcode, 0);
    for (let i = 0; i < 19; i++) assert.equal((await post(token, text(`#${i}`))).body.errcode, 0);
    const limited = await post(token, text('#20'));
    assert.deepEqual([limited.body.errcode, limited.body.errmsg], [410100, '发送速度太快而限流']);
    const after = (await sb.admin('GET', '/__sandbox/robots/office/messages')).messages.length;
    assert.equal(after - before, 20, 'the repeated msgUuid was posted once');
    await sb.admin('POST', '/__sandbox/robots/config', { rateLimitCode: 130101 });
    assert.equal((await post(token, text('still throttled'))).body.errcode, 130101);
    await sb.admin('POST', '/__sandbox/robots/config', { rateLimitCode: 410100 });
  });
});
