import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QiaoError, ValidationError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from '../../sandbox/wecom/index.ts';
import { testActionContext } from '../conformance.ts';
import type { ApprovalState } from './events.ts';
import { type WecomConnector, wecomConnector } from './index.ts';
import { sandboxAdmin } from './test-kit.ts';

describe('wecom actions', () => {
  let sb: WecomSandbox;
  let conn: WecomConnector;
  const create = () =>
    wecomConnector.create({
      connectionId: 'wa',
      settings: wecomConnector.settings.parse({ baseUrl: sb.baseUrl, ...sb.credentials }),
      log: silentLogger,
    }) as WecomConnector;
  const run = async (
    c: WecomConnector,
    action: string,
    input: unknown,
    key = `k-${Math.random()}`,
    attempt = 1,
  ) => {
    const a = c.actions[action];
    return (await a.run(a.input.parse(input), { ...testActionContext(key), attempt })).output as any;
  };

  before(async () => {
    sb = await startWecomSandbox();
    conn = create();
  });
  after(() => sb.close());

  const contract = (extra: Record<string, unknown> = {}) => ({
    templateId: TEMPLATE_IDS.contract,
    creator: 'zhangwei',
    fields: {
      合同编号: 'HT-2026-0310',
      客户名称: '宁波东海新能源科技有限公司',
      合同金额: '1,280,000.50',
      付款方式: '分期付款',
      签订日期: '2026-03-10',
      销售负责人: 'Zhangwei',
      客户信用等级: 'AA',
      合同附件: ['media-1', 'media-2'],
    },
    ...extra,
  });

  it('approval.start maps fields by title to controls and submits in the current dialect', async () => {
    const out = await run(
      conn,
      'approval.start',
      contract({
        approvers: [{ userids: ['lina', 'yangfan'], mode: 'all' }, { userids: ['wangjianguo'] }],
        cc: ['huanglei'],
        summary: ['合同 HT-2026-0310'],
      }),
    );
    assert.match(out.spNo, /^\d{12}$/);
    const s = (await run(conn, 'approval.get', { spNo: out.spNo })) as ApprovalState;
    assert.equal(s.status, 'pending');
    assert.equal(s.nodes[0].mode, 'all');
    assert.deepEqual(
      s.nodes[0].approvers.map((a) => a.userid),
      ['Lina', 'Yangfan'],
    );
    assert.equal(s.nodes[1].approvers[0].userid, 'WangJianGuo');
    assert.deepEqual(s.notifyers, ['Huanglei']);
    assert.equal(s.fields?.合同金额, 1280000.5);
    assert.equal(s.fields?.签订日期, '2026-03-10');
    assert.equal(s.fields?.客户信用等级, 'AA');
    assert.deepEqual(s.fields?.销售负责人, ['Zhangwei']);
    assert.deepEqual(s.fields?.合同附件, ['media-1', 'media-2']);
  });

  it('approval.start speaks the classic dialect and the template flow too', async () => {
    const classic = await run(
      conn,
      'approval.start',
      contract({
        dialect: 'classic',
        approvers: [{ userids: ['lina', 'yangfan'], mode: 'all' }],
        cc: ['huanglei'],
      }),
    );
    const s = (await run(conn, 'approval.get', { spNo: classic.spNo })) as ApprovalState;
    assert.equal(s.nodes[0].mode, 'all', 'classic attr 2 = 会签');
    const tpl = await run(conn, 'approval.start', contract());
    const t = (await run(conn, 'approval.get', { spNo: tpl.spNo })) as ApprovalState;
    assert.equal(t.nodes.length, 3, 'the template flow adds the CEO from 500k');
    const expense = await run(conn, 'approval.start', {
      templateId: TEMPLATE_IDS.expense,
      creator: 'liuyang',
      fields: {
        报销类型: '差旅费',
        报销金额: 1280,
        发生日期: '2026-03-10',
        报销事由: '杭州-苏州 客户拜访',
        费用明细: [
          { 费用项目: '高铁', 金额: 480, 日期: '2026-03-10' },
          { 费用项目: '住宿', 金额: 800 },
        ],
      },
    });
    const e = (await run(conn, 'approval.get', { spNo: expense.spNo })) as ApprovalState;
    assert.deepEqual(e.fields?.费用明细, [
      { 费用项目: '高铁', 金额: 480, 日期: '2026-03-10' },
      { 费用项目: '住宿', 金额: 800 },
    ]);
  });

  it('approval.start validates against gettemplatedetail before submitting, naming every problem', async () => {
    const before = (await sandboxAdmin(sb.baseUrl, 'calls')).counts['/cgi-bin/oa/applyevent'] ?? 0;
    await assert.rejects(
      run(
        conn,
        'approval.start',
        contract({
          fields: { 合同编号: 'X', 合同金额: 'lots', 付款方式: '赊账', 签订日期: 'soon', 不存在: 1 },
        }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError);
        const paths = e.problems.map((p) => p.path).sort();
        assert.deepEqual(paths, [
          'fields.不存在',
          'fields.付款方式',
          'fields.合同金额',
          'fields.客户名称',
          'fields.签订日期',
        ]);
        assert.match(e.message, /一次性付款, 分期付款, 货到付款/);
        return true;
      },
    );
    assert.equal(
      (await sandboxAdmin(sb.baseUrl, 'calls')).counts['/cgi-bin/oa/applyevent'] ?? 0,
      before,
      'nothing submitted',
    );
    await assert.rejects(run(conn, 'approval.start', contract({ templateId: 'nope' })), ValidationError);
    // What only WeCom knows (a member out of range) comes back as its own 301025, permanent.
    await assert.rejects(
      run(conn, 'approval.start', contract({ creator: 'ghost' })),
      (e: unknown) => e instanceof QiaoError && e.errorClass === 'permanent' && e.partner?.code === 301025,
    );
  });

  it('approval.start never submits twice: same key in-process, and after a restart by looking it up', async () => {
    const input = contract({ fields: { ...contract().fields, 合同编号: 'HT-IDEMPOTENT' } });
    const a = await run(conn, 'approval.start', input, 'idem-1');
    const b = await run(conn, 'approval.start', input, 'idem-1', 2);
    assert.equal(b.spNo, a.spNo);
    assert.equal(b.duplicate, true);
    // A fresh process (no memory) retrying the step finds the application it submitted before.
    const fresh = create();
    const c = await run(fresh, 'approval.start', input, 'idem-1', 3);
    assert.equal(c.spNo, a.spNo);
    assert.equal(c.duplicate, true);
    // A first attempt is always a new application.
    const d = await run(fresh, 'approval.start', input, 'idem-2', 1);
    assert.notEqual(d.spNo, a.spNo);
  });

  it('message.send: text, markdown, textcard, template card; invalid recipients reported', async () => {
    const t = await run(conn, 'message.send', {
      to: { users: ['zhangwei', 'nobody'] },
      type: 'text',
      content: '合同 HT-2026-0310 已审批通过',
    });
    assert.equal(typeof t.msgid, 'string');
    assert.deepEqual(t.invalidUsers, ['nobody']);
    await run(conn, 'message.send', {
      to: { departments: [3] },
      type: 'markdown',
      content: '**到账** 128,000.00 元',
    });
    await run(conn, 'message.send', {
      to: { users: ['lina'] },
      type: 'textcard',
      title: '合同待审批',
      description: '华锐精密 128,000 元',
      url: 'https://qiao.example.cn/runs/1',
      buttonText: '去审批',
    });
    const card = await run(
      conn,
      'message.send',
      {
        to: { users: ['zhaomin'] },
        type: 'template_card',
        card: {
          card_type: 'button_interaction',
          main_title: { title: '付款确认', desc: 'AP-2026-009' },
          horizontal_content_list: [{ keyname: '金额', value: '12,000.00' }],
        },
        buttons: [
          { text: '确认付款', key: 'confirm', style: 1 },
          { text: '驳回', key: 'reject', style: 2 },
        ],
      },
      'card-key',
    );
    assert.match(card.taskId, /^qiao-[A-Za-z0-9_-]+$/);
    assert.equal(typeof card.responseCode, 'string');
    // A retry of the same step: WeCom refuses the task_id (42014), which proves the first send got through.
    const again = await run(
      conn,
      'message.send',
      {
        to: { users: ['zhaomin'] },
        type: 'template_card',
        card: { card_type: 'button_interaction', main_title: { title: '付款确认' } },
        buttons: [{ text: '确认付款', key: 'confirm' }],
      },
      'card-key',
      2,
    );
    assert.equal(again.duplicate, true);
    const inbox = (await sandboxAdmin(sb.baseUrl, 'messages/zhaomin')).messages;
    assert.equal(inbox.filter((m: any) => m.msgtype === 'template_card').length, 1);
    await assert.rejects(
      run(conn, 'message.send', { to: { users: ['nobody'] }, type: 'text', content: 'x' }),
      (e: unknown) => e instanceof QiaoError && e.partner?.code === 81013,
    );
    assert.equal(
      conn.actions['message.send'].input.safeParse({
        to: { users: ['a'] },
        type: 'textcard',
        title: 't',
        url: 'u',
      }).success,
      false,
      'textcard needs a description',
    );
    assert.equal(
      conn.actions['message.send'].input.safeParse({ to: {}, type: 'text', content: 'x' }).success,
      false,
    );

    // card.update with the send's response code: once.
    const u = await run(
      conn,
      'card.update',
      { responseCode: card.responseCode, replaceName: '已确认' },
      'upd-1',
    );
    assert.equal(u.updated, true);
    const u2 = await run(
      conn,
      'card.update',
      { responseCode: card.responseCode, replaceName: '已确认' },
      'upd-1',
      2,
    );
    assert.equal(u2.duplicate, true);
  });

  it('message.send dedupes a retried identical message through WeCom’s duplicate check', async () => {
    const input = { to: { users: ['chenjing'] }, type: 'text', content: '库存低于安全库存：协作机器人 3 台' };
    const a = await run(conn, 'message.send', input, 'dup-1');
    const b = await run(conn, 'message.send', input, 'dup-1', 2);
    assert.equal(b.msgid, a.msgid);
    assert.equal((await sandboxAdmin(sb.baseUrl, 'messages/chenjing')).messages.length, 1);
  });

  it('robot.send posts to a named robot; an unknown name is a validation error', async () => {
    const r = await run(conn, 'robot.send', {
      robot: 'alerts',
      type: 'markdown',
      content: '同步失败 <font color="warning">3</font> 条',
    });
    assert.equal(r.sent, true);
    const robots = (await sandboxAdmin(sb.baseUrl, 'robots')).robots;
    assert.equal(
      robots.find((x: any) => x.name === 'alerts').messages.at(-1).body.content,
      '同步失败 <font color="warning">3</font> 条',
    );
    await assert.rejects(run(conn, 'robot.send', { robot: 'nope', content: 'x' }), ValidationError);
  });

  it('user.lookup maps userid ↔ mobile/email ↔ 工号; unknown people are found: false', async () => {
    const byMobile = await run(conn, 'user.lookup', { mobile: '13800000006' });
    assert.deepEqual(
      { userid: byMobile.userid, name: byMobile.name, staffNumber: byMobile.staffNumber },
      { userid: 'Yangfan', name: '杨帆', staffNumber: 'E0006' },
    );
    const byEmail = await run(conn, 'user.lookup', { email: 'zhaomin@qinghe.example.cn' });
    assert.equal(byEmail.staffNumber, 'E0007');
    const byId = await run(conn, 'user.lookup', { userid: 'lina' });
    assert.equal(byId.staffNumber, 'E0002');
    assert.equal(byId.mobile, null, 'a new app does not see mobile numbers (spec §7)');
    assert.deepEqual(await run(conn, 'user.lookup', { mobile: '13999999999' }), { found: false });
    assert.deepEqual(await run(conn, 'user.lookup', { userid: 'ghost' }), { found: false });
  });
});
