/**
 * Stream mode (spec §8): `POST /v1.0/gateway/connections/open` hands out a single-use ticket valid
 * 90 s and the WebSocket endpoint; the gateway validates the ticket at the handshake, pushes JSON
 * text frames (`specVersion`, `type` EVENT|CALLBACK|SYSTEM, `headers`, `data` as a JSON *string*),
 * sends SYSTEM `ping` (ack echoes `data`) and `disconnect` (then closes after a grace period), and
 * re-pushes an EVENT with the same `messageId`/`eventId` until it is acked with code 200 and
 * `{"status":"SUCCESS"}` (§8.4, §15.21). CALLBACK frames (robot messages, card actions) are
 * fire-and-forget: not re-pushed on timeout (§8.4). Each push goes to one randomly chosen
 * connection subscribed to it (§15.23); pushes with no connection wait for one.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { admin, bad, ok, route, type SandboxContext, type SandboxEvent } from './context.ts';
import type { EventBus } from './events.ts';
import { apiError, isObject, type Json, num, parseNewBody } from './http-util.ts';
import { streamMessageId } from './ids.ts';

export const TOPIC_ROBOT = '/v1.0/im/bot/messages/get';
export const TOPIC_CARD = '/v1.0/card/instances/callback';

interface Subscription {
  type: 'EVENT' | 'CALLBACK';
  topic: string;
}

interface Push {
  kind: 'EVENT' | 'CALLBACK';
  topic: string;
  messageId: string;
  data: Json;
  event?: SandboxEvent;
  onAck?: (ack: Json | undefined) => void;
  attempts: number;
}

interface Inflight {
  push: Push;
  conn: StreamConnection;
  timer: NodeJS.Timeout;
}

export interface StreamConnection {
  id: string;
  ws: WebSocket;
  subscriptions: Subscription[];
  ua: string;
  localIp?: string;
  openedAt: number;
  draining: boolean;
  inflight: Map<string, Inflight>;
  pings: Map<string, number>;
  missedPings: number;
  pingTimer?: NodeJS.Timeout;
}

export interface GatewayState {
  tickets: Map<
    string,
    { expiresAt: number; used: boolean; subscriptions: Subscription[]; ua: string; localIp?: string }
  >;
  connections: Map<string, StreamConnection>;
  pending: Push[];
  ackTimeoutMs: number;
  laterRetryMs: number;
  ticketTtlMs: number;
  pingIntervalMs: number;
  disconnectGraceMs: number;
  unifiedAppId: string;
  stats: {
    opened: number;
    framesSent: number;
    eventsAcked: number;
    eventsLater: number;
    eventsRepushed: number;
    callbacksAcked: number;
    callbacksUnacked: number;
    pingsAcked: number;
    rejectedHandshakes: number;
  };
  timers: Set<NodeJS.Timeout>;
  wss: WebSocketServer;
  close(): Promise<void>;
  /** Resolves when nothing is pending or in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean>;
}

export function createStreamGateway(ctx: SandboxContext, bus: EventBus, server: Server): GatewayState {
  const wss = new WebSocketServer({ noServer: true });
  const g: GatewayState = {
    tickets: new Map(),
    connections: new Map(),
    pending: [],
    ackTimeoutMs: 60_000,
    laterRetryMs: 5_000,
    ticketTtlMs: 90_000,
    pingIntervalMs: 30_000,
    disconnectGraceMs: 10_000,
    unifiedAppId: randomUUID(),
    stats: {
      opened: 0,
      framesSent: 0,
      eventsAcked: 0,
      eventsLater: 0,
      eventsRepushed: 0,
      callbacksAcked: 0,
      callbacksUnacked: 0,
      pingsAcked: 0,
      rejectedHandshakes: 0,
    },
    timers: new Set(),
    wss,
    close: async () => {
      for (const t of g.timers) clearTimeout(t);
      g.timers.clear();
      for (const c of g.connections.values()) {
        if (c.pingTimer) clearInterval(c.pingTimer);
        for (const f of c.inflight.values()) clearTimeout(f.timer);
        c.ws.terminate();
      }
      g.connections.clear();
      await new Promise<void>((r) => wss.close(() => r()));
    },
    idle: async (timeoutMs) => {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const inflight = [...g.connections.values()].reduce((n, c) => n + c.inflight.size, 0);
        if (g.pending.length === 0 && inflight === 0) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    },
  };

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      g.timers.delete(t);
      if (!ctx.closed) fn();
    }, ms);
    t.unref();
    g.timers.add(t);
    return t;
  };

  const eligible = (p: Push) =>
    [...g.connections.values()].filter(
      (c) =>
        !c.draining &&
        c.ws.readyState === c.ws.OPEN &&
        c.subscriptions.some((s) => s.type === p.kind && (p.kind === 'EVENT' || s.topic === p.topic)),
    );

  const frameOf = (p: Push, conn: StreamConnection) => {
    const headers: Record<string, string> = {
      appId: g.unifiedAppId,
      connectionId: conn.id,
      contentType: 'application/json',
      messageId: p.messageId,
      time: String(Date.now()),
      topic: p.topic,
    };
    if (p.event) {
      headers.eventType = p.event.eventType;
      headers.eventId = p.event.eventId;
      headers.eventBornTime = String(p.event.bornTime);
      headers.eventCorpId = p.event.corpId;
      headers.eventUnifiedAppId = g.unifiedAppId;
    }
    return JSON.stringify({ specVersion: '1.0', type: p.kind, headers, data: JSON.stringify(p.data) });
  };

  const dispatch = (p: Push) => {
    if (ctx.closed) return;
    const conns = eligible(p);
    if (conns.length === 0) {
      g.pending.push(p);
      p.event?.deliveries.push({ channel: 'stream', status: 'pending', at: Date.now() });
      return;
    }
    const conn = conns[Math.floor(Math.random() * conns.length)];
    const fault = bus.takeFault();
    const send = () => {
      if (conn.ws.readyState !== conn.ws.OPEN) return;
      if (!fault.drop) {
        const frame = frameOf(p, conn);
        conn.ws.send(frame);
        g.stats.framesSent += 1;
        if (fault.duplicate) {
          conn.ws.send(frame);
          g.stats.framesSent += 1;
        }
      }
      p.attempts += 1;
      // No ack in time: EVENTs are re-pushed with the same messageId; CALLBACKs are not (§8.4).
      const timer = later(g.ackTimeoutMs, () => {
        conn.inflight.delete(p.messageId);
        if (p.kind === 'EVENT') {
          g.stats.eventsRepushed += 1;
          dispatch(p);
        } else {
          g.stats.callbacksUnacked += 1;
          p.onAck?.(undefined);
        }
      });
      conn.inflight.set(p.messageId, { push: p, conn, timer });
      p.event?.deliveries.push({
        channel: 'stream',
        status: fault.drop ? 'lost' : 'sent',
        at: Date.now(),
        detail: conn.id,
      });
    };
    if (fault.delayMs > 0) later(fault.delayMs, send);
    else send();
  };

  const flushPending = () => {
    const waiting = g.pending.splice(0);
    for (const p of waiting) dispatch(p);
  };

  bus.streamSink = (event) =>
    dispatch({
      kind: 'EVENT',
      topic: '*',
      messageId: streamMessageId(),
      data: event.data,
      event,
      attempts: 0,
    });

  ctx.pushStreamCallback = (topic, data, onAck) => {
    const hasSubscriber = [...g.connections.values()].some((c) =>
      c.subscriptions.some((s) => s.type === 'CALLBACK' && s.topic === topic),
    );
    dispatch({ kind: 'CALLBACK', topic, messageId: streamMessageId(), data, onAck, attempts: 0 });
    return hasSubscriber;
  };

  const onAck = (conn: StreamConnection, msg: Json) => {
    const headers = isObject(msg.headers) ? msg.headers : {};
    const messageId = typeof headers.messageId === 'string' ? headers.messageId : '';
    const data =
      typeof msg.data === 'string' ? safeParse(msg.data) : isObject(msg.data) ? msg.data : undefined;
    if (
      headers.topic === 'ping' ||
      (data && typeof data.opaque === 'string' && conn.pings.has(data.opaque))
    ) {
      const opaque = data && typeof data.opaque === 'string' ? data.opaque : '';
      if (conn.pings.delete(opaque)) {
        conn.missedPings = 0;
        g.stats.pingsAcked += 1;
      }
      return;
    }
    const f = conn.inflight.get(messageId);
    if (!f) return;
    clearTimeout(f.timer);
    g.timers.delete(f.timer);
    conn.inflight.delete(messageId);
    const p = f.push;
    if (p.kind === 'EVENT') {
      if (msg.code === 200 && data?.status === 'SUCCESS') {
        g.stats.eventsAcked += 1;
        p.event?.deliveries.push({ channel: 'stream', status: 'acked', at: Date.now(), detail: conn.id });
      } else {
        // LATER (or a non-200 code) means "consumption failed": re-push later (§15.21, [uncertain]).
        g.stats.eventsLater += 1;
        p.event?.deliveries.push({ channel: 'stream', status: 'later', at: Date.now(), detail: conn.id });
        later(g.laterRetryMs, () => dispatch(p));
      }
    } else {
      g.stats.callbacksAcked += 1;
      p.onAck?.(data);
    }
  };

  const sendSystem = (conn: StreamConnection, topic: string, data: Json) => {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    conn.ws.send(
      JSON.stringify({
        specVersion: '1.0',
        type: 'SYSTEM',
        headers: {
          appId: g.unifiedAppId,
          connectionId: conn.id,
          contentType: 'application/json',
          messageId: streamMessageId(),
          time: String(Date.now()),
          topic,
        },
        data: JSON.stringify(data),
      }),
    );
  };

  const ping = (conn: StreamConnection) => {
    if (conn.pings.size > 0) conn.missedPings += 1;
    if (conn.missedPings >= 2) {
      conn.ws.terminate();
      return;
    }
    const opaque = randomUUID();
    conn.pings.set(opaque, Date.now());
    sendSystem(conn, 'ping', { opaque });
  };

  const disconnect = (conn: StreamConnection, reason: string, graceMs: number) => {
    conn.draining = true;
    sendSystem(conn, 'disconnect', { reason });
    later(graceMs, () => conn.ws.close(1000, 'disconnect'));
  };

  route(
    ctx.routes.api,
    'POST',
    '/v1.0/gateway/connections/open',
    (req) => {
      const body = parseNewBody(req);
      if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
      if (body.clientId !== ctx.app.appKey || body.clientSecret !== ctx.app.appSecret) {
        return apiError(400, 'invalidClientIdOrSecret', '无效的clientId或者clientSecret');
      }
      const subs = body.subscriptions;
      if (!Array.isArray(subs) || subs.length === 0)
        return apiError(400, 'invalidParameter', 'subscriptions 不能为空');
      const subscriptions: Subscription[] = [];
      for (const s of subs) {
        if (!isObject(s) || (s.type !== 'EVENT' && s.type !== 'CALLBACK') || typeof s.topic !== 'string') {
          return apiError(400, 'invalidParameter', 'subscriptions[].type 必须是 EVENT 或 CALLBACK');
        }
        // For EVENT only `*` is allowed; the console chooses which events arrive (§8.1).
        if (s.type === 'EVENT' && s.topic !== '*')
          return apiError(400, 'invalidParameter', 'EVENT 类型的 topic 只能是 *');
        subscriptions.push({ type: s.type, topic: s.topic });
      }
      const ticket = randomUUID();
      g.tickets.set(ticket, {
        expiresAt: Date.now() + g.ticketTtlMs,
        used: false,
        subscriptions,
        ua: typeof body.ua === 'string' ? body.ua : '',
        localIp: typeof body.localIp === 'string' ? body.localIp : undefined,
      });
      const endpoint = `${ctx.urls.ws}/connect`;
      // Without `Accept: application/json` the real endpoint may answer XML (§8.1, the Node SDK's note).
      const accept = String(req.headers.accept ?? '');
      if (!accept.includes('application/json')) {
        return {
          status: 200,
          headers: { 'content-type': 'application/xml; charset=utf-8' },
          body: `<?xml version="1.0" encoding="UTF-8"?><OpenConnectionResponse><endpoint>${endpoint}</endpoint><ticket>${ticket}</ticket></OpenConnectionResponse>`,
        };
      }
      return { status: 200, body: { endpoint, ticket } };
    },
    { auth: false, metered: false },
  );

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const reject = (status: string) => {
      g.stats.rejectedHandshakes += 1;
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n`);
    };
    if (url.pathname !== '/connect') return reject('404 Not Found');
    const ticket = url.searchParams.get('ticket') ?? '';
    const t = g.tickets.get(ticket);
    // Unknown, used or expired tickets are refused at the handshake (§8.2, §15.20).
    if (!t || t.used || t.expiresAt < Date.now()) return reject('401 Unauthorized');
    t.used = true;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn: StreamConnection = {
        id: randomUUID().replace(/-/g, ''),
        ws,
        subscriptions: t.subscriptions,
        ua: t.ua,
        localIp: t.localIp,
        openedAt: Date.now(),
        draining: false,
        inflight: new Map(),
        pings: new Map(),
        missedPings: 0,
      };
      g.connections.set(conn.id, conn);
      g.stats.opened += 1;
      if (g.pingIntervalMs > 0) {
        conn.pingTimer = setInterval(() => ping(conn), g.pingIntervalMs);
        conn.pingTimer.unref();
      }
      ws.on('message', (raw) => {
        const msg = safeParse(raw.toString());
        if (msg) onAck(conn, msg);
      });
      ws.on('close', () => {
        if (conn.pingTimer) clearInterval(conn.pingTimer);
        g.connections.delete(conn.id);
        // Unacked EVENTs go out again on another connection (re-push, §8.4); unacked CALLBACKs do not.
        for (const f of conn.inflight.values()) {
          clearTimeout(f.timer);
          g.timers.delete(f.timer);
          if (f.push.kind === 'EVENT') {
            g.stats.eventsRepushed += 1;
            dispatch(f.push);
          } else {
            g.stats.callbacksUnacked += 1;
            f.push.onAck?.(undefined);
          }
        }
        conn.inflight.clear();
      });
      ws.on('error', () => ws.terminate());
      flushPending();
    });
  });

  admin(ctx, 'GET', /^\/__sandbox\/stream$/, () =>
    ok({
      connections: [...g.connections.values()].map((c) => ({
        id: c.id,
        ua: c.ua,
        subscriptions: c.subscriptions,
        draining: c.draining,
        inflight: c.inflight.size,
        openedAt: c.openedAt,
      })),
      pending: g.pending.length,
      stats: g.stats,
      config: {
        ackTimeoutMs: g.ackTimeoutMs,
        laterRetryMs: g.laterRetryMs,
        ticketTtlMs: g.ticketTtlMs,
        pingIntervalMs: g.pingIntervalMs,
        disconnectGraceMs: g.disconnectGraceMs,
      },
    }),
  );
  admin(ctx, 'POST', /^\/__sandbox\/stream\/config$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    for (const k of [
      'ackTimeoutMs',
      'laterRetryMs',
      'ticketTtlMs',
      'pingIntervalMs',
      'disconnectGraceMs',
    ] as const) {
      const v = num(body[k]);
      if (v !== undefined && v >= 0) g[k] = v;
    }
    return ok({
      ackTimeoutMs: g.ackTimeoutMs,
      laterRetryMs: g.laterRetryMs,
      ticketTtlMs: g.ticketTtlMs,
      pingIntervalMs: g.pingIntervalMs,
      disconnectGraceMs: g.disconnectGraceMs,
    });
  });
  // Sends a SYSTEM ping on every connection and reports which acked (echoing `data`) within 2 s.
  admin(ctx, 'POST', /^\/__sandbox\/stream\/ping$/, async () => {
    const conns = [...g.connections.values()];
    const before = g.stats.pingsAcked;
    for (const c of conns) ping(c);
    const until = Date.now() + 2000;
    while (Date.now() < until && conns.some((c) => c.pings.size > 0))
      await new Promise((r) => setTimeout(r, 5));
    return ok({ sent: conns.length, acked: g.stats.pingsAcked - before });
  });
  // DingTalk's rebalancing: SYSTEM disconnect, then the socket closes after the grace period.
  admin(ctx, 'POST', /^\/__sandbox\/stream\/disconnect$/, (req) => {
    const body = parseNewBody(req) ?? {};
    const graceMs = num(body.graceMs) ?? g.disconnectGraceMs;
    const reason = typeof body.reason === 'string' ? body.reason : 'connection is expired';
    const targets = [...g.connections.values()].filter(
      (c) => !body.connectionId || c.id === body.connectionId,
    );
    for (const c of targets) disconnect(c, reason, graceMs);
    return ok({ disconnected: targets.map((c) => c.id) });
  });
  // The network fails: sockets are destroyed without a close frame.
  admin(ctx, 'POST', /^\/__sandbox\/stream\/drop$/, (req) => {
    const body = parseNewBody(req) ?? {};
    const targets = [...g.connections.values()].filter(
      (c) => !body.connectionId || c.id === body.connectionId,
    );
    for (const c of targets) c.ws.terminate();
    return ok({ dropped: targets.map((c) => c.id) });
  });
  admin(ctx, 'POST', /^\/__sandbox\/stream\/idle$/, async (req) => {
    const body = parseNewBody(req) ?? {};
    return ok({ idle: await g.idle(num(body.timeoutMs) ?? 5000) });
  });

  return g;
}

function safeParse(text: string): Json | undefined {
  try {
    const v = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
