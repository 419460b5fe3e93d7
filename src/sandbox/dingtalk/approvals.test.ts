import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, type DingtalkSandbox, oapi, startDingtalkSandbox } from './test-kit.ts';

describe('dingtalk sandbox: approvals (spec §9, §10)', () => {
  let sb: DingtalkSandbox;
  const events = async (id: string) =>
    (await sb.admin('GET', '/__sandbox/events')).events
      .filter((e: any) => e.data.processInstanceId === id)
      .map(
        (e: any) =>
          `${e.eventType === 'bpms_instance_change' ? 'I' : 'T'}:${e.data.type}${e.data.result ? `:${e.data.result}` : ''}:${e.data.staffId}`,
      );
  const create = (body: Record<string, unknown>) =>
    api(sb, 'POST', '/v1.0/workflow/processInstances', {
      processCode: sb.processCodes.payment,
      originatorUserId: 'manager4007',
      deptId: 3,
      formComponentValues: [
        { name: '付款事由', value: '设备款' },
        { name: '付款金额', value: '98000' },
        { name: '收款单位', value: '深圳芯联电子股份有限公司' },
      ],
      ...body,
    });

  before(async () => {
    sb = await startDingtalkSandbox();
    await sb.admin('POST', '/__sandbox/callbacks', { eventMode: 'none' });
  });
  after(() => sb.close());

  it('the template flow: two approvers in turn, each with its task events, then finish agree', async () => {
    const { body } = await create({});
    const id = body.instanceId;
    assert.match(id, /^[0-9a-f-]{36}$/);
    await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, { userId: 'manager4006', remark: '同意' });
    await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, { userId: 'manager4001' });
    assert.deepEqual(await events(id), [
      'I:start:manager4007',
      'T:start:manager4006',
      'T:finish:agree:manager4006',
      'T:start:manager4001',
      'T:finish:agree:manager4001',
      'I:finish:agree:manager4007',
    ]);
    const got = await api(sb, 'GET', `/v1.0/workflow/processInstances?processInstanceId=${id}`);
    assert.equal(got.body.success, 'true');
    assert.deepEqual([got.body.result.status, got.body.result.result], ['COMPLETED', 'agree']);
    assert.match(got.body.result.createTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
    assert.deepEqual(
      got.body.result.operationRecords.map((r: any) => r.type),
      ['START_PROCESS_INSTANCE', 'EXECUTE_TASK_NORMAL', 'EXECUTE_TASK_NORMAL', 'FINISH_PROCESS_INSTANCE'],
    );
  });

  it('an OR node: the first approver decides and the other task is canceled', async () => {
    const { body } = await create({
      approvers: [{ actionType: 'OR', userIds: ['manager4006', 'manager4008'] }],
    });
    await sb.admin('POST', `/__sandbox/approvals/${body.instanceId}/refuse`, {
      userId: 'manager4008',
      remark: '金额不符',
    });
    assert.deepEqual((await events(body.instanceId)).slice(3), [
      'T:finish:refuse:manager4008',
      'T:cancel:manager4006',
      'I:finish:refuse:manager4007',
    ]);
  });

  it('an AND node waits for everyone; redirect transfers a task; the originator can revoke', async () => {
    const { body } = await create({
      approvers: [
        { actionType: 'AND', userIds: ['manager4006', 'manager4008'] },
        { actionType: 'NONE', userIds: ['manager4001'] },
      ],
    });
    const id = body.instanceId;
    await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, { userId: 'manager4006' });
    let got = await sb.admin('GET', `/__sandbox/approvals/${id}`);
    assert.equal(
      got.tasks.filter((t: any) => t.status === 'RUNNING').length,
      1,
      'still waiting for the other AND approver',
    );
    await sb.admin('POST', `/__sandbox/approvals/${id}/redirect`, {
      userId: 'manager4008',
      toUserId: 'manager4002',
    });
    await sb.admin('POST', `/__sandbox/approvals/${id}/approve`, { userId: 'manager4002' });
    await sb.admin('POST', `/__sandbox/approvals/${id}/terminate`, { remark: '撤回' });
    got = await sb.admin('GET', `/__sandbox/approvals/${id}`);
    assert.equal(got.status, 'TERMINATED');
    const evs = await events(id);
    assert.ok(evs.includes('T:finish:redirect:manager4008'));
    assert.equal(evs.at(-1), 'I:terminate:manager4007');
  });

  it('validates with the documented codes', async () => {
    assert.equal((await create({ processCode: 'PROC-NOPE' })).body.code, 'processCodeError');
    assert.equal((await create({ originatorUserId: 'ghost' })).body.code, 'processInstanceInvalidParameter');
    assert.equal(
      (await create({ formComponentValues: [{ name: '付款事由', value: 'x' }] })).body.code,
      'processInstanceStartFailed',
    );
    assert.equal(
      (await create({ formComponentValues: [{ name: '付款金额', value: 12 }] })).body.code,
      'invalidParameter',
    );
    const bad = await create({
      formComponentValues: [
        { name: '付款事由', value: 'x' },
        { name: '付款金额', value: '十万' },
        { name: '收款单位', value: 'y' },
      ],
    });
    assert.deepEqual([bad.status, bad.body.code], [400, 'illegalComponent']);
    assert.equal((await create({ deptId: undefined })).body.code, 'invalidParameter');
    const missing = await api(sb, 'GET', '/v1.0/workflow/processInstances?processInstanceId=does-not-exist');
    assert.deepEqual([missing.status, missing.body.code], [400, 'processInstanceNotExist']);
  });

  it('the old API creates with a comma list of approvers and reads snake_case with China-time dates', async () => {
    const r = await oapi(sb, '/topapi/processinstance/create', {
      process_code: sb.processCodes.contract,
      originator_user_id: 'manager4003',
      dept_id: -1,
      approvers: 'manager4002,manager4001',
      form_component_values: [
        { name: '合同名称', value: '年度框架合同' },
        { name: '客户名称', value: '苏州华锐精密机械有限公司' },
        { name: '合同金额', value: '2000000' },
      ],
    });
    assert.equal(r.body.errcode, 0);
    const got = await oapi(sb, '/topapi/processinstance/get', {
      process_instance_id: r.body.process_instance_id,
    });
    const pi = got.body.process_instance;
    assert.match(pi.create_time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    assert.deepEqual(
      pi.tasks.map((t: any) => [t.userid, t.task_status]),
      [['manager4002', 'RUNNING']],
    );
    assert.equal(pi.form_component_values[2].component_type, 'MoneyField');
    assert.equal(
      (await oapi(sb, '/topapi/processinstance/create', { process_code: 'x' })).body.errcode,
      40035,
    );
  });

  it('lists instance ids 20 a page on both APIs', async () => {
    const since = Date.now() - 1000;
    await sb.admin('POST', '/__sandbox/approvals', {
      template: 'project',
      originatorUserId: 'manager4009',
      form: { 项目名称: '测试', 预算金额: '1' },
      count: 45,
    });
    const ids: string[] = [];
    let next: string | undefined = '0';
    while (next !== undefined) {
      const r = await api(sb, 'POST', '/v1.0/workflow/processes/instanceIds/query', {
        processCode: sb.processCodes.project,
        startTime: since,
        nextToken: Number(next),
        maxResults: 20,
      });
      ids.push(...r.body.result.list);
      next = r.body.result.nextToken;
    }
    assert.equal(new Set(ids).size, 45);
    const old = await oapi(sb, '/topapi/processinstance/listids', {
      process_code: sb.processCodes.project,
      start_time: since,
      size: 20,
      cursor: 40,
    });
    assert.equal(old.body.result.list.length, 5);
    assert.equal(old.body.result.next_cursor, undefined);
    const tooBig = await api(sb, 'POST', '/v1.0/workflow/processes/instanceIds/query', {
      processCode: sb.processCodes.project,
      startTime: since,
      maxResults: 21,
    });
    assert.equal(tooBig.status, 400);
  });
});
