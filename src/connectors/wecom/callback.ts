/**
 * The callback endpoint `GET|POST /hooks/wecom/{connectionId}` (spec §4.1, §4.2, §5). In order:
 * timestamp freshness, signature (before any parsing), replay, decryption, corpid as ReceiveId; then
 * the event goes back to the server, which stores it in the inbox before answering `200` with an
 * empty body — well inside WeCom's 5 s. Anything wrong is answered with a 4xx and one clear log
 * line, and nothing is stored. Duplicate deliveries are recognised by their key and counted; the
 * inbox drops them, so they never run twice.
 */
import type { HookRequest, HookResponse, HookSpec, InboundEvent } from '../../core/connector.ts';
import type { Logger } from '../../core/logger.ts';
import { type CallbackCryptoError, decryptMessage, signatureMatches } from './crypto.ts';
import { approvalEvent, cardEvent, messageEvent, parseCallbackXml } from './events.ts';
import type { WecomSettings } from './settings.ts';

export interface CallbackStats {
  accepted: number;
  /** Deliveries whose event key this endpoint had already seen (WeCom retries, duplicate pushes). */
  duplicates: number;
  verified: number;
  ignored: number;
  rejected: Record<string, number>;
}

const KEEP_KEYS = 10_000;

export class CallbackEndpoint {
  readonly stats: CallbackStats = { accepted: 0, duplicates: 0, verified: 0, ignored: 0, rejected: {} };
  readonly #settings: WecomSettings;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Signatures already accepted, until they are too old to pass the freshness check anyway. */
  readonly #seenSignatures = new Map<string, number>();
  readonly #seenKeys = new Map<string, true>();

  constructor(settings: WecomSettings, log: Logger, now: () => number = Date.now) {
    this.#settings = settings;
    this.#log = log;
    this.#now = now;
  }

  get hooks(): HookSpec[] {
    return [
      { method: 'GET', path: '', handle: (req) => this.verifyUrl(req) },
      { method: 'POST', path: '', handle: (req) => this.receive(req) },
    ];
  }

  /** URL verification (spec §4.1): answer the decrypted `echostr` as the raw body, nothing else. */
  async verifyUrl(req: HookRequest): Promise<HookResponse> {
    const cfg = this.#config();
    if ('status' in cfg) return cfg;
    const { msg_signature, timestamp, nonce } = req.query;
    // A `+` decoded to a space breaks signature and Base64 (spec §5 pitfalls); Base64 has no spaces.
    const echostr = (req.query.echostr ?? '').replace(/ /g, '+');
    if (!msg_signature || !timestamp || !nonce || !echostr)
      return this.#reject('missing-params', 400, 'msg_signature, timestamp, nonce and echostr are required');
    const stale = this.#stale(timestamp);
    if (stale) return stale;
    if (!signatureMatches(cfg.token, timestamp, nonce, echostr, msg_signature))
      return this.#reject('bad-signature', 401, 'URL verification signature does not match the Token');
    const opened = this.#open(cfg.encodingAesKey, echostr);
    if ('status' in opened) return opened;
    this.stats.verified++;
    this.#log.info('wecom callback URL verified');
    return { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: opened.message };
  }

  /** An event delivery (spec §4.2): stored by the server, then acknowledged with 200 and no body. */
  async receive(req: HookRequest): Promise<HookResponse> {
    const cfg = this.#config();
    if ('status' in cfg) return cfg;
    const { msg_signature, timestamp, nonce } = req.query;
    if (!msg_signature || !timestamp || !nonce)
      return this.#reject('missing-params', 400, 'msg_signature, timestamp and nonce are required');
    const stale = this.#stale(timestamp);
    if (stale) return stale;
    const encrypt = extractEncrypt(req.rawBody.toString('utf8'));
    if (!encrypt) return this.#reject('no-encrypt', 400, 'no Encrypt element in the envelope');
    // The signature is checked before the plaintext is parsed (DESIGN.md "Security").
    if (!signatureMatches(cfg.token, timestamp, nonce, encrypt, msg_signature))
      return this.#reject('bad-signature', 401, 'signature does not match the Token');
    this.#prune();
    if (this.#seenSignatures.has(msg_signature))
      return this.#reject('replayed', 409, 'this exact signed request was already accepted');
    const opened = this.#open(cfg.encodingAesKey, encrypt);
    if ('status' in opened) return opened;
    this.#seenSignatures.set(msg_signature, this.#now() + this.#settings.callbackMaxSkewSeconds * 1000 * 2);

    const x = parseCallbackXml(opened.message);
    if (!x) return this.#reject('bad-xml', 400, 'decrypted message is not WeCom XML');
    const event = toEvent(this.#settings.corpId, x);
    if (!event) {
      this.stats.ignored++;
      this.#log.debug('wecom callback of a kind no trigger uses, acknowledged', {
        msgType: x.MsgType,
        event: x.Event,
      });
      return { status: 200, body: '' };
    }
    if (this.#seenKeys.has(event.key)) {
      this.stats.duplicates++;
      this.#log.info('wecom duplicate delivery', { key: event.key });
    } else {
      this.#seenKeys.set(event.key, true);
      if (this.#seenKeys.size > KEEP_KEYS)
        this.#seenKeys.delete(this.#seenKeys.keys().next().value as string);
      this.stats.accepted++;
    }
    // Returned even when seen before: only the inbox knows whether the first copy was stored.
    return { status: 200, body: '', events: [event] };
  }

  #config(): { token: string; encodingAesKey: string } | HookResponse {
    const { token, encodingAesKey } = this.#settings;
    if (!token || !encodingAesKey)
      return this.#reject('not-configured', 404, 'this connection has no callback token/encodingAesKey');
    return { token, encodingAesKey };
  }

  #stale(timestamp: string): HookResponse | undefined {
    const ts = Number(timestamp);
    const skew = Math.abs(this.#now() / 1000 - ts);
    if (!/^\d{1,12}$/.test(timestamp) || skew > this.#settings.callbackMaxSkewSeconds) {
      return this.#reject(
        'stale',
        403,
        `timestamp ${timestamp} is ${Math.round(skew)} s from our clock (allowed ${this.#settings.callbackMaxSkewSeconds} s)`,
      );
    }
    return undefined;
  }

  #open(encodingAesKey: string, encrypted: string): { message: string } | HookResponse {
    let d: ReturnType<typeof decryptMessage>;
    try {
      d = decryptMessage(encodingAesKey, encrypted);
    } catch (err) {
      const e = err as CallbackCryptoError;
      return this.#reject(
        'decrypt',
        400,
        `cannot decrypt (${e.code ?? ''} ${e.message}): check EncodingAESKey`,
      );
    }
    // The ReceiveId must be our corpid (spec §4.2, §5: -40005), not merely the envelope's ToUserName.
    if (d.receiveId !== this.#settings.corpId)
      return this.#reject(
        'wrong-corp',
        403,
        `message is for receiver "${d.receiveId}", not corp ${this.#settings.corpId}`,
      );
    return { message: d.message };
  }

  #reject(reason: string, status: number, detail: string): HookResponse {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.#log.warn(`wecom callback rejected: ${reason}`, { reason, status, detail });
    return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `${reason}: ${detail}` };
  }

  #prune(): void {
    const now = this.#now();
    for (const [sig, until] of this.#seenSignatures) {
      if (until > now && this.#seenSignatures.size < KEEP_KEYS) break;
      this.#seenSignatures.delete(sig);
    }
  }
}

/** `Encrypt` from the XML envelope or `encrypt` from the JSON one (spec §4.2), without parsing XML. */
export function extractEncrypt(body: string): string | undefined {
  const trimmed = body.trim();
  if (trimmed.startsWith('{')) {
    try {
      const j = JSON.parse(trimmed) as Record<string, unknown>;
      return typeof j.encrypt === 'string'
        ? j.encrypt
        : typeof j.Encrypt === 'string'
          ? j.Encrypt
          : undefined;
    } catch {
      return undefined;
    }
  }
  const m = /<Encrypt>\s*(?:<!\[CDATA\[([A-Za-z0-9+/=]+)\]\]>|([A-Za-z0-9+/=]+))\s*<\/Encrypt>/.exec(trimmed);
  return m ? (m[1] ?? m[2]) : undefined;
}

function toEvent(corpId: string, x: Record<string, any>): InboundEvent | undefined {
  if (x.MsgType === 'event') {
    if (x.Event === 'sys_approval_change') return approvalEvent(corpId, x);
    if (x.Event === 'template_card_event') return cardEvent(corpId, x);
    return undefined;
  }
  if (typeof x.MsgType === 'string' && x.MsgId !== undefined) return messageEvent(corpId, x);
  return undefined;
}
