/**
 * One sandbox tenant's state: configuration, clock, id generator, metadata, records, tokens, scroll
 * cursors, bulk jobs and partner faults. Everything lives on the tenant object (no module state), so
 * several sandboxes run side by side in one process.
 */
import type { SandboxStartOptions } from '../common/server.ts';
import { buildMetadata, type ObjectDef } from './metadata.ts';

/** Behaviour switches for facts the spec marks uncertain ([U]); every one is settable at run time. */
export interface NeocrmSandboxConfig {
  /** Access-token lifetime, seconds. Spec 2.4 captures `expires_in: 7199`. */
  tokenTtlSeconds: number;
  /**
   * How an expired/unknown token is answered on data calls (spec 10.3): `http401` → HTTP 401 with
   * `{"code":"401","msg":…}`; `errorCode` → HTTP 200 with `{"error_code":20000002,"message":"invalid access token"}`.
   */
  tokenErrorMode: 'http401' | 'errorCode';
  /**
   * HTTP status of v2.0 business failures (spec 3.1: "HTTP 2xx with a non-200 code" and "non-2xx with
   * code/msg" both occur): `http` → 400/404 with the envelope; `ok` → 200 with the envelope.
   */
  errorStatusMode: 'http' | 'ok';
  /** xobjects reads and query v2 send ids as JSON numbers (default) or strings (spec 10.5). */
  idsAsStrings: boolean;
  /** Query v2 page ceiling: 100 by default, 300 per one client (spec 7). */
  queryPageSize: number;
  /** Whether a query v2 `limit` above the ceiling fails (`error`) or is cut to it (`truncate`). */
  queryPageOverflow: 'error' | 'truncate';
  /** XOQL rows per call (spec 4.11: 3000 per one comment). */
  xoqlMaxRows: number;
  /** Largest `batchCount` xoqlScroll honours; larger requests are cut to it (spec 4.12: unknown). */
  scrollMaxBatch: number;
  /** How long an unused scroll `queryLocator` stays valid. */
  scrollTtlMs: number;
  /** Items per xobjects batch call (spec 7: not documented). */
  batchMaxSize: number;
  /** Where batch results sit (spec 4.5 [U]): under `data` or at the top level. */
  batchResultPlacement: 'data' | 'top';
  /** Records per bulk batch (spec 4.16: clients chunk at 5000). */
  bulkBatchMax: number;
  /** Delay before a bulk batch is processed, ms (spec 10.9). */
  bulkDelayMs: number;
  /**
   * HTTP status of token-endpoint refusals (spec 2.4, 10.2: not captured, keep configurable). `null`:
   * 400, and 401 for a bad client.
   */
  tokenFailureStatus: number | null;
  /** Whether the password must be followed by the user's security token (spec 2.1). */
  requireSecurityToken: boolean;
  /** Whether `redirect_uri` must equal the registered one exactly (spec 10.2). */
  checkRedirectUri: boolean;
  /** Whether create requires `entityType` (spec 4.1: "effectively required"). */
  requireEntityType: boolean;
  /** Serve the legacy v1 endpoints (spec 10.10, optional). */
  legacy: boolean;
  /**
   * A token bucket over data calls, since Neocrm publishes no rate limit (spec 7). `null` = unlimited.
   * Over the limit the sandbox answers HTTP 429 with `Retry-After` (hypothetical, spec 10.11).
   */
  rateLimit: { perSecond: number; burst: number } | null;
}

export const DEFAULT_CONFIG: NeocrmSandboxConfig = {
  tokenTtlSeconds: 7199,
  tokenErrorMode: 'http401',
  errorStatusMode: 'http',
  idsAsStrings: false,
  queryPageSize: 100,
  queryPageOverflow: 'error',
  xoqlMaxRows: 3000,
  scrollMaxBatch: 5000,
  scrollTtlMs: 10 * 60_000,
  batchMaxSize: 200,
  batchResultPlacement: 'data',
  bulkBatchMax: 5000,
  bulkDelayMs: 20,
  tokenFailureStatus: null,
  requireSecurityToken: true,
  checkRedirectUri: true,
  requireEntityType: true,
  legacy: false,
  rateLimit: null,
};

export interface NeocrmSandboxOptions extends SandboxStartOptions {
  /** The tenant's wall clock, ms. Default `Date.now`; the admin surface can also shift or freeze it. */
  clock?: () => number;
  /** Seeds the id generator (0–99); the same seed gives the same ids. Default 0. */
  seed?: number;
  config?: Partial<NeocrmSandboxConfig>;
}

export type Rec = Record<string, unknown>;

/** A Neocrm failure: the body `code`/`msg` and the HTTP status used in `errorStatusMode: 'http'`. */
export class NeoFailure extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly field?: string;
  constructor(code: string, msg: string, httpStatus = 400, field?: string) {
    super(msg);
    this.code = code;
    this.httpStatus = httpStatus;
    this.field = field;
  }
}

export const fail = {
  validation: (msg: string, field?: string) => new NeoFailure('400', msg, 400, field),
  notFound: (msg = '数据不存在或已被删除') => new NeoFailure('404', msg, 404),
  // Never HTTP 403 on data calls: clients read 403 as "not logged in" (spec 2.7), so a permission
  // failure is a body code with HTTP 400.
  permission: (msg = '您没有该数据的操作权限') => new NeoFailure('403', msg, 400),
  query: (msg: string) => new NeoFailure('400', msg, 400),
};

export interface Login {
  userId: string;
  username: string;
  password: string;
  securityToken: string;
  isAdmin: boolean;
}

export interface TokenInfo {
  userId: string;
  clientId: string;
  issuedAt: number;
  expiresAt: number;
}

export interface ScrollState {
  object: string;
  statement: string;
  ids: string[];
  pos: number;
  expiresAt: number;
}

export interface BulkJob {
  id: string;
  object: string;
  operation: 'insert' | 'update';
  execOption: string[];
  state: 'open' | 'closed';
  createdAt: number;
  createdBy: string;
  batches: string[];
}

export interface BulkBatch {
  id: string;
  jobId: string;
  state: 'queued' | 'processing' | 'completed';
  createdAt: number;
  records: Rec[];
  results: Array<{ index: number; success: boolean; id: string | null; code: string; msg: string | null }>;
}

export interface PartnerFaults {
  /** Every data call answers HTTP 429 until healed (a "ban"); seconds sent in `Retry-After`. */
  rateLimited: { retryAfterSeconds: number } | null;
  /** The next N writes fail with this code and message (e.g. a duplicate-check failure). */
  failWrites: { count: number; code: string; msg: string } | null;
}

export interface Stats {
  tokenRequests: number;
  tokenIssued: number;
  dataCalls: number;
  authFailures: number;
  rateLimited: number;
  byOperation: Record<string, number>;
}

export interface Tenant {
  config: NeocrmSandboxConfig;
  seed: number;
  tenantId: string;
  /** Host (and port) advertised in `instance_uri`, set once the server listens. */
  host: string;
  clockBase: () => number;
  clockOffsetMs: number;
  clockFrozenAt: number | null;
  nextId: bigint;
  app: { clientId: string; clientSecret: string; redirectUri: string };
  /** Logins by username. */
  logins: Map<string, Login>;
  /** User ids of administrators (for `xsy-criteria: 10`). */
  admins: Set<string>;
  meta: Map<string, ObjectDef>;
  records: Map<string, Map<string, Rec>>;
  /** Per-object write counters: a cached read index is valid while its object's counter is unchanged. */
  versions: Map<string, number>;
  /** Records of an object sorted by `updatedAt`, built lazily by query.ts for time-range reads. */
  timeIndex: Map<string, { version: number; times: number[]; recs: Rec[] }>;
  /** Unique-field indexes (`object.field` → value → id), built lazily by records.ts. */
  uniqueIndex: Map<string, Map<unknown, string>>;
  tokens: Map<string, TokenInfo>;
  refreshTokens: Map<string, { userId: string; clientId: string }>;
  authCodes: Map<string, { userId: string; clientId: string; redirectUri: string; expiresAt: number }>;
  scrolls: Map<string, ScrollState>;
  jobs: Map<string, BulkJob>;
  batches: Map<string, BulkBatch>;
  faults: PartnerFaults;
  bucket: { tokens: number; last: number };
  stats: Stats;
  timers: Set<ReturnType<typeof setTimeout>>;
}

/** Record ids start just above 2^53 so every client is exercised on ids a double cannot hold (spec 1.2). */
export const ID_BASE = 9_007_199_254_741_000n;

export function createTenant(options: NeocrmSandboxOptions = {}): Tenant {
  const seed = Math.max(0, Math.min(99, Math.trunc(options.seed ?? 0)));
  const base = ID_BASE + BigInt(seed) * 10_000_000_000_000n;
  const tenant: Tenant = {
    config: { ...DEFAULT_CONFIG, ...options.config },
    seed,
    tenantId: (3_410_524_095_677_424n + BigInt(seed)).toString(),
    host: '127.0.0.1',
    clockBase: options.clock ?? Date.now,
    clockOffsetMs: 0,
    clockFrozenAt: null,
    nextId: base,
    app: {
      clientId: `3f9a${seed.toString(16).padStart(2, '0')}00000000000000000000000c2`,
      clientSecret: `9d1e${seed.toString(16).padStart(2, '0')}5c0ffee5ecret0000000007b`,
      redirectUri: 'http://localhost',
    },
    logins: new Map(),
    admins: new Set(),
    meta: buildMetadata(1_735_200_000_000_000n + BigInt(seed) * 1000n),
    records: new Map(),
    uniqueIndex: new Map(),
    versions: new Map(),
    timeIndex: new Map(),
    tokens: new Map(),
    refreshTokens: new Map(),
    authCodes: new Map(),
    scrolls: new Map(),
    jobs: new Map(),
    batches: new Map(),
    faults: { rateLimited: null, failWrites: null },
    bucket: { tokens: 0, last: 0 },
    stats: emptyStats(),
    timers: new Set(),
  };
  for (const key of tenant.meta.keys()) tenant.records.set(key, new Map());
  return tenant;
}

export function emptyStats(): Stats {
  return { tokenRequests: 0, tokenIssued: 0, dataCalls: 0, authFailures: 0, rateLimited: 0, byOperation: {} };
}

export function now(t: Tenant): number {
  return t.clockFrozenAt ?? t.clockBase() + t.clockOffsetMs;
}

/** The next 16-digit record id, as a decimal string. */
export function newId(t: Tenant): string {
  t.nextId += 1n;
  return t.nextId.toString();
}

export function objectDef(t: Tenant, apiKey: string): ObjectDef | undefined {
  return t.meta.get(apiKey);
}

/** Resolves a query-v2 object name: `_order` names the `order` object (spec 4.10). */
export function objectByQueryName(t: Tenant, name: string): ObjectDef | undefined {
  for (const def of t.meta.values()) if (def.queryName === name) return def;
  const def = t.meta.get(name);
  return def?.queryName ? undefined : def;
}

/** Marks an object written (invalidates cached read indexes). */
export function bump(t: Tenant, objectKey: string): void {
  t.versions.set(objectKey, (t.versions.get(objectKey) ?? 0) + 1);
}

export function countOp(t: Tenant, op: string): void {
  t.stats.byOperation[op] = (t.stats.byOperation[op] ?? 0) + 1;
}
