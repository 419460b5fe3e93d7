/**
 * Pushes callbacks the way WeCom does (spec §4.1, §4.2, §10.10–12): URL verification first (GET with
 * an encrypted `echostr`, the exact plaintext back within 1 s), then events as
 * `POST url?msg_signature&timestamp&nonce` with the XML (or JSON) envelope `ToUserName/AgentID/Encrypt`,
 * WXBizMsgCrypt-encrypted with the configured Token and EncodingAESKey and the corpid as ReceiveId.
 * Any answer but HTTP 200 within 5 s is a failure, retried 3 times with the same plaintext (same
 * CreateTime) so receivers can dedupe. Every attempt is recorded; faults drop, delay or duplicate.
 */
import { encrypt, nonce, signature } from './crypto.ts';
import type { CallbackConfig, DeliveryRecord, EventRecord, WecomWorld } from './state.ts';
import { cdata } from './xml.ts';

export interface Envelope {
  query: Record<string, string>;
  body: string;
  contentType: string;
}

/** Builds one signed, encrypted delivery of `plaintext`. A fresh timestamp and nonce per attempt. */
export function envelope(cfg: CallbackConfig, corpId: string, agentId: number, plaintext: string): Envelope {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const n = nonce();
  const enc = encrypt(cfg.encodingAesKey, plaintext, corpId);
  const msg_signature = signature(cfg.token, timestamp, n, enc);
  const body =
    cfg.format === 'json'
      ? JSON.stringify({ tousername: corpId, encrypt: enc, agentid: String(agentId) })
      : `<xml><ToUserName>${cdata(corpId)}</ToUserName><AgentID>${cdata(String(agentId))}</AgentID><Encrypt>${cdata(enc)}</Encrypt></xml>`;
  return {
    query: { msg_signature, timestamp, nonce: n },
    body,
    contentType: cfg.format === 'json' ? 'application/json' : 'text/xml',
  };
}

export function withQuery(url: string, query: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

export class CallbackDispatcher {
  readonly #w: WecomWorld;
  readonly #chains = new Map<number, Promise<void>>();
  readonly #abort = new AbortController();
  #pending = 0;
  #idle: Array<() => void> = [];

  constructor(w: WecomWorld) {
    this.#w = w;
  }

  /**
   * The URL-verification handshake WeCom runs when an admin saves the callback URL (spec §4.1).
   * Resolves with `ok: false` and the reason when the receiver does not echo the exact plaintext in time.
   */
  async verify(
    cfg: CallbackConfig,
    agentId: number,
  ): Promise<{ ok: boolean; reason?: string; echo: string }> {
    const w = this.#w;
    const echo = String(Math.floor(Math.random() * 1e18));
    const echostr = encrypt(cfg.encodingAesKey, echo, w.corpId);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const n = nonce();
    const query = {
      msg_signature: signature(cfg.token, timestamp, n, echostr),
      timestamp,
      nonce: n,
      echostr,
    };
    const rec = this.#record({
      eventId: 0,
      agentId,
      event: 'verify_url',
      ref: '',
      attempt: 1,
      kind: 'verify',
      url: cfg.url,
      plaintext: echo,
    });
    try {
      const res = await fetch(withQuery(cfg.url, query), {
        signal: AbortSignal.any([
          AbortSignal.timeout(w.callbackSettings.verifyTimeoutMs),
          this.#abort.signal,
        ]),
      });
      const text = await res.text();
      rec.status = res.status;
      if (res.status !== 200) return { ok: false, reason: `answered HTTP ${res.status}`, echo };
      // The raw plaintext: no quotes, no BOM, no trailing newline (spec §4.1).
      if (text !== echo)
        return {
          ok: false,
          reason: `answered ${JSON.stringify(text.slice(0, 80))}, not the plaintext`,
          echo,
        };
      return { ok: true, echo };
    } catch (err) {
      rec.error = (err as Error).message;
      return {
        ok: false,
        reason: `no answer within ${w.callbackSettings.verifyTimeoutMs} ms (${rec.error})`,
        echo,
      };
    }
  }

  /** Records an event and queues its delivery to the app's callback URL. */
  emit(
    agentId: number,
    event: string,
    ref: string,
    plaintext: string,
    createTime: number,
    envelopeAgentId = agentId,
  ): EventRecord {
    const w = this.#w;
    const ev: EventRecord = {
      id: ++w.seq.event,
      agentId,
      envelopeAgentId,
      event,
      ref,
      plaintext,
      createTime,
      outcome: 'pending',
    };
    w.events.push(ev);
    const app = w.apps.get(agentId);
    const cfg = app?.callback;
    if (!cfg) {
      ev.outcome = 'no-callback';
      return ev;
    }
    const f = w.callbackFaults;
    if (f.dropNext > 0 || (f.dropRate > 0 && Math.random() < f.dropRate)) {
      if (f.dropNext > 0) f.dropNext -= 1;
      ev.outcome = 'dropped';
      return ev;
    }
    let extra = 0;
    if (f.duplicateNext > 0) {
      f.duplicateNext -= 1;
      extra = f.duplicateTimes;
    }
    this.#pending += 1;
    const prev = this.#chains.get(agentId) ?? Promise.resolve();
    const next = prev
      .then(() => this.#deliver(ev, cfg, extra))
      .catch(() => {})
      .finally(() => {
        this.#pending -= 1;
        if (this.#pending === 0) for (const r of this.#idle.splice(0)) r();
      });
    this.#chains.set(agentId, next);
    return ev;
  }

  /** Resolves once every queued delivery (with its retries and duplicates) is over. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#abort.abort();
  }

  async #deliver(ev: EventRecord, cfg: CallbackConfig, extra: number): Promise<void> {
    const s = this.#w.callbackSettings;
    let delivered = false;
    for (let attempt = 1; attempt <= 1 + s.retries && !this.#abort.signal.aborted; attempt++) {
      if (attempt > 1)
        await this.#sleep(s.retryDelaysMs[Math.min(attempt - 2, s.retryDelaysMs.length - 1)] ?? 1000);
      if (await this.#attempt(ev, cfg, attempt, 'event')) {
        delivered = true;
        break;
      }
    }
    ev.outcome = delivered ? 'delivered' : 'failed';
    if (!delivered) return;
    for (let i = 0; i < extra && !this.#abort.signal.aborted; i++)
      await this.#attempt(ev, cfg, 1, 'duplicate');
  }

  async #attempt(
    ev: EventRecord,
    cfg: CallbackConfig,
    attempt: number,
    kind: 'event' | 'duplicate',
  ): Promise<boolean> {
    const w = this.#w;
    const f = w.callbackFaults;
    if (f.delayMs > 0) await this.#sleep(f.delayMs);
    const env = envelope(cfg, w.corpId, ev.envelopeAgentId, ev.plaintext);
    const rec = this.#record({
      eventId: ev.id,
      agentId: ev.agentId,
      event: ev.event,
      ref: ev.ref,
      attempt,
      kind,
      url: cfg.url,
      plaintext: ev.plaintext,
    });
    try {
      const res = await fetch(withQuery(cfg.url, env.query), {
        method: 'POST',
        headers: { 'content-type': env.contentType },
        body: env.body,
        signal: AbortSignal.any([AbortSignal.timeout(w.callbackSettings.timeoutMs), this.#abort.signal]),
      });
      await res.arrayBuffer().catch(() => undefined);
      rec.status = res.status;
      return res.status === 200;
    } catch (err) {
      rec.error =
        (err as Error).name === 'TimeoutError'
          ? `no answer within ${w.callbackSettings.timeoutMs} ms`
          : (err as Error).message;
      return false;
    }
  }

  #record(r: Omit<DeliveryRecord, 'id' | 'status' | 'at'>): DeliveryRecord {
    const rec: DeliveryRecord = { ...r, id: ++this.#w.seq.delivery, status: null, at: Date.now() };
    this.#w.deliveries.push(rec);
    return rec;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (ms <= 0 || this.#abort.signal.aborted) return resolve();
      const t = setTimeout(resolve, ms);
      this.#abort.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
  }
}
