/**
 * A `dingtalk` connection's settings (docs/connectors/dingtalk.md explains each and where to find it
 * in DingTalk's developer console).
 */
import { z } from 'zod';

export const robotSettings = z.object({
  /** The `access_token` of the custom group robot's webhook URL. */
  accessToken: z.string().min(1),
  /** The robot's 加签 secret (`SEC…`), when signing is its security setting (spec §5.2). */
  secret: z.string().startsWith('SEC').optional(),
});

export const dingtalkSettings = z
  .object({
    /** Old API host (spec §1.1). */
    oapiUrl: z.url().default('https://oapi.dingtalk.com'),
    /** New API host; Stream mode opens its connections here too (spec §8.1). */
    apiUrl: z.url().default('https://api.dingtalk.com'),
    /** ClientID / AppKey of the enterprise-internal app. */
    appKey: z.string().min(1),
    /** ClientSecret / AppSecret. Also the key of the robot callback signature (spec §6.1). */
    appSecret: z.string().min(1),
    /** AgentId of the app, needed for work notifications (spec §4.1). */
    agentId: z.coerce.number().int().positive(),
    /** The enterprise robot's code; equals the ClientID for an internal app's robot (spec §1.3). */
    robotCode: z.string().min(1).optional(),
    /** How DingTalk reaches Qiao: Stream mode (no public URL) or HTTP callbacks. */
    ingress: z.enum(['stream', 'http']).default('stream'),
    /** HTTP event subscription: the token set in the console (3–32 letters/digits, spec §7.1). */
    token: z
      .string()
      .regex(/^[A-Za-z0-9]{3,32}$/, 'token is 3–32 letters or digits')
      .optional(),
    /** HTTP event subscription: the 43-character aes_key (spec §7.1). */
    aesKey: z
      .string()
      .regex(/^[A-Za-z0-9]{43}$/, 'aesKey is exactly 43 letters or digits')
      .optional(),
    /** Owner key inside event plaintexts: the appKey for console subscriptions (default), the corpId for the old register API (spec §7.1). */
    ownerKey: z.string().min(1).optional(),
    /** Custom group robots by name, for `robot.send`. */
    robots: z.record(z.string(), robotSettings).default({}),
    /** Overrides the default token bucket (20 calls/s per app per API, spec §14). */
    rate: z
      .object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() })
      .optional(),
    /** Interactive cards with HTTP callbacks: the route key registered with `/v1.0/card/callbacks/register`. */
    cardCallbackRouteKey: z.string().min(1).optional(),
    /** …and the apiSecret registered with it, which signs the card callbacks (spec §11). */
    cardApiSecret: z.string().min(1).optional(),
    /** Per-request timeout. DingTalk's own budget is about 3 s (spec §14). */
    timeoutMs: z.number().int().positive().default(15_000),
  })
  .superRefine((s, ctx) => {
    if (s.ingress === 'http' && (!s.token || !s.aesKey)) {
      ctx.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'ingress "http" needs token and aesKey (event subscription)',
      });
    }
  });

export type DingtalkSettings = z.infer<typeof dingtalkSettings>;

/** Keys of settings that hold secrets (encrypted at rest, masked, scrubbed from errors). */
export const DINGTALK_SECRET_FIELDS = [
  'appSecret',
  'token',
  'aesKey',
  'robots.*.accessToken',
  'robots.*.secret',
  'cardApiSecret',
] as const;

/** Every secret string in the settings, for `scrubSecrets`. */
export function secretsOf(s: DingtalkSettings): string[] {
  const out = [s.appSecret, s.token, s.aesKey, s.cardApiSecret].filter((x): x is string => !!x);
  for (const r of Object.values(s.robots)) {
    out.push(r.accessToken);
    if (r.secret) out.push(r.secret);
  }
  return out;
}
