/**
 * A small REST service the generic `http` connector, the engine's tests and the benchmarks call: items
 * with ids and `updatedAt`, `Idempotency-Key` honoured on writes (a repeated key returns the first
 * result and has no second effect), incremental listing by (updatedAt, id), bearer auth, and a
 * rate-limit switch answering 429 with Retry-After.
 */
import {
  parseJson,
  type SandboxHandle,
  type SandboxStartOptions,
  startSandboxServer,
} from '../common/server.ts';

export interface TargetItem {
  id: string;
  updatedAt: string;
  [field: string]: unknown;
}

export interface HttpTargetHandle extends SandboxHandle {
  /** Effects applied per idempotency key: the crash test asserts each is exactly 1. */
  effects: Map<string, number>;
  /** Requests received per idempotency key (retries included). */
  deliveries: Map<string, number>;
  items: Map<string, TargetItem>;
  /** Total POST /items requests that passed authentication (rate-limited ones included). */
  requests(): number;
}

export async function startHttpTarget(
  options: SandboxStartOptions & { token?: string } = {},
): Promise<HttpTargetHandle> {
  const token = options.token ?? 'qiao-target-token';
  const items = new Map<string, TargetItem>();
  const byKey = new Map<string, { status: number; body: object }>();
  const effects = new Map<string, number>();
  const deliveries = new Map<string, number>();
  let seq = 0;
  let posts = 0;
  let clock = 0;
  let rateLimitedFor = 0;
  const stamp = () => {
    // Strictly increasing, sortable timestamps even within one millisecond.
    clock = Math.max(clock + 1, Date.now() * 1000);
    return `${new Date(Math.floor(clock / 1000)).toISOString().slice(0, -1)}${String(clock % 1000).padStart(3, '0')}Z`;
  };

  const srv = await startSandboxServer(async (req) => {
    if (req.path === '/__sandbox/items') return { status: 200, body: [...items.values()] };
    if (req.path === '/__sandbox/effects') return { status: 200, body: Object.fromEntries(effects) };
    if (req.path === '/__sandbox/rate-limit' && req.method === 'POST') {
      const b = parseJson(req.rawBody) as { seconds?: number } | undefined;
      rateLimitedFor = b?.seconds ?? 0;
      return { status: 200, body: { seconds: rateLimitedFor } };
    }
    if (req.path === '/__sandbox/touch' && req.method === 'POST') {
      const b = parseJson(req.rawBody) as { count?: number } | undefined;
      const touched: string[] = [];
      for (let i = 0; i < (b?.count ?? 1); i++) {
        const id = String(++seq);
        items.set(id, { id, updatedAt: stamp(), name: `item ${id}` });
        touched.push(id);
      }
      return { status: 200, body: touched };
    }
    if (req.path === '/raw') return { status: 200, body: { ok: true } };
    if (req.headers.authorization !== `Bearer ${token}`) {
      return { status: 401, body: { error: 'unauthorized', message: 'missing or wrong bearer token' } };
    }
    if (req.method === 'POST' && req.path === '/items') posts += 1;
    if (rateLimitedFor > 0) {
      return {
        status: 429,
        headers: { 'retry-after': String(rateLimitedFor) },
        body: { error: 'rate_limited', message: 'slow down' },
      };
    }
    const m = /^\/items(?:\/([^/]+))?$/.exec(req.path);
    if (!m)
      return { status: 404, body: { error: 'not_found', message: `no route ${req.method} ${req.path}` } };
    const id = m[1];
    if (req.method === 'POST' && !id) {
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') {
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        const prev = byKey.get(key);
        if (prev) return { status: prev.status, body: prev.body };
      }
      const body = parseJson(req.rawBody);
      if (!body || typeof body !== 'object' || Array.isArray(body)) {
        return { status: 400, body: { error: 'invalid_body', message: 'body must be a JSON object' } };
      }
      if ('name' in body && typeof (body as { name: unknown }).name !== 'string') {
        return {
          status: 422,
          body: { error: 'invalid_field', field: 'name', message: 'name must be a string' },
        };
      }
      const item: TargetItem = { ...(body as object), id: String(++seq), updatedAt: stamp() };
      items.set(item.id, item);
      if (typeof key === 'string') {
        effects.set(key, (effects.get(key) ?? 0) + 1);
        byKey.set(key, { status: 201, body: item });
      }
      return { status: 201, body: item };
    }
    if (req.method === 'GET' && id) {
      const item = items.get(id);
      return item
        ? { status: 200, body: item }
        : { status: 404, body: { error: 'not_found', message: `item ${id} not found` } };
    }
    if (req.method === 'GET') {
      const since = req.query.get('since') ?? '';
      const after = req.query.get('after') ?? '';
      const limit = Math.min(Number(req.query.get('limit') ?? 100), 1000);
      const page = [...items.values()]
        .filter((i) => i.updatedAt > since || (i.updatedAt === since && cmpId(i.id, after) > 0))
        .sort((a, b) =>
          a.updatedAt === b.updatedAt ? cmpId(a.id, b.id) : a.updatedAt < b.updatedAt ? -1 : 1,
        )
        .slice(0, limit);
      return { status: 200, body: page };
    }
    if (req.method === 'PUT' && id) {
      const item = items.get(id);
      if (!item) return { status: 404, body: { error: 'not_found', message: `item ${id} not found` } };
      const body = parseJson(req.rawBody) as object | undefined;
      const next = { ...item, ...body, id, updatedAt: stamp() };
      items.set(id, next);
      return { status: 200, body: next };
    }
    return { status: 405, body: { error: 'method_not_allowed', message: `${req.method} ${req.path}` } };
  }, options);

  return {
    system: 'http-target',
    baseUrl: srv.url,
    urls: { baseUrl: srv.url, admin: `${srv.url}/__sandbox` },
    credentials: { auth: { type: 'bearer', token } },
    effects,
    deliveries,
    items,
    requests: () => posts,
    close: srv.close,
  };
}

/** Ids are decimal strings: compare them as numbers so `10` comes after `9`. */
function cmpId(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
