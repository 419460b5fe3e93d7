import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as official from '@wecom/crypto';
import type { HookRequest, InboundEvent } from '../../core/connector.ts';
import { createLogger } from '../../core/logger.ts';
import { envelope } from '../../sandbox/wecom/callbacks.ts';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from '../../sandbox/wecom/index.ts';
import { testActionContext } from '../conformance.ts';
import type { ApprovalState } from './events.ts';
import { type WecomConnector, type WecomSettings, wecomConnector } from './index.ts';
import { type HookServer, sandboxAdmin, serveHooks } from './test-kit.ts';

describe('wecom callback endpoint (spec §4, §5) with deliveries made by the sandbox', () => {
  let sb: WecomSandbox;
  let conn: WecomConnector;
  let hub: HookServer;
  const logLines: string[] = [];
  let settings: WecomSettings & { token: string; encodingAesKey: string };

  before(async () => {
    sb = await startWecomSandbox();
    settings = wecomConnector.settings.parse({ baseUrl: sb.baseUrl, ...sb.credentials }) as typeof settings;
    const log = createLogger({}, { level: 'info', write: (l) => logLines.push(l) });
    conn = wecomConnector.create({ connectionId: 'wc1', settings, log }) as WecomConnector;
    hub = await serveHooks(conn.hooks!, 'wc1');
    await sandboxAdmin(sb.baseUrl, 'callback-settings', { timeoutMs: 2000, retryDelaysMs: [5, 5, 5] });
  });
  after(async () => {
    await sb.close();
    await hub.close();
  });

  const start = async (number: string) => {
    const a = conn.actions['approval.start'];
    const out = await a.run(
      a.input.parse({
        templateId: TEMPLATE_IDS.expense,
        creator: 'liuyang',
        fields: {
          报销类型: '差旅费',
          报销金额: 1280,
          发生日期: '2026-03-10',
          报销事由: `出差 ${number}`,
          关联项目: '项目A',
        },
      }),
      testActionContext(`cb-${number}`),
    );
    return (out.output as { spNo: string }).spNo;
  };
  const approvalEvents = (spNo: string) =>
    hub.events.filter((e) => e.type === 'approval.change' && e.correlation === spNo);

  it('answers the URL verification handshake with the decrypted echostr', async () => {
    const r = await sandboxAdmin(sb.baseUrl, 'callback', { url: hub.url });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(conn.callbacks.stats.verified, 1);
    assert.equal(hub.answers[0].status, 200);
    assert.match(hub.answers[0].body, /^\d+$/, 'the plaintext, raw: no quotes, no newline');
  });

  it('turns sys_approval_change into approval.change events correlated by SpNo, acknowledged with an empty 200', async () => {
    const spNo = await start('E1');
    await sandboxAdmin(sb.baseUrl, `approvals/${spNo}/agree`, { userid: 'yangfan', speech: '同意' });
    await sb.idle();
    const evs = approvalEvents(spNo);
    assert.equal(evs.length, 2);
    const [submitted, agreed] = evs.map((e) => e.data as ApprovalState);
    assert.equal(submitted.change?.name, 'submitted');
    assert.equal(agreed.change?.name, 'agreed');
    assert.equal(agreed.status, 'approved');
    assert.equal(agreed.terminal, true);
    assert.equal(agreed.nodes[0].approvers[0].userid, 'Yangfan');
    assert.equal(agreed.nodes[0].approvers[0].speech, '同意');
    assert.equal(agreed.templateId, TEMPLATE_IDS.expense);
    assert.ok(hub.answers.filter((a) => a.method === 'POST').every((a) => a.status === 200 && a.body === ''));
  });

  it('recognises duplicate deliveries by key and counts them; the inbox sees one key', async () => {
    await sandboxAdmin(sb.baseUrl, 'callback-faults', { duplicateNext: 1, duplicateTimes: 2 });
    const before = conn.callbacks.stats.duplicates;
    const spNo = await start('E2');
    await sb.idle();
    const evs = approvalEvents(spNo);
    assert.equal(evs.length, 3, 'three deliveries reach the hub');
    assert.equal(new Set(evs.map((e) => e.key)).size, 1, 'all three carry the same dedupe key');
    assert.equal(conn.callbacks.stats.duplicates - before, 2);
  });

  it('passes card clicks and members’ messages on as events', async () => {
    const send = conn.actions['message.send'];
    const out = await send.run(
      send.input.parse({
        to: { users: ['zhaomin'] },
        type: 'template_card',
        card: { card_type: 'button_interaction', main_title: { title: '付款确认', desc: 'AP-001' } },
        buttons: [{ text: '确认付款', key: 'confirm', style: 1 }],
      }),
      testActionContext('card-1'),
    );
    const { taskId } = out.output as { taskId: string };
    const click = await sandboxAdmin(sb.baseUrl, 'cards/click', {
      userid: 'zhaomin',
      taskId,
      key: 'confirm',
    });
    await sandboxAdmin(sb.baseUrl, 'messages/incoming', {
      userid: 'liuyang',
      content: '报销差旅费1280元，3月10日，项目A',
    });
    await sb.idle();
    const c = hub.events.find((e) => e.type === 'card.click') as InboundEvent;
    assert.equal(c.correlation, taskId);
    assert.deepEqual(
      {
        key: (c.data as any).key,
        userid: (c.data as any).userid,
        responseCode: (c.data as any).responseCode,
      },
      { key: 'confirm', userid: 'Zhaomin', responseCode: click.responseCode },
    );
    const m = hub.events.find((e) => e.type === 'chat.message') as InboundEvent;
    assert.equal((m.data as any).content, '报销差旅费1280元，3月10日，项目A');
    assert.equal((m.data as any).userid, 'Liuyang');
  });

  /** A request as the sandbox makes it, for handle() directly. */
  const request = (
    plaintext: string,
    mutate: (q: Record<string, string>, body: string) => { q: Record<string, string>; body: string } = (
      q,
      body,
    ) => ({ q, body }),
  ): HookRequest => {
    const env = envelope(
      { url: '', token: settings.token, encodingAesKey: settings.encodingAesKey, format: 'xml' },
      settings.corpId,
      3010040,
      plaintext,
    );
    const m = mutate({ ...env.query }, env.body);
    return { method: 'POST', path: '', query: m.q, headers: {}, rawBody: Buffer.from(m.body) };
  };
  const post = (req: HookRequest) => conn.hooks!.find((h) => h.method === 'POST')!.handle(req);
  const xml = (n: number) =>
    `<xml><ToUserName><![CDATA[${settings.corpId}]]></ToUserName><FromUserName><![CDATA[Liuyang]]></FromUserName><CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[第${n}条]]></Content><MsgId>${9000 + n}</MsgId><AgentID>1000002</AgentID></xml>`;

  it('accepts what the official @wecom/crypto encrypts and signs', async () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const enc = official.encrypt(settings.encodingAesKey, xml(1), settings.corpId);
    const q = {
      msg_signature: official.getSignature(settings.token, ts, '77', enc),
      timestamp: ts,
      nonce: '77',
    };
    const r = await post({
      method: 'POST',
      path: '',
      query: q,
      headers: {},
      rawBody: Buffer.from(`<xml><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`),
    });
    assert.equal(r.status, 200);
    assert.equal((r.events?.[0]?.data as { content?: string } | undefined)?.content, '第1条');
  });

  it('rejects bad signatures, stale timestamps, replays, bad padding and the wrong corp with a 4xx, storing nothing', async () => {
    const cases: Array<[string, HookRequest, number, string]> = [];
    cases.push([
      'bad signature',
      request(xml(2), (q, b) => ({ q: { ...q, msg_signature: '0'.repeat(40) }, body: b })),
      401,
      'bad-signature',
    ]);
    const old = String(Math.floor(Date.now() / 1000) - 3600);
    const encOld = official.encrypt(settings.encodingAesKey, xml(3), settings.corpId);
    cases.push([
      'stale timestamp',
      {
        method: 'POST',
        path: '',
        headers: {},
        query: {
          timestamp: old,
          nonce: '1',
          msg_signature: official.getSignature(settings.token, old, '1', encOld),
        },
        rawBody: Buffer.from(`<xml><Encrypt><![CDATA[${encOld}]]></Encrypt></xml>`),
      },
      403,
      'stale',
    ]);
    const ts = String(Math.floor(Date.now() / 1000));
    const other = official.encrypt(settings.encodingAesKey, xml(4), 'wwsomeoneelse00001');
    cases.push([
      'wrong corp',
      {
        method: 'POST',
        path: '',
        headers: {},
        query: {
          timestamp: ts,
          nonce: '2',
          msg_signature: official.getSignature(settings.token, ts, '2', other),
        },
        rawBody: Buffer.from(`<xml><Encrypt><![CDATA[${other}]]></Encrypt></xml>`),
      },
      403,
      'wrong-corp',
    ]);
    const good = official.encrypt(settings.encodingAesKey, xml(5), settings.corpId);
    const raw = Buffer.from(good, 'base64');
    raw[raw.length - 17] ^= 0x01; // the last block now decrypts to a broken pad
    const bad = raw.toString('base64');
    cases.push([
      'bad padding',
      {
        method: 'POST',
        path: '',
        headers: {},
        query: {
          timestamp: ts,
          nonce: '3',
          msg_signature: official.getSignature(settings.token, ts, '3', bad),
        },
        rawBody: Buffer.from(`<xml><Encrypt><![CDATA[${bad}]]></Encrypt></xml>`),
      },
      400,
      'decrypt',
    ]);
    for (const [name, req, status, reason] of cases) {
      const r = await post(req);
      assert.equal(r.status, status, `${name}: ${String(r.body)}`);
      assert.equal(r.events, undefined, `${name}: nothing stored`);
      assert.ok(
        logLines.some((l) => l.includes(`wecom callback rejected: ${reason}`)),
        `${name}: a clear log line`,
      );
    }
    const once = request(xml(6));
    assert.equal((await post(once)).status, 200);
    const replay = await post(once);
    assert.equal(replay.status, 409, 'the same signed request twice is a replay');
    assert.equal(replay.events, undefined);
    assert.ok(conn.callbacks.stats.rejected.replayed >= 1);
  });
});
