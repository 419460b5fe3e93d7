/**
 * Callback routes. `/hooks/http/{flowId}` starts a flow with the request body (the `webhook` trigger);
 * `/hooks/{type}/{connectionId}{path}` hands the raw request to the connection's connector, which
 * verifies and decrypts it and returns the events to store. The events are in the inbox before the
 * partner gets its answer, so an acknowledged event is never lost; a duplicate is acknowledged again.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QiaoError } from '../core/errors.ts';
import type { Hub } from '../hub.ts';

export async function registerHooks(app: FastifyInstance, hub: Hub): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.post('/http/:flowId', async (req: FastifyRequest<{ Params: { flowId: string } }>, reply) => {
    const { flowId } = req.params;
    const flow = hub.engine.flows.get(flowId);
    if (flow && !flow.enabled) {
      return reply.code(409).send({ error: 'flow_disabled', message: `flow '${flowId}' is disabled` });
    }
    if (flow?.definition.trigger.type !== 'webhook') {
      return reply.code(404).send({ error: 'not_found', message: `no webhook flow '${flowId}'` });
    }
    const t = flow.definition.trigger;
    if (t.secret) {
      const secret = webhookSecret(t.secret);
      if (!secret.ok) {
        hub.log.error('webhook refused: its secret is not configured', { flow: flowId, env: secret.env });
        return reply.code(503).send({
          error: 'secret_unset',
          message: `flow '${flowId}' takes its webhook secret from the environment variable ${secret.env}, which is not set on this hub`,
        });
      }
      const given = Buffer.from(String(req.headers['x-qiao-secret'] ?? ''));
      const want = Buffer.from(secret.value);
      if (given.length !== want.length || !timingSafeEqual(given, want)) {
        hub.log.warn('webhook refused: bad secret', { flow: flowId, ip: req.ip });
        return reply
          .code(401)
          .send({ error: 'unauthorized', message: 'missing or wrong X-Qiao-Secret header' });
      }
    }
    const raw = rawBody(req);
    let data: unknown;
    try {
      data = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch (err) {
      return reply
        .code(400)
        .send({ error: 'invalid_json', message: `body is not JSON: ${(err as Error).message}` });
    }
    const key = req.headers['idempotency-key'];
    const out = await hub.engine.startFlow(flowId, data, typeof key === 'string' && key ? key : undefined);
    return reply
      .code(out.duplicate ? 200 : 202)
      .send({ accepted: true, duplicate: out.duplicate, runIds: out.runIds });
  });

  const connectorHook = async (
    req: FastifyRequest<{ Params: { type: string; connectionId: string; '*': string } }>,
    reply: FastifyReply,
  ) => {
    const { type, connectionId } = req.params;
    const rest = req.params['*'] ? `/${req.params['*']}` : '';
    const conn = hub.connections.get(connectionId);
    if (!conn || conn.row.type !== type) {
      return reply.code(404).send({ error: 'not_found', message: `no ${type} connection '${connectionId}'` });
    }
    const hook = conn.connector.hooks?.find((h) => h.method === req.method && h.path === rest);
    if (!hook)
      return reply.code(404).send({
        error: 'not_found',
        message: `connection '${connectionId}' has no ${req.method} hook at '${rest || '/'}'`,
      });
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    let res: Awaited<ReturnType<typeof hook.handle>>;
    try {
      res = await hook.handle({
        method: req.method,
        path: rest,
        query: Object.fromEntries(
          Object.entries(req.query as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        ),
        headers,
        rawBody: rawBody(req),
      });
    } catch (err) {
      const e = err instanceof QiaoError ? err : undefined;
      hub.log.warn('callback refused', {
        connection: connectionId,
        path: rest,
        error: (err as Error).message,
      });
      return reply
        .code(e && e.errorClass === 'permanent' ? 400 : 500)
        .send({ error: 'rejected', message: (err as Error).message });
    }
    if (res.events?.length) await hub.engine.ingest(connectionId, res.events);
    for (const [k, v] of Object.entries(res.headers ?? {})) reply.header(k, v);
    return reply.code(res.status).send(res.body ?? '');
  };
  app.route({ method: ['GET', 'POST'], url: '/:type/:connectionId', handler: connectorHook });
  app.route({ method: ['GET', 'POST'], url: '/:type/:connectionId/*', handler: connectorHook });
}

/**
 * A webhook trigger's secret: written in the flow file as `${NAME}` it is read from the hub's
 * environment at each request, so the value is in neither the flow file nor the store (flow files are
 * kept in version control and stored as they are); any other text is the secret itself.
 */
export function webhookSecret(
  declared: string,
  env: NodeJS.ProcessEnv = process.env,
): { ok: true; value: string } | { ok: false; env: string } {
  const ref = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(declared);
  if (!ref) return { ok: true, value: declared };
  const value = env[ref[1]];
  return value ? { ok: true, value } : { ok: false, env: ref[1] };
}

function rawBody(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}
