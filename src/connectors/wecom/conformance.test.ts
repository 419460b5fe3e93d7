/**
 * The shared connector conformance suite against the WeCom sandbox. Nothing is skipped.
 */
import assert from 'node:assert/strict';
import { startWecomSandbox, TEMPLATE_IDS } from '../../sandbox/wecom/index.ts';
import { runConformance } from '../conformance.ts';
import { wecomConnector } from './index.ts';

async function admin(baseUrl: string, path: string, body: unknown = {}): Promise<void> {
  const res = await fetch(`${baseUrl}/__sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${await res.text()}`);
}

runConformance({
  descriptor: wecomConnector,
  async start() {
    const sb = await startWecomSandbox();
    const settings = {
      baseUrl: sb.baseUrl,
      ...sb.credentials,
      // The suite heals the sandbox and goes straight on with the same connector; with WeCom's real
      // 60 s the next case would still be inside our own ban. client.test.ts covers the 60 s wait.
      rateLimitWaitMs: 1,
    };
    let n = 0;
    const tokenOf = async () => {
      const r = await fetch(
        `${sb.baseUrl}/cgi-bin/gettoken?corpid=${sb.credentials.corpId}&corpsecret=${sb.credentials.secret}`,
      );
      return ((await r.json()) as { access_token: string }).access_token;
    };
    return {
      settings,
      badSettings: { ...settings, secret: 'not-the-right-secret-0000' },
      write: {
        action: 'approval.start',
        input: (unique: string) => ({
          templateId: TEMPLATE_IDS.contract,
          creator: 'zhangwei',
          fields: {
            合同编号: unique,
            客户名称: '苏州华锐精密机械有限公司',
            合同金额: 128000,
            付款方式: '分期付款',
            签订日期: '2026-03-10',
          },
          approvers: [{ userids: ['lina'] }],
        }),
        idOf: (o: unknown) => (o as { spNo: string }).spNo,
      },
      read: {
        action: 'approval.get',
        input: (id: string) => ({ spNo: id }),
        check(o: unknown, unique: string) {
          const s = o as { fields: Record<string, unknown>; spStatus: number; templateId: string };
          assert.equal(s.fields.合同编号, unique);
          assert.equal(s.fields.合同金额, 128000);
          assert.equal(s.fields.付款方式, '分期付款');
          assert.equal(s.fields.签订日期, '2026-03-10');
          assert.equal(s.templateId, TEMPLATE_IDS.contract);
        },
      },
      poll: {
        trigger: 'approval.submitted',
        params: { pageSize: 10 },
        async change(count: number) {
          // People submit approvals in the WeCom app (here: straight to the sandbox's API).
          const token = await tokenOf();
          for (let i = 0; i < count; i++) {
            const r = await fetch(`${sb.baseUrl}/cgi-bin/oa/applyevent?access_token=${token}`, {
              method: 'POST',
              body: JSON.stringify({
                creator_userid: 'chenjing',
                template_id: TEMPLATE_IDS.project,
                use_template_approver: 1,
                apply_data: {
                  contents: [
                    { control: 'Text', id: 'Text-1700000000201', value: { text: `PRJ-C${++n}` } },
                    { control: 'Text', id: 'Text-1700000000202', value: { text: '产线改造' } },
                    { control: 'Money', id: 'Money-1700000000204', value: { new_money: '50000' } },
                    {
                      control: 'Date',
                      id: 'Date-1700000000205',
                      value: { date: { type: 'day', s_timestamp: '1773100800' } },
                    },
                    {
                      control: 'Contact',
                      id: 'Contact-1700000000207',
                      value: { members: [{ userid: 'zhoujie' }] },
                    },
                  ],
                },
              }),
            });
            assert.equal(((await r.json()) as { errcode: number }).errcode, 0);
          }
        },
      },
      faults: {
        serverError: () => admin(sb.baseUrl, 'faults', { failNext: 1 }),
        revokeAuth: () => admin(sb.baseUrl, 'tokens/revoke', {}),
        rateLimit: () => admin(sb.baseUrl, 'ban', { path: '*', seconds: 60 }),
        heal: () => admin(sb.baseUrl, 'heal', {}),
      },
      close: () => sb.close(),
    };
  },
});
