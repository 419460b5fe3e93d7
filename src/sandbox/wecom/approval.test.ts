import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CONTROL_IDS, startWecomSandbox, TEMPLATE_IDS, type WecomSandbox } from './index.ts';
import { admin, call, contractContents } from './test-kit.ts';

const C = CONTROL_IDS.contract;

describe('wecom sandbox: OA approvals (spec §3)', () => {
  let sb: WecomSandbox;
  before(async () => {
    sb = await startWecomSandbox();
  });
  after(() => sb.close());

  const apply = (extra: Record<string, unknown> = {}) =>
    call(sb, '/cgi-bin/oa/applyevent', {
      creator_userid: 'ZhangWei',
      template_id: TEMPLATE_IDS.contract,
      use_template_approver: 0,
      process: {
        node_list: [
          { type: 1, apv_rel: 2, userid: ['LiNa'] },
          { type: 2, userid: ['HuangLei'] },
        ],
      },
      apply_data: { contents: contractContents() },
      summary_list: [{ summary_info: [{ text: '合同 HT-2026-001', lang: 'zh_CN' }] }],
      ...extra,
    });

  it('gettemplatedetail shows the seeded templates with their controls and config', async () => {
    const r = await call(sb, '/cgi-bin/oa/gettemplatedetail', { template_id: TEMPLATE_IDS.expense });
    assert.equal(r.errcode, 0);
    assert.deepEqual(r.template_names, [{ text: '费用报销', lang: 'zh_CN' }]);
    const table = r.template_content.controls.find((c: any) => c.property.control === 'Table');
    assert.equal(table.config.table.children.length, 3);
    const sel = r.template_content.controls.find((c: any) => c.property.id === CONTROL_IDS.expense.category);
    assert.equal(sel.config.selector.type, 'single');
    assert.equal(sel.property.require, 1);
    assert.equal((await call(sb, '/cgi-bin/oa/gettemplatedetail', { template_id: 'nope' })).errcode, 301025);
    for (const id of Object.values(TEMPLATE_IDS))
      assert.equal((await call(sb, '/cgi-bin/oa/gettemplatedetail', { template_id: id })).errcode, 0);
  });

  it('applyevent (current dialect) returns a YYYYMMDD+seq sp_no and stores enriched, padded values', async () => {
    const r = await apply();
    assert.equal(r.errcode, 0, r.errmsg);
    assert.match(r.sp_no, /^\d{8}\d{4}$/);
    const d = await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: r.sp_no });
    assert.equal(d.info.sp_status, 1);
    assert.equal(d.info.sp_name, '合同审批');
    assert.equal(typeof d.info.apply_time, 'number');
    assert.deepEqual(d.info.applyer, { userid: 'Zhangwei', partyid: '2' });
    assert.deepEqual(d.info.notifyer, [{ userid: 'Huanglei' }]);
    const money = d.info.apply_data.contents.find((c: any) => c.id === C.amount);
    assert.deepEqual(money.title, [{ text: '合同金额', lang: 'zh_CN' }]);
    assert.equal(money.value.new_money, '128000.00');
    assert.deepEqual(money.value.members, [], 'unused value keys are padded with empty arrays');
    const owner = d.info.apply_data.contents.find((c: any) => c.id === C.owner);
    assert.deepEqual(owner.value.members, [{ userid: 'Zhangwei', name: '张伟' }]);
    assert.equal(d.info.sp_record[0].approverattr, 1, 'apv_rel 2 (或签) shows as approverattr 1');
    assert.equal(d.info.process_list.node_list[0].apv_rel, 2);
    assert.equal(d.info.process_list.node_list[1].node_type, 2, 'CC node');
    // The number form of sp_no is accepted too (older examples send a number, spec §3.4).
    assert.equal((await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: Number(r.sp_no) })).errcode, 0);
    assert.equal(
      (await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: '209901010001' })).errcode,
      301025,
    );
  });

  it('applyevent (classic dialect): attr 2 is 会签, notifyer and notify_type; notify_type 0 is refused', async () => {
    const classic = {
      process: undefined,
      approver: [
        { attr: 2, userid: ['LiNa', 'YangFan'] },
        { attr: 1, userid: ['WangJianGuo'] },
      ],
      notifyer: ['HuangLei'],
      notify_type: 1,
    };
    const r = await apply(classic);
    assert.equal(r.errcode, 0, r.errmsg);
    const d = await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: r.sp_no });
    assert.equal(d.info.sp_record[0].approverattr, 2);
    assert.equal(d.info.process_list.node_list[0].apv_rel, 1, 'classic attr 2 (会签) = current apv_rel 1');
    assert.equal(d.info.process_list.node_list[1].apv_rel, 2);
    assert.equal((await apply({ ...classic, notify_type: 0 })).errcode, 301025);
  });

  it('validates the form as the real service does', async () => {
    const without = (id: string) => contractContents().filter((c) => c.id !== id);
    const cases: Array<[string, Record<string, unknown>]> = [
      ['missing required control', { apply_data: { contents: without(C.amount) } }],
      [
        'unknown control id',
        {
          apply_data: {
            contents: [...contractContents(), { control: 'Text', id: 'Text-999', value: { text: 'x' } }],
          },
        },
      ],
      [
        'wrong control type',
        {
          apply_data: {
            contents: contractContents().map((c) => (c.id === C.number ? { ...c, control: 'Textarea' } : c)),
          },
        },
      ],
      [
        'money as a number',
        {
          apply_data: {
            contents: contractContents().map((c) =>
              c.id === C.amount ? { ...c, value: { new_money: 1 } } : c,
            ),
          },
        },
      ],
      [
        'unknown selector key',
        {
          apply_data: {
            contents: contractContents().map((c) =>
              c.id === C.payment
                ? { ...c, value: { selector: { type: 'single', options: [{ key: 'option-x' }] } } }
                : c,
            ),
          },
        },
      ],
      [
        'date in milliseconds',
        {
          apply_data: {
            contents: contractContents().map((c) =>
              c.id === C.signDate
                ? { ...c, value: { date: { type: 'day', s_timestamp: '1773100800000' } } }
                : c,
            ),
          },
        },
      ],
      [
        'unknown member',
        {
          apply_data: {
            contents: contractContents().map((c) =>
              c.id === C.owner ? { ...c, value: { members: [{ userid: 'ghost' }] } } : c,
            ),
          },
        },
      ],
      [
        'seven files',
        {
          apply_data: {
            contents: [
              ...contractContents(),
              {
                control: 'File',
                id: C.attachment,
                value: { files: Array.from({ length: 7 }, (_, i) => ({ file_id: `m${i}` })) },
              },
            ],
          },
        },
      ],
      [
        'four summary lines',
        { summary_list: Array.from({ length: 4 }, () => ({ summary_info: [{ text: 'x', lang: 'zh_CN' }] })) },
      ],
      [
        'summary over 20 chars',
        {
          summary_list: [
            { summary_info: [{ text: '一二三四五六七八九十一二三四五六七八九十一', lang: 'zh_CN' }] },
          ],
        },
      ],
      ['creator out of range', { creator_userid: 'ghost' }],
      ['bad template', { template_id: 'nope' }],
      ['no approver', { process: undefined }],
      ['apv_rel missing', { process: { node_list: [{ type: 1, userid: ['LiNa'] }] } }],
    ];
    for (const [name, extra] of cases) {
      const r = await apply(extra);
      assert.equal(r.errcode, 301025, `${name}: ${r.errmsg}`);
    }
    const sales = await call(sb, '/cgi-bin/oa/applyevent', {}, {});
    assert.equal(sales.errcode, 301025);
  });

  it('use_template_approver=1 runs the configured conditional flow', async () => {
    const small = await apply({ process: undefined, use_template_approver: 1 });
    const big = await apply({
      process: undefined,
      use_template_approver: 1,
      apply_data: { contents: contractContents('880000.00') },
    });
    const ds = await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: small.sp_no });
    const db = await call(sb, '/cgi-bin/oa/getapprovaldetail', { sp_no: big.sp_no });
    assert.equal(ds.info.sp_record.length, 2);
    assert.equal(db.info.sp_record.length, 3, 'from 500k the CEO approves too');
    assert.equal(db.info.sp_record[2].details[0].approver.userid, 'WangJianGuo');
  });

  it('approver actions evolve sp_status, sp_record and comments', async () => {
    // 或签 node then 会签 node then a sequential node.
    const r = await apply({
      process: {
        node_list: [
          { type: 1, apv_rel: 2, userid: ['LiNa', 'WangJianGuo'] },
          { type: 1, apv_rel: 1, userid: ['YangFan', 'HuangLei'] },
          { type: 1, apv_rel: 3, userid: ['ZhaoMin', 'WangJianGuo'] },
        ],
      },
    });
    const sp = r.sp_no;
    assert.equal(
      (await admin(sb, `approvals/${sp}/agree`, { userid: 'YangFan' })).status,
      409,
      'not on the current node',
    );
    let d = await admin(sb, `approvals/${sp}/agree`, { userid: 'lina', speech: '同意' });
    assert.equal(d.info.sp_record[0].sp_status, 2, 'or-sign completes on the first agreement');
    assert.equal(d.info.sp_record[0].details[0].speech, '同意');
    assert.ok(d.info.sp_record[0].details[0].sptime > 0);
    d = await admin(sb, `approvals/${sp}/agree`, { userid: 'YangFan' });
    assert.equal(d.info.sp_record[1].sp_status, 1, 'all-sign waits for everyone');
    d = await admin(sb, `approvals/${sp}/comment`, { userid: 'ZhangWei', content: '请尽快' });
    assert.equal(d.info.comments[0].commentcontent, '请尽快');
    assert.equal(d.info.comments[0].commentUserInfo.userid, 'Zhangwei');
    d = await admin(sb, `approvals/${sp}/agree`, { userid: 'HuangLei' });
    assert.equal(d.info.sp_record[1].sp_status, 2);
    assert.equal(
      (await admin(sb, `approvals/${sp}/agree`, { userid: 'WangJianGuo' })).status,
      409,
      'sequential: ZhaoMin first',
    );
    d = await admin(sb, `approvals/${sp}/transfer`, { userid: 'ZhaoMin', to: 'SunLi' });
    assert.equal(d.info.sp_record[2].details[0].sp_status, 4);
    assert.equal(d.info.sp_record[2].details[2].approver.userid, 'Sunli');
    d = await admin(sb, `approvals/${sp}/agree`, { userid: 'WangJianGuo' });
    assert.equal(d.info.sp_status, 1);
    d = await admin(sb, `approvals/${sp}/agree`, { userid: 'SunLi' });
    assert.equal(d.info.sp_status, 2, 'approved after the last node');
    d = await admin(sb, `approvals/${sp}/revoke`, {});
    assert.equal(d.info.sp_status, 6);

    const rej = await apply();
    d = await admin(sb, `approvals/${rej.sp_no}/reject`, { speech: '金额不对' });
    assert.equal(d.info.sp_status, 3);
    assert.equal(d.info.sp_record[0].details[0].sp_status, 3);
    const wd = await apply();
    assert.equal((await admin(sb, `approvals/${wd.sp_no}/withdraw`, {})).info.sp_status, 4);
    assert.equal(
      (await admin(sb, `approvals/${wd.sp_no}/agree`, {})).status,
      409,
      'closed applications take no more votes',
    );
  });

  it('getapprovalinfo: time window rules, filters, both cursor dialects', async () => {
    const now = Math.floor(Date.now() / 1000);
    const list = (b: Record<string, unknown>) =>
      call(sb, '/cgi-bin/oa/getapprovalinfo', {
        starttime: String(now - 3600),
        endtime: String(now + 3600),
        ...b,
      });
    assert.equal(
      (await list({ starttime: String((now - 3600) * 1000), endtime: String((now + 3600) * 1000) })).errcode,
      301025,
      'milliseconds',
    );
    assert.equal((await list({ endtime: String(now - 3600) })).errcode, 301025, 'endtime ≤ starttime');
    assert.equal((await list({ starttime: String(now - 40 * 86400) })).errcode, 301025, 'over 31 days');
    assert.equal((await list({ size: 101 })).errcode, 301025);
    const all = await list({ new_cursor: '' });
    assert.equal(all.errcode, 0);
    assert.equal(all.sp_no_list.length, 7);
    assert.equal('new_next_cursor' in all, false, 'no next cursor on the last page');
    // New dialect, pages of 3.
    const seen: string[] = [];
    let cursor = '';
    for (let i = 0; i < 20; i++) {
      const p = await list({ new_cursor: cursor, size: 3 });
      seen.push(...p.sp_no_list);
      if (!p.new_next_cursor) break;
      cursor = p.new_next_cursor;
    }
    assert.deepEqual(seen, all.sp_no_list);
    // Old dialect: integer cursor → next_cursor.
    const old: string[] = [];
    let c = 0;
    for (let i = 0; i < 20; i++) {
      const p = await list({ cursor: c, size: 3 });
      old.push(...p.sp_no_list);
      if (p.next_cursor === undefined) break;
      c = p.next_cursor;
    }
    assert.deepEqual(old, all.sp_no_list);
    const approved = await list({ filters: [{ key: 'sp_status', value: '3' }] });
    assert.equal(approved.sp_no_list.length, 1);
    const byCreator = await list({
      filters: [
        { key: 'creator', value: 'zhangwei' },
        { key: 'template_id', value: TEMPLATE_IDS.contract },
      ],
    });
    assert.equal(byCreator.sp_no_list.length, all.sp_no_list.length);
    const depts = await list({
      filters: [
        { key: 'department', value: '3' },
        { key: 'department', value: '2' },
      ],
    });
    assert.equal(depts.sp_no_list.length, all.sp_no_list.length, 'repeated department filters are OR-ed');
    assert.equal(
      (
        await list({
          filters: [
            { key: 'creator', value: 'a' },
            { key: 'creator', value: 'b' },
          ],
        })
      ).errcode,
      301025,
    );
  });

  it('an app outside 审批 → 可调用接口的应用 gets 301055', async () => {
    const r = await call(sb, '/cgi-bin/oa/gettemplatedetail', { template_id: TEMPLATE_IDS.contract });
    assert.equal(r.errcode, 0);
    await admin(sb, `apps/${sb.credentials.agentId}`, { approval: false });
    try {
      assert.equal(
        (await call(sb, '/cgi-bin/oa/gettemplatedetail', { template_id: TEMPLATE_IDS.contract })).errcode,
        301055,
      );
    } finally {
      await admin(sb, `apps/${sb.credentials.agentId}`, { approval: true });
    }
  });
});
