/**
 * WeCom connector figures against its in-process sandbox, each beside a ceiling measured in the same
 * run:
 *
 * - user.lookup and message.send through the connector (token cache, budgets, error table, output
 *   shaping) against plain fetch making the same wire call with the same token, 8 in flight;
 * - callback ingest: sys_approval_change deliveries encrypted and signed as the sandbox makes them,
 *   posted 8 in flight to the connector's callback endpoint (freshness, signature, replay check,
 *   decrypt, corpid, XML → event) against the same deliveries to a receiver that answers 200 unread;
 * - the 600/min approval-read allowance: how much of it the connector uses in one burst with the
 *   sandbox enforcing the limit, and how many 45009 answers it provoked doing so.
 *
 * Run: npx node bench/wecom.bench.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testActionContext } from '../src/connectors/conformance.ts';
import { type WecomConnector, wecomConnector } from '../src/connectors/wecom/index.ts';
import { serveHooks } from '../src/connectors/wecom/test-kit.ts';
import { QiaoError } from '../src/core/errors.ts';
import { silentLogger } from '../src/core/logger.ts';
import { approvalChangeXml } from '../src/sandbox/wecom/approval.ts';
import { envelope, withQuery } from '../src/sandbox/wecom/callbacks.ts';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from '../src/sandbox/wecom/index.ts';

const LOOKUPS = Number(process.env.WECOM_BENCH_LOOKUPS ?? 3000);
const MESSAGES = Number(process.env.WECOM_BENCH_MESSAGES ?? 3000);
const EVENTS = Number(process.env.WECOM_BENCH_EVENTS ?? 1000);
const IN_FLIGHT = 8;

function line(what: string, value: number, ceiling: number, unit: string): void {
  const ratio = ceiling === 0 ? (value === 0 ? 1 : Number.POSITIVE_INFINITY) : value / ceiling;
  console.log(
    `wecom ${what}: ${Math.round(value)} ${unit} (ceiling ${Math.round(ceiling)} ${unit}, ratio ${ratio.toFixed(2)})`,
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

async function admin(sb: WecomSandbox, path: string, body: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${sb.baseUrl}/__sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, any>;
}

function connect(sb: WecomSandbox, id: string): WecomConnector {
  return wecomConnector.create({
    connectionId: id,
    settings: wecomConnector.settings.parse({ baseUrl: sb.baseUrl, ...sb.credentials }),
    log: silentLogger,
  }) as WecomConnector;
}

const USERS = ['Lina', 'Zhangwei', 'Liuyang', 'Chenjing', 'Yangfan', 'Zhaomin', 'Huanglei', 'Zhoujie'];

// ── calls ─────────────────────────────────────────────────────────────────────────────────────
{
  const sb = await startWecomSandbox();
  try {
    const conn = connect(sb, 'bench');
    const token = await conn.client.token();
    const lookup = conn.actions['user.lookup'];
    const send = conn.actions['message.send'];
    // Warm both paths.
    await rate(200, IN_FLIGHT, async (i) => {
      await lookup.run({ userid: USERS[i % USERS.length] }, testActionContext(`w${i}`));
      await fetch(
        `${sb.baseUrl}/cgi-bin/user/get?access_token=${token}&userid=${USERS[i % USERS.length]}`,
      ).then((r) => r.json());
    });
    const rawLookup = await rate(LOOKUPS, IN_FLIGHT, async (i) => {
      const r = (await (
        await fetch(`${sb.baseUrl}/cgi-bin/user/get?access_token=${token}&userid=${USERS[i % USERS.length]}`)
      ).json()) as { errcode: number };
      if (r.errcode !== 0) throw new Error(`raw user/get ${r.errcode}`);
    });
    const viaLookup = await rate(LOOKUPS, IN_FLIGHT, async (i) => {
      const out = await lookup.run({ userid: USERS[i % USERS.length] }, testActionContext(`l${i}`));
      if (!(out.output as { found: boolean }).found) throw new Error('not found');
    });
    line('user.lookup', viaLookup, rawLookup, 'calls/s');

    const rawSendOnce = async (i: number) => {
      const r = (await (
        await fetch(`${sb.baseUrl}/cgi-bin/message/send?access_token=${token}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            touser: USERS[i % USERS.length],
            msgtype: 'text',
            agentid: sb.credentials.agentId,
            text: { content: `raw ${i} 合同已审批` },
          }),
        })
      ).json()) as { errcode: number };
      if (r.errcode !== 0) throw new Error(`raw message/send ${r.errcode}`);
    };
    const sendOnce = async (i: number) => {
      await send.run(
        send.input.parse({
          to: { users: [USERS[i % USERS.length]] },
          type: 'text',
          content: `qiao ${i} 合同已审批`,
        }),
        testActionContext(`m${i}`),
      );
    };
    await rate(300, IN_FLIGHT, async (i) => {
      await rawSendOnce(MESSAGES + i);
      await sendOnce(MESSAGES + i);
    });
    const rawSend = await rate(MESSAGES, IN_FLIGHT, rawSendOnce);
    const viaSend = await rate(MESSAGES, IN_FLIGHT, sendOnce);
    line('message.send', viaSend, rawSend, 'messages/s');
  } finally {
    await sb.close();
  }
}

// ── callbacks ─────────────────────────────────────────────────────────────────────────────────
{
  const sb = await startWecomSandbox();
  const conn = connect(sb, 'bench-cb');
  const hub = await serveHooks(conn.hooks!, 'bench-cb');
  const blind = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': '0' }).end());
  });
  await new Promise<void>((r) => blind.listen(0, '127.0.0.1', r));
  const blindUrl = `http://127.0.0.1:${(blind.address() as AddressInfo).port}/blind`;
  try {
    // EVENTS applications, then the sys_approval_change WeCom pushes for each one's approval, each
    // encrypted and signed as the sandbox delivers it (fresh timestamp and nonce per delivery).
    const token = await conn.client.token();
    const contents = [
      {
        control: 'Selector',
        id: 'Selector-1700000000101',
        value: { selector: { type: 'single', options: [{ key: 'option-170000000010101' }] } },
      },
      { control: 'Money', id: 'Money-1700000000102', value: { new_money: '1280' } },
      {
        control: 'Date',
        id: 'Date-1700000000103',
        value: { date: { type: 'day', s_timestamp: '1773100800' } },
      },
      { control: 'Textarea', id: 'Textarea-1700000000105', value: { text: '客户拜访' } },
    ];
    await rate(EVENTS + 100, IN_FLIGHT, async () => {
      const r = await fetch(`${sb.baseUrl}/cgi-bin/oa/applyevent?access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({
          creator_userid: 'liuyang',
          template_id: TEMPLATE_IDS.expense,
          use_template_approver: 1,
          apply_data: { contents },
        }),
      });
      if (((await r.json()) as { errcode: number }).errcode !== 0) throw new Error('applyevent failed');
    });
    const cfg = {
      url: '',
      token: String(sb.credentials.token),
      encodingAesKey: String(sb.credentials.encodingAesKey),
      format: 'xml' as const,
    };
    const plaintexts = [...sb.world.approvals.values()].map((a) =>
      approvalChangeXml(sb.world, { ...a, spStatus: 2 }, 2, Math.floor(Date.now() / 1000)),
    );
    const deliver = (url: string) => async (i: number) => {
      const env = envelope(cfg, String(sb.credentials.corpId), 3010040, plaintexts[i]);
      const res = await fetch(withQuery(url, env.query), {
        method: 'POST',
        headers: { 'content-type': env.contentType },
        body: env.body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`delivery answered ${res.status}`);
    };
    await rate(100, IN_FLIGHT, deliver(blindUrl));
    await rate(100, IN_FLIGHT, async (i) => deliver(hub.url)(EVENTS + i));
    const ceiling = await rate(EVENTS, IN_FLIGHT, deliver(blindUrl));
    const before = hub.events.length;
    const ingest = await rate(EVENTS, IN_FLIGHT, deliver(hub.url));
    if (hub.events.length - before !== EVENTS)
      throw new Error(`expected ${EVENTS} events, got ${hub.events.length - before}`);
    line('callback ingest (verify, decrypt, parse)', ingest, ceiling, 'events/s');
  } finally {
    await hub.close();
    blind.closeAllConnections();
    blind.close();
    await sb.close();
  }
}

// ── the 600/min approval-read allowance ─────────────────────────────────────────────────────
{
  const sb = await startWecomSandbox();
  try {
    await admin(sb, 'limits', { enabled: true });
    const conn = connect(sb, 'bench-rl');
    const start = conn.actions['approval.start'];
    const { spNo } = (
      await start.run(
        start.input.parse({
          templateId: TEMPLATE_IDS.expense,
          creator: 'liuyang',
          fields: { 报销类型: '交通费', 报销金额: 58, 发生日期: '2026-03-10', 报销事由: '打车' },
        }),
        testActionContext('rl-start'),
      )
    ).output as { spNo: string };
    const get = conn.actions['approval.get'];
    let ok = 0;
    let refusedLocally = 0;
    let partnerLimit = 0;
    // Everything the engine would throw at it within one minute, as fast as it can.
    await rate(800, IN_FLIGHT, async (i) => {
      try {
        await get.run({ spNo }, testActionContext(`rl${i}`));
        ok++;
      } catch (e) {
        if (!(e instanceof QiaoError) || e.errorClass !== 'rate_limited') throw e;
        if (e.partner?.code === 45009) partnerLimit++;
        else refusedLocally++;
      }
    });
    const counts = (
      (await (await fetch(`${sb.baseUrl}/__sandbox/calls`)).json()) as {
        calls: Array<{ path: string; errcode: number }>;
      }
    ).calls;
    const answered45009 = counts.filter((c) => c.errcode === 45009).length;
    // The template read during approval.start counts against the same corp; detail reads are their own API.
    line('approval reads used of the 600/min allowance', ok, 600, 'calls');
    line('45009 answers provoked at full allowance', answered45009 + partnerLimit, 0, 'errors');
    if (refusedLocally + ok !== 800) throw new Error('unexpected outcome');
  } finally {
    await sb.close();
  }
}
