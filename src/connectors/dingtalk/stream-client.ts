/**
 * Qiao's own Stream mode client (spec §8): opens a ticket with `/v1.0/gateway/connections/open`,
 * connects the WebSocket, answers SYSTEM `ping` by echoing its data, opens a fresh connection as soon
 * as DingTalk sends SYSTEM `disconnect` (the old one drains), and reconnects with exponential backoff
 * (1 s → 60 s, up to 1 s jitter, as the official SDKs do, §8.4) when a socket fails.
 *
 * Nothing is acknowledged before it is stored: frames are batched, handed to `deliver` (which resolves
 * once the events are durably in the inbox), and only then acked — EVENTs with `{"status":"SUCCESS"}`,
 * CALLBACKs with `{"response": …}`. An EVENT whose delivery fails is acked `LATER`, so DingTalk pushes
 * it again; a CALLBACK (which DingTalk never re-pushes) is retried locally a few times. Redelivered
 * frames already stored are acked without being stored again and counted as duplicates.
 */
import WebSocket from 'ws';
import type { InboundEvent } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { DingtalkClient, Json } from './client.ts';
import type { UserDirectory } from './directory.ts';
import type { IngressStats, RecentKeys } from './hooks.ts';
import { fromCardCallback, fromRobotMessage, fromStreamEvent } from './inbound.ts';

export const TOPIC_ROBOT = '/v1.0/im/bot/messages/get';
export const TOPIC_CARD = '/v1.0/card/instances/callback';

export interface StreamClientOptions {
  client: DingtalkClient;
  directory: UserDirectory;
  stats: IngressStats;
  /** Keys already stored: a redelivered frame is acked without storing it again. */
  delivered: RecentKeys;
  deliver: (events: InboundEvent[]) => Promise<void>;
  log: Logger;
  /** Reconnect backoff (spec §8.4): 1 s doubling to 60 s, plus up to 1 s of jitter. */
  backoff?: { initialMs: number; maxMs: number; jitterMs: number };
  /** WebSocket-level ping interval; a missing pong by the next ping drops the socket. */
  keepAliveMs?: number;
  /** Most frames stored in one `deliver` call. */
  batchMax?: number;
}

interface Pending {
  ws: WebSocket;
  frame: Json;
  headers: Json;
  attempts: number;
}

export interface StreamStats {
  connects: number;
  reconnects: number;
  disconnectsHandled: number;
  frames: number;
  acked: number;
  later: number;
  lost: number;
}

export class StreamClient {
  readonly stats: StreamStats = {
    connects: 0,
    reconnects: 0,
    disconnectsHandled: 0,
    frames: 0,
    acked: 0,
    later: 0,
    lost: 0,
  };
  private readonly o: Required<Omit<StreamClientOptions, 'backoff'>> & {
    backoff: NonNullable<StreamClientOptions['backoff']>;
  };
  private active?: WebSocket;
  private readonly sockets = new Set<WebSocket>();
  private stopped = false;
  private attempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private queue: Pending[] = [];
  private busy = false;
  private connecting?: Promise<void>;

  constructor(options: StreamClientOptions) {
    this.o = {
      backoff: { initialMs: 1_000, maxMs: 60_000, jitterMs: 1_000 },
      keepAliveMs: 30_000,
      batchMax: 200,
      ...options,
    } as StreamClient['o'];
  }

  /**
   * Connects once, then keeps connected in the background. A failure never throws (one bad
   * connection must not stop the hub): it is logged — as an error when permanent, such as wrong
   * credentials, which `check` reports too — and retried with backoff.
   */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      const permanent = err instanceof QiaoError && err.errorClass === 'permanent';
      this.o.log[permanent ? 'error' : 'warn']('dingtalk stream could not connect; retrying', {
        error: (err as Error).message,
      });
      this.scheduleReconnect();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closing = [...this.sockets].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(1000, 'stop');
          const t = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 1_000);
          t.unref();
        }),
    );
    await Promise.all(closing);
  }

  get connected(): boolean {
    return this.active?.readyState === WebSocket.OPEN;
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    const { endpoint, ticket } = await this.o.client.openStream([
      { type: 'EVENT', topic: '*' },
      { type: 'CALLBACK', topic: TOPIC_ROBOT },
      { type: 'CALLBACK', topic: TOPIC_CARD },
    ]);
    // A gateway that never completes the handshake must not stall reconnection forever.
    const ws = new WebSocket(`${endpoint}?ticket=${encodeURIComponent(ticket)}`, {
      handshakeTimeout: 15_000,
    });
    this.sockets.add(ws);
    // Listen before the handshake completes: frames waiting for a connection arrive right behind it.
    ws.on('message', (raw) => this.onMessage(ws, raw.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(err));
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`gateway refused the handshake: HTTP ${res.statusCode}`)),
      );
    }).catch((err) => {
      this.sockets.delete(ws);
      ws.terminate();
      throw err;
    });
    if (this.stopped) {
      ws.close();
      return;
    }
    this.stats.connects += 1;
    if (this.stats.connects > 1) this.stats.reconnects += 1;
    this.attempt = 0;
    // A socket that is no longer `active` (DingTalk asked it to disconnect) closes without a reconnect.
    this.active = ws;
    let alive = true;
    const keepAlive = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }, this.o.keepAliveMs);
    keepAlive.unref();
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('error', (err) => {
      this.o.log.warn('dingtalk stream socket error', { error: err.message });
      ws.terminate();
    });
    ws.on('close', () => {
      clearInterval(keepAlive);
      this.sockets.delete(ws);
      if (this.active === ws) {
        this.active = undefined;
        this.scheduleReconnect();
      }
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const { initialMs, maxMs, jitterMs } = this.o.backoff;
    const delay = Math.min(maxMs, initialMs * 2 ** this.attempt) + Math.random() * jitterMs;
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch((err) => {
        this.o.log.warn('dingtalk stream connect failed', {
          error: (err as Error).message,
          attempt: this.attempt,
        });
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private onMessage(ws: WebSocket, raw: string): void {
    let frame: Json;
    try {
      frame = JSON.parse(raw) as Json;
    } catch {
      this.o.log.warn('dingtalk stream frame is not JSON');
      return;
    }
    // One protocol example spells the key `header` (§8.3); SDKs read `headers`.
    const headers = (frame.headers ?? frame.header ?? {}) as Json;
    if (frame.type === 'SYSTEM') {
      if (headers.topic === 'ping') {
        ws.send(JSON.stringify({ code: 200, headers, message: 'OK', data: frame.data }));
      } else if (headers.topic === 'disconnect') {
        // DingTalk rebalances: open the next connection now; this one closes by itself (~10 s, §8.3).
        this.stats.disconnectsHandled += 1;
        if (this.active === ws) {
          this.active = undefined;
          this.connect().catch(() => this.scheduleReconnect());
        }
      }
      return;
    }
    if (frame.type !== 'EVENT' && frame.type !== 'CALLBACK') return;
    this.stats.frames += 1;
    this.queue.push({ ws, frame, headers, attempts: 0 });
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        await this.process(this.queue.splice(0, this.o.batchMax));
      }
    } finally {
      this.busy = false;
    }
  }

  private ack(p: Pending, code: number, data: unknown): void {
    if (p.ws.readyState !== WebSocket.OPEN) return;
    p.ws.send(
      JSON.stringify({
        code,
        headers: { contentType: 'application/json', messageId: p.headers.messageId },
        message: code === 200 ? 'OK' : 'error',
        data: JSON.stringify(data),
      }),
    );
  }

  private okData(p: Pending): unknown {
    return p.frame.type === 'EVENT'
      ? { status: 'SUCCESS', message: 'success' }
      : { response: p.headers.topic === TOPIC_CARD ? {} : null };
  }

  private async toEvent(p: Pending): Promise<InboundEvent | undefined> {
    let data: Json = {};
    if (typeof p.frame.data === 'string') {
      try {
        data = JSON.parse(p.frame.data) as Json;
      } catch {
        data = {};
      }
    } else if (p.frame.data && typeof p.frame.data === 'object') data = p.frame.data as Json;
    if (p.frame.type === 'EVENT') return fromStreamEvent(p.headers, data);
    if (p.headers.topic === TOPIC_ROBOT) {
      const staffId = typeof data.senderStaffId === 'string' ? data.senderStaffId : undefined;
      return fromRobotMessage(data, staffId ? await this.o.directory.find(staffId) : undefined);
    }
    if (p.headers.topic === TOPIC_CARD) {
      const userId = typeof data.userId === 'string' ? data.userId : undefined;
      return fromCardCallback(data, userId ? await this.o.directory.find(userId) : undefined);
    }
    return undefined;
  }

  private async process(batch: Pending[]): Promise<void> {
    const fresh = new Map<string, { event: InboundEvent; frames: Pending[] }>();
    for (const p of batch) {
      const event = await this.toEvent(p);
      if (!event) {
        this.ack(p, 404, { message: `topic not handled: ${String(p.headers.topic)}` });
        continue;
      }
      if (this.o.delivered.has(event.key)) {
        this.o.stats.duplicates += 1;
        this.ack(p, 200, this.okData(p));
        this.stats.acked += 1;
        continue;
      }
      const entry = fresh.get(event.key);
      if (entry) {
        this.o.stats.duplicates += 1;
        entry.frames.push(p);
      } else fresh.set(event.key, { event, frames: [p] });
    }
    if (fresh.size === 0) return;
    const entries = [...fresh.values()];
    this.o.stats.received += entries.length;
    try {
      await this.o.deliver(entries.map((e) => e.event));
    } catch (err) {
      this.o.log.warn('dingtalk stream delivery failed', {
        error: (err as Error).message,
        events: entries.length,
      });
      for (const e of entries) {
        for (const p of e.frames) {
          if (p.frame.type === 'EVENT') {
            // LATER: consumption failed, DingTalk pushes it again (§8.3).
            this.ack(p, 200, { status: 'LATER', message: 'inbox unavailable' });
            this.stats.later += 1;
          } else if (p.attempts < 5) {
            const t = setTimeout(
              () => {
                this.timers.delete(t);
                this.queue.push({ ...p, attempts: p.attempts + 1 });
                void this.pump();
              },
              500 * 2 ** p.attempts,
            );
            t.unref();
            this.timers.add(t);
          } else {
            this.stats.lost += 1;
            this.o.log.error('dingtalk stream callback could not be stored and is lost', {
              key: e.event.key,
            });
            this.ack(p, 500, { response: null });
          }
        }
      }
      return;
    }
    this.o.stats.delivered += entries.length;
    for (const e of entries) {
      this.o.delivered.add(e.event.key);
      for (const p of e.frames) {
        this.ack(p, 200, this.okData(p));
        this.stats.acked += 1;
      }
    }
  }
}
