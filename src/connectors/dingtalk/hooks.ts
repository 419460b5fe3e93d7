/**
 * DingTalk's HTTP callbacks, mounted by the hub at `/hooks/dingtalk/{connectionId}{path}`:
 * - `POST ''`       event subscription (spec §7): the query signature is checked before anything is
 *                   decrypted, the plaintext's owner key must match, `check_url` is answered, and every
 *                   push is answered with the encrypted `success` DingTalk requires (§7.6);
 * - `POST /robot`   enterprise robot messages (spec §6.1): the `timestamp` (±1 h) and `sign` headers
 *                   are checked before the body is parsed;
 * - `POST /card`    interactive-card actions (spec §11): `x-ddpaas-signature` checked with the
 *                   registered apiSecret.
 * Bad input is answered 4xx with no events, so nothing is stored. Redeliveries are returned again
 * (the inbox drops them by key) and counted in `stats.duplicates`.
 */
import type { HookRequest, HookResponse, HookSpec, InboundEvent } from '../../core/connector.ts';
import type { Json } from './client.ts';
import { cardSignature, EventCipher, eventSignature, robotSignature, sameText } from './crypto.ts';
import type { UserDirectory } from './directory.ts';
import { fromCardCallback, fromHttpPlaintext, fromRobotMessage } from './inbound.ts';
import type { DingtalkSettings } from './settings.ts';

export interface IngressStats {
  received: number;
  delivered: number;
  duplicates: number;
  rejected: number;
}

/** Remembers recent event keys to count (and, on Stream, skip) redeliveries. */
export class RecentKeys {
  private readonly keys = new Set<string>();
  private readonly max: number;
  constructor(max = 50_000) {
    this.max = max;
  }
  has(key: string): boolean {
    return this.keys.has(key);
  }
  add(key: string): void {
    if (this.keys.size >= this.max) this.keys.delete(this.keys.values().next().value as string);
    this.keys.add(key);
  }
}

const SKEW_MS = 3_600_000;

function reject(stats: IngressStats, status: number, message: string): HookResponse {
  stats.rejected += 1;
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: message }),
  };
}

function parseObject(buf: Buffer): Json | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

export function dingtalkHooks(
  settings: DingtalkSettings,
  directory: UserDirectory,
  stats: IngressStats,
  seen: RecentKeys,
): HookSpec[] {
  const ownerKey = settings.ownerKey ?? settings.appKey;
  const cipher = settings.aesKey ? new EventCipher(settings.aesKey, ownerKey) : undefined;

  const count = (events: InboundEvent[]) => {
    for (const e of events) {
      if (seen.has(e.key)) stats.duplicates += 1;
      else seen.add(e.key);
    }
    stats.received += events.length;
    return events;
  };

  /** The encrypted reply DingTalk decrypts and requires to read `success` (§7.6). */
  const successReply = (): HookResponse => {
    const timeStamp = String(Date.now());
    const nonce = Math.random().toString(36).slice(2, 10);
    const encrypt = cipher!.encrypt('success');
    return {
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        msg_signature: eventSignature(settings.token!, timeStamp, nonce, encrypt),
        timeStamp,
        nonce,
        encrypt,
      }),
    };
  };

  const events: HookSpec = {
    method: 'POST',
    path: '',
    async handle(req: HookRequest): Promise<HookResponse> {
      if (!cipher || !settings.token)
        return reject(stats, 404, 'event subscription is not configured (token, aesKey)');
      // Either parameter name may carry the signature and the timestamp (§7.2, §16.6).
      const signature = req.query.msg_signature ?? req.query.signature;
      const timestamp = req.query.timestamp ?? req.query.timeStamp;
      const nonce = req.query.nonce;
      if (!signature || !timestamp || !nonce)
        return reject(stats, 400, 'signature, timestamp and nonce are required');
      const envelope = parseObject(req.rawBody);
      const encrypt = envelope && typeof envelope.encrypt === 'string' ? envelope.encrypt : undefined;
      if (!encrypt) return reject(stats, 400, 'body must be {"encrypt": "…"}');
      if (!sameText(eventSignature(settings.token, timestamp, nonce, encrypt), signature)) {
        return reject(stats, 403, 'signature mismatch (900005)');
      }
      let plaintext: Json | undefined;
      try {
        plaintext = parseObject(Buffer.from(cipher.decrypt(encrypt), 'utf8'));
      } catch (err) {
        return reject(stats, 403, `cannot decrypt: ${(err as Error).message}`);
      }
      if (!plaintext) return reject(stats, 400, 'plaintext is not a JSON object');
      const type = String(plaintext.EventType ?? plaintext.eventType ?? '');
      if (!type) return reject(stats, 400, 'plaintext has no EventType');
      // The console's URL check (and suite checks) expect only the encrypted success (§7.7).
      if (['check_url', 'check_create_suite_url', 'check_update_suite_url'].includes(type))
        return successReply();
      return { ...successReply(), events: count([fromHttpPlaintext(plaintext)]) };
    },
  };

  const robot: HookSpec = {
    method: 'POST',
    path: '/robot',
    async handle(req: HookRequest): Promise<HookResponse> {
      const timestamp = req.headers.timestamp;
      const sign = req.headers.sign;
      if (!timestamp || !sign) return reject(stats, 400, 'timestamp and sign headers are required');
      if (!/^\d{10,16}$/.test(timestamp) || Math.abs(Date.now() - Number(timestamp)) > SKEW_MS) {
        return reject(stats, 403, 'timestamp outside the one-hour window');
      }
      if (!sameText(robotSignature(timestamp, settings.appSecret), sign))
        return reject(stats, 403, 'sign mismatch');
      const message = parseObject(req.rawBody);
      if (!message) return reject(stats, 400, 'body is not a JSON object');
      const staffId = typeof message.senderStaffId === 'string' ? message.senderStaffId : undefined;
      const sender = staffId ? await directory.find(staffId) : undefined;
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        // Nothing to say in the HTTP answer; replies go through `robot.reply` (§6.2).
        body: JSON.stringify({ msgtype: 'empty' }),
        events: count([fromRobotMessage(message, sender)]),
      };
    },
  };

  const card: HookSpec = {
    method: 'POST',
    path: '/card',
    async handle(req: HookRequest): Promise<HookResponse> {
      if (!settings.cardApiSecret)
        return reject(stats, 404, 'card callbacks need cardApiSecret (unsigned callbacks are refused)');
      const timestamp = req.headers['x-ddpaas-signature-timestamp'];
      const signature = req.headers['x-ddpaas-signature'];
      if (!timestamp || !signature) return reject(stats, 400, 'x-ddpaas-signature headers are required');
      // No window is documented for cards; Qiao applies the robots' one hour against replays.
      if (!/^\d{10,16}$/.test(timestamp) || Math.abs(Date.now() - Number(timestamp)) > SKEW_MS) {
        return reject(stats, 403, 'timestamp outside the one-hour window');
      }
      if (!sameText(cardSignature(timestamp, settings.cardApiSecret), signature))
        return reject(stats, 403, 'signature mismatch');
      const cb = parseObject(req.rawBody);
      if (!cb || typeof cb.outTrackId !== 'string') return reject(stats, 400, 'not a card callback');
      const sender = typeof cb.userId === 'string' ? await directory.find(cb.userId) : undefined;
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: '{}',
        events: count([fromCardCallback(cb, sender)]),
      };
    },
  };

  return [events, robot, card];
}
