/**
 * The `dingtalk` connector: work notifications, group robots, the enterprise robot's chat, OA
 * approvals, interactive cards and users, with Stream-mode or HTTP ingress (docs/connectors/dingtalk.md).
 */
import type { Connector, ConnectorDescriptor, InboundEvent } from '../../core/connector.ts';
import { dingtalkActions, Memo } from './actions.ts';
import { DingtalkClient } from './client.ts';
import { UserDirectory } from './directory.ts';
import { dingtalkHooks, type IngressStats, RecentKeys } from './hooks.ts';
import { dingtalkSchema } from './schema.ts';
import { DINGTALK_SECRET_FIELDS, type DingtalkSettings, dingtalkSettings } from './settings.ts';
import { StreamClient, type StreamClientOptions } from './stream-client.ts';
import { dingtalkTriggers, reconcileApprovals } from './triggers.ts';

export type { DingtalkSettings } from './settings.ts';
export { dingtalkSettings } from './settings.ts';

/** What a `dingtalk` connector offers beyond the contract (tests, the engine's reconciler, metrics). */
export interface DingtalkConnector extends Connector {
  client: DingtalkClient;
  /** Ingress counters: received, delivered, duplicates (redeliveries recognised), rejected. */
  stats: IngressStats;
  /** The running Stream client, once `ingress.start` was called. */
  stream?: StreamClient;
  /** For waits whose approval event never came (DESIGN.md, "Durable waits"). */
  reconcileApprovals(processInstanceIds: string[], signal?: AbortSignal): Promise<InboundEvent[]>;
}

/** Test seam: Stream backoff and keepalive (defaults follow the official SDKs, spec §8.4). */
export interface DingtalkCreateOptions {
  stream?: Pick<StreamClientOptions, 'backoff' | 'keepAliveMs' | 'batchMax'>;
}

export function createDingtalkConnector(
  ctx: { connectionId: string; settings: DingtalkSettings; log: import('../../core/logger.ts').Logger },
  options: DingtalkCreateOptions = {},
): DingtalkConnector {
  const log = ctx.log.child({ connector: 'dingtalk', connectionId: ctx.connectionId });
  const client = new DingtalkClient(ctx.settings, log);
  const directory = new UserDirectory(client);
  const stats: IngressStats = { received: 0, delivered: 0, duplicates: 0, rejected: 0 };
  const hooks = dingtalkHooks(ctx.settings, directory, stats, new RecentKeys());
  const delivered = new RecentKeys();
  const connector: DingtalkConnector = {
    client,
    stats,
    async check() {
      await client.token('oapi');
      await client.token('api');
      if (ctx.settings.ingress === 'stream') {
        // Opening a ticket proves Stream mode is enabled for the app; the unused ticket expires in 90 s.
        await client.openStream([{ type: 'EVENT', topic: '*' }]);
      }
      return {
        ok: true,
        detail: `app ${ctx.settings.appKey} (agent ${ctx.settings.agentId}): tokens on both API hosts ok, ingress ${ctx.settings.ingress}`,
      };
    },
    actions: dingtalkActions(client, new Memo()),
    triggers: dingtalkTriggers(client),
    schema: dingtalkSchema,
    hooks,
    ...(ctx.settings.ingress === 'stream'
      ? {
          ingress: {
            async start(deliver) {
              const stream = new StreamClient({
                client,
                directory,
                stats,
                delivered,
                deliver,
                log,
                ...options.stream,
              });
              connector.stream = stream;
              await stream.start();
              return { stop: () => stream.stop() };
            },
          },
        }
      : {}),
    reconcileApprovals: (ids, signal) => reconcileApprovals(client, ids, signal),
    // The engine's reconciler: approvals can be asked about; chat replies and card clicks cannot.
    async reconcile(eventType, correlations, signal) {
      return eventType === 'approval.instance' ? reconcileApprovals(client, correlations, signal) : [];
    },
    async close() {
      await connector.stream?.stop();
    },
  };
  return connector;
}

export const dingtalkConnector: ConnectorDescriptor<DingtalkSettings> = {
  type: 'dingtalk',
  title: { 'zh-CN': '钉钉', en: 'DingTalk' },
  settings: dingtalkSettings,
  secretFields: DINGTALK_SECRET_FIELDS,
  // 20 calls/s per app per API (spec §14, D5); the burst stays at one second's worth.
  limits: {
    rate: { perSecond: 20, burst: 20 },
    concurrency: 10,
    breaker: { failures: 5, resetMs: 30_000 },
  },
  create: (ctx) => {
    const c = createDingtalkConnector(ctx);
    return c;
  },
};
