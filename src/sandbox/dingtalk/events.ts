/**
 * The event center: every business change (approval, card, …) becomes an event with `eventId` and
 * `BizId` and goes out on the push mode chosen in the developer console (spec §1.2, D20) — HTTP
 * (encrypted and signed, §7) or Stream (§8) — or both, for tests. HTTP pushes check the app's reply
 * exactly as DingTalk does (§7.6, §15.17): JSON with `msg_signature`, `timeStamp`, `nonce`,
 * `encrypt`, a good signature, the owner key, plaintext `success`, within the deadline. Failed
 * pushes are kept for `/call_back/get_call_back_failed_result` (§7.8) and redelivered.
 */
import { randomUUID } from 'node:crypto';
import { admin, bad, ok, route, type SandboxContext, type SandboxEvent } from './context.ts';
import { decryptEvent, encryptEvent, eventSignature } from './event-crypto.ts';
import { isObject, type Json, num, oapiOk, parseJsonObject, parseNewBody, str } from './http-util.ts';
import { hex, nonce } from './ids.ts';

export interface CallbackFaults {
  /** The next N pushes (events, robot messages) are lost on the way. */
  dropNext: number;
  /** The next N pushes are delivered twice. */
  duplicateNext: number;
  /** Every push waits this long first. */
  delayMs: number;
}

export interface FailedPush {
  event: SandboxEvent;
  reason: string;
  at: number;
  attempts: number;
}

export interface EventBus {
  events: SandboxEvent[];
  failed: FailedPush[];
  faults: CallbackFaults;
  /** Reply deadline for event pushes and for check_url (1500 ms per D18; 2500 per D21, §16.7). */
  replyDeadlineMs: number;
  checkDeadlineMs: number;
  /** Automatic redelivery of failed HTTP pushes after these delays (no schedule is published, §7.8). */
  retryDelaysMs: number[];
  /** Set by the Stream gateway. */
  streamSink?: (event: SandboxEvent) => void;
  takeFault(): { drop: boolean; duplicate: boolean; delayMs: number };
  pushHttp(event: SandboxEvent): Promise<boolean>;
  checkUrl(url: string): Promise<{ ok: boolean; reason?: string }>;
  timers: Set<NodeJS.Timeout>;
}

export function createEventBus(ctx: SandboxContext): EventBus {
  const bus: EventBus = {
    events: [],
    failed: [],
    faults: { dropNext: 0, duplicateNext: 0, delayMs: 0 },
    replyDeadlineMs: 3000,
    checkDeadlineMs: 1500,
    retryDelaysMs: [5_000, 30_000, 120_000],
    timers: new Set(),
    takeFault() {
      const f = bus.faults;
      const drop = f.dropNext > 0;
      if (drop) f.dropNext -= 1;
      const duplicate = !drop && f.duplicateNext > 0;
      if (duplicate) f.duplicateNext -= 1;
      return { drop, duplicate, delayMs: f.delayMs };
    },
    pushHttp: (event) => pushHttp(ctx, bus, event),
    checkUrl: (url) => checkUrl(ctx, bus, url),
  };

  ctx.emitEvent = (eventType, data, bizId) => {
    const event: SandboxEvent = {
      eventId: hex(16),
      eventType,
      bornTime: Date.now(),
      corpId: ctx.app.corpId,
      bizId: bizId ?? hex(16),
      data,
      deliveries: [],
    };
    bus.events.push(event);
    const mode = ctx.callbacks.eventMode;
    if ((mode === 'http' || mode === 'both') && ctx.callbacks.eventUrl) {
      void ctx.track(deliverHttp(ctx, bus, event));
    }
    if ((mode === 'stream' || mode === 'both') && bus.streamSink) bus.streamSink(event);
    return event;
  };

  route(ctx.routes.oapi, 'GET', '/call_back/get_call_back_failed_result', () => {
    // Up to 200 per call with has_more; pulled items are consumed (D22).
    const page = bus.failed.splice(0, 200);
    return oapiOk({
      has_more: bus.failed.length > 0,
      failed_list: page.map((f) => ({
        event_time: f.event.bornTime,
        call_back_tag: f.event.eventType,
        [f.event.eventType]: JSON.stringify(f.event.data),
      })),
    });
  });

  admin(ctx, 'GET', /^\/__sandbox\/events$/, (req) => {
    const type = req.query.get('eventType');
    return ok({
      events: bus.events.filter((e) => !type || e.eventType === type),
      failed: bus.failed.map((f) => ({ eventId: f.event.eventId, reason: f.reason, attempts: f.attempts })),
    });
  });
  // Emits any event, as DingTalk would for a change made in the product.
  admin(ctx, 'POST', /^\/__sandbox\/events$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body) || typeof body.eventType !== 'string') return bad('{eventType, data} expected');
    return ok(ctx.emitEvent(body.eventType, isObject(body.data) ? body.data : {}));
  });
  admin(ctx, 'POST', /^\/__sandbox\/events\/redeliver$/, async () => {
    const items = bus.failed.splice(0);
    const results = await Promise.all(
      items.map((f) => ctx.track(deliverHttp(ctx, bus, f.event, f.attempts))),
    );
    return ok({ redelivered: items.length, delivered: results.filter(Boolean).length });
  });
  admin(ctx, 'GET', /^\/__sandbox\/callbacks\/faults$/, () => ok(bus.faults));
  admin(ctx, 'POST', /^\/__sandbox\/callbacks\/faults$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    for (const k of ['dropNext', 'duplicateNext', 'delayMs'] as const) {
      const v = num(body[k]);
      if (v !== undefined && v >= 0) bus.faults[k] = v;
    }
    const reply = num(body.replyDeadlineMs);
    if (reply !== undefined && reply > 0) bus.replyDeadlineMs = reply;
    const check = num(body.checkDeadlineMs);
    if (check !== undefined && check > 0) bus.checkDeadlineMs = check;
    if (Array.isArray(body.retryDelaysMs))
      bus.retryDelaysMs = body.retryDelaysMs.map(Number).filter((n) => n >= 0);
    return ok({
      ...bus.faults,
      replyDeadlineMs: bus.replyDeadlineMs,
      checkDeadlineMs: bus.checkDeadlineMs,
      retryDelaysMs: bus.retryDelaysMs,
    });
  });
  admin(ctx, 'DELETE', /^\/__sandbox\/callbacks\/faults$/, () => {
    bus.faults = { dropNext: 0, duplicateNext: 0, delayMs: 0 };
    return ok(bus.faults);
  });
  return bus;
}

/** The flat HTTP plaintext (spec §7.8): EventType, EventTime, CorpId, BizId, eventId + fields. */
function httpPlaintext(event: SandboxEvent): string {
  return JSON.stringify({
    EventType: event.eventType,
    EventTime: event.bornTime,
    CorpId: event.corpId,
    BizId: event.bizId,
    eventId: event.eventId,
    ...event.data,
  });
}

async function deliverHttp(
  ctx: SandboxContext,
  bus: EventBus,
  event: SandboxEvent,
  attempts = 0,
): Promise<boolean> {
  const fault = bus.takeFault();
  if (fault.delayMs > 0) await sleep(fault.delayMs);
  if (ctx.closed) return false;
  let delivered = false;
  let reason = 'dropped on the way';
  if (!fault.drop) {
    const r = await postEncrypted(
      ctx,
      bus,
      ctx.callbacks.eventUrl ?? '',
      httpPlaintext(event),
      bus.replyDeadlineMs,
    );
    delivered = r.ok;
    reason = r.reason ?? '';
    if (fault.duplicate && !ctx.closed) {
      await postEncrypted(ctx, bus, ctx.callbacks.eventUrl ?? '', httpPlaintext(event), bus.replyDeadlineMs);
    }
  }
  event.deliveries.push({
    channel: 'http',
    status: delivered ? 'delivered' : 'failed',
    at: Date.now(),
    detail: reason || undefined,
  });
  if (!delivered) {
    const failed: FailedPush = { event, reason, at: Date.now(), attempts: attempts + 1 };
    bus.failed.push(failed);
    const delay = bus.retryDelaysMs[attempts];
    if (delay !== undefined && !ctx.closed) {
      const t = setTimeout(() => {
        bus.timers.delete(t);
        const i = bus.failed.indexOf(failed);
        if (i < 0 || ctx.closed) return;
        bus.failed.splice(i, 1);
        void ctx.track(deliverHttp(ctx, bus, event, failed.attempts));
      }, delay);
      t.unref();
      bus.timers.add(t);
    }
  }
  return delivered;
}

async function pushHttp(ctx: SandboxContext, bus: EventBus, event: SandboxEvent): Promise<boolean> {
  return deliverHttp(ctx, bus, event);
}

async function checkUrl(ctx: SandboxContext, bus: EventBus, url: string) {
  return postEncrypted(ctx, bus, url, JSON.stringify({ EventType: 'check_url' }), bus.checkDeadlineMs);
}

/** One encrypted push and the check of its encrypted `success` reply (spec §7.2–§7.6, §15.16–17). */
async function postEncrypted(
  ctx: SandboxContext,
  _bus: EventBus,
  url: string,
  plaintext: string,
  deadlineMs: number,
): Promise<{ ok: boolean; reason?: string }> {
  const { eventToken, aesKey, ownerKey } = ctx.app;
  const encrypt = encryptEvent(aesKey, plaintext, ownerKey);
  const timestamp = String(Date.now());
  const n = nonce();
  const signature = eventSignature(eventToken, timestamp, n, encrypt);
  const target = new URL(url);
  // Both parameter names are sent (spec §7.2, §15.16: a compatibility choice).
  target.searchParams.set('signature', signature);
  target.searchParams.set('msg_signature', signature);
  target.searchParams.set('timestamp', timestamp);
  target.searchParams.set('nonce', n);
  let text: string;
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': randomUUID() },
      body: JSON.stringify({ encrypt }),
      signal: AbortSignal.timeout(deadlineMs),
    });
    text = await res.text();
    if (res.status !== 200) return { ok: false, reason: `HTTP ${res.status}` };
  } catch (err) {
    return {
      ok: false,
      reason:
        (err as Error).name === 'TimeoutError' ? `no reply within ${deadlineMs} ms` : (err as Error).message,
    };
  }
  const reply = parseJsonObject(text);
  if (!reply) return { ok: false, reason: 'reply is not JSON' };
  const sig = str(reply.msg_signature);
  const ts = str(reply.timeStamp);
  const rn = str(reply.nonce);
  const enc = str(reply.encrypt);
  if (!sig || !ts || !rn || !enc)
    return { ok: false, reason: 'reply lacks msg_signature/timeStamp/nonce/encrypt' };
  if (eventSignature(eventToken, ts, rn, enc) !== sig)
    return { ok: false, reason: 'reply signature mismatch' };
  try {
    const d = decryptEvent(aesKey, enc);
    if (d.ownerKey !== ownerKey) return { ok: false, reason: 'reply owner key mismatch' };
    if (d.message !== 'success')
      return { ok: false, reason: `reply plaintext is not success: ${d.message.slice(0, 40)}` };
  } catch (err) {
    return { ok: false, reason: `reply does not decrypt: ${(err as Error).message}` };
  }
  return { ok: true };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export type { Json };
