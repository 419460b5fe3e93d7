/**
 * The actions against the sandbox over real HTTP: what each one writes is read back from the
 * sandbox's admin surface (what the person or the group would see), retries are idempotent, and
 * partner refusals keep the partner's own code and message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import type { DingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { testActionContext } from '../conformance.ts';
import type { DingtalkConnector } from './index.ts';
import { connectorFor, startDingtalkSandbox, waitFor } from './test-helpers.ts';

describe('dingtalk actions', () => {
  let sb: DingtalkSandbox;
  let dt: DingtalkConnector;
  let n = 0;
  const run = async (name: string, input: Record<string, unknown>, key = `k${++n}`, attempt = 1, c = dt) => {
    const a = c.actions[name];
    return (await a.run(a.input.parse(input), { ...testActionContext(key), attempt })).output as any;
  };
  const fails = async (p: Promise<unknown>, code: string | number, cls = 'permanent') =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof QiaoError, String(e));
      assert.equal(e.errorClass, cls);
      assert.equal(e.partner?.code, code);
      return true;
    });

  before(async () => {
    sb = await startDingtalkSandbox();
    dt = connectorFor(sb);
  });
  after(() => sb.close());

  describe('notice.send', () => {
    it('delivers a text notice to users and a department; a retry returns the first task', async () => {
      const out = await run(
        'notice.send',
        { userIds: ['manager4007'], deptIds: [3], text: '应付单 AP-0310 待付款' },
        'notice-1',
      );
      assert.ok(out.taskId > 0);
      const again = await run(
        'notice.send',
        { userIds: ['manager4007'], deptIds: [3], text: '应付单 AP-0310 待付款' },
        'notice-1',
        2,
      );
      assert.equal(again.taskId, out.taskId);
      const got = await sb.admin('GET', '/__sandbox/notices');
      const mine = got.deliveries
        .filter((d: any) => d.taskId === out.taskId)
        .map((d: any) => d.userid)
        .sort();
      assert.deepEqual(
        mine,
        ['manager4006', 'manager4007', 'manager4008'],
        'finance department, the cashier once',
      );
    });

    it('the same content to the same user on the same day is spared silently (143106 in the result)', async () => {
      const first = await run('notice.send', {
        userIds: 'manager4002',
        markdown: { title: '回款', text: '### 华锐精密 回款 20 万' },
      });
      const second = await run('notice.send', {
        userIds: 'manager4002',
        markdown: { title: '回款', text: '### 华锐精密 回款 20 万' },
      });
      assert.notEqual(second.taskId, first.taskId);
      const result = await run('notice.result', { taskId: second.taskId });
      assert.deepEqual(result.forbidden, [{ code: '143106', count: 1, userid: 'manager4002' }]);
      await sb.admin('POST', `/__sandbox/notices/${first.taskId}/read`, { userId: 'manager4002' });
      assert.deepEqual((await run('notice.result', { taskId: first.taskId })).read, ['manager4002']);
    });

    it('sends action cards with buttons and reports unknown users as invalid', async () => {
      const out = await run('notice.send', {
        userIds: ['manager4007', 'nobody'],
        actionCard: {
          title: '付款确认',
          markdown: '请确认 AP-0311',
          buttons: [{ title: '查看', url: 'https://erp.example.cn/AP-0311' }],
        },
      });
      const result = await run('notice.result', { taskId: out.taskId });
      assert.deepEqual(result.invalid, ['nobody']);
    });

    it('a message over 2048 bytes is refused with the partner message', async () => {
      await fails(run('notice.send', { userIds: 'manager4007', text: '付'.repeat(800) }), 40035);
    });
  });

  describe('robot.send', () => {
    it('posts signed to a 加签 robot; a retry with the same key is posted once (msgUuid)', async () => {
      await run('robot.send', { robot: 'alerts', text: '同步失败：BD_Customer C0003' }, 'alert-1');
      await run('robot.send', { robot: 'alerts', text: '同步失败：BD_Customer C0003' }, 'alert-1', 2);
      const got = await sb.admin('GET', '/__sandbox/robots/alerts/messages');
      assert.equal(got.messages.length, 1);
      assert.equal(got.messages[0].message.text.content, '同步失败：BD_Customer C0003');
    });

    it('a keyword robot refuses a message without its keyword (310000), and takes one with it', async () => {
      await fails(run('robot.send', { robot: 'ops', text: '库存低于安全库存' }), 310000);
      await run('robot.send', {
        robot: 'ops',
        markdown: { title: '告警', text: '#### 告警\n> PLC控制器 库存 90 < 100' },
        at: { isAtAll: true },
      });
      assert.equal((await sb.admin('GET', '/__sandbox/robots/ops/messages')).messages.length, 1);
    });

    it('a wrong secret is refused with "sign not match" and no secret in the error', async () => {
      const wrong = connectorFor(sb, {
        robots: {
          alerts: { accessToken: sb.credentials.robots.alerts.accessToken, secret: 'SECwrongwrongwrong' },
        },
      });
      await assert.rejects(
        run('robot.send', { robot: 'alerts', text: 'x' }, 'w1', 1, wrong),
        (e: unknown) => {
          assert.ok(e instanceof QiaoError);
          assert.equal(e.partner?.message, 'sign not match');
          assert.ok(
            !e.message.includes('SECwrongwrongwrong') &&
              !e.message.includes(sb.credentials.robots.alerts.accessToken),
          );
          return true;
        },
      );
    });

    it('the 21st message in a minute is refused locally, with the exact wait, before DingTalk throttles', async () => {
      const c = connectorFor(sb);
      for (let i = 0; i < 20; i++)
        await run('robot.send', { robot: 'office', text: `第${i + 1}条` }, `o${i}`, 1, c);
      await assert.rejects(
        run('robot.send', { robot: 'office', text: '第21条' }, 'o21', 1, c),
        (e: unknown) => {
          assert.ok(e instanceof QiaoError);
          assert.equal(e.errorClass, 'rate_limited');
          assert.ok(e.retryAfterMs! > 0 && e.retryAfterMs! <= 61_000);
          return true;
        },
      );
      const robots = await sb.admin('GET', '/__sandbox/robots');
      assert.equal(
        robots.robots.find((r: any) => r.name === 'office').throttledUntil,
        null,
        'never throttled',
      );
      // Another connector (or process) that ignores the guard meets DingTalk's throttle: 10 minutes.
      const other = connectorFor(sb);
      await fails(
        run('robot.send', { robot: 'office', text: '第21条' }, 'x21', 1, other),
        410100,
        'rate_limited',
      );
    });

    it('an unknown robot name is a configuration error', async () => {
      await assert.rejects(run('robot.send', { robot: 'nope', text: 'x' }), /no robot named "nope"/);
    });
  });

  describe('robot.reply', () => {
    const say = (userId: string, text: string, extra = {}) =>
      sb.admin('POST', '/__sandbox/robot/say', { userId, text, ...extra }).then((r) => r.message);

    it('replies on the session webhook', async () => {
      const m = await say('manager4007', '确认付款');
      const out = await run('robot.reply', {
        sessionWebhook: m.sessionWebhook,
        sessionWebhookExpiredTime: m.sessionWebhookExpiredTime,
        text: '已确认',
      });
      assert.equal(out.via, 'sessionWebhook');
      const r = await sb.admin('GET', '/__sandbox/robot/replies?userId=manager4007');
      assert.equal(r.replies.at(-1).message.text.content, '已确认');
    });

    it('after the session expired, replies 1:1 through oToMessages/batchSend', async () => {
      const m = await say('manager4006', '收到');
      await sb.admin('POST', '/__sandbox/robot/sessions/expire');
      const out = await run('robot.reply', {
        sessionWebhook: m.sessionWebhook,
        userId: 'manager4006',
        text: '付款已完成',
      });
      assert.equal(out.via, 'oToMessages');
      const r = await sb.admin('GET', '/__sandbox/robot/replies?userId=manager4006');
      assert.equal(r.replies.at(-1).via, 'oToMessages');
    });

    it('a group reply falls back to groupMessages/send', async () => {
      const m = await say('manager4006', '确认付款', { group: '财务付款群' });
      const out = await run('robot.reply', {
        sessionWebhookExpiredTime: Date.now() - 1,
        sessionWebhook: m.sessionWebhook,
        conversationType: 'group',
        conversationId: m.conversationId,
        markdown: { title: '付款', text: '**已付款**' },
      });
      assert.equal(out.via, 'groupMessages');
    });

    it('refuses to post to a URL that is not a DingTalk session webhook', async () => {
      await assert.rejects(
        run('robot.reply', { sessionWebhook: 'http://127.0.0.1:1/steal', text: 'x' }),
        /not a DingTalk session URL/,
      );
    });
  });

  describe('approvals', () => {
    it('starts with the old API and reads it back with both; approve → finished and approved', async () => {
      const started = await run('approval.start', {
        api: 'old',
        processCode: sb.processCodes.project,
        originatorUserId: 'manager4003',
        deptId: 2,
        form: {
          项目名称: '项目A-华锐产线自动化改造',
          预算金额: 860000,
          客户名称: '苏州华锐精密机械有限公司',
        },
      });
      const id = started.processInstanceId;
      const old = await run('approval.get', { processInstanceId: id, api: 'old' });
      assert.equal(old.formValues.预算金额, '860000');
      assert.equal(old.status, 'RUNNING');
      assert.match(old.createTime, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, {});
      await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, {});
      const now = await run('approval.get', { processInstanceId: id });
      assert.equal(now.finished, true);
      assert.equal(now.approved, true);
      assert.match(now.finishTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
      assert.deepEqual(
        now.tasks.map((t: any) => t.result),
        ['AGREE', 'AGREE'],
      );
    });

    it('a retry in another process finds the instance the first attempt created', async () => {
      const input = {
        processCode: sb.processCodes.payment,
        originatorUserId: 'manager4007',
        form: {
          付款事由: '设备款',
          付款金额: '125000',
          收款单位: '无锡恒通自动化设备有限公司',
          应付单号: 'AP-2026-0009',
        },
        approvers: [{ actionType: 'OR', userIds: ['manager4006', 'manager4001'] }],
      };
      const first = await run('approval.start', input, 'pay-start');
      const restarted = connectorFor(sb);
      const second = await run('approval.start', input, 'pay-start', 2, restarted);
      assert.equal(second.processInstanceId, first.processInstanceId);
      assert.equal(second.deduplicated, true);
      const all = await sb.admin('GET', `/__sandbox/approvals?processCode=${sb.processCodes.payment}`);
      assert.equal(
        all.instances.filter((i: any) => i.formComponentValues.some((f: any) => f.value === 'AP-2026-0009'))
          .length,
        1,
      );
    });

    it("finds before it creates: the source record's linked approval is reused while running, not after a refusal", async () => {
      const input = {
        processCode: sb.processCodes.contract,
        originatorUserId: 'manager4004',
        form: { 合同名称: 'AGV 采购合同', 客户名称: '宁波东海新能源科技有限公司', 合同金额: '375000' },
      };
      const links = new Map<string, string>();
      const ctx = (key: string) => ({ ...testActionContext(key, links), linkKey: 'crm:contract:42' });
      const a = dt.actions['approval.start'];
      const first = (await a.run(a.input.parse(input), ctx('run-1'))).output as any;
      links.set('approval:crm:contract:42', first.processInstanceId);
      const second = (await a.run(a.input.parse(input), ctx('run-2'))).output as any;
      assert.equal(second.processInstanceId, first.processInstanceId, 'a second run for the same record');
      await sb.admin('POST', `/__sandbox/approvals/${first.processInstanceId}/refuse`, {
        remark: '价格再议',
      });
      const third = (await a.run(a.input.parse(input), ctx('run-3'))).output as any;
      assert.notEqual(third.processInstanceId, first.processInstanceId, 'resubmitted after the refusal');
    });

    it('keeps the partner code for a bad form field and a missing required one', async () => {
      await fails(
        run('approval.start', {
          processCode: sb.processCodes.expense,
          originatorUserId: 'manager4003',
          form: { 报销事由: 'x', 报销金额: '1', 费用日期: '2026-03-10', 不存在: 'x' },
        }),
        'formConverterError',
      );
      await fails(
        run('approval.start', {
          processCode: sb.processCodes.expense,
          originatorUserId: 'manager4003',
          form: { 报销事由: 'x' },
        }),
        'processInstanceStartFailed',
      );
      await fails(run('approval.get', { processInstanceId: 'no-such-instance' }), 'processInstanceNotExist');
    });

    it('reconcileApprovals turns finished instances into the events their callbacks carry', async () => {
      const a = await run('approval.start', {
        processCode: sb.processCodes.expense,
        originatorUserId: 'manager4005',
        form: { 报销事由: '招待', 报销金额: '600', 费用日期: '2026-03-10' },
      });
      const b = await run('approval.start', {
        processCode: sb.processCodes.expense,
        originatorUserId: 'manager4005',
        form: { 报销事由: '打印', 报销金额: '60', 费用日期: '2026-03-10' },
      });
      await sb.admin('POST', `/__sandbox/approvals/${a.processInstanceId}/refuse`, { remark: '超标' });
      const events = await dt.reconcileApprovals([a.processInstanceId, b.processInstanceId]);
      assert.equal(events.length, 1);
      assert.equal(events[0].correlation, a.processInstanceId);
      assert.equal(
        events[0].key,
        `dingtalk:approval:${a.processInstanceId}:finish`,
        'the key its callback has',
      );
      assert.deepEqual(await dt.reconcile!('chat.message', ['manager4007']), []);
      assert.deepEqual(
        [(events[0].data as any).type, (events[0].data as any).result, (events[0].data as any).approved],
        ['finish', 'refuse', false],
      );
    });

    it('reconcileApprovals answers a deleted instance with its delete event, and still answers the others', async () => {
      const start = (reason: string) =>
        run('approval.start', {
          processCode: sb.processCodes.expense,
          originatorUserId: 'manager4005',
          form: { 报销事由: reason, 报销金额: '90', 费用日期: '2026-03-11' },
        });
      const gone = await start('误提交');
      const withdrawn = await start('重复');
      await sb.admin('POST', `/__sandbox/approvals/${gone.processInstanceId}/delete`, {});
      await sb.admin('POST', `/__sandbox/approvals/${withdrawn.processInstanceId}/terminate`, {});
      const events = await dt.reconcileApprovals([gone.processInstanceId, withdrawn.processInstanceId]);
      assert.deepEqual(
        events.map((e) => [e.key, (e.data as any).type, (e.data as any).finished]),
        [
          [`dingtalk:approval:${gone.processInstanceId}:delete`, 'delete', true],
          [`dingtalk:approval:${withdrawn.processInstanceId}:terminate`, 'terminate', true],
        ],
      );
    });
  });

  describe('user.lookup', () => {
    it('finds by userid and by mobile; jobNumber is the Kingdee staff number', async () => {
      const a = await run('user.lookup', { userId: 'manager4007' });
      assert.deepEqual(
        [a.name, a.jobNumber, a.mobile, a.managerUserId],
        ['赵敏', 'E0007', '13800000007', 'manager4006'],
      );
      const b = await run('user.lookup', { mobile: '13800000011' });
      assert.equal(b.userId, 'manager4011');
      await fails(run('user.lookup', { userId: 'ghost' }), 60121);
      await fails(run('user.lookup', { mobile: '12345' }), 40104);
    });
  });

  describe('cards', () => {
    it('a card sent over Stream calls back on a click; the card is updated', async () => {
      const stored: any[] = [];
      const handle = await dt.ingress!.start(async (events) => {
        stored.push(...events);
      });
      try {
        const sent = await run(
          'card.send',
          { templateId: 'tpl-pay.schema', userId: 'manager4007', params: { bill: 'AP-0312', amount: 98000 } },
          'card-1',
        );
        const again = await run(
          'card.send',
          { templateId: 'tpl-pay.schema', userId: 'manager4007', params: { bill: 'AP-0312', amount: 98000 } },
          'card-1',
          2,
        );
        assert.equal(again.outTrackId, sent.outTrackId);
        await waitFor(
          'the connection',
          async () => (await sb.admin('GET', '/__sandbox/stream')).connections.length === 1,
        );
        await sb.admin('POST', `/__sandbox/cards/${sent.outTrackId}/click`, {
          userId: 'manager4007',
          params: { action: 'confirm' },
        });
        const ev = await waitFor('the click', () => stored.find((e) => e.type === 'card.click'));
        assert.equal(ev.correlation, sent.outTrackId);
        assert.equal(ev.data.params.action, 'confirm');
        await run('card.update', { outTrackId: sent.outTrackId, params: { status: '已确认' } });
        const card = await sb.admin('GET', `/__sandbox/cards/${sent.outTrackId}`);
        assert.equal(card.cardParamMap.status, '已确认');
        assert.equal(card.cardParamMap.amount, '98000');
      } finally {
        await handle.stop();
      }
    });
  });
});
