import assert from 'node:assert/strict';
import { startDingtalkSandbox } from '../../sandbox/dingtalk/index.ts';
import { runConformance } from '../conformance.ts';
import { dingtalkConnector } from './index.ts';

runConformance({
  descriptor: dingtalkConnector,
  async start() {
    const sb = await startDingtalkSandbox();
    const settings = { ...sb.credentials, oapiUrl: sb.urls.oapi, apiUrl: sb.urls.api };
    const contract = sb.processCodes.contract;
    return {
      settings,
      badSettings: { ...settings, appSecret: 'wrong-secret-0000000000' },
      write: {
        action: 'approval.start',
        input: (unique) => ({
          processCode: contract,
          originatorUserId: 'manager4003',
          deptId: 2,
          form: { 合同名称: `年度维保合同-${unique}`, 客户名称: '苏州华锐精密机械有限公司', 合同金额: 36000 },
        }),
        idOf: (output) => (output as { processInstanceId: string }).processInstanceId,
      },
      read: {
        action: 'approval.get',
        input: (id) => ({ processInstanceId: id }),
        check: (output, unique) => {
          const o = output as { formValues: Record<string, string>; status: string };
          assert.equal(o.formValues.合同名称, `年度维保合同-${unique}`);
          assert.equal(o.status, 'RUNNING');
        },
      },
      poll: {
        trigger: 'approval.instances',
        params: { processCode: contract },
        // People file contract approvals in the OA app.
        change: async (n) => {
          await sb.admin('POST', '/__sandbox/approvals', {
            template: 'contract',
            originatorUserId: 'manager4004',
            form: { 合同名称: '设备采购合同', 客户名称: '合肥智驰汽车零部件有限公司', 合同金额: '125000' },
            count: n,
          });
        },
      },
      faults: {
        // approval.get reads the api host, so the 5xx is injected there.
        serverError: async () => {
          await fetch(`${sb.urls.api}/__sandbox/faults`, {
            method: 'POST',
            body: JSON.stringify({ failNext: 1 }),
          });
        },
        revokeAuth: () => sb.admin('POST', '/__sandbox/tokens/revoke'),
        rateLimit: () => sb.admin('POST', '/__sandbox/limits', { forced: 'qps' }),
        heal: async () => {
          await fetch(`${sb.urls.api}/__sandbox/faults`, { method: 'DELETE' });
          await fetch(`${sb.urls.oapi}/__sandbox/faults`, { method: 'DELETE' });
          await sb.admin('DELETE', '/__sandbox/limits');
        },
      },
      close: () => sb.close(),
    };
  },
});
