/**
 * Live connections: each stored connection's connector instance (settings opened from their sealed
 * form) and its limiter. Actions are always called through `call()`, so limits, bans, breakers,
 * input validation and error classification apply to every partner call the same way.
 */
import type {
  ActionResult,
  ConnectionLimits,
  Connector,
  ConnectorDescriptor,
  ConnectorSchema,
} from '../core/connector.ts';
import {
  NotFoundError,
  PermanentError,
  QiaoError,
  RateLimitedError,
  scrubSecrets,
  toQiaoError,
  ValidationError,
} from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { type SecretBox, secretValues } from '../core/secret-box.ts';
import type { ConnectionRow, Store } from '../store/store.ts';
import { ConnectionLimiter } from './limiter.ts';
import type { EngineMetrics } from './metrics.ts';

export interface LiveConnection {
  row: ConnectionRow;
  descriptor: ConnectorDescriptor;
  connector: Connector;
  limiter: ConnectionLimiter;
  /** Secret values of this connection, scrubbed from every error it raises. */
  secrets: string[];
  /** The connector's schema, refreshed from the partner (`describe`) where it has one. */
  schema: ConnectorSchema;
}

export interface CallOptions {
  idempotencyKey: string;
  attempt: number;
  linkKey?: string;
  timeoutMs?: number;
}

export class ConnectionManager {
  private readonly types = new Map<string, ConnectorDescriptor>();
  private readonly live = new Map<string, LiveConnection>();
  private readonly store: Store;
  private readonly box: SecretBox;
  private readonly log: Logger;
  private readonly metrics?: EngineMetrics;

  constructor(opts: {
    store: Store;
    box: SecretBox;
    log: Logger;
    descriptors: ConnectorDescriptor[];
    metrics?: EngineMetrics;
  }) {
    this.store = opts.store;
    this.box = opts.box;
    this.log = opts.log;
    this.metrics = opts.metrics;
    for (const d of opts.descriptors) this.types.set(d.type, d);
  }

  /**
   * Called after a connection is opened anew (created, changed) or removed (`undefined`): the hub
   * uses it to (re)start long-lived ingress such as DingTalk Stream without a restart.
   */
  onChange?: (id: string, live: LiveConnection | undefined) => Promise<void>;

  descriptor(type: string): ConnectorDescriptor | undefined {
    return this.types.get(type);
  }

  get typeNames(): string[] {
    return [...this.types.keys()].sort();
  }

  get(id: string): LiveConnection | undefined {
    return this.live.get(id);
  }

  require(id: string): LiveConnection {
    const c = this.live.get(id);
    if (!c)
      throw new NotFoundError(
        `connection '${id}' does not exist (known: ${[...this.live.keys()].join(', ') || 'none'})`,
      );
    return c;
  }

  list(): LiveConnection[] {
    return [...this.live.values()];
  }

  /**
   * Validates and saves a connection (secrets sealed), then (re)opens it. Settings are checked by the
   * connector's own schema first, so a bad connection is refused before anything is stored.
   */
  async save(
    input: {
      id: string;
      type: string;
      settings: Record<string, unknown>;
      limits?: ConnectionLimits;
      origin: 'config' | 'api';
    },
    actor: string,
  ): Promise<LiveConnection> {
    const d = this.types.get(input.type);
    if (!d) {
      throw new ValidationError([
        {
          path: `connections.${input.id}.type`,
          message: `unknown connector type '${input.type}' (known: ${this.typeNames.join(', ')})`,
        },
      ]);
    }
    const opened = this.box.openSettings(input.settings, d.secretFields);
    const parsed = d.settings.safeParse(opened);
    if (!parsed.success) {
      throw new ValidationError(
        parsed.error.issues.map((i) => ({
          path: ['connections', input.id, ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      );
    }
    const existing = await this.store.getConnection(input.id);
    const sealed = this.box.sealSettings(input.settings, d.secretFields);
    const unchanged =
      existing &&
      existing.type === input.type &&
      JSON.stringify(this.box.openSettings(existing.settings, d.secretFields)) === JSON.stringify(opened) &&
      JSON.stringify(existing.limits ?? {}) === JSON.stringify(input.limits ?? {});
    const row = unchanged
      ? existing
      : await this.store.saveConnection(
          { id: input.id, type: input.type, settings: sealed, limits: input.limits, origin: input.origin },
          {
            actor,
            action: existing ? 'connection.update' : 'connection.create',
            target: `connection:${input.id}`,
            detail: { type: input.type },
          },
        );
    return this.open(row);
  }

  async remove(id: string, actor: string): Promise<boolean> {
    const c = this.live.get(id);
    this.live.delete(id);
    await this.onChange?.(id, undefined);
    await c?.connector.close?.();
    return this.store.deleteConnection(id, {
      actor,
      action: 'connection.delete',
      target: `connection:${id}`,
    });
  }

  /** Opens every stored connection (at start, and in `qiao worker` processes). */
  async loadAll(): Promise<void> {
    // In parallel: each may wait up to its schema refresh timeout on an unreachable partner.
    const rows = await this.store.listConnections();
    await Promise.all(
      rows.map(async (row) => {
        try {
          await this.open(row);
        } catch (err) {
          this.log.error('connection cannot be opened', {
            connection: row.id,
            error: (err as Error).message,
          });
        }
      }),
    );
  }

  private async open(row: ConnectionRow): Promise<LiveConnection> {
    const d = this.types.get(row.type);
    if (!d)
      throw new ValidationError([
        { path: `connections.${row.id}.type`, message: `unknown connector type '${row.type}'` },
      ]);
    const settings = d.settings.parse(this.box.openSettings(row.settings, d.secretFields));
    const prev = this.live.get(row.id);
    if (prev && prev.row.version === row.version) return prev;
    await prev?.connector.close?.();
    const limits: ConnectionLimits = {
      ...d.limits,
      ...row.limits,
    };
    const connector = d.create({
      connectionId: row.id,
      settings,
      log: this.log.child({ connection: row.id }),
    });
    const live: LiveConnection = {
      row,
      descriptor: d,
      connector,
      limiter: prev?.limiter ?? new ConnectionLimiter(limits),
      secrets: secretValues(settings as Record<string, unknown>, d.secretFields),
      schema: connector.schema,
    };
    this.live.set(row.id, live);
    await this.refreshSchema(live);
    await this.onChange?.(row.id, live);
    return live;
  }

  /**
   * Asks the partner for its current objects and fields (tenant custom fields included), so flows
   * are validated against the real schema. Best effort: an unreachable partner keeps the static one.
   */
  async refreshSchema(live: LiveConnection, timeoutMs = 5_000): Promise<void> {
    if (!live.connector.describe) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      const described = await Promise.race([
        live.connector.describe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      live.schema = { objects: { ...live.connector.schema.objects, ...described.objects } };
    } catch (err) {
      this.log.warn('schema refresh failed; validating against the built-in schema', {
        connection: live.row.id,
        error: scrubSecrets((err as Error).message, live.secrets),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Calls a connector action under the connection's limits, with its input validated. */
  async call(connectionId: string, action: string, input: unknown, opts: CallOptions): Promise<ActionResult> {
    const c = this.require(connectionId);
    const spec = c.connector.actions[action];
    if (!spec) {
      throw new PermanentError(
        `connection '${connectionId}' (${c.row.type}) has no action '${action}' (known: ${Object.keys(c.connector.actions).join(', ')})`,
      );
    }
    const parsed = spec.input.safeParse(input);
    if (!parsed.success) {
      throw new ValidationError(
        parsed.error.issues.map((i) => ({
          path: ['input', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
        `input of ${connectionId}.${action} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 60_000);
    return this.guarded(c, action, () =>
      spec.run(parsed.data, {
        idempotencyKey: opts.idempotencyKey,
        attempt: opts.attempt,
        linkKey: opts.linkKey,
        links: {
          find: async (object, linkKey) => this.store.findExternalId(linkKey, connectionId, object),
        },
        signal,
        log: this.log.child({ connection: connectionId, action }),
      }),
    );
  }

  /**
   * Every partner call goes through here — actions, poll pages, the reconciler's questions: the
   * connection's limiter grants it (or answers "not before T" as a rate_limited error), the outcome
   * feeds the breaker, a partner's rate-limit answer bans the whole connection for its wait, errors are
   * classified and scrubbed of secrets, and the call is counted in the metrics as `what`.
   */
  async guarded<T>(c: LiveConnection, what: string, fn: () => Promise<T>): Promise<T> {
    const permit = await c.limiter.acquire();
    if (!permit.ok) {
      throw new RateLimitedError(
        `${c.row.id}: not calling before ${new Date(permit.notBefore).toISOString()} (${permit.reason})`,
        { retryAfterMs: Math.max(1, permit.notBefore - Date.now()) },
      );
    }
    const started = performance.now();
    try {
      const out = await fn();
      permit.release('ok');
      this.metrics?.call(c.row.id, what, 'ok', performance.now() - started);
      return out;
    } catch (err) {
      const qe = scrubbed(toQiaoError(err), c.secrets);
      permit.release(qe.errorClass === 'transient' ? 'transient' : 'other');
      if (qe.errorClass === 'rate_limited' && qe.retryAfterMs) {
        c.limiter.ban(Date.now() + qe.retryAfterMs, qe.message);
      }
      this.metrics?.call(c.row.id, what, qe.errorClass, performance.now() - started);
      throw qe;
    }
  }

  async closeAll(): Promise<void> {
    for (const c of this.live.values()) await c.connector.close?.();
    this.live.clear();
  }
}

function scrubbed(e: QiaoError, secrets: string[]): QiaoError {
  if (secrets.length === 0) return e;
  const message = scrubSecrets(e.message, secrets);
  const partnerMessage = e.partner?.message ? scrubSecrets(e.partner.message, secrets) : undefined;
  if (message === e.message && partnerMessage === e.partner?.message) return e;
  const out = new QiaoError(message, {
    errorClass: e.errorClass,
    fault: e.fault,
    retryAfterMs: e.retryAfterMs,
    partner: e.partner ? { ...e.partner, message: partnerMessage } : undefined,
  });
  out.name = e.name;
  return out;
}
