/**
 * The hub: one process's assembly of store, secrets, connections, flows, engine and HTTP server.
 * `qiao start` runs a whole hub; `qiao worker` runs one without the HTTP server (scale-out on
 * PostgreSQL); tests and the demo start hubs in-process with `startHub()`.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { builtinConnectors } from './connectors/index.ts';
import { CONFIG_DEFAULTS, type QiaoConfig, resolveFlowFiles } from './core/config.ts';
import type { ConnectorDescriptor } from './core/connector.ts';
import { ValidationError, type ValidationProblem } from './core/errors.ts';
import type { FlowDef } from './core/flow.ts';
import { createLogger, type Logger } from './core/logger.ts';
import { SecretBox } from './core/secret-box.ts';
import { ConnectionManager, type LiveConnection } from './engine/connections.ts';
import { Engine } from './engine/engine.ts';
import { EngineMetrics } from './engine/metrics.ts';
import { bindQiaoServices } from './engine/sync/qiao-connector.ts';
import { type FlowRegistry, validateFlowFile } from './flow/validate.ts';
import { openStore } from './store/open-store.ts';
import type { Store } from './store/store.ts';

export interface HubOptions {
  /** A loaded configuration; or give its parts below. */
  config?: QiaoConfig;
  dataDir?: string;
  database?: string;
  /** `false`: no HTTP server (a `qiao worker`). Default true. */
  serve?: boolean;
  port?: number;
  host?: string;
  /** Run the worker loop in this process. Default true. */
  runWorkers?: boolean;
  /** Lead the scheduler (poll and cron triggers) in this process. Default true. */
  runScheduler?: boolean;
  /**
   * Hold the connections' long-lived ingress (DingTalk Stream) in this process. Default: as
   * `runScheduler`. A test driving polls and cron slots itself turns the scheduler off and keeps this.
   */
  runIngress?: boolean;
  concurrency?: number;
  leaseMs?: number;
  /** Reconciler timing (see EngineOptions). */
  reconcileIntervalMs?: number;
  reconcileAfterMs?: number;
  descriptors?: ConnectorDescriptor[];
  log?: Logger;
  /** Secret box (default: QIAO_MASTER_KEY or `<dataDir>/master.key`). */
  box?: SecretBox;
}

export interface Hub {
  readonly store: Store;
  readonly engine: Engine;
  readonly connections: ConnectionManager;
  readonly metrics: EngineMetrics;
  readonly box: SecretBox;
  readonly log: Logger;
  readonly config?: QiaoConfig;
  /** The HTTP server, when serving. */
  readonly server?: FastifyInstance;
  /** `http://host:port`, when serving. */
  readonly url?: string;
  /** Validates flow YAML against this hub's connections; the flow only when there is no problem. */
  validateFlow(text: string, file: string): { flow?: FlowDef; problems: ValidationProblem[] };
  /** Validates and stores a flow (new version when it changed), then reloads the engine's flows. */
  saveFlow(text: string, file: string, origin: 'config' | 'api', actor: string): Promise<FlowDef>;
  close(): Promise<void>;
}

export function flowRegistry(connections: ConnectionManager): FlowRegistry {
  return {
    connection(id) {
      const c = connections.get(id);
      return (
        c && {
          type: c.row.type,
          connector: { actions: c.connector.actions, triggers: c.connector.triggers, schema: c.schema },
        }
      );
    },
    connections: () => connections.list().map((c) => c.row.id),
  };
}

export async function startHub(opts: HubOptions = {}): Promise<Hub> {
  const cfg = opts.config;
  const dataDir = opts.dataDir ?? cfg?.dataDir ?? CONFIG_DEFAULTS.dataDir;
  const database = opts.database ?? cfg?.database;
  const log = opts.log ?? createLogger({}, { level: cfg?.log?.level });
  const store = await openStore({ database, dataDir });
  const stops: Array<() => Promise<void>> = [];
  try {
    const box = opts.box ?? SecretBox.fromEnvOrFile(dataDir);
    const metrics = new EngineMetrics(store);
    const connections = new ConnectionManager({
      store,
      box,
      log,
      metrics,
      descriptors: opts.descriptors ?? builtinConnectors(),
    });
    // The engine-provided `qiao` connector (two-way sync, review queue) works on this hub's store, in
    // every process — a `qiao worker` has no API to bind it later.
    bindQiaoServices(connections, { store });
    // In parallel: opening a connection refreshes its schema, which waits on an unreachable partner.
    await Promise.all(
      Object.values(cfg?.connections ?? {}).map((c) =>
        connections.save(
          { id: c.id, type: c.type, settings: c.settings, limits: c.limits, origin: 'config' },
          'config',
        ),
      ),
    );
    await connections.loadAll();
    const engine = new Engine({
      store,
      connections,
      log,
      metrics,
      concurrency: opts.concurrency ?? cfg?.workers.concurrency,
      leaseMs: opts.leaseMs,
      reconcileIntervalMs: opts.reconcileIntervalMs,
      reconcileAfterMs: opts.reconcileAfterMs,
      runWorkers: opts.runWorkers,
      runScheduler: opts.runScheduler,
      embedded: store.kind === 'sqlite',
    });
    const registry = flowRegistry(connections);

    const validateFlow = (text: string, file: string) => validateFlowFile(text, file, registry);
    const saveFlow = async (text: string, file: string, origin: 'config' | 'api', actor: string) => {
      const { flow, problems } = validateFlow(text, file);
      if (!flow) throw new ValidationError(problems);
      const prev = await store.getFlow(flow.id);
      const same =
        prev && JSON.stringify(prev.definition) === JSON.stringify(flow) && prev.enabled === flow.enabled;
      if (!same) {
        await store.saveFlow(
          { id: flow.id, definition: flow, yaml: text, origin, enabled: flow.enabled },
          {
            actor,
            action: prev ? 'flow.update' : 'flow.create',
            target: `flow:${flow.id}`,
            detail: { file },
          },
        );
        await engine.reloadFlows();
      }
      return flow;
    };

    if (cfg) {
      const problems: ValidationProblem[] = [];
      const texts: Array<[string, string]> = resolveFlowFiles(cfg).map((f) => [f, readFileSync(f, 'utf8')]);
      for (const [file, text] of texts) problems.push(...validateFlow(text, file).problems);
      if (problems.length) throw new ValidationError(problems);
      for (const [file, text] of texts) await saveFlow(text, file, 'config', 'config');
    }
    await engine.start();
    stops.push(() => engine.stop());

    // Long-lived ingress (DingTalk Stream): events are acknowledged only once they are in the inbox.
    // Connections created or changed later (API) get theirs through `onChange`, without a restart.
    if (opts.runIngress ?? (opts.runScheduler !== false)) {
      const ingresses = new Map<string, { stop(): Promise<void> }>();
      const syncIngress = async (id: string, live: LiveConnection | undefined) => {
        await ingresses.get(id)?.stop();
        ingresses.delete(id);
        if (!live?.connector.ingress) return;
        const handle = await live.connector.ingress.start(async (events) => {
          await engine.ingest(id, events);
        });
        ingresses.set(id, handle);
      };
      for (const c of connections.list()) await syncIngress(c.row.id, c);
      connections.onChange = syncIngress;
      stops.unshift(async () => {
        connections.onChange = undefined;
        for (const h of ingresses.values()) await h.stop();
      });
    }

    const hub: Hub = {
      store,
      engine,
      connections,
      metrics,
      box,
      log,
      config: cfg,
      validateFlow,
      saveFlow,
      async close() {
        for (const s of stops)
          await s().catch((e) => log.error('shutdown step failed', { error: (e as Error).message }));
        await connections.closeAll();
        await store.close();
      },
    };

    if (opts.serve !== false) {
      const { buildServer } = await import('./server/app.ts');
      const server = await buildServer(hub, { bodyLimit: cfg?.server.bodyLimit });
      const address = await server.listen({
        port: opts.port ?? cfg?.server.port ?? 0,
        host: opts.host ?? cfg?.server.host ?? '127.0.0.1',
      });
      stops.unshift(() => server.close());
      Object.assign(hub, { server, url: address.replace('[::1]', 'localhost') });
    }
    return hub;
  } catch (err) {
    for (const s of stops) await s().catch(() => {});
    await store.close();
    throw err;
  }
}
