/**
 * HTTP event pushes (spec §7): the sandbox accepts a push only when the app answers the encrypted
 * `success` exactly as DingTalk requires; anything else is a failed push kept for redelivery.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { decryptEvent, encryptEvent, eventSignature } from './event-crypto.ts';
import { type DingtalkSandbox, startDingtalkSandbox } from './test-kit.ts';

type Reply = (
  plain: any,
  q: URLSearchParams,
) => Promise<{ status: number; body: string }> | { status: number; body: string };

describe('dingtalk sandbox: HTTP event pushes (spec §7)', () => {
  let sb: DingtalkSandbox;
  let server: Server;
  let url: string;
  let reply: Reply;
  const seen: Array<{ plain: any; q: URLSearchParams }> = [];

  const encrypted = (text: string, owner = sb.credentials.appKey) => {
    const encrypt = encryptEvent(sb.credentials.aesKey, text, owner);
    const timeStamp = String(Date.now());
    const nonce = 'n0nce123';
    return JSON.stringify({
      msg_signature: eventSignature(sb.credentials.token, timeStamp, nonce, encrypt),
      timeStamp,
      nonce,
      encrypt,
    });
  };

  before(async () => {
    sb = await startDingtalkSandbox();
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const { encrypt } = JSON.parse(Buffer.concat(chunks).toString());
      const plain = JSON.parse(decryptEvent(sb.credentials.aesKey, encrypt).message);
      seen.push({ plain, q });
      const r = await reply(plain, q);
      res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`;
    await sb.admin('POST', '/__sandbox/callbacks/faults', { retryDelaysMs: [] });
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await sb.close();
  });

  it('signs with both parameter names and sends the flat plaintext with the owner key', async () => {
    reply = () => ({ status: 200, body: encrypted('success') });
    await sb.admin('POST', '/__sandbox/callbacks', { eventMode: 'http', eventUrl: url });
    assert.equal(seen[0].plain.EventType, 'check_url');
    await sb.admin('POST', '/__sandbox/events', {
      eventType: 'bpms_task_change',
      data: { processInstanceId: 'p1', type: 'start' },
    });
    await sb.admin('POST', '/__sandbox/flush');
    const { plain, q } = seen.at(-1)!;
    assert.deepEqual(Object.keys(plain).slice(0, 5), [
      'EventType',
      'EventTime',
      'CorpId',
      'BizId',
      'eventId',
    ]);
    assert.equal(plain.processInstanceId, 'p1');
    assert.equal(q.get('signature'), q.get('msg_signature'));
    const events = await sb.admin('GET', '/__sandbox/events');
    assert.equal(events.events.at(-1).deliveries[0].status, 'delivered');
  });

  const cases: Array<[string, Reply, RegExp]> = [
    ['a plain "success"', () => ({ status: 200, body: 'success' }), /not JSON/],
    [
      'a wrong signature',
      () => ({
        status: 200,
        body: encrypted('success').replace(
          /"msg_signature":"[0-9a-f]+"/,
          `"msg_signature":"${'0'.repeat(40)}"`,
        ),
      }),
      /signature mismatch/,
    ],
    ['another owner key', () => ({ status: 200, body: encrypted('success', 'dingother') }), /owner key/],
    ['an encrypted "ok"', () => ({ status: 200, body: encrypted('ok') }), /not success/],
    ['HTTP 500', () => ({ status: 500, body: '{}' }), /HTTP 500/],
    [
      'a reply after the deadline',
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        return { status: 200, body: encrypted('success') };
      },
      /no reply within 100 ms/,
    ],
  ];
  for (const [name, r, reason] of cases) {
    it(`a push answered with ${name} is failed and kept for redelivery`, async () => {
      await sb.admin('POST', '/__sandbox/callbacks/faults', { replyDeadlineMs: 100 });
      reply = r;
      const ev = await sb.admin('POST', '/__sandbox/events', {
        eventType: 'bpms_instance_change',
        data: { processInstanceId: name },
      });
      await sb.admin('POST', '/__sandbox/flush');
      const events = await sb.admin('GET', '/__sandbox/events');
      const failed = events.failed.find((f: any) => f.eventId === ev.eventId);
      assert.match(failed.reason, reason);
      reply = () => ({ status: 200, body: encrypted('success') });
      const redone = await sb.admin('POST', '/__sandbox/events/redeliver');
      assert.equal(redone.delivered, redone.redelivered);
      await sb.admin('POST', '/__sandbox/callbacks/faults', { replyDeadlineMs: 3000 });
    });
  }

  it('check_url must be answered within 1500 ms (D18), or the URL is not saved', async () => {
    reply = async () => {
      await new Promise((r) => setTimeout(r, 150));
      return { status: 200, body: encrypted('success') };
    };
    await sb.admin('POST', '/__sandbox/callbacks/faults', { checkDeadlineMs: 100 });
    await assert.rejects(
      sb.admin('POST', '/__sandbox/callbacks', { eventUrl: `${url}?slow` }),
      /check_url failed: no reply within 100 ms/,
    );
    await sb.admin('POST', '/__sandbox/callbacks/faults', { checkDeadlineMs: 1500 });
  });
});
