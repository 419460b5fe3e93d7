/**
 * A `wecom` connection's settings (docs/connectors/wecom.md). One connection is one self-built
 * application: WeCom issues one access_token per (corpid, secret) (spec §1, §2). `rate`,
 * `concurrency` and `breaker` are generic connection keys handled by the config, not settings.
 */
import { z } from 'zod';

export const DEFAULT_BASE_URL = 'https://qyapi.weixin.qq.com';

export const wecomSettings = z.object({
  /** The API host; the sandbox's URL in tests and demos. */
  baseUrl: z.string().url().default(DEFAULT_BASE_URL),
  /** 企业ID (我的企业 → 企业信息), e.g. `ww…`. */
  corpId: z.string().min(1, 'corpId is required'),
  /** The self-built app's AgentId (应用管理 → 应用). */
  agentId: z.coerce.number().int().positive(),
  /** The app's Secret. */
  secret: z.string().min(1, 'secret is required'),
  /** 接收消息 → 设置API接收 → Token: any string, used in the callback signature. */
  token: z.string().min(1).optional(),
  /** 接收消息 → 设置API接收 → EncodingAESKey: 43 letters/digits. */
  encodingAesKey: z
    .string()
    .regex(/^[A-Za-z0-9]{43}$/, 'encodingAesKey is 43 letters and digits')
    .optional(),
  /** Group robots by name → webhook key (the `key=` of the robot's webhook URL). */
  robots: z.record(z.string(), z.string().min(1)).default({}),
  /** Callbacks whose timestamp is further than this from our clock are refused as stale or replayed. */
  callbackMaxSkewSeconds: z.number().int().positive().default(300),
  /**
   * How long to stay away after a 45009: WeCom blocks for the window that was exceeded, 60 s for the
   * per-minute limits (spec §9). No call is made on this connection until it is over. (45009 on
   * gettoken — too many wrong secrets — always means an hour.)
   */
  rateLimitWaitMs: z.number().int().positive().default(60_000),
  /** Per-call timeout; WeCom usually answers in well under a second. */
  timeoutMs: z.number().int().positive().default(15_000),
});

export type WecomSettings = z.infer<typeof wecomSettings>;

/** Setting keys holding secrets (the robot keys are credentials too, spec §6.3). */
export const SECRET_FIELDS = ['secret', 'token', 'encodingAesKey', 'robots.*'] as const;

export function secretsOf(s: WecomSettings): string[] {
  return [s.secret, s.token, s.encodingAesKey, ...Object.values(s.robots ?? {})].filter(
    (x): x is string => !!x,
  );
}
