/**
 * What every sandbox shares: a plain node:http server on loopback, generic fault injection (latency,
 * 5xx, hung requests, dropped connections) and the small JSON helpers of the `/__sandbox/` admin surface.
 * Partner-specific behaviour (token revocation, rate-limit bans, callbacks) lives in each sandbox.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a started sandbox tells its caller (`qiao sandbox` prints these as JSON). */
export interface SandboxHandle {
  /** `kingdee`, `neocrm`, `wecom`, `dingtalk`. */
  system: string;
  /** The base URL a connection's `baseUrl` setting takes. */
  baseUrl: string;
  /** Every URL a connection needs (e.g. DingTalk `oapiUrl` and `apiUrl`), and `admin`. */
  urls: Record<string, string>;
  /** The seeded tenant's credentials, in the shape of the connection settings. */
  credentials: Record<string, unknown>;
  close(): Promise<void>;
}

export interface SandboxStartOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
}

/** Generic faults, set through `POST /__sandbox/faults`. All default to off. */
export interface GenericFaults {
  /** Added to every partner call. */
  latencyMs: number;
  /** Share (0..1) of partner calls answered with `errorStatus`. */
  errorRate: number;
  errorStatus: number;
  /** Share (0..1) of partner calls that never answer (the client must time out). */
  hangRate: number;
  /** Share (0..1) of partner calls whose socket is destroyed without an answer. */
  dropRate: number;
  /** Exactly the next N partner calls fail with `errorStatus` (deterministic, for tests). */
  failNext: number;
}

export const NO_FAULTS: GenericFaults = {
  latencyMs: 0,
  errorRate: 0,
  errorStatus: 502,
  hangRate: 0,
  dropRate: 0,
  failNext: 0,
};

export interface SandboxRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  /** The remote address, for IP allow-lists. */
  ip: string;
}

export interface SandboxReply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | object;
}

export type SandboxHandler = (req: SandboxRequest, res: ServerResponse) => Promise<SandboxReply | undefined>;

export interface SandboxServer {
  server: Server;
  url: string;
  faults: GenericFaults;
  close(): Promise<void>;
}

/**
 * Starts a sandbox HTTP server. Generic faults apply to every path except `/__sandbox/…`, which
 * stays reachable so tests can heal what they broke. A handler returning `undefined` has written
 * the response itself (e.g. a WebSocket upgrade or a streamed body).
 */
export async function startSandboxServer(
  handler: SandboxHandler,
  options: SandboxStartOptions = {},
): Promise<SandboxServer> {
  const faults: GenericFaults = { ...NO_FAULTS };
  const hung = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    try {
      const rawBody = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const sreq: SandboxRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        rawBody,
        ip: req.socket.remoteAddress ?? '',
      };
      if (url.pathname === '/__sandbox') {
        return send(res, {
          status: 404,
          body: { error: 'not_found', message: 'the admin surface is under /__sandbox/…' },
        });
      }
      if (!url.pathname.startsWith('/__sandbox/')) {
        if (await applyFaults(faults, res, hung)) return;
      } else if (url.pathname === '/__sandbox/faults') {
        if (sreq.method === 'POST') Object.assign(faults, pickFaults(parseJson(rawBody)));
        if (sreq.method === 'DELETE') Object.assign(faults, NO_FAULTS);
        return send(res, { status: 200, body: faults });
      }
      const reply = await handler(sreq, res);
      if (reply) send(res, reply);
    } catch (err) {
      if (!res.headersSent) {
        send(res, { status: 500, body: { error: 'sandbox bug', message: (err as Error).message } });
      } else res.end();
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hung) r.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function applyFaults(
  f: GenericFaults,
  res: ServerResponse,
  hung: Set<ServerResponse>,
): Promise<boolean> {
  if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
  if (f.failNext > 0) {
    f.failNext -= 1;
    send(res, { status: f.errorStatus, body: `<html><body>${f.errorStatus} Bad Gateway</body></html>` });
    return true;
  }
  if (f.dropRate > 0 && Math.random() < f.dropRate) {
    res.socket?.destroy();
    return true;
  }
  if (f.hangRate > 0 && Math.random() < f.hangRate) {
    hung.add(res);
    res.on('close', () => hung.delete(res));
    return true;
  }
  if (f.errorRate > 0 && Math.random() < f.errorRate) {
    send(res, { status: f.errorStatus, body: `<html><body>${f.errorStatus} Bad Gateway</body></html>` });
    return true;
  }
  return false;
}

function pickFaults(input: unknown): Partial<GenericFaults> {
  const out: Partial<GenericFaults> = {};
  if (input && typeof input === 'object') {
    for (const k of Object.keys(NO_FAULTS) as (keyof GenericFaults)[]) {
      const v = (input as Record<string, unknown>)[k];
      if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = v;
    }
  }
  return out;
}

export function readBody(req: IncomingMessage, limit = 20 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, reply: SandboxReply): void {
  if (res.headersSent || res.destroyed) return;
  let body = reply.body;
  const headers: Record<string, string | string[]> = { ...reply.headers };
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    body = JSON.stringify(body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(reply.status, headers);
  res.end(body);
}

/** Parses JSON, or returns undefined for an empty or malformed body (callers answer in the partner's style). */
export function parseJson(buf: Buffer | string): unknown {
  const text = typeof buf === 'string' ? buf : buf.toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
