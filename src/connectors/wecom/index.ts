/**
 * The `wecom` connector (企业微信): approvals, callbacks, application messages and cards, group
 * robots and contacts, following shared/specs/wecom.md. Configuration and behaviour are documented
 * in docs/connectors/wecom.md.
 */
import type { Connector, ConnectorDescriptor, InboundEvent } from '../../core/connector.ts';
import { makeActions } from './actions.ts';
import { CallbackEndpoint } from './callback.ts';
import { WecomClient } from './client.ts';
import { WecomContext } from './context.ts';
import { wecomSchema } from './schema.ts';
import { SECRET_FIELDS, type WecomSettings, wecomSettings } from './settings.ts';
import { makeTriggers, reconcileApprovals } from './triggers.ts';

export { CallbackEndpoint } from './callback.ts';
export { WecomClient } from './client.ts';
export type { WecomSettings } from './settings.ts';

/**
 * A WeCom connection. Beyond the contract it offers `reconcile(eventType, correlations)`: the engine's
 * reconciler hands it the SpNos of runs still waiting and stores the returned events like callback
 * events, so a lost callback delays a result but never loses it.
 */
export interface WecomConnector extends Connector {
  client: WecomClient;
  callbacks: CallbackEndpoint;
  reconcile(eventType: string, correlations: string[], signal?: AbortSignal): Promise<InboundEvent[]>;
}

export const wecomConnector: ConnectorDescriptor<WecomSettings> = {
  type: 'wecom',
  title: { 'zh-CN': '企业微信', en: 'WeCom' },
  settings: wecomSettings,
  secretFields: SECRET_FIELDS,
  // Approval reads are the tightest budget a flow leans on: 600/min = 10/s (spec §3, §9). applyevent
  // (60/min) and each robot (20/min) are also held by the client itself, which refuses locally.
  limits: {
    rate: { perSecond: 10, burst: 10 },
    concurrency: 8,
    breaker: { failures: 5, resetMs: 30_000 },
  },
  create(cc): WecomConnector {
    const client = new WecomClient({ settings: cc.settings, log: cc.log });
    const callbacks = new CallbackEndpoint(
      cc.settings,
      cc.log.child({ connection: cc.connectionId, hook: 'wecom' }),
    );
    const ctx = new WecomContext(client, callbacks, cc.log);
    return {
      client,
      callbacks,
      async check() {
        // gettoken proves corpId + secret; department/simplelist is a cheap read proving the token works.
        await client.token();
        const res = await client.call('department/simplelist', '/cgi-bin/department/simplelist', {
          method: 'GET',
        });
        const n = Array.isArray(res.department_id) ? res.department_id.length : 0;
        return {
          ok: true,
          detail: `corp ${cc.settings.corpId}, app ${cc.settings.agentId}: ${n} visible departments`,
        };
      },
      actions: makeActions(ctx),
      triggers: makeTriggers(ctx),
      schema: wecomSchema,
      hooks: callbacks.hooks,
      async reconcile(eventType, correlations, signal = AbortSignal.timeout(60_000)) {
        if (eventType !== 'approval.change') return [];
        return reconcileApprovals(ctx, correlations, signal);
      },
    };
  },
};
