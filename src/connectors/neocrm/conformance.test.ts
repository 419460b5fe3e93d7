/** The shared connector conformance suite against the Neocrm sandbox. No case is skipped. */
import assert from 'node:assert/strict';
import { startNeocrmSandbox } from '../../sandbox/neocrm/index.ts';
import { runConformance } from '../conformance.ts';
import { neocrmConnector } from './index.ts';

runConformance({
  descriptor: neocrmConnector,
  async start() {
    const sb = await startNeocrmSandbox();
    const settings = { baseUrl: sb.baseUrl, ...sb.credentials };
    const admin = async (path: string, body?: unknown, method = 'POST') => {
      const res = await fetch(`${sb.urls.admin}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      assert.equal(res.status, 200, `admin ${method} ${path}: ${await res.clone().text()}`);
      return res.json();
    };
    return {
      settings,
      badSettings: { ...settings, password: 'WrongPassw0rd' },
      write: {
        action: 'upsert',
        input: (unique) => ({
          object: 'account',
          unique: 'accountName',
          data: { accountName: `一致性测试${unique}`, phone: '0571-88880000', comment: unique },
        }),
        idOf: (output) => (output as { id: string }).id,
      },
      read: {
        action: 'get',
        input: (id) => ({ object: 'account', id }),
        check: (output, unique) =>
          assert.equal((output as { accountName: string }).accountName, `一致性测试${unique}`),
      },
      poll: {
        trigger: 'poll',
        params: { object: 'account', overlapMs: 1000, pageSize: 100 },
        change: async (n) => {
          await admin('/records/account/generate', { count: n, as: 'E0003' });
        },
      },
      faults: {
        serverError: async () => {
          await admin('/faults', { failNext: 1 });
        },
        revokeAuth: async () => {
          await admin('/tokens/revoke', {});
        },
        rateLimit: async () => {
          await admin('/partner-faults', { rateLimited: { retryAfterSeconds: 30 } });
        },
        heal: async () => {
          await admin('/faults', undefined, 'DELETE');
          await admin('/partner-faults', undefined, 'DELETE');
        },
      },
      close: () => sb.close(),
    };
  },
});
