import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DingtalkSandbox, oapi, startDingtalkSandbox } from './test-kit.ts';

describe('dingtalk sandbox: work notifications (spec §4)', () => {
  let sb: DingtalkSandbox;
  const send = (body: Record<string, unknown>) =>
    oapi(sb, '/topapi/message/corpconversation/asyncsend_v2', { agent_id: sb.credentials.agentId, ...body });
  before(async () => {
    sb = await startDingtalkSandbox();
  });
  after(() => sb.close());

  it('validates agent_id, recipients, msg types and size with errcode 40035, at HTTP 200', async () => {
    const text = { msgtype: 'text', text: { content: 'x' } };
    assert.equal(
      (await send({ agent_id: undefined, userid_list: 'manager4001', msg: text })).body.errcode,
      40035,
    );
    assert.equal((await send({ agent_id: 1, userid_list: 'manager4001', msg: text })).body.errcode, 40035);
    assert.equal((await send({ msg: text })).body.errcode, 40035);
    assert.equal(
      (await send({ userid_list: Array.from({ length: 101 }, (_, i) => `u${i}`).join(','), msg: text })).body
        .errcode,
      40035,
    );
    assert.equal(
      (await send({ userid_list: 'manager4001', msg: { msgtype: 'sticker', sticker: {} } })).body.errcode,
      40035,
    );
    assert.equal(
      (await send({ userid_list: 'manager4001', msg: { msgtype: 'link', link: { title: 't' } } })).body
        .errcode,
      40035,
    );
    const ok = await send({
      to_all_user: true,
      msg: {
        msgtype: 'oa',
        oa: {
          message_url: 'https://x',
          head: { bgcolor: 'FFBBBBBB', text: '头' },
          body: { title: '报销单' },
        },
      },
    });
    assert.equal(ok.body.errcode, 0);
  });

  it('over the per-user daily cap the send still succeeds; the users land in forbidden_list with 143105', async () => {
    await sb.admin('POST', '/__sandbox/notices/config', { perUserDaily: 1 });
    await send({ userid_list: 'manager4010', msg: { msgtype: 'text', text: { content: '第一条' } } });
    const second = await send({
      userid_list: 'manager4010',
      msg: { msgtype: 'text', text: { content: '第二条' } },
    });
    assert.equal(second.body.errcode, 0);
    const result = await oapi(sb, '/topapi/message/corpconversation/getsendresult', {
      agent_id: sb.credentials.agentId,
      task_id: second.body.task_id,
    });
    assert.deepEqual(result.body.send_result.forbidden_list, [
      { code: '143105', count: 1, userid: 'manager4010' },
    ]);
    await sb.admin('POST', '/__sandbox/notices/config', { perUserDaily: 500 });
  });

  it('progress goes 0 → 1 → 2 with the delivery delay; recall marks the deliveries', async () => {
    await sb.admin('POST', '/__sandbox/notices/config', { deliveryDelayMs: 60_000 });
    const r = await send({ userid_list: 'manager4009', msg: { msgtype: 'text', text: { content: '进度' } } });
    const progress = await oapi(sb, '/topapi/message/corpconversation/getsendprogress', {
      agent_id: sb.credentials.agentId,
      task_id: r.body.task_id,
    });
    assert.deepEqual(progress.body.progress, { progress_in_percent: 0, status: 0 });
    await sb.admin('POST', '/__sandbox/notices/config', { deliveryDelayMs: 0 });
    const done = await oapi(sb, '/topapi/message/corpconversation/getsendprogress', {
      agent_id: sb.credentials.agentId,
      task_id: r.body.task_id,
    });
    assert.deepEqual(done.body.progress, { progress_in_percent: 100, status: 2 });
    assert.equal(
      (
        await oapi(sb, '/topapi/message/corpconversation/recall', {
          agent_id: sb.credentials.agentId,
          msg_task_id: r.body.task_id,
        })
      ).body.errcode,
      0,
    );
    const got = await sb.admin('GET', '/__sandbox/notices?userId=manager4009');
    assert.equal(got.deliveries.at(-1).recalled, true);
    assert.equal(
      (
        await oapi(sb, '/topapi/message/corpconversation/getsendresult', {
          agent_id: sb.credentials.agentId,
          task_id: 42,
        })
      ).body.errcode,
      40035,
    );
  });
});
