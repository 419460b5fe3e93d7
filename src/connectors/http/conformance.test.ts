import assert from 'node:assert/strict';
import { startHttpTarget } from '../../sandbox/http-target/index.ts';
import { runConformance } from '../conformance.ts';
import { httpConnector } from './index.ts';

runConformance({
  descriptor: httpConnector,
  skip: {
    'auth-refresh': 'static bearer/basic credentials: there is no token to refresh',
  },
  async start() {
    const t = await startHttpTarget();
    const admin = (path: string, body: unknown) =>
      fetch(`${t.baseUrl}/__sandbox/${path}`, { method: 'POST', body: JSON.stringify(body) });
    return {
      settings: { baseUrl: t.baseUrl, auth: { type: 'bearer', token: 'qiao-target-token' } },
      badSettings: { baseUrl: t.baseUrl, auth: { type: 'bearer', token: 'wrong-token-123' } },
      write: {
        action: 'request',
        input: (u) => ({ method: 'POST', path: '/items', body: { name: u }, link: { object: 'item' } }),
        idOf: (o) => String((o as { body: { id: string } }).body.id),
      },
      read: {
        action: 'request',
        input: (id) => ({ method: 'GET', path: `/items/${id}` }),
        check: (o, u) => assert.equal((o as { body: { name: string } }).body.name, u),
      },
      poll: {
        trigger: 'poll',
        params: { path: '/items', pageSize: 10 },
        change: async (n) => void (await admin('touch', { count: n })),
      },
      faults: {
        serverError: async () => void (await admin('faults', { failNext: 1, errorStatus: 503 })),
        revokeAuth: async () => {},
        rateLimit: async () => void (await admin('rate-limit', { seconds: 7 })),
        heal: async () => {
          await admin('rate-limit', { seconds: 0 });
          await fetch(`${t.baseUrl}/__sandbox/faults`, { method: 'DELETE' });
        },
      },
      close: t.close,
    };
  },
});
