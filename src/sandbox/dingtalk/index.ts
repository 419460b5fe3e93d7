/**
 * The DingTalk sandbox: a faithful simulator of `shared/specs/dingtalk.md`. Two servers, as the
 * real service has two hosts (spec §1.1): the "oapi" surface (`errcode`, HTTP 200) and the "api"
 * surface (`code`/`message`, 4xx), the latter also carrying the Stream WebSocket gateway (§8).
 * Both serve the same `/__sandbox/…` admin surface (docs/sandbox/dingtalk.md).
 */
import type { SandboxHandle, SandboxReply, SandboxRequest, SandboxStartOptions } from '../common/server.ts';
import { startSandboxServer } from '../common/server.ts';
import { createApprovals } from './approvals.ts';
import { checkNewToken, checkOldToken, createAuth } from './auth.ts';
import { createCards } from './cards.ts';
import { admin, bad, ok, type SandboxContext, type Surface } from './context.ts';
import { createCustomRobots } from './custom-robot.ts';
import { createEventBus } from './events.ts';
import { apiError, isObject, oapiError, parseNewBody } from './http-util.ts';
import { createLimits, gate } from './limits.ts';
import { createRobotMessages } from './robot-messages.ts';
import { seedApp, seedConversations, seedDepartments, seedRobots, seedTemplates, seedUsers } from './seed.ts';
import { createStreamGateway } from './stream-gateway.ts';
import { createUsers } from './users.ts';
import { createWorkNotices } from './work-notice.ts';

export type { SandboxContext } from './context.ts';

export interface DingtalkCredentials {
  appKey: string;
  appSecret: string;
  agentId: number;
  robotCode: string;
  ingress: 'stream' | 'http';
  token: string;
  aesKey: string;
  robots: Record<string, { accessToken: string; secret?: string }>;
}

export interface DingtalkSandbox extends SandboxHandle {
  urls: { oapi: string; api: string; ws: string; admin: string };
  credentials: DingtalkCredentials & Record<string, unknown>;
  /** The seeded tenant's corp id (also the owner key of events registered by the old API, §7.1). */
  corpId: string;
  processCodes: Record<'contract' | 'expense' | 'payment' | 'project', string>;
  /** Calls the admin surface and returns its JSON (throws on a non-2xx answer). */
  admin<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  context: SandboxContext;
}

export async function startDingtalkSandbox(options: SandboxStartOptions = {}): Promise<DingtalkSandbox> {
  const app = seedApp();
  const users = seedUsers();
  const pending = new Set<Promise<unknown>>();
  const ctx: SandboxContext = {
    app,
    users,
    departments: seedDepartments(),
    templates: seedTemplates(),
    robots: seedRobots(),
    conversations: seedConversations(),
    callbacks: { eventMode: 'stream', robotMode: 'stream' },
    urls: { oapi: '', api: '', ws: '' },
    routes: { oapi: new Map(), api: new Map(), admin: [] },
    userById: (id) => users.find((u) => u.userid === id),
    emitEvent: () => {
      throw new Error('event bus not ready');
    },
    pushStreamCallback: () => false,
    track: (p) => {
      pending.add(p);
      p.then(
        () => pending.delete(p),
        () => pending.delete(p),
      );
      return p;
    },
    quotaExhausted: () => false,
    closed: false,
  };

  const auth = createAuth(ctx);
  const limits = createLimits(ctx);
  const bus = createEventBus(ctx);
  createUsers(ctx);
  createWorkNotices(ctx);
  createCustomRobots(ctx);
  createRobotMessages(ctx, bus);
  createApprovals(ctx);
  createCards(ctx, bus);

  const handle =
    (surface: Surface) =>
    async (req: SandboxRequest): Promise<SandboxReply | undefined> => {
      if (req.path.startsWith('/__sandbox/')) {
        for (const r of ctx.routes.admin) {
          if (r.method !== req.method) continue;
          const m = r.pattern.exec(req.path);
          if (m) return r.handler(req, m.slice(1));
        }
        return bad(`no admin route ${req.method} ${req.path}`, 404);
      }
      const route = (surface === 'oapi' ? ctx.routes.oapi : ctx.routes.api).get(`${req.method} ${req.path}`);
      if (!route) {
        if (surface === 'api') {
          return apiError(
            404,
            'InvalidAction.NotFound',
            'Specified api is not found, please check your url and method.',
          );
        }
        if (req.path.startsWith('/topapi/')) {
          // The observed answer for an unknown /topapi path (spec §3, O1).
          const name = `dingtalk.oapi.${req.path.slice('/topapi/'.length).replace(/\//g, '.')}`;
          return oapiError(22, `Invalid method[submsg=不合法ApiName，ApiName = ${name}]`, {
            sub_msg: `不合法ApiName，ApiName = ${name}`,
          });
        }
        return oapiError(404, '请求的URI地址不存在');
      }
      const limited = gate(limits, req, surface, `${req.method} ${req.path}`, route.options.metered);
      if (limited) return limited;
      if (route.options.auth) {
        const denied = surface === 'oapi' ? checkOldToken(auth, req) : checkNewToken(auth, req);
        if (denied) return denied;
      }
      return route.handler(req);
    };

  const oapiServer = await startSandboxServer(handle('oapi'), options);
  const apiServer = await startSandboxServer(handle('api'), {
    ...options,
    port: options.port ? options.port + 1 : 0,
  });
  ctx.urls = { oapi: oapiServer.url, api: apiServer.url, ws: apiServer.url.replace(/^http/, 'ws') };
  const gateway = createStreamGateway(ctx, bus, apiServer.server);

  // Where callbacks go: the push mode and URLs saved in the developer console. Saving an event URL
  // runs the check_url handshake first, as the console does (spec §7.7, §15.18).
  admin(ctx, 'GET', /^\/__sandbox\/callbacks$/, () => ok(ctx.callbacks));
  admin(ctx, 'POST', /^\/__sandbox\/callbacks$/, async (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const next = { ...ctx.callbacks };
    if (body.eventMode !== undefined) {
      if (!['stream', 'http', 'both', 'none'].includes(String(body.eventMode)))
        return bad('eventMode: stream | http | both | none');
      next.eventMode = body.eventMode as typeof next.eventMode;
    }
    if (body.robotMode !== undefined) {
      if (!['stream', 'http', 'none'].includes(String(body.robotMode)))
        return bad('robotMode: stream | http | none');
      next.robotMode = body.robotMode as typeof next.robotMode;
    }
    if (typeof body.robotUrl === 'string') next.robotUrl = body.robotUrl;
    if (typeof body.eventUrl === 'string') {
      if (body.skipCheck !== true) {
        const check = await ctx.track(bus.checkUrl(body.eventUrl));
        if (!check.ok) return bad(`check_url failed: ${check.reason}`, 400);
      }
      next.eventUrl = body.eventUrl;
    }
    ctx.callbacks = next;
    return ok(ctx.callbacks);
  });
  admin(ctx, 'POST', /^\/__sandbox\/callbacks\/check$/, async (req) => {
    const body = parseNewBody(req) ?? {};
    const url = typeof body.url === 'string' ? body.url : ctx.callbacks.eventUrl;
    if (!url) return bad('no event URL');
    return ok(await ctx.track(bus.checkUrl(url)));
  });
  // Waits until every callback in flight is answered and Stream has nothing pending or unacked.
  admin(ctx, 'POST', /^\/__sandbox\/flush$/, async (req) => {
    const body = parseNewBody(req) ?? {};
    const timeoutMs = typeof body.timeoutMs === 'number' ? body.timeoutMs : 5000;
    const until = Date.now() + timeoutMs;
    while (pending.size > 0 && Date.now() < until) {
      await Promise.race([
        Promise.allSettled([...pending]),
        new Promise((r) => setTimeout(r, until - Date.now())),
      ]);
    }
    const idle = await gateway.idle(Math.max(0, until - Date.now()));
    return ok({ idle: idle && pending.size === 0 });
  });
  admin(ctx, 'GET', /^\/__sandbox\/state$/, () =>
    ok({
      app: { corpId: app.corpId, appKey: app.appKey, agentId: app.agentId, robotCode: app.robotCode },
      urls: ctx.urls,
      callbacks: ctx.callbacks,
      tokensIssued: auth.issued,
      limits: { forced: limits.forced, limited: limits.limited },
      stream: {
        connections: gateway.connections.size,
        pending: gateway.pending.length,
        stats: gateway.stats,
      },
    }),
  );

  const robots: DingtalkCredentials['robots'] = {};
  for (const r of ctx.robots)
    robots[r.name] = { accessToken: r.accessToken, ...(r.secret ? { secret: r.secret } : {}) };
  const processCodes = Object.fromEntries(
    ctx.templates.map((t) => [t.key, t.processCode]),
  ) as DingtalkSandbox['processCodes'];

  return {
    system: 'dingtalk',
    baseUrl: oapiServer.url,
    urls: { oapi: oapiServer.url, api: apiServer.url, ws: ctx.urls.ws, admin: oapiServer.url },
    credentials: {
      appKey: app.appKey,
      appSecret: app.appSecret,
      agentId: app.agentId,
      robotCode: app.robotCode,
      ingress: 'stream',
      token: app.eventToken,
      aesKey: app.aesKey,
      robots,
    },
    corpId: app.corpId,
    processCodes,
    context: ctx,
    admin: async (method, path, body) => {
      const res = await fetch(`${oapiServer.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`admin ${method} ${path}: HTTP ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    },
    close: async () => {
      ctx.closed = true;
      for (const t of bus.timers) clearTimeout(t);
      await gateway.close();
      await Promise.all([oapiServer.close(), apiServer.close()]);
    },
  };
}
