/**
 * The Stream protocol with a bare `ws` client (no SDK, no connector): tickets, frames, acks,
 * re-pushes, SYSTEM ping and disconnect (spec §8).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type DingtalkSandbox, json, startDingtalkSandbox } from './test-kit.ts';

describe('dingtalk sandbox: Stream gateway (spec §8)', () => {
  let sb: DingtalkSandbox;
  const open = (body: Record<string, unknown> = {}, accept = 'application/json') =>
    fetch(`${sb.urls.api}/v1.0/gateway/connections/open`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify({
        clientId: sb.credentials.appKey,
        clientSecret: sb.credentials.appSecret,
        subscriptions: [
          { type: 'EVENT', topic: '*' },
          { type: 'CALLBACK', topic: '/v1.0/im/bot/messages/get' },
        ],
        ...body,
      }),
    }).then(json);

  /** A bare client that records frames and acks nothing unless told to. */
  async function connect(url: string) {
    const frames: any[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (raw) => frames.push(JSON.parse(raw.toString())));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
    const next = async (pred: (f: any) => boolean) => {
      for (let i = 0; i < 500; i++) {
        const f = frames.find(pred);
        if (f) {
          frames.splice(frames.indexOf(f), 1);
          return f;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('no such frame');
    };
    const ack = (f: any, data: unknown, code = 200) =>
      ws.send(
        JSON.stringify({
          code,
          headers: { contentType: 'application/json', messageId: f.headers.messageId },
          message: 'OK',
          data: JSON.stringify(data),
        }),
      );
    return { ws, frames, next, ack };
  }

  const approve = () =>
    sb.admin('POST', '/__sandbox/approvals', {
      template: 'expense',
      originatorUserId: 'manager4004',
      form: { 报销事由: 'x', 报销金额: '1', 费用日期: '2026-03-10' },
    });

  before(async () => {
    sb = await startDingtalkSandbox();
  });
  after(() => sb.close());

  it('opens a ticket only with the right credentials and EVENT topic "*"; XML without Accept: application/json', async () => {
    const ok = await open();
    assert.match(ok.body.endpoint, /^ws:\/\/127\.0\.0\.1:\d+\/connect$/);
    assert.match(ok.body.ticket, /^[0-9a-f-]{36}$/);
    assert.equal((await open({ clientSecret: 'x' })).body.code, 'invalidClientIdOrSecret');
    assert.equal((await open({ subscriptions: [{ type: 'EVENT', topic: 'bpms' }] })).status, 400);
    const xml = await open({}, '*/*');
    assert.match(xml.type, /xml/);
    assert.match(xml.body, /<ticket>[0-9a-f-]{36}<\/ticket>/);
  });

  it('a ticket is single-use and expires; unknown tickets are refused at the handshake', async () => {
    const { body } = await open();
    const c = await connect(`${body.endpoint}?ticket=${body.ticket}`);
    await assert.rejects(connect(`${body.endpoint}?ticket=${body.ticket}`), /HTTP 401/);
    await assert.rejects(connect(`${body.endpoint}?ticket=nope`), /HTTP 401/);
    await sb.admin('POST', '/__sandbox/stream/config', { ticketTtlMs: 1 });
    const stale = (await open()).body;
    await new Promise((r) => setTimeout(r, 5));
    await assert.rejects(connect(`${stale.endpoint}?ticket=${stale.ticket}`), /HTTP 401/);
    await sb.admin('POST', '/__sandbox/stream/config', { ticketTtlMs: 90_000 });
    c.ws.close();
  });

  it('pushes EVENT frames with event headers and data as a JSON string; re-pushes the same messageId until SUCCESS', async () => {
    await sb.admin('POST', '/__sandbox/stream/config', { ackTimeoutMs: 50, laterRetryMs: 10 });
    const { body } = await open();
    const c = await connect(`${body.endpoint}?ticket=${body.ticket}`);
    await approve();
    const first = await c.next((f) => f.type === 'EVENT' && f.headers.eventType === 'bpms_instance_change');
    assert.equal(first.specVersion, '1.0');
    assert.equal(first.headers.topic, '*');
    assert.equal(first.headers.contentType, 'application/json');
    assert.match(first.headers.time, /^\d{13}$/);
    assert.equal(typeof first.data, 'string');
    assert.equal(JSON.parse(first.data).type, 'start');
    // No ack: the same frame again after the ack timeout.
    const again = await c.next((f) => f.headers.messageId === first.headers.messageId);
    assert.equal(again.headers.eventId, first.headers.eventId);
    // LATER: pushed again.
    c.ack(again, { status: 'LATER' });
    const third = await c.next((f) => f.headers.messageId === first.headers.messageId);
    c.ack(third, { status: 'SUCCESS', message: 'ok' });
    const task = await c.next((f) => f.headers.eventType === 'bpms_task_change');
    c.ack(task, { status: 'SUCCESS' });
    for (const f of c.frames.filter((x) => x.type === 'EVENT')) c.ack(f, { status: 'SUCCESS' });
    await sb.admin('POST', '/__sandbox/stream/config', { ackTimeoutMs: 60_000, laterRetryMs: 5_000 });
    const st = await sb.admin('GET', '/__sandbox/stream');
    assert.ok(st.stats.eventsLater >= 1 && st.stats.eventsRepushed >= 1);
    c.ws.close();
  });

  it('robot messages are CALLBACK frames, not re-pushed when unacked', async () => {
    await sb.admin('POST', '/__sandbox/stream/config', { ackTimeoutMs: 30 });
    const { body } = await open();
    const c = await connect(`${body.endpoint}?ticket=${body.ticket}`);
    const said = await sb.admin('POST', '/__sandbox/robot/say', { userId: 'manager4007', text: '你好' });
    const f = await c.next((x) => x.type === 'CALLBACK');
    assert.equal(f.headers.topic, '/v1.0/im/bot/messages/get');
    assert.equal(JSON.parse(f.data).msgId, said.msgId);
    // The ack timeout passes: the message is given up, and no second frame was sent.
    for (let i = 0; i < 500; i++) {
      const incoming = await sb.admin('GET', '/__sandbox/robot/messages');
      if (incoming.incoming.at(-1).status === 'unacked') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await sb.admin('GET', '/__sandbox/robot/messages')).incoming.at(-1).status, 'unacked');
    assert.equal(c.frames.filter((x) => x.type === 'CALLBACK').length, 0, 'fire and forget');
    await sb.admin('POST', '/__sandbox/stream/config', { ackTimeoutMs: 60_000 });
    c.ws.close();
  });

  it('SYSTEM ping expects its data echoed; SYSTEM disconnect is followed by a close', async () => {
    const { body } = await open();
    const c = await connect(`${body.endpoint}?ticket=${body.ticket}`);
    const pinging = sb.admin('POST', '/__sandbox/stream/ping');
    const ping = await c.next((f) => f.type === 'SYSTEM' && f.headers.topic === 'ping');
    assert.ok(JSON.parse(ping.data).opaque);
    c.ws.send(JSON.stringify({ code: 200, headers: ping.headers, message: 'OK', data: ping.data }));
    assert.deepEqual(await pinging, { sent: 1, acked: 1 });
    const closed = new Promise<number>((r) => c.ws.once('close', (code) => r(code)));
    await sb.admin('POST', '/__sandbox/stream/disconnect', { graceMs: 20 });
    const bye = await c.next((f) => f.type === 'SYSTEM' && f.headers.topic === 'disconnect');
    assert.deepEqual(JSON.parse(bye.data), { reason: 'connection is expired' });
    assert.equal(await closed, 1000);
  });
});
