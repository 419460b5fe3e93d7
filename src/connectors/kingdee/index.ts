/**
 * The `kingdee` connector (金蝶云星空 K/3 Cloud WebAPI): session or signature auth, the error table,
 * idempotent writes, (time, id) polling, the BOS-plugin push path and its reconciler. See
 * docs/connectors/kingdee.md.
 */
import type { Connector, ConnectorDescriptor } from '../../core/connector.ts';
import { PermanentError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { kingdeeActions } from './actions.ts';
import { KingdeeClient, type KingdeeClientOptions } from './client.ts';
import { pushHook } from './hooks.ts';
import { reconcileChanges } from './reconcile.ts';
import { KINGDEE_SCHEMA } from './schema.ts';
import { KINGDEE_SECRET_FIELDS, type KingdeeSettings, kingdeeSettings } from './settings.ts';
import { kingdeeTriggers } from './triggers.ts';

export { KingdeeClient } from './client.ts';
export type { KingdeeSettings } from './settings.ts';

export interface KingdeeConnector extends Connector {
  client: KingdeeClient;
}

export function createKingdeeConnector(
  settings: KingdeeSettings,
  log: Logger,
  options: KingdeeClientOptions = {},
): KingdeeConnector {
  const client = new KingdeeClient(settings, log, options);
  return {
    client,
    async check() {
      // "Test connection": log in (or sign a cheap query, spec 3.4's heartbeat) and list the data centres.
      if (settings.auth === 'session') await client.connect();
      else {
        await client.executeBillQuery({
          FormId: 'BD_Currency',
          FieldKeys: 'FCURRENCYID',
          FilterString: "FNUMBER = 'PRE001'",
          Limit: 1,
        });
      }
      const centres = await client.dataCenters();
      const dc = centres.find((c) => c.Id === settings.acctId);
      if (!dc) {
        throw new PermanentError(
          `Kingdee: data centre ${settings.acctId} is not listed by GetDataCenterList`,
          {
            fault: 'user',
            partner: {
              system: 'kingdee',
              message: `数据中心 ${settings.acctId} 不存在`,
              operation: 'GetDataCenterList',
            },
          },
        );
      }
      return {
        ok: true,
        detail: `${dc.Name ?? dc.Id} (${dc.Number ?? '?'}), K/3 Cloud ${dc.Version ?? ''}`.trim(),
      };
    },
    actions: kingdeeActions(client, settings),
    triggers: kingdeeTriggers(client, settings),
    schema: KINGDEE_SCHEMA,
    hooks: [pushHook(settings, log)],
    // The engine's reconciler, for runs waiting on a push that never came: audits and payments are
    // read back from K/3 (reconcile.ts); other changes leave no trace to read.
    async reconcile(eventType, correlations, signal) {
      if (eventType !== 'kingdee.change') return [];
      return reconcileChanges(client, settings, correlations, signal, log);
    },
  };
}

export const kingdeeConnector: ConnectorDescriptor<KingdeeSettings> = {
  type: 'kingdee',
  title: { 'zh-CN': '金蝶云星空', en: 'Kingdee K/3 Cloud' },
  settings: kingdeeSettings as unknown as ConnectorDescriptor<KingdeeSettings>['settings'],
  secretFields: KINGDEE_SECRET_FIELDS,
  // Kingdee documents no rate limit (spec 8) but advises 10–100 calls/s per connection; the default
  // sits at the low end with a small concurrency cap, and a connection may raise both (qiao.yaml
  // `rate`, `concurrency`). MsgCode 14 (call limit) still answers rate_limited if the server disagrees.
  limits: {
    rate: { perSecond: 20, burst: 20 },
    concurrency: 4,
    breaker: { failures: 5, resetMs: 30_000 },
  },
  create(ctx) {
    return createKingdeeConnector(ctx.settings, ctx.log);
  },
};
