/**
 * The push path: `POST /hooks/kingdee/{connectionId}` receives change notifications from the small BOS
 * plugin a company installs in K/3 Cloud (docs/connectors/kingdee.md, "Push path"), so a change reaches
 * the hub in well under a second instead of a poll interval.
 *
 * Qiao's own protocol (K/3 has no outgoing webhooks): the JSON body is signed with
 * `X-Qiao-Signature: hex(HMAC-SHA256(pushSecret, X-Qiao-Timestamp + "\n" + rawBody))`, the timestamp in
 * epoch milliseconds. The signature is checked before the body is parsed; timestamps further than five
 * minutes from now are refused (replay). The event (and its key) is made by change.ts, as the
 * reconciler's are.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HookRequest, HookResponse, HookSpec, InboundEvent } from '../../core/connector.ts';
import type { Logger } from '../../core/logger.ts';
import { type ChangeNotification, changeEvent } from './change.ts';
import { type KingdeeSettings, offsetMinutes } from './settings.ts';

export const PUSH_TOLERANCE_MS = 5 * 60_000;

export function signPush(secret: string, timestamp: string, rawBody: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}\n`).update(rawBody).digest('hex');
}

function header(req: HookRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

const reply = (status: number, body: object, events?: InboundEvent[]): HookResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: JSON.stringify(body),
  events,
});

export function pushHook(settings: KingdeeSettings, log: Logger, now: () => number = Date.now): HookSpec {
  return {
    method: 'POST',
    path: '',
    async handle(req) {
      const secret = settings.pushSecret;
      if (!secret) return reply(404, { error: 'the push path is off: set pushSecret on the connection' });
      const timestamp = header(req, 'x-qiao-timestamp') ?? '';
      const signature = (header(req, 'x-qiao-signature') ?? '').toLowerCase();
      const t = Number(timestamp);
      if (!timestamp || !Number.isFinite(t) || Math.abs(now() - t) > PUSH_TOLERANCE_MS) {
        return reply(401, { error: 'missing or stale X-Qiao-Timestamp' });
      }
      const expected = Buffer.from(signPush(secret, timestamp, req.rawBody));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        log.warn('kingdee push: bad signature');
        return reply(401, { error: 'bad X-Qiao-Signature' });
      }
      let body: ChangeNotification;
      try {
        body = JSON.parse(req.rawBody.toString('utf8'));
      } catch {
        return reply(400, { error: 'body is not JSON' });
      }
      if (!body || typeof body.eventId !== 'string' || typeof body.formId !== 'string') {
        return reply(400, { error: 'eventId and formId are required' });
      }
      if (body.acctId && body.acctId !== settings.acctId) {
        return reply(403, {
          error: `notification from data centre ${body.acctId}, connection is ${settings.acctId}`,
        });
      }
      return reply(200, { ok: true }, [changeEvent(body, offsetMinutes(settings.utcOffset))]);
    },
  };
}
