/**
 * The Stream gateway speaks the real protocol: the official `dingtalk-stream` SDK, unchanged except
 * that its hard-coded hosts are pointed at the sandbox (an axios interceptor), connects, receives a
 * robot message and an event, answers a SYSTEM ping, and its acks are accepted. Qiao's own Stream
 * client passes the same scenario, and more: disconnects in the middle lose nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import axios from 'axios';
import { DWClient, EventAck, GATEWAY_URL, GET_TOKEN_URL, TOPIC_ROBOT } from 'dingtalk-stream';
import type { InboundEvent } from '../../core/connector.ts';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { connectorFor, startDingtalkSandbox, waitFor } from './test-helpers.ts';

interface StreamState {
  connections: Array<{ id: string; subscriptions: unknown[] }>;
  pending: number;
  stats: {
    eventsAcked: number;
    callbacksAcked: number;
    pingsAcked: number;
    eventsRepushed: number;
    opened: number;
  };
}

const streamState = (sb: DingtalkSandbox) => sb.admin<StreamState>('GET', '/__sandbox/stream');

async function startApproval(sb: DingtalkSandbox, title: string): Promise<string> {
  const r = await sb.admin('POST', '/__sandbox/approvals', {
    template: 'payment',
    originatorUserId: 'manager4007',
    form: { 付款事由: title, 付款金额: '1280', 收款单位: '苏州华锐精密机械有限公司' },
  });
  return r.processInstanceIds[0];
}

describe('Stream gateway with the official dingtalk-stream SDK', () => {
  let sb: DingtalkSandbox;
  let client: DWClient;
  let interceptor: number;
  const robotMessages: any[] = [];
  const events: any[] = [];

  before(async () => {
    sb = await startDingtalkSandbox();
    // The SDK's only change: its two hard-coded URLs go to the sandbox.
    interceptor = axios.interceptors.request.use((cfg) => {
      if (cfg.url?.startsWith(GATEWAY_URL))
        cfg.url = cfg.url.replace(GATEWAY_URL, `${sb.urls.api}/v1.0/gateway/connections/open`);
      if (cfg.url?.startsWith(GET_TOKEN_URL))
        cfg.url = cfg.url.replace(GET_TOKEN_URL, `${sb.urls.oapi}/gettoken`);
      return cfg;
    });
    client = new DWClient({ clientId: sb.credentials.appKey, clientSecret: sb.credentials.appSecret });
    client.registerCallbackListener(TOPIC_ROBOT, (res) => {
      robotMessages.push(JSON.parse(res.data));
      client.socketCallBackResponse(res.headers.messageId, { text: 'ok' });
    });
    client.registerAllEventListener((msg) => {
      events.push(msg);
      return { status: EventAck.SUCCESS };
    });
    const info = console.info;
    console.info = () => {};
    try {
      await client.connect();
    } finally {
      console.info = info;
    }
    await waitFor('the SDK to connect', async () => (await streamState(sb)).connections.length === 1);
  });

  after(async () => {
    const info = console.info;
    console.info = () => {};
    client.disconnect();
    console.info = info;
    axios.interceptors.request.eject(interceptor);
    await sb.close();
  });

  it('gets its access token from the sandbox', async () => {
    const token = await client.getAccessToken();
    assert.match(token, /^[0-9a-f]{32}$/);
  });

  it('receives a robot message and its ack is accepted', async () => {
    const said = await sb.admin('POST', '/__sandbox/robot/say', { userId: 'manager4007', text: '确认付款' });
    await waitFor('the robot message', () => robotMessages.length === 1);
    assert.equal(robotMessages[0].text.content, '确认付款');
    assert.equal(robotMessages[0].senderStaffId, 'manager4007');
    assert.equal(robotMessages[0].msgId, said.msgId);
    const incoming = await waitFor('the ack', async () => {
      const r = await sb.admin('GET', '/__sandbox/robot/messages');
      return r.incoming.find((m: any) => m.msgId === said.msgId && m.status === 'acked');
    });
    assert.equal(incoming.channel, 'stream');
  });

  it('receives approval events with event headers and its SUCCESS acks are accepted', async () => {
    const id = await startApproval(sb, 'SDK 事件测试');
    await waitFor('two events', () => events.length >= 2);
    const first = events[0];
    assert.equal(first.type, 'EVENT');
    assert.equal(first.headers.topic, '*');
    assert.equal(first.headers.eventType, 'bpms_instance_change');
    assert.ok(first.headers.eventId && first.headers.messageId && first.headers.eventCorpId);
    assert.equal(JSON.parse(first.data).processInstanceId, id);
    const flushed = await sb.admin('POST', '/__sandbox/flush');
    assert.equal(flushed.idle, true);
    const st = await streamState(sb);
    assert.ok(st.stats.eventsAcked >= 2, `events acked: ${st.stats.eventsAcked}`);
    assert.equal(st.stats.eventsRepushed, 0);
  });

  it('answers SYSTEM ping by echoing its data', async () => {
    const r = await sb.admin('POST', '/__sandbox/stream/ping');
    assert.deepEqual(r, { sent: 1, acked: 1 });
  });
});

describe("Stream gateway with Qiao's own Stream client", () => {
  let sb: DingtalkSandbox;
  let stop: () => Promise<void>;
  const stored: InboundEvent[] = [];
  let connector: ReturnType<typeof connectorFor>;
  let failDeliveries = 0;

  before(async () => {
    sb = await startDingtalkSandbox();
    connector = connectorFor(sb, {}, { stream: { backoff: { initialMs: 20, maxMs: 200, jitterMs: 20 } } });
    const handle = await connector.ingress!.start(async (events) => {
      if (failDeliveries > 0) {
        failDeliveries -= 1;
        throw new Error('inbox unavailable');
      }
      stored.push(...events);
    });
    stop = handle.stop;
    await waitFor('Qiao to connect', async () => (await streamState(sb)).connections.length === 1);
  });

  after(async () => {
    await stop();
    await sb.close();
  });

  it('subscribes to events, robot messages and card callbacks', async () => {
    const st = await streamState(sb);
    assert.deepEqual(
      (st.connections[0].subscriptions as Array<{ topic: string }>).map((s) => s.topic).sort(),
      ['*', '/v1.0/card/instances/callback', '/v1.0/im/bot/messages/get'],
    );
  });

  it('receives a robot message, stores it with the sender mapped to an employee, then acks', async () => {
    const said = await sb.admin('POST', '/__sandbox/robot/say', { userId: 'manager4007', text: '确认付款' });
    const ev = await waitFor('the chat event', () =>
      stored.find((e) => e.key === `dingtalk:msg:${said.msgId}`),
    );
    assert.equal(ev.type, 'chat.message');
    assert.equal(ev.correlation, 'manager4007');
    const d = ev.data as any;
    assert.equal(d.text, '确认付款');
    assert.equal(d.sender.jobNumber, 'E0007');
    assert.equal(d.sender.name, '赵敏');
    await waitFor('the ack', async () => {
      const r = await sb.admin('GET', '/__sandbox/robot/messages');
      return r.incoming.some((m: any) => m.msgId === said.msgId && m.status === 'acked');
    });
  });

  it('receives approval events with the instance as correlation and acks them', async () => {
    const id = await startApproval(sb, 'Qiao 事件测试');
    await waitFor('instance and task events', () => stored.filter((e) => e.correlation === id).length >= 2);
    const inst = stored.find((e) => e.correlation === id && e.type === 'approval.instance')!;
    assert.equal((inst.data as any).type, 'start');
    assert.equal((await sb.admin('POST', '/__sandbox/flush')).idle, true);
    assert.equal((await sb.admin('POST', '/__sandbox/stream/ping')).acked, 1);
  });

  it('acks LATER when the inbox fails, and stores the re-push', async () => {
    await sb.admin('POST', '/__sandbox/stream/config', { laterRetryMs: 20 });
    failDeliveries = 1;
    const id = await startApproval(sb, '收件箱故障');
    await waitFor(
      'the events after the re-push',
      () => stored.filter((e) => e.correlation === id).length >= 2,
    );
    assert.equal((await sb.admin('POST', '/__sandbox/flush')).idle, true);
    assert.ok(connector.stream!.stats.later >= 1);
  });

  it('recognises duplicated frames and stores each event once', async () => {
    const before = connector.stats.duplicates;
    await sb.admin('POST', '/__sandbox/callbacks/faults', { duplicateNext: 2 });
    const id = await startApproval(sb, '重复推送');
    await waitFor('the events', () => stored.filter((e) => e.correlation === id).length >= 2);
    assert.equal((await sb.admin('POST', '/__sandbox/flush')).idle, true);
    const keys = stored.filter((e) => e.correlation === id).map((e) => e.key);
    assert.equal(new Set(keys).size, keys.length, 'no event stored twice');
    assert.ok(connector.stats.duplicates >= before + 2, `duplicates counted: ${connector.stats.duplicates}`);
  });

  it('a SYSTEM disconnect in the middle loses nothing', async () => {
    await sb.admin('POST', '/__sandbox/stream/disconnect', { graceMs: 50 });
    const said = await sb.admin('POST', '/__sandbox/robot/say', { userId: 'manager4006', text: '收到' });
    const id = await startApproval(sb, '断线期间');
    await waitFor(
      'the message and both events',
      () =>
        stored.some((e) => e.key === `dingtalk:msg:${said.msgId}`) &&
        stored.filter((e) => e.correlation === id).length >= 2,
    );
    assert.equal((await sb.admin('POST', '/__sandbox/flush')).idle, true);
    assert.ok(connector.stream!.stats.disconnectsHandled >= 1);
  });

  it('a dropped socket in the middle loses nothing: unacked events are pushed again after reconnecting', async () => {
    // The next push is lost on the wire, then the socket dies before any ack.
    await sb.admin('POST', '/__sandbox/callbacks/faults', { dropNext: 1 });
    const id = await startApproval(sb, '网络中断');
    await sb.admin('POST', '/__sandbox/stream/drop');
    const said = await sb.admin('POST', '/__sandbox/robot/say', { userId: 'manager4002', text: '在线吗' });
    await waitFor(
      'everything after the reconnect',
      () =>
        stored.some((e) => e.key === `dingtalk:msg:${said.msgId}`) &&
        stored.filter((e) => e.correlation === id).length >= 2,
    );
    assert.equal((await sb.admin('POST', '/__sandbox/flush')).idle, true);
    assert.ok(connector.stream!.stats.reconnects >= 2);
    const keys = stored.map((e) => e.key);
    assert.equal(new Set(keys).size, keys.length, 'nothing stored twice');
  });
});

describe('Qiao Stream client with wrong credentials', () => {
  it('does not throw from start; it retries in the background until stopped', async () => {
    const sb = await startDingtalkSandbox();
    try {
      const c = connectorFor(
        sb,
        { appSecret: 'wrong' },
        { stream: { backoff: { initialMs: 5, maxMs: 20, jitterMs: 1 } } },
      );
      const handle = await c.ingress!.start(async () => {});
      await waitFor('a few attempts', () => c.client.stats.calls >= 3);
      assert.equal(c.stream!.connected, false);
      await handle.stop();
    } finally {
      await sb.close();
    }
  });
});
