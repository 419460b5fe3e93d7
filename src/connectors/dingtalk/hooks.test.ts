/**
 * The HTTP ingress over real loopback HTTP: the sandbox pushes encrypted events (check_url first,
 * as the console does), robot messages with signed headers and card clicks with x-ddpaas signatures
 * to the connector's hooks served like the hub serves them. Bad input is refused with nothing stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InboundEvent } from '../../core/connector.ts';
import { encryptEvent, eventSignature } from '../../sandbox/dingtalk/event-crypto.ts';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { robotSignature } from './crypto.ts';
import { connectorFor, startDingtalkSandbox, startHookServer, waitFor } from './test-helpers.ts';

type Hooks = Awaited<ReturnType<typeof startHookServer>>;

describe('dingtalk HTTP hooks', () => {
  let sb: DingtalkSandbox;
  let hooks: Hooks;
  let connector: ReturnType<typeof connectorFor>;
  const stored: InboundEvent[] = [];

  before(async () => {
    sb = await startDingtalkSandbox();
    connector = connectorFor(sb, { ingress: 'http', cardApiSecret: 'card-secret-0123456789' });
    hooks = await startHookServer(connector.hooks!, stored);
  });
  after(async () => {
    await hooks.close();
    await sb.close();
  });

  const approve = async (title: string) => {
    const r = await sb.admin('POST', '/__sandbox/approvals', {
      template: 'expense',
      originatorUserId: 'manager4003',
      form: { 报销事由: title, 报销金额: '1280', 费用日期: '2026-03-10', 费用类型: '差旅费', 项目: '项目A' },
    });
    return r.processInstanceIds[0] as string;
  };

  it('passes the check_url handshake when the event URL is saved', async () => {
    const r = await sb.admin('POST', '/__sandbox/callbacks', {
      eventMode: 'http',
      eventUrl: hooks.eventsUrl,
    });
    assert.equal(r.eventUrl, hooks.eventsUrl);
    assert.equal(stored.length, 0, 'check_url stores nothing');
  });

  it('a connector with the wrong aesKey fails check_url, so the console refuses the URL', async () => {
    const wrong = connectorFor(sb, { ingress: 'http', aesKey: 'A'.repeat(43) });
    const other = await startHookServer(wrong.hooks!);
    try {
      await assert.rejects(
        sb.admin('POST', '/__sandbox/callbacks', { eventUrl: other.eventsUrl }),
        /check_url failed/,
      );
      assert.equal(other.stored.length, 0);
    } finally {
      await other.close();
    }
  });

  it('stores approval events pushed over HTTP and answers the encrypted success DingTalk checks', async () => {
    const id = await approve('差旅费 杭州-上海');
    await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, { remark: '同意' });
    await sb.admin('POST', '/__sandbox/flush');
    const mine = stored.filter((e) => e.correlation === id);
    const types = mine.map((e) => `${e.type}:${(e.data as any).type}`);
    assert.deepEqual(types, [
      'approval.instance:start',
      'approval.task:start',
      'approval.task:finish',
      'approval.instance:finish',
    ]);
    const finish = mine[3].data as any;
    assert.equal(finish.result, 'agree');
    assert.equal(finish.approved, true);
    assert.equal(finish.corpId, sb.corpId);
    const events = await sb.admin('GET', '/__sandbox/events');
    assert.equal(events.failed.length, 0);
    for (const e of events.events.filter((x: any) => x.data.processInstanceId === id)) {
      assert.deepEqual(
        e.deliveries.map((d: any) => d.status),
        ['delivered'],
      );
    }
  });

  it('a dropped push is kept as failed and stored when DingTalk redelivers it', async () => {
    await sb.admin('POST', '/__sandbox/callbacks/faults', { dropNext: 1, retryDelaysMs: [] });
    const id = await approve('会议室茶歇');
    await sb.admin('POST', '/__sandbox/flush');
    assert.equal(
      stored.filter((e) => e.correlation === id).length,
      1,
      'one of two events was lost on the way',
    );
    const r = await sb.admin('POST', '/__sandbox/events/redeliver');
    assert.deepEqual(r, { redelivered: 1, delivered: 1 });
    assert.equal(stored.filter((e) => e.correlation === id).length, 2);
  });

  it('get_call_back_failed_result lists a failed push once (spec §7.8)', async () => {
    await sb.admin('POST', '/__sandbox/callbacks/faults', { dropNext: 1, retryDelaysMs: [] });
    const id = await approve('快递费');
    await sb.admin('POST', '/__sandbox/flush');
    const pull = () =>
      connector.client.oapi('call_back.failed', '/call_back/get_call_back_failed_result', undefined, {
        method: 'GET',
      });
    const first = await pull();
    const list = first.failed_list as Array<Record<string, unknown>>;
    assert.equal(list.length, 1);
    assert.equal(list[0].call_back_tag, 'bpms_instance_change');
    assert.equal(JSON.parse(String(list[0].bpms_instance_change)).processInstanceId, id);
    assert.equal(first.has_more, false);
    assert.equal(((await pull()).failed_list as unknown[]).length, 0);
  });

  it('redelivers failed pushes automatically and the duplicate is recognised and counted', async () => {
    await sb.admin('POST', '/__sandbox/callbacks/faults', {
      dropNext: 1,
      duplicateNext: 0,
      retryDelaysMs: [10],
    });
    const id = await approve('打车费');
    await waitFor('the redelivery', () => stored.filter((e) => e.correlation === id).length >= 2);
    const before = connector.stats.duplicates;
    await sb.admin('POST', '/__sandbox/callbacks/faults', { duplicateNext: 1 });
    await sb.admin('POST', `/__sandbox/approvals/${id}/refuse`, { remark: '超标' });
    await sb.admin('POST', '/__sandbox/flush');
    assert.equal(connector.stats.duplicates, before + 1);
    const keys = stored.filter((e) => e.correlation === id).map((e) => e.key);
    assert.equal(
      keys.length,
      new Set(keys).size + 1,
      'the hook returns the duplicate; the inbox drops it by key',
    );
  });

  it('refuses a bad signature, a wrong owner key and garbage before decrypting, storing nothing', async () => {
    const before = stored.length;
    const rejected = connector.stats.rejected;
    const { token, aesKey, appKey } = sb.credentials;
    const post = (query: string, body: string) =>
      fetch(`${hooks.eventsUrl}?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    const plain = JSON.stringify({
      EventType: 'bpms_instance_change',
      processInstanceId: 'forged',
      type: 'finish',
      result: 'agree',
    });
    const enc = encryptEvent(aesKey, plain, appKey);
    const ts = String(Date.now());
    const bad = await post(
      `signature=${'0'.repeat(40)}&timestamp=${ts}&nonce=abc`,
      JSON.stringify({ encrypt: enc }),
    );
    assert.equal(bad.status, 403);
    const foreign = encryptEvent(aesKey, plain, 'dingsomeoneelse');
    const sig = eventSignature(token, ts, 'abc', foreign);
    const owner = await post(
      `msg_signature=${sig}&timeStamp=${ts}&nonce=abc`,
      JSON.stringify({ encrypt: foreign }),
    );
    assert.equal(owner.status, 403);
    assert.equal((await post('timestamp=1&nonce=x', '{}')).status, 400);
    assert.equal((await post(`signature=x&timestamp=${ts}&nonce=abc`, 'not json')).status, 400);
    assert.equal(stored.length, before);
    assert.equal(connector.stats.rejected, rejected + 4);
  });

  it('accepts either parameter name and a 10-digit timestamp (spec §7.2)', async () => {
    const { token, aesKey, appKey } = sb.credentials;
    const plain = JSON.stringify({
      EventType: 'user_add_org',
      eventId: 'evt-10digit',
      CorpId: sb.corpId,
      UserId: ['manager4001'],
    });
    const enc = encryptEvent(aesKey, plain, appKey);
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = eventSignature(token, ts, 'n0nce', enc);
    const res = await fetch(`${hooks.eventsUrl}?msg_signature=${sig}&timeStamp=${ts}&nonce=n0nce`, {
      method: 'POST',
      body: JSON.stringify({ encrypt: enc }),
    });
    assert.equal(res.status, 200);
    const ev = stored.find((e) => e.key === 'dingtalk:event:evt-10digit')!;
    assert.equal(ev.type, 'dingtalk.event');
    assert.equal((ev.data as any).eventType, 'user_add_org');
  });

  describe('robot messages', () => {
    before(async () => {
      await sb.admin('POST', '/__sandbox/callbacks', { robotMode: 'http', robotUrl: hooks.robotUrl });
    });

    it('stores a signed 1:1 message with the sender mapped to an employee and answers msgtype empty', async () => {
      const said = await sb.admin('POST', '/__sandbox/robot/say', {
        userId: 'manager4007',
        text: '确认付款',
      });
      assert.equal(said.status, 'HTTP 200');
      const ev = stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`)!;
      assert.equal(ev.type, 'chat.message');
      assert.equal(ev.correlation, 'manager4007');
      const d = ev.data as any;
      assert.equal(d.text, '确认付款');
      assert.equal(d.conversationType, 'single');
      assert.equal(d.sender.jobNumber, 'E0007');
      assert.match(d.sessionWebhook, /\/robot\/sendBySession\?session=/);
      const replies = await sb.admin('GET', '/__sandbox/robot/replies?userId=manager4007');
      assert.equal(replies.replies.length, 0, '{"msgtype":"empty"} sends nothing');
    });

    it('stores a group message that @s the robot, trimming the space left by the mention', async () => {
      const said = await sb.admin('POST', '/__sandbox/robot/say', {
        userId: 'manager4006',
        group: '财务付款群',
        text: '确认付款',
      });
      const d = stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`)!.data as any;
      assert.equal(d.text, '确认付款');
      assert.equal(d.conversationType, 'group');
      assert.equal(d.conversationTitle, '财务付款群');
    });

    it('accepts the top-level `content` variant of the HTTP body (spec §16.12)', async () => {
      await sb.admin('POST', '/__sandbox/robot/config', { httpBodyVariant: 'content' });
      try {
        const said = await sb.admin('POST', '/__sandbox/robot/say', {
          userId: 'manager4008',
          text: '对账完成',
        });
        assert.equal(
          (stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`)!.data as any).text,
          '对账完成',
        );
      } finally {
        await sb.admin('POST', '/__sandbox/robot/config', { httpBodyVariant: 'text' });
      }
    });

    it('refuses a bad signature and a stale timestamp before parsing, storing nothing', async () => {
      const before = stored.length;
      const forged = await sb.admin('POST', '/__sandbox/robot/say', {
        userId: 'manager4007',
        text: '确认付款',
        badSignature: true,
      });
      assert.equal(forged.status, 'HTTP 403');
      const stale = await sb.admin('POST', '/__sandbox/robot/say', {
        userId: 'manager4007',
        text: '确认付款',
        clockSkewMs: -3_700_000,
      });
      assert.equal(stale.status, 'HTTP 403');
      const ts = String(Date.now());
      const garbage = await fetch(hooks.robotUrl, {
        method: 'POST',
        headers: { timestamp: ts, sign: robotSignature(ts, sb.credentials.appSecret) },
        body: '{not json',
      });
      assert.equal(garbage.status, 400);
      const unsigned = await fetch(hooks.robotUrl, { method: 'POST', body: '{}' });
      assert.equal(unsigned.status, 400);
      assert.equal(stored.length, before);
    });

    it('with the monthly quota used up, the 20001 notice is stored flagged, with no text', async () => {
      await sb.admin('POST', '/__sandbox/limits', { forced: 'quota' });
      try {
        const said = await sb.admin('POST', '/__sandbox/robot/say', {
          userId: 'manager4007',
          text: '确认付款',
        });
        const d = stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`)!.data as any;
        assert.deepEqual([d.text, d.quotaExhausted, d.partnerCode], ['', true, 20001]);
      } finally {
        await sb.admin('DELETE', '/__sandbox/limits');
      }
    });

    it('marks messages from outside the organisation as not internal, with no correlation', async () => {
      const said = await sb.admin('POST', '/__sandbox/robot/say', {
        userId: 'manager4007',
        text: '确认付款',
        external: true,
      });
      const ev = stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`)!;
      assert.equal(ev.correlation, undefined);
      assert.equal((ev.data as any).internal, false);
    });
  });

  describe('card callbacks', () => {
    it('a click on a card with HTTP callbacks is verified and stored with the card as correlation', async () => {
      await connector.client.api('card.callbacks.register', '/v1.0/card/callbacks/register', {
        callbackRouteKey: 'qiao-cards',
        callbackUrl: hooks.cardUrl,
        apiSecret: 'card-secret-0123456789',
        forceUpdate: true,
      });
      const withRoute = connectorFor(sb, { ingress: 'http', cardCallbackRouteKey: 'qiao-cards' });
      const sent = await withRoute.actions['card.send'].run(
        {
          templateId: 'tpl-payment.schema',
          userId: 'manager4007',
          params: { title: '付款确认', amount: '1280' },
        },
        {
          idempotencyKey: 'card-http-1',
          attempt: 1,
          links: { find: async () => undefined },
          signal: AbortSignal.timeout(5000),
          log: withRoute.client.log,
        },
      );
      const outTrackId = (sent.output as any).outTrackId;
      const click = await sb.admin('POST', `/__sandbox/cards/${outTrackId}/click`, {
        userId: 'manager4007',
        params: { action: 'confirm' },
      });
      assert.equal(click.delivered, 'HTTP 200');
      const ev = stored.find((e) => e.type === 'card.click' && e.correlation === outTrackId)!;
      assert.deepEqual((ev.data as any).params, { action: 'confirm' });
      assert.equal((ev.data as any).sender.jobNumber, 'E0007');
      const forged = await sb.admin('POST', `/__sandbox/cards/${outTrackId}/click`, {
        userId: 'manager4007',
        params: { action: 'reject' },
        badSignature: true,
      });
      assert.equal(forged.delivered, 'HTTP 403');
      assert.equal(stored.filter((e) => e.type === 'card.click').length, 1);
    });
  });
});
