/**
 * The generic `http` connector: a REST request action and an incremental poll trigger. Flows that
 * are started by an HTTP call use the `webhook` trigger type (`POST /hooks/http/{flowId}`), served by
 * the hub itself. Documented in docs/connectors/http.md.
 */
import { z } from 'zod';
import type { ConnectorDescriptor } from '../../core/connector.ts';
import { httpActions } from './actions.ts';
import { HttpClient, type HttpSettings } from './client.ts';
import { httpSchema } from './schema.ts';
import { httpTriggers } from './triggers.ts';

const settings = z.strictObject({
  baseUrl: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('bearer'), token: z.string().min(1) }),
      z.strictObject({ type: z.literal('basic'), username: z.string(), password: z.string() }),
    ])
    .optional(),
  timeoutMs: z.number().int().positive().optional(),
});

export const httpConnector: ConnectorDescriptor<HttpSettings> = {
  type: 'http',
  title: { 'zh-CN': '通用 HTTP', en: 'Generic HTTP' },
  settings,
  secretFields: ['auth.token', 'auth.password'],
  limits: { concurrency: 64 },
  create(ctx) {
    const client = new HttpClient(ctx.settings);
    return {
      async check() {
        // Any answer below 500 proves the service is reachable and speaks HTTP; 401/403 prove the
        // credentials wrong, which is what "test connection" must report.
        try {
          const r = await client.request('GET', '/');
          return { ok: true, detail: `HTTP ${r.status}` };
        } catch (err) {
          const e = err as { partner?: { httpStatus?: number } };
          if (e.partner?.httpStatus === 404 || e.partner?.httpStatus === 405)
            return { ok: true, detail: `HTTP ${e.partner.httpStatus}` };
          throw err;
        }
      },
      actions: httpActions(client),
      triggers: httpTriggers(client),
      schema: httpSchema,
    };
  },
};
