/**
 * The Neocrm (销售易) sandbox: a faithful simulator of the OpenAPI described in
 * shared/specs/neocrm.md (beside the repository), serving from one base URL the token endpoints, REST v2.0 xobjects,
 * query v2, XOQL and its scroll, bulk v2, metadata v2.0, optionally legacy v1, and the `/__sandbox/`
 * admin surface (docs/sandbox/neocrm.md). Several instances run side by side in one process.
 */
import {
  type SandboxHandle,
  type SandboxReply,
  type SandboxRequest,
  startSandboxServer,
} from '../common/server.ts';
import { type AdminContext, admin } from './admin.ts';
import { authenticate, authorizeEndpoint, tokenEndpoint, tokenFailure } from './auth.ts';
import { bulk } from './bulk.ts';
import { type Family, failure } from './envelope.ts';
import { legacyV1 } from './legacy.ts';
import { formParams, queryV2, xoql, xoqlScroll } from './query.ts';
import type { Actor } from './records.ts';
import { INTEGRATION_USER, seedTenant } from './seed.ts';
import {
  countOp,
  createTenant,
  fail,
  type NeocrmSandboxOptions,
  NeoFailure,
  now,
  type Tenant,
} from './state.ts';
import { metadata, xobjects } from './xobjects.ts';

export { INTEGRATION_USER } from './seed.ts';
export type { NeocrmSandboxConfig, NeocrmSandboxOptions } from './state.ts';

export interface NeocrmSandboxHandle extends SandboxHandle {
  /** The tenant's live state, for in-process tests that need more than the admin surface. */
  tenant: Tenant;
}

function familyOf(path: string): Family {
  if (path.startsWith('/rest/data/v2/query')) return 'query';
  if (path.startsWith('/rest/bulk/')) return 'bulk';
  if (path.startsWith('/data/v1/')) return 'v1';
  return 'v2.0';
}

/** The hypothetical throttle (spec 7 "gap", 10.11): a ban until healed, or a token bucket. */
function throttle(t: Tenant): SandboxReply | undefined {
  let wait = 0;
  if (t.faults.rateLimited) wait = t.faults.rateLimited.retryAfterSeconds;
  else if (t.config.rateLimit) {
    const { perSecond, burst } = t.config.rateLimit;
    const at = now(t);
    const b = t.bucket;
    b.tokens = b.last === 0 ? burst : Math.min(burst, b.tokens + ((at - b.last) / 1000) * perSecond);
    b.last = at;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    wait = Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  } else return undefined;
  t.stats.rateLimited += 1;
  return {
    status: 429,
    headers: { 'retry-after': String(wait) },
    body: { code: '429', msg: '请求过于频繁，请稍后再试', errorInfo: null, debugInfo: null, data: null },
  };
}

type PrefixHandler = (t: Tenant, rest: string[], req: SandboxRequest, actor: Actor) => SandboxReply;

/** Data families routed by path prefix; `rest` is the path after the prefix. */
const PREFIXES: Array<[string, string, PrefixHandler]> = [
  ['/rest/data/v2.0/xobjects', 'xobjects', xobjects],
  // The older REST v2 objects family has the same semantics (spec 4.14).
  ['/rest/data/v2/objects', 'objects', xobjects],
  ['/rest/bulk/v2', 'bulk', bulk],
  ['/rest/metadata/v2.0/xobjects', 'metadata', (t, rest, req) => metadata(t, rest, req)],
  ['/data/v1', 'v1', legacyV1],
];

function route(t: Tenant, req: SandboxRequest): SandboxReply {
  const path = req.path;
  if (path === '/oauth2/token' || path === '/oauth2/token.action') return tokenEndpoint(t, req, false);
  if (path === '/auc/oauth2/token') return tokenEndpoint(t, req, true);
  if (path === '/auc/oauth2/authorize' && req.method === 'GET')
    return authorizeEndpoint(t, req, INTEGRATION_USER.username);

  const family = familyOf(path);
  if (family === 'v1' && !t.config.legacy) return failure(t, fail.notFound('接口不存在'), 'v2.0');
  const actor = authenticate(t, req);
  if (!actor) return tokenFailure(t, family === 'v1');
  t.stats.dataCalls += 1;
  if (path === '/rest/data/v2/query' && (req.method === 'GET' || req.method === 'POST')) {
    countOp(t, 'query');
    return queryV2(t, formParams(req).get('q') ?? '', actor);
  }
  if (path === '/rest/data/v2.0/query/xoql' && req.method === 'POST') {
    countOp(t, 'xoql');
    return xoql(t, formParams(req).get('xoql') ?? '', actor);
  }
  if (path === '/rest/data/v2.0/query/xoqlScroll' && req.method === 'POST') {
    countOp(t, 'xoqlScroll');
    const p = formParams(req);
    return xoqlScroll(
      t,
      p.get('xoql') ?? '',
      Number(p.get('batchCount') ?? 2000),
      p.get('queryLocator') ?? '',
      actor,
    );
  }
  if (path === '/rest/metadata/v2.0/dx/logic/extpoints/openapi' && req.method === 'GET') {
    // The tenant exposes no custom APIs (spec 4.17).
    return { status: 200, body: { code: '200', msg: null, data: { items: [], count: 0 } } };
  }
  for (const [prefix, op, handler] of PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      countOp(t, `${op}.${req.method}`);
      const rest = path.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
      return handler(t, rest, req, actor);
    }
  }
  throw fail.notFound('接口不存在');
}

/**
 * Starts a Neocrm sandbox seeded with the shared company. `credentials` are the settings of a `neocrm`
 * connection (all but `baseUrl`); `urls.api`/`urls.login` are the same server, `urls.admin` its admin surface.
 */
export async function startNeocrmSandbox(options: NeocrmSandboxOptions = {}): Promise<NeocrmSandboxHandle> {
  const t = createTenant(options);
  seedTenant(t);
  const ctx: AdminContext = { initialConfig: { ...t.config } };
  const srv = await startSandboxServer(async (req) => {
    try {
      if (req.path.startsWith('/__sandbox/')) return admin(t, req, ctx);
      const limited = throttle(t);
      if (limited) return limited;
      return route(t, req);
    } catch (err) {
      if (!(err instanceof NeoFailure)) throw err;
      if (req.path.startsWith('/__sandbox/'))
        return { status: err.httpStatus, body: { error: err.message, code: err.code } };
      return failure(t, err, familyOf(req.path));
    }
  }, options);
  // `instance_uri` is a bare host name (spec 1.1); here it carries the port too.
  t.host = new URL(srv.url).host;
  return {
    system: 'neocrm',
    baseUrl: srv.url,
    urls: { api: srv.url, login: srv.url, admin: `${srv.url}/__sandbox` },
    credentials: {
      clientId: t.app.clientId,
      clientSecret: t.app.clientSecret,
      redirectUri: t.app.redirectUri,
      username: INTEGRATION_USER.username,
      password: INTEGRATION_USER.password,
      securityToken: INTEGRATION_USER.securityToken,
    },
    tenant: t,
    close: async () => {
      for (const timer of t.timers) clearTimeout(timer);
      t.timers.clear();
      await srv.close();
    },
  };
}
