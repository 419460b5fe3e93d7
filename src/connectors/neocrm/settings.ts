/**
 * The settings of a `neocrm` connection, validated once with precise messages. What to paste from the
 * Neocrm console is described in docs/connectors/neocrm.md.
 */
import { z } from 'zod';

const httpUrl = z
  .string()
  .url({ error: 'must be a URL such as https://api.xiaoshouyi.com' })
  .refine((s) => /^https?:\/\//.test(s), { error: 'must start with https:// (or http:// for a sandbox)' })
  .transform((s) => s.replace(/\/+$/, ''));

export const neocrmSettings = z.object({
  /** The tenant's data-API host, e.g. `https://api.xiaoshouyi.com` or `https://api-p10.xiaoshouyi.com` (spec 1.1). */
  baseUrl: httpUrl,
  /**
   * The unified login host for `/auc/oauth2/token`. Default: derived from `baseUrl` by the documented
   * host pairs (`api…` → `login…`, spec 1.1), else `baseUrl` itself.
   */
  loginUrl: httpUrl.optional(),
  /** Which token endpoint to use (spec 2.2 vs 2.4). `unified` returns `expires_in` and `instance_uri`. */
  authEndpoint: z.enum(['unified', 'legacy']).default('unified'),
  /** client_id of the connected app registered in the tenant (spec 2.1). */
  clientId: z.string().min(1, { error: 'clientId is required' }),
  clientSecret: z.string().min(1, { error: 'clientSecret is required' }),
  /** Must equal the redirect URI registered for the connected app, character for character. */
  redirectUri: z
    .string()
    .min(1, { error: 'redirectUri is required (the URI registered for the connected app)' }),
  /** The integration user's login name (an e-mail address). */
  username: z.string().min(1, { error: 'username is required' }),
  /** The integration user's password, without the security token. */
  password: z.string().min(1, { error: 'password is required' }),
  /** The user's security token (安全令牌), appended to the password at login (spec 2.1). Empty if the tenant does not use one. */
  securityToken: z.string().default(''),
  /** Send `xsy-criteria: 10` so an administrator integration user reads every record (spec 2.5). */
  adminCriteria: z.boolean().default(true),
  /** Use the pod named by the token's `instance_uri` for data calls (spec 1.1). */
  followInstanceUri: z.boolean().default(true),
  /** Per-call timeout, ms. */
  timeoutMs: z.number().int().positive().default(30_000),
  /**
   * How long to stay away after a throttling answer without `Retry-After`. Neocrm documents no rate
   * limit or wait (spec 7), so this is a setting; 10 s by default.
   */
  rateLimitWaitMs: z.number().int().positive().default(10_000),
  /** Query v2 page size: 100 is the documented ceiling; one source says 300 (spec 7). */
  queryPageSize: z.number().int().min(1).max(300).default(100),
  /** Objects `describe()` loads. Default: the standard objects of spec 5.2 used by the flows. */
  objects: z.array(z.string().min(1)).optional(),
  /** Generic connection keys (the config loader normally takes them out); accepted here so a raw settings object parses. */
  rate: z
    .union([
      z.number().positive(),
      z.object({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() }),
    ])
    .optional(),
  concurrency: z.number().int().positive().optional(),
});

export type NeocrmSettings = z.infer<typeof neocrmSettings>;

export const NEOCRM_SECRET_FIELDS = ['clientSecret', 'password', 'securityToken'] as const;

/** The documented api/login host pairs (spec 1.1); no login host is known for the other pods. */
const LOGIN_HOSTS: Record<string, string> = {
  'api.xiaoshouyi.com': 'login.xiaoshouyi.com',
  'api-p10.xiaoshouyi.com': 'login-p10.xiaoshouyi.com',
  'api-sandbox.xiaoshouyi.com': 'login-sandbox.xiaoshouyi.com',
};

/** `https://api-p10.xiaoshouyi.com` → `https://login-p10.xiaoshouyi.com`; other hosts map to themselves. */
export function defaultLoginUrl(baseUrl: string): string {
  const u = new URL(baseUrl);
  const login = LOGIN_HOSTS[u.hostname];
  if (login) u.hostname = login;
  return u.origin;
}
