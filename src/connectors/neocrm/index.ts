/**
 * The `neocrm` connector (销售易 CRM): OAuth password grant, xobjects writes, query v2 / XOQL reads, a
 * `poll` trigger on `updatedAt`, and the schema from describe. See docs/connectors/neocrm.md.
 */
import type { Connector, ConnectorDescriptor } from '../../core/connector.ts';
import { neocrmActions } from './actions.ts';
import { NeocrmApi } from './api.ts';
import { NeocrmClient, type NeocrmClientOptions } from './client.ts';
import { DEFAULT_DESCRIBED_OBJECTS, declaredObject, objectFromDescribe, SchemaCache } from './schema.ts';
import { NEOCRM_SECRET_FIELDS, type NeocrmSettings, neocrmSettings } from './settings.ts';
import { neocrmTriggers } from './triggers.ts';

export { NeocrmClient } from './client.ts';
export type { NeocrmSettings } from './settings.ts';

/** The pieces of a connector instance, for tests and benches that need the client beneath it. */
export interface NeocrmConnector extends Connector {
  client: NeocrmClient;
  api: NeocrmApi;
}

export function createNeocrmConnector(
  settings: NeocrmSettings,
  log: Parameters<ConnectorDescriptor['create']>[0]['log'],
  options: NeocrmClientOptions = {},
): NeocrmConnector {
  const client = new NeocrmClient(settings, log, options);
  const cache: SchemaCache = new SchemaCache(async (object) =>
    objectFromDescribe(await api.describe(object)),
  );
  const api: NeocrmApi = new NeocrmApi(client, cache);
  const objects = settings.objects ?? DEFAULT_DESCRIBED_OBJECTS;
  return {
    client,
    api,
    async check() {
      // Authenticate and make one cheap read (spec 4.10).
      await api.queryV2('select id,name from user limit 0,1');
      const who = client.identity();
      return { ok: true, detail: `tenant ${who.tenantId ?? '?'} at ${new URL(who.apiBase).host}` };
    },
    actions: neocrmActions(api, settings),
    triggers: neocrmTriggers(api, settings),
    get schema() {
      const schema = cache.snapshot();
      for (const o of objects) schema.objects[o] ??= declaredObject(o);
      return schema;
    },
    async describe() {
      await Promise.all(objects.map((o) => cache.get(o, true)));
      return cache.snapshot();
    },
  };
}

export const neocrmConnector: ConnectorDescriptor<NeocrmSettings> = {
  type: 'neocrm',
  title: { 'zh-CN': '销售易 CRM', en: 'Neocrm (XiaoShouYi) CRM' },
  settings: neocrmSettings as unknown as ConnectorDescriptor<NeocrmSettings>['settings'],
  secretFields: NEOCRM_SECRET_FIELDS,
  // Neocrm publishes no rate limit (spec 7); the spec recommends ≤ 5 calls in flight per tenant. The
  // default budget stays well inside what a CRM tenant tolerates; a connection may raise it.
  limits: {
    rate: { perSecond: 10, burst: 20 },
    concurrency: 5,
    breaker: { failures: 5, resetMs: 30_000 },
  },
  create(ctx) {
    return createNeocrmConnector(ctx.settings, ctx.log);
  },
};
