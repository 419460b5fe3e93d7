/**
 * The settings of a `kingdee` connection, validated once with precise messages. What to paste from the
 * K/3 Cloud administration console is described in docs/connectors/kingdee.md.
 */
import { z } from 'zod';

export const KINGDEE_SECRET_FIELDS = ['password', 'appSecret', 'pushSecret'] as const;

export const kingdeeSettings = z
  .object({
    /**
     * The WebAPI base, e.g. `https://erp.example.com/k3cloud/` (on-premise; `K3Cloud` works too, spec
     * 1) — everything before `Kingdee.BOS.WebApi…common.kdsvc`. A trailing `/` is added if missing.
     */
    baseUrl: z
      .string()
      .url({ error: 'must be a URL such as https://erp.example.com/k3cloud/' })
      .refine((s) => /^https?:\/\//.test(s), { error: 'must start with https:// (or http:// for a sandbox)' })
      .transform((s) => (s.endsWith('/') ? s : `${s}/`)),
    /** Data-centre (账套) id, 14 hex characters in every sample (spec 3.1). */
    acctId: z.string().min(1, { error: 'acctId is required (the data centre id)' }),
    /** 2052 zh-CN (default), 1033 en-US, 3076 zh-TW. */
    lcid: z.coerce.number().int().positive().default(2052),
    /** The integration user, listed under 允许调用WebAPI接口用户. */
    username: z.string().min(1, { error: 'username is required' }),
    /**
     * `session`: log in once (ValidateUser with `password`, else LoginByAppSecret with `appId` +
     * `appSecret`) and carry the session cookies (spec 3.1-3.4). `signature`: no login call, every
     * request carries the official SDK's signature headers (spec 3.5).
     */
    auth: z.enum(['session', 'signature']).default('session'),
    password: z.string().min(1).optional(),
    /** From 第三方系统登录授权: `<clientId>_<32-char base64>` (spec 3.5). */
    appId: z.string().min(1).optional(),
    /** From 第三方系统登录授权: 32 hex characters. */
    appSecret: z.string().min(1).optional(),
    /** Organisation number to work in (ValidateUserByOrgNumber, or `X-KDApi-OrgNum`); default the user's. */
    orgNumber: z.string().min(1).optional(),
    /** Shared with the BOS push plugin: HMAC-SHA256 key of change notifications (see the docs). */
    pushSecret: z.string().min(16, { error: 'pushSecret must have at least 16 characters' }).optional(),
    /**
     * The server's UTC offset: K/3 prints `FModifyDate` etc. in local time without a zone (spec 4.4);
     * cursors are kept in UTC. China Standard Time by default.
     */
    utcOffset: z
      .string()
      .regex(/^[+-]\d{2}:\d{2}$/, { error: 'utcOffset looks like +08:00' })
      .default('+08:00'),
    /** Per-call timeout in ms. The official SDKs wait 120 s (spec 8). */
    timeoutMs: z.number().int().positive().default(120_000),
    /**
     * How long to stay away after MsgCode 14 (调用限制). Kingdee documents no wait (spec 7, 8), so
     * this is a setting; 1 s by default, the window of the per-second rates Kingdee advises.
     */
    callLimitWaitMs: z.number().int().positive().default(1_000),
    /** Query page size. 2000 is within both documented ceilings (2000 older, 10000 newer; spec 4.4). */
    pageSize: z.number().int().min(1).max(10_000).default(2_000),
    /** BatchSave packages per call (the limit is undocumented, spec 8). */
    batchSize: z.number().int().min(1).max(1_000).default(100),
    /** Generic connection keys (the config loader normally takes them out); accepted so raw settings parse. */
    rate: z
      .union([
        z.number().positive(),
        z.object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() }),
      ])
      .optional(),
    concurrency: z.number().int().positive().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.auth === 'signature' && (!s.appId || !s.appSecret)) {
      ctx.addIssue({ code: 'custom', path: ['appId'], message: 'auth: signature needs appId and appSecret' });
    }
    if (s.auth === 'session' && !s.password && !(s.appId && s.appSecret)) {
      ctx.addIssue({
        code: 'custom',
        path: ['password'],
        message: 'auth: session needs password, or appId and appSecret (LoginByAppSecret)',
      });
    }
  });

export type KingdeeSettings = z.output<typeof kingdeeSettings>;

/** Minutes east of UTC for a `+08:00` style offset. */
export function offsetMinutes(utcOffset: string): number {
  const sign = utcOffset.startsWith('-') ? -1 : 1;
  const [h, m] = utcOffset.slice(1).split(':').map(Number);
  return sign * (h * 60 + m);
}
