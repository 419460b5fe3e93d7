/**
 * DingTalk connector throughput against its in-process sandbox, each figure beside its ceiling
 * measured in the same run:
 *
 * - Stream ingress: approval events pushed by the gateway, batched, "stored" and acked by Qiao's
 *   Stream client, against a bare `ws` client that acks each frame on arrival;
 * - HTTP robot hook: signed robot messages verified (timestamp window, constant-time HMAC) and parsed
 *   by the `/robot` hook behind a plain node:http server, against the same server answering without
 *   any check;
 * - HTTP event hook: encrypted event pushes verified (SHA-1), decrypted, and answered with a freshly
 *   encrypted `success`, against the same raw server;
 * - notice.send at DingTalk's documented 20 calls/s per API: the rate Qiao's own pacing sustains with
 *   10 in flight, with no limit error, against the allowance itself (the ceiling here is the
 *   partner's limit, not raw HTTP, because raw HTTP to the sandbox is refused above it).
 *
 * Each figure is the best of alternating rounds per side (two for Stream, three for HTTP). Run: npx node bench/dingtalk.bench.ts
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { testActionContext } from '../src/connectors/conformance.ts';
import { robotSignature } from '../src/connectors/dingtalk/crypto.ts';
import { connectorFor, startHookServer } from '../src/connectors/dingtalk/test-helpers.ts';
import { encryptEvent, eventSignature } from '../src/sandbox/dingtalk/event-crypto.ts';
import { type DingtalkSandbox, startDingtalkSandbox } from '../src/sandbox/dingtalk/index.ts';

const EVENTS = Number(process.env.DINGTALK_BENCH_EVENTS ?? 8_000);
const HOOKS = Number(process.env.DINGTALK_BENCH_HOOKS ?? 1_500);
const IN_FLIGHT = 32;

function line(what: string, value: number, ceiling: number, unit: string): void {
  const fmt = (x: number) => (x >= 100 ? String(Math.round(x)) : x.toFixed(1));
  console.log(
    `dingtalk ${what}: ${fmt(value)} ${unit} (ceiling ${fmt(ceiling)} ${unit}, ratio ${(value / ceiling).toFixed(2)})`,
  );
}

async function rate(n: number, width: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) await task(i);
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function idle(sb: DingtalkSandbox): Promise<void> {
  const r = await sb.admin('POST', '/__sandbox/stream/idle', { timeoutMs: 60_000 });
  if (!r.idle) throw new Error('the gateway did not drain');
}

async function waitConnections(sb: DingtalkSandbox, n: number): Promise<void> {
  while ((await sb.admin('GET', '/__sandbox/stream')).connections.length !== n)
    await new Promise((r) => setTimeout(r, 10));
}

function emit(sb: DingtalkSandbox, n: number, tag: string): void {
  for (let i = 0; i < n; i++) {
    sb.context.emitEvent('bpms_instance_change', {
      processInstanceId: `${tag}-${i}`,
      processCode: sb.processCodes.expense,
      type: 'finish',
      result: 'agree',
      staffId: 'manager4003',
      createTime: Date.now(),
    });
  }
}

/** A bare protocol client acking every frame on arrival: the ceiling. */
async function rawRound(): Promise<number> {
  const raw = await startDingtalkSandbox();
  const ticket = await fetch(`${raw.urls.api}/v1.0/gateway/connections/open`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({
      clientId: raw.credentials.appKey,
      clientSecret: raw.credentials.appSecret,
      subscriptions: [{ type: 'EVENT', topic: '*' }],
    }),
  }).then((r) => r.json());
  const ws = new WebSocket(`${ticket.endpoint}?ticket=${ticket.ticket}`);
  ws.on('message', (buf) => {
    const f = JSON.parse(buf.toString());
    if (f.type === 'EVENT') {
      ws.send(
        JSON.stringify({
          code: 200,
          headers: { contentType: 'application/json', messageId: f.headers.messageId },
          message: 'OK',
          data: '{"status":"SUCCESS"}',
        }),
      );
    }
  });
  await new Promise((r) => ws.once('open', r));
  await waitConnections(raw, 1);
  const t0 = performance.now();
  emit(raw, EVENTS, 'raw');
  await idle(raw);
  const r = EVENTS / ((performance.now() - t0) / 1000);
  ws.close();
  await raw.close();
  return r;
}

/** Qiao's Stream client: events batched, handed to `deliver`, then acked. */
async function qiaoRound(): Promise<number> {
  const sb = await startDingtalkSandbox();
  const dt = connectorFor(sb);
  let stored = 0;
  const handle = await dt.ingress!.start(async (events) => {
    stored += events.length;
  });
  await waitConnections(sb, 1);
  const t0 = performance.now();
  emit(sb, EVENTS, 'qiao');
  await idle(sb);
  const r = EVENTS / ((performance.now() - t0) / 1000);
  if (stored !== EVENTS) throw new Error(`stored ${stored} of ${EVENTS}`);
  await handle.stop();
  await sb.close();
  return r;
}

async function streamFigures(): Promise<void> {
  // Alternating rounds, best of two per side, so warm-up favours neither.
  const raw1 = await rawRound();
  const qiao1 = await qiaoRound();
  const raw2 = await rawRound();
  const qiao2 = await qiaoRound();
  line('Stream events stored and acked', Math.max(qiao1, qiao2), Math.max(raw1, raw2), 'events/s');
}

async function rawServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    for await (const _ of req) {
      // drain
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"msgtype":"empty"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function hookFigures(): Promise<void> {
  const sb = await startDingtalkSandbox();
  const dt = connectorFor(sb, { ingress: 'http' });
  const hooks = await startHookServer(dt.hooks!);
  const raw = await rawServer();
  const { appSecret, token, aesKey, appKey } = sb.credentials;

  const robotBody = (i: number) =>
    JSON.stringify({
      msgtype: 'text',
      text: { content: '确认付款' },
      msgId: `msgbench${i}`,
      createAt: Date.now(),
      conversationType: '1',
      conversationId: 'cidbench',
      senderStaffId: 'manager4007',
      senderNick: '赵敏',
      sessionWebhook: `${sb.urls.oapi}/robot/sendBySession?session=x`,
      sessionWebhookExpiredTime: Date.now() + 5_400_000,
    });
  const robot = (url: string) => async (i: number) => {
    const timestamp = String(Date.now());
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', timestamp, sign: robotSignature(timestamp, appSecret) },
      body: robotBody(i),
    });
    await res.text();
    if (res.status !== 200) throw new Error(`robot hook answered ${res.status}`);
  };

  const pushes = Array.from({ length: HOOKS }, (_, i) => {
    const encrypt = encryptEvent(
      aesKey,
      JSON.stringify({
        EventType: 'bpms_task_change',
        eventId: `bench-${i}`,
        processInstanceId: `p${i}`,
        type: 'finish',
        result: 'agree',
      }),
      appKey,
    );
    const timestamp = String(Date.now());
    const query = `signature=${eventSignature(token!, timestamp, 'benchnce', encrypt)}&timestamp=${timestamp}&nonce=benchnce`;
    return { query, body: JSON.stringify({ encrypt }) };
  });
  const event = (url: string) => async (i: number) => {
    const res = await fetch(`${url}?${pushes[i].query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: pushes[i].body,
    });
    await res.text();
    if (res.status !== 200) throw new Error(`event hook answered ${res.status}`);
  };

  // Alternating rounds, best of three per side, so warm-up and other load favour neither.
  const alternate = async (rawTask: (i: number) => Promise<void>, qiaoTask: (i: number) => Promise<void>) => {
    let raw = 0;
    let qiao = 0;
    for (let round = 0; round < 3; round++) {
      raw = Math.max(raw, await rate(HOOKS, IN_FLIGHT, rawTask));
      qiao = Math.max(qiao, await rate(HOOKS, IN_FLIGHT, qiaoTask));
    }
    return { raw, qiao };
  };
  await rate(200, IN_FLIGHT, robot(hooks.robotUrl)); // warm-up (and the one cached sender lookup)
  await rate(200, IN_FLIGHT, robot(raw.url));
  const r = await alternate(robot(raw.url), robot(hooks.robotUrl));
  line('HTTP robot messages verified', r.qiao, r.raw, 'requests/s');
  const e = await alternate(event(raw.url), event(hooks.eventsUrl));
  line('HTTP encrypted events verified and answered', e.qiao, e.raw, 'requests/s');

  raw.server.closeAllConnections();
  raw.server.close();
  await hooks.close();
  await sb.close();
}

async function pacedFigure(): Promise<void> {
  const sb = await startDingtalkSandbox();
  const dt = connectorFor(sb);
  const a = dt.actions['notice.send'];
  let failures = 0;
  let n = 0;
  const done: number[] = [];
  await dt.client.token('oapi');
  const t0 = performance.now();
  const seconds = 4;
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (performance.now() - t0 < seconds * 1000) {
        const i = n++;
        try {
          await a.run(
            a.input.parse({ userIds: ['manager4001'], text: `通知 ${i}` }),
            testActionContext(`n${i}`),
          );
          done.push(performance.now() - t0);
        } catch {
          failures += 1;
        }
      }
    }),
  );
  // Steady state: completions after the first second's burst, up to the end of the window.
  const steady = done.filter((t) => t >= 1000 && t < seconds * 1000).length / (seconds - 1);
  const limited = (await sb.admin('GET', '/__sandbox/limits')).limited;
  await sb.close();
  line(
    `notice.send at the documented 20/s (${limited} limit errors, ${failures} failures)`,
    steady,
    20,
    'calls/s',
  );
}

await streamFigures();
await hookFigures();
await pacedFigure();
