/**
 * What a connection's actions, triggers and hooks share: the client, caches (templates for 10 min)
 * and the in-process memory that makes retried effects idempotent (approvals started per
 * idempotency key, response codes already used).
 */
import type { Logger } from '../../core/logger.ts';
import { parseTemplate, type Template } from './approval-form.ts';
import type { CallbackEndpoint } from './callback.ts';
import type { WecomClient } from './client.ts';
import type { WecomSettings } from './settings.ts';

const TEMPLATE_TTL_MS = 10 * 60_000;
const REMEMBER = 10_000;

export class WecomContext {
  readonly client: WecomClient;
  readonly settings: WecomSettings;
  readonly log: Logger;
  readonly callbacks: CallbackEndpoint;
  readonly #templates = new Map<string, { t: Template; at: number }>();
  readonly #started = new Map<string, string>();
  readonly usedResponseCodes = new Set<string>();

  constructor(client: WecomClient, callbacks: CallbackEndpoint, log: Logger) {
    this.client = client;
    this.settings = client.settings;
    this.callbacks = callbacks;
    this.log = log;
  }

  /** gettemplatedetail, cached: templates change rarely and the API is limited to 600/min (spec §3). */
  async template(templateId: string, signal?: AbortSignal): Promise<Template> {
    const hit = this.#templates.get(templateId);
    if (hit && hit.at > Date.now() - TEMPLATE_TTL_MS) return hit.t;
    const res = await this.client.call('gettemplatedetail', '/cgi-bin/oa/gettemplatedetail', {
      body: { template_id: templateId },
      signal,
    });
    const t = parseTemplate(templateId, res);
    this.#templates.set(templateId, { t, at: Date.now() });
    return t;
  }

  startedFor(idempotencyKey: string): string | undefined {
    return this.#started.get(idempotencyKey);
  }

  rememberStart(idempotencyKey: string, spNo: string): void {
    this.#started.set(idempotencyKey, spNo);
    if (this.#started.size > REMEMBER) this.#started.delete(this.#started.keys().next().value as string);
  }
}
