/**
 * The HTTP server (Fastify): `/healthz`, `/metrics`, partner callbacks under `/hooks`, and the REST API
 * under `/api` (routes in `api/`). Callbacks are read as raw bytes, because signatures are computed
 * over the exact body and must be verified before anything is parsed.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Hub } from '../hub.ts';
import { registerApi } from './api/index.ts';
import { registerHooks } from './hooks.ts';

export interface ServerOptions {
  /** Largest request body in bytes. Default 1 MiB. */
  bodyLimit?: number;
}

export async function buildServer(hub: Hub, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: opts.bodyLimit ?? 1024 * 1024, logger: false, return503OnClosing: true });

  app.get('/healthz', async () => {
    const depth = await hub.store.depth();
    return {
      status: 'ok',
      store: hub.store.kind,
      queue: depth.steps,
      deadLetters: depth.deadLetters,
      waits: depth.waits,
    };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', hub.metrics.registry.contentType);
    return hub.metrics.registry.metrics();
  });

  await app.register(async (scope) => registerHooks(scope, hub), { prefix: '/hooks' });

  await app.register(async (scope) => registerApi(scope, hub), { prefix: '/api' });
  return app;
}
