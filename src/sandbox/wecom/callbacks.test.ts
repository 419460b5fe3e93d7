import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from './index.ts';
import { admin, call, contractContents, startReceiver } from './test-kit.ts';

describe('wecom sandbox: callbacks (spec §4, WXBizMsgCrypt checked with @wecom/crypto)', () => {
  let sb: WecomSandbox;
  let rx: Awaited<ReturnType<typeof startReceiver>>;
  let answer: (n: number) => number | 'hang' = () => 200;
  before(async () => {
    sb = await startWecomSandbox();
    rx = await startReceiver({
      token: String(sb.credentials.token),
      encodingAesKey: String(sb.credentials.encodingAesKey),
      answer: (n) => answer(n),
    });
    await admin(sb, 'callback-settings', { timeoutMs: 300, retryDelaysMs: [5, 5, 5] });
  });
  after(async () => {
    await sb.close();
    await rx.close();
  });

  const apply = async () =>
    (
      await call(sb, '/cgi-bin/oa/applyevent', {
        creator_userid: 'zhangwei',
        template_id: TEMPLATE_IDS.contract,
        process: { node_list: [{ type: 1, apv_rel: 2, userid: ['lina'] }] },
        apply_data: { contents: contractContents() },
      })
    ).sp_no as string;

  it('refuses a callback URL that fails the verification handshake', async () => {
    const r = await admin(sb, 'callback', { url: rx.url, token: 'wrongToken' });
    assert.equal(r.status, 400);
    assert.equal(r.errcode, 40057);
    assert.match(r.reason, /HTTP 403/);
  });

  it('verifies the URL first, then pushes sys_approval_change encrypted for the corpid', async () => {
    const r = await admin(sb, 'callback', { url: rx.url });
    assert.equal(r.ok, true);
    assert.equal(rx.verifications, 1);
    const spNo = await apply();
    await admin(sb, `approvals/${spNo}/comment`, { userid: 'lina', content: '看一下付款方式' });
    await admin(sb, `approvals/${spNo}/agree`, { userid: 'lina' });
    await sb.idle();
    const mine = rx.received.filter((x) => x.plaintext.includes(`<SpNoStr><![CDATA[${spNo}]]></SpNoStr>`));
    assert.equal(mine.length, 3);
    for (const m of mine) {
      assert.equal(m.receiveId, 'wwqinghe0000000001');
      assert.match(
        m.body,
        /^<xml><ToUserName><!\[CDATA\[wwqinghe0000000001\]\]><\/ToUserName><AgentID><!\[CDATA\[3010040\]\]><\/AgentID><Encrypt>/,
      );
    }
    const events = mine.map((m) => /<StatuChangeEvent>(\d+)<\/StatuChangeEvent>/.exec(m.plaintext)?.[1]);
    assert.deepEqual(events, ['1', '10', '2']);
    const statuses = mine.map(
      (m) => /<\/ApplyTime>.*?<SpStatus>|<SpStatus>(\d+)<\/SpStatus>/.exec(m.plaintext)?.[1],
    );
    assert.deepEqual(statuses, ['1', '1', '2'], 'SpStatus is the status after the change');
    assert.match(
      mine[1].plaintext,
      /<Comments><CommentUserInfo><UserId><!\[CDATA\[Lina\]\]><\/UserId><\/CommentUserInfo>/,
    );
    assert.match(mine[2].plaintext, /<SpNo>\d{12}<\/SpNo>/, 'numeric SpNo beside SpNoStr');
  });

  it('retries a delivery the receiver does not answer in time, with the same plaintext', async () => {
    const before = rx.received.length;
    answer = (n) => (n === before + 1 ? 'hang' : n === before + 2 ? 500 : 200);
    try {
      const spNo = await apply();
      await sb.idle();
      const attempts = rx.received.slice(before).filter((x) => x.plaintext.includes(spNo));
      assert.equal(attempts.length, 3, 'hung, 500, then 200');
      assert.equal(new Set(attempts.map((a) => a.plaintext)).size, 1, 'same plaintext, same CreateTime');
      assert.equal(new Set(attempts.map((a) => a.query.nonce)).size, 3, 'each attempt signed afresh');
      const log = (await admin(sb, 'callbacks')).deliveries.filter((d: any) => d.ref === spNo);
      assert.deepEqual(
        log.map((d: any) => d.attempt),
        [1, 2, 3],
      );
      assert.match(log[0].error, /no answer within 300 ms/);
      assert.equal(log[1].status, 500);
      assert.equal(log[2].status, 200);
    } finally {
      answer = () => 200;
    }
  });

  it('gives up after three retries', async () => {
    answer = () => 503;
    try {
      const spNo = await apply();
      await sb.idle();
      const ev = (await admin(sb, 'callbacks')).events.find((e: any) => e.ref === spNo);
      assert.equal(ev.outcome, 'failed');
      assert.equal((await admin(sb, 'callbacks')).deliveries.filter((d: any) => d.ref === spNo).length, 4);
    } finally {
      answer = () => 200;
    }
  });

  it('drops and duplicates callbacks on demand', async () => {
    await admin(sb, 'callback-faults', { dropNext: 1 });
    const dropped = await apply();
    await admin(sb, 'callback-faults', { duplicateNext: 1, duplicateTimes: 2 });
    const dup = await apply();
    await sb.idle();
    assert.equal(rx.received.filter((x) => x.plaintext.includes(dropped)).length, 0);
    const copies = rx.received.filter((x) => x.plaintext.includes(dup));
    assert.equal(copies.length, 3, 'delivered three times');
    assert.equal(new Set(copies.map((c) => c.plaintext)).size, 1);
    const events = (await admin(sb, 'callbacks')).events;
    assert.equal(events.find((e: any) => e.ref === dropped).outcome, 'dropped');
  });

  it('speaks the JSON envelope when the app is set to it', async () => {
    await admin(sb, 'callback', { url: rx.url, format: 'json' });
    const spNo = await apply();
    await sb.idle();
    const got = rx.received.find((x) => x.plaintext.includes(spNo));
    assert.ok(got);
    const env = JSON.parse(got.body);
    assert.equal(env.tousername, 'wwqinghe0000000001');
    assert.equal(typeof env.encrypt, 'string');
    await admin(sb, 'callback', { url: rx.url });
  });
});
