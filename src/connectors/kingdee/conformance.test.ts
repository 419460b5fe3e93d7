/**
 * The shared connector conformance suite against the Kingdee sandbox, in both auth modes.
 */
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { startKingdeeSandbox } from '../../sandbox/kingdee/index.ts';
import { type ConformanceEnv, runConformance } from '../conformance.ts';
import { kingdeeConnector } from './index.ts';
import { adminCall } from './testing.ts';

async function start(auth: 'session' | 'signature'): Promise<ConformanceEnv> {
  const sandbox = await startKingdeeSandbox();
  const admin = (path: string, body?: unknown, method?: string) => adminCall(sandbox, path, body, method);
  const settings = { baseUrl: sandbox.baseUrl, ...sandbox.credentials, auth };
  let changes = 0;
  return {
    settings,
    badSettings:
      auth === 'session'
        ? { ...settings, password: 'not-the-password' }
        : { ...settings, appSecret: '0'.repeat(32) },
    write: {
      action: 'upsert',
      input: (unique) => ({
        formId: 'BD_Customer',
        model: {
          FNumber: `QC-${unique}`,
          FName: `测试客户${unique}`,
          FCreateOrgId: { FNumber: '100' },
          FTEL: '0571-88886666',
        },
      }),
      idOf: (output) => String((output as { id: number }).id),
    },
    read: {
      action: 'view',
      input: (id) => ({ formId: 'BD_Customer', id: Number(id) }),
      check: (output, unique) => {
        const o = output as { number: string; record: { Name: Array<{ Value: string }>; TEL: string } };
        assert.equal(o.number, `QC-${unique}`);
        assert.equal(o.record.Name[0].Value, `测试客户${unique}`);
        assert.equal(o.record.TEL, '0571-88886666');
      },
    },
    poll: {
      trigger: 'poll',
      params: { formId: 'BD_Customer' },
      // A person creates n customers in the K/3 client.
      change: async (n) => {
        for (let i = 0; i < n; i++) {
          changes++;
          await admin('records/BD_Customer', {
            user: '李娜',
            status: 'C',
            model: {
              FNumber: `CH-${auth}-${changes}`,
              FName: `变更客户${changes}`,
              FCreateOrgId: { FNumber: '100' },
            },
          });
        }
      },
    },
    faults: {
      serverError: async () => {
        await admin('faults', { failNext: 1, errorStatus: 502 });
      },
      revokeAuth: async () => {
        await admin('sessions/revoke', {});
      },
      rateLimit: async () => {
        await admin('partner-faults', { callLimit: true });
      },
      heal: async () => {
        await admin('faults', undefined, 'DELETE');
        await admin('partner-faults', undefined, 'DELETE');
      },
    },
    close: () => sandbox.close(),
  };
}

describe('auth: session (ValidateUser + cookies)', () => {
  runConformance({ descriptor: kingdeeConnector, start: () => start('session') });
});
describe('auth: signature (per-request SDK headers)', () => {
  runConformance({ descriptor: kingdeeConnector, start: () => start('signature') });
});
