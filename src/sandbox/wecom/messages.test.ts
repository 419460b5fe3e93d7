import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWecomSandbox, type WecomSandbox } from './index.ts';
import { admin, api, call, startReceiver, token } from './test-kit.ts';

describe('wecom sandbox: messages, cards, robot, contacts (spec §6, §7)', () => {
  let sb: WecomSandbox;
  let agentid: number;
  before(async () => {
    sb = await startWecomSandbox();
    agentid = Number(sb.credentials.agentId);
  });
  after(() => sb.close());

  const send = (b: Record<string, unknown>) => call(sb, '/cgi-bin/message/send', { agentid, ...b });

  it('sends text, textcard and markdown, recorded per member; partial recipients listed lower-cased', async () => {
    const r = await send({
      touser: 'Zhangwei|Ghost',
      msgtype: 'text',
      text: { content: `你好${'啊'.repeat(1000)}` },
    });
    assert.equal(r.errcode, 0);
    assert.equal(typeof r.msgid, 'string');
    assert.equal(r.invaliduser, 'ghost');
    const inbox = (await admin(sb, 'messages/zhangwei')).messages;
    assert.equal(inbox.length, 1);
    assert.ok(Buffer.byteLength(inbox[0].body.content) <= 2048, 'text over 2048 bytes is truncated');
    const card = await send({
      touser: 'Lina',
      msgtype: 'textcard',
      textcard: {
        title: '合同审批',
        description: '请审批',
        url: 'https://example.cn/a',
        btntxt: '立即处理更多',
      },
    });
    assert.equal(card.errcode, 0);
    assert.equal((await admin(sb, 'messages/lina')).messages[0].body.btntxt, '立即处理');
    assert.equal(
      (await send({ touser: 'Lina', msgtype: 'markdown', markdown: { content: '**到账** 12,000.00' } }))
        .errcode,
      0,
    );
    const party = await send({ toparty: '3', msgtype: 'text', text: { content: '财务部通知' } });
    assert.equal(party.errcode, 0);
    assert.equal((await admin(sb, 'messages/zhaomin')).messages.length, 1);
  });

  it('answers the documented errors', async () => {
    assert.equal((await send({ touser: 'ghost', msgtype: 'text', text: { content: 'x' } })).errcode, 81013);
    assert.equal(
      (await send({ agentid: 999, touser: 'lina', msgtype: 'text', text: { content: 'x' } })).errcode,
      40056,
    );
    assert.equal((await send({ touser: 'lina', msgtype: 'fax', fax: {} })).errcode, 40008);
    assert.equal((await send({ touser: 'lina', msgtype: 'text', text: { content: '' } })).errcode, 44004);
    assert.equal(
      (await send({ touser: 'lina', msgtype: 'textcard', textcard: { title: 't', url: 'https://x' } }))
        .errcode,
      41033,
    );
    assert.equal(
      (await send({ touser: 'lina', msgtype: 'markdown', markdown: { content: 'x'.repeat(2049) } })).errcode,
      45002,
    );
  });

  it('template cards: unique task_id, one-time response codes, clicks pushed as template_card_event', async () => {
    const rx = await startReceiver({
      token: String(sb.credentials.token),
      encodingAesKey: String(sb.credentials.encodingAesKey),
    });
    try {
      assert.equal((await admin(sb, 'callback', { url: rx.url })).ok, true);
      const card = {
        card_type: 'button_interaction',
        main_title: { title: '付款申请待确认', desc: 'AP-2026-001' },
        task_id: 'pay-AP-2026-001',
        button_list: [
          { text: '确认付款', style: 1, key: 'confirm' },
          { text: '驳回', style: 2, key: 'reject' },
        ],
      };
      const r = await send({ touser: 'zhaomin', msgtype: 'template_card', template_card: card });
      assert.equal(r.errcode, 0, r.errmsg);
      assert.equal(typeof r.response_code, 'string');
      assert.equal(
        (await send({ touser: 'zhaomin', msgtype: 'template_card', template_card: card })).errcode,
        42014,
        'task_id reused',
      );
      assert.equal(
        (
          await send({
            touser: 'zhaomin',
            msgtype: 'template_card',
            template_card: { ...card, task_id: 'bad id!' },
          })
        ).errcode,
        42014,
      );
      const dupKeys = {
        ...card,
        task_id: 'dup-keys',
        button_list: [
          { text: 'a', key: 'k' },
          { text: 'b', key: 'k' },
        ],
      };
      assert.equal(
        (await send({ touser: 'zhaomin', msgtype: 'template_card', template_card: dupKeys })).errcode,
        42018,
      );

      const click = await admin(sb, 'cards/click', {
        userid: 'ZhaoMin',
        taskId: 'pay-AP-2026-001',
        key: 'confirm',
      });
      assert.equal(typeof click.responseCode, 'string');
      assert.equal(
        (await admin(sb, 'cards/click', { userid: 'Lina', taskId: 'pay-AP-2026-001', key: 'confirm' }))
          .status,
        409,
        'not a recipient',
      );
      await sb.idle();
      const ev = rx.received.find((x) => x.plaintext.includes('template_card_event'));
      assert.ok(ev);
      assert.match(ev.plaintext, /<FromUserName><!\[CDATA\[Zhaomin\]\]><\/FromUserName>/);
      assert.match(
        ev.plaintext,
        /<EventKey><!\[CDATA\[confirm\]\]><\/EventKey><TaskId><!\[CDATA\[pay-AP-2026-001\]\]><\/TaskId><CardType><!\[CDATA\[button_interaction\]\]><\/CardType>/,
      );
      assert.ok(ev.plaintext.includes(`<ResponseCode><![CDATA[${click.responseCode}]]></ResponseCode>`));

      const upd = (code: string) =>
        call(sb, '/cgi-bin/message/update_template_card', {
          userids: ['zhaomin'],
          agentid,
          response_code: code,
          button: { replace_name: '已确认' },
        });
      assert.equal((await upd(click.responseCode)).errcode, 0);
      assert.equal((await upd(click.responseCode)).errcode, 40058, 'a response code is used once');
      const cards = (await admin(sb, 'cards')).cards;
      assert.equal(cards[0].updates[0].button.replace_name, '已确认');
      // The send's own response code works once too; missing replace_name is 42020.
      assert.equal(
        (
          await call(sb, '/cgi-bin/message/update_template_card', {
            agentid,
            response_code: r.response_code,
            button: {},
          })
        ).errcode,
        42020,
      );
      await admin(sb, 'clock', { advanceSeconds: 73 * 3600 });
      assert.equal((await upd(r.response_code)).errcode, 40058, 'expired after 72 h');
    } finally {
      await admin(sb, 'clock', { advanceSeconds: -73 * 3600 });
      await rx.close();
    }
  });

  it('group robot: key is the credential, 20 messages a minute, then blocked for the minute', async () => {
    const key = (sb.credentials.robots as Record<string, string>).alerts;
    const post = (k: string, b: unknown) => api(sb, '/cgi-bin/webhook/send', { query: { key: k }, body: b });
    assert.equal((await post('nope', { msgtype: 'text', text: { content: 'x' } })).errcode, 93000);
    assert.equal(
      (
        await post(key, {
          msgtype: 'markdown',
          markdown: { content: '实时告警 <font color="warning">132例</font>' },
        })
      ).errcode,
      0,
    );
    assert.equal((await post(key, { msgtype: 'text', text: { content: 'x'.repeat(2049) } })).errcode, 45002);
    await admin(sb, 'limits', undefined, 'DELETE');
    for (let i = 0; i < 20; i++)
      assert.equal(
        (await post(key, { msgtype: 'text', text: { content: `m${i}` } })).errcode,
        0,
        `message ${i}`,
      );
    assert.equal((await post(key, { msgtype: 'text', text: { content: 'over' } })).errcode, 45009);
    await admin(sb, 'clock', { advanceSeconds: 61 });
    assert.equal((await post(key, { msgtype: 'text', text: { content: 'again' } })).errcode, 0);
    await admin(sb, 'robots/alerts', { disabled: true });
    assert.equal((await post(key, { msgtype: 'text', text: { content: 'x' } })).errcode, 93004);
    await admin(sb, 'robots/alerts', { disabled: false });
  });

  it('contacts: user/get without sensitive fields for new apps, look-ups by mobile and email, departments', async () => {
    const u = await call(sb, '/cgi-bin/user/get', undefined, { userid: 'zhangwei' });
    assert.equal(u.errcode, 0);
    assert.equal(u.userid, 'Zhangwei');
    assert.equal(u.name, '张伟');
    assert.equal(u.mobile, undefined, 'new apps do not receive mobile (spec §7)');
    assert.deepEqual(u.extattr.attrs[0], { type: 0, name: '工号', text: { value: 'E0003' } });
    assert.deepEqual(u.direct_leader, ['Lina']);
    assert.equal((await call(sb, '/cgi-bin/user/get', undefined, { userid: 'ghost' })).errcode, 60111);
    assert.equal((await call(sb, '/cgi-bin/user/getuserid', { mobile: '13800000006' })).userid, 'Yangfan');
    assert.equal((await call(sb, '/cgi-bin/user/getuserid', { mobile: '13900000000' })).errcode, 46004);
    assert.equal(
      (await call(sb, '/cgi-bin/user/get_userid_by_email', { email: 'lina@qinghe.example.cn' })).userid,
      'Lina',
    );
    const all = await call(sb, '/cgi-bin/department/list');
    assert.equal(all.department.length, 6);
    const sales = await call(sb, '/cgi-bin/department/list', undefined, { id: '2' });
    assert.deepEqual(
      sales.department.map((d: any) => d.name),
      ['销售部'],
    );
    const simple = await call(sb, '/cgi-bin/department/simplelist', undefined, { id: '1' });
    assert.equal(simple.department_id[0].id, 1);
    assert.equal(
      (await call(sb, '/cgi-bin/department/get', undefined, { id: '3' })).department.name,
      '财务部',
    );
    assert.equal((await call(sb, '/cgi-bin/department/list', undefined, { id: '99' })).errcode, 60123);
    // The sales assistant app sees only 销售部, but still receives mobile (created before 2022-06-20).
    const t = (
      await api(sb, '/cgi-bin/gettoken', {
        query: { corpid: 'wwqinghe0000000001', corpsecret: 'qiaoSandboxSecret0000000000000000000000002Cd' },
      })
    ).access_token;
    assert.equal(
      (await api(sb, '/cgi-bin/user/get', { query: { access_token: t, userid: 'yangfan' } })).errcode,
      60111,
    );
    assert.equal(
      (await api(sb, '/cgi-bin/user/get', { query: { access_token: t, userid: 'liuyang' } })).mobile,
      '13800000004',
    );
  });

  it('limits: per-minute budget then a 60 s block (45009), bans and their end', async () => {
    await admin(sb, 'limits', { enabled: true, perMinute: { '/cgi-bin/user/get': 3 } });
    try {
      const t = await token(sb);
      const get = () => api(sb, '/cgi-bin/user/get', { query: { access_token: t, userid: 'lina' } });
      await admin(sb, 'clock', {
        advanceSeconds: 60 - (((Date.now() + (await admin(sb, 'clock')).clockOffsetMs) / 1000) % 60),
      });
      for (let i = 0; i < 3; i++) assert.equal((await get()).errcode, 0);
      assert.equal((await get()).errcode, 45009);
      await admin(sb, 'clock', { advanceSeconds: 30 });
      assert.equal((await get()).errcode, 45009, 'still blocked within the 60 s');
      await admin(sb, 'clock', { advanceSeconds: 31 });
      assert.equal((await get()).errcode, 0);
      await admin(sb, 'ban', { path: '*', seconds: 60 });
      assert.equal((await get()).errcode, 45009);
      await admin(sb, 'heal', {});
      assert.equal((await get()).errcode, 0);
      // A concurrency limit of 2 calls in flight per API: the third at once gets 45033.
      await admin(sb, 'limits', {
        concurrency: 2,
        processingMs: 500,
        perMinute: { '/cgi-bin/user/get': 10_000 },
      });
      const codes = (await Promise.all([get(), get(), get()])).map((r) => r.errcode).sort();
      assert.deepEqual(codes, [0, 0, 45033]);
    } finally {
      await admin(sb, 'limits', {
        enabled: false,
        concurrency: 0,
        processingMs: 0,
        perMinute: { '/cgi-bin/user/get': 10_000 },
      });
    }
  });
});
