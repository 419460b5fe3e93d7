/**
 * The WeCom (企业微信) sandbox: a faithful simulator of the server API in shared/specs/wecom.md —
 * tokens, OA approvals, WXBizMsgCrypt callbacks, application messages and template cards, the group
 * robot, contacts, error envelopes and limits — plus the `/__sandbox/` admin surface
 * (docs/sandbox/wecom.md). Start it in-process with `startWecomSandbox()`; several can run at once.
 */
import {
  parseJson,
  type SandboxHandle,
  type SandboxReply,
  type SandboxRequest,
  type SandboxServer,
  type SandboxStartOptions,
  startSandboxServer,
} from '../common/server.ts';
import { handleAdmin } from './admin.ts';
import { applyEvent, approvalDetail, approvalInfo, templateDetail } from './approval.ts';
import { appOf, getToken } from './auth.ts';
import { CallbackDispatcher } from './callbacks.ts';
import {
  departmentGet,
  departmentList,
  departmentSimpleList,
  getUserIdByEmail,
  getUserIdByMobile,
  userGet,
} from './contacts.ts';
import { errorReply, ok, WecomApiError } from './errors.ts';
import { checkRate, enter } from './limits.ts';
import { sendMessage, updateTemplateCard } from './messages.ts';
import { robotSend } from './robot.ts';
import { SEED, seedWorld } from './seed.ts';
import { type App, now, type WecomWorld } from './state.ts';

export { CONTROL_IDS, SEED, TEMPLATE_IDS } from './seed.ts';

type Json = Record<string, unknown>;

interface Route {
  method: 'GET' | 'POST';
  /** Needs `access_token` (all but gettoken and the robot webhook). */
  auth: boolean;
  run(w: WecomWorld, req: SandboxRequest, app: App | undefined, body: Json): Json;
}

export interface WecomSandbox extends SandboxHandle {
  /** The live state, for in-process tests (the admin surface exposes the same over HTTP). */
  world: WecomWorld;
  /** Resolves when every queued callback delivery (retries and duplicates included) is over. */
  idle(): Promise<void>;
}

const MAX_CALL_LOG = 20_000;

export async function startWecomSandbox(options: SandboxStartOptions = {}): Promise<WecomSandbox> {
  const w = seedWorld();
  const dispatcher = new CallbackDispatcher(w);
  const body = (req: SandboxRequest): Json => {
    const parsed = parseJson(req.rawBody);
    if (
      req.rawBody.length > 0 &&
      (parsed === undefined || typeof parsed !== 'object' || Array.isArray(parsed))
    ) {
      throw new WecomApiError(47001);
    }
    return (parsed ?? {}) as Json;
  };
  const routes: Record<string, Route> = {
    '/cgi-bin/gettoken': { method: 'GET', auth: false, run: (_w, req) => getToken(w, req) },
    '/cgi-bin/oa/gettemplatedetail': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => templateDetail(w, app!, b),
    },
    '/cgi-bin/oa/applyevent': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => applyEvent(w, app!, b, dispatcher),
    },
    '/cgi-bin/oa/getapprovalinfo': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => approvalInfo(w, app!, b),
    },
    '/cgi-bin/oa/getapprovaldetail': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => approvalDetail(w, app!, b),
    },
    '/cgi-bin/message/send': { method: 'POST', auth: true, run: (_w, _r, app, b) => sendMessage(w, app!, b) },
    '/cgi-bin/message/update_template_card': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => updateTemplateCard(w, app!, b),
    },
    '/cgi-bin/webhook/send': {
      method: 'POST',
      auth: false,
      run: (_w, req, _a, b) => robotSend(w, req.query.get('key'), b),
    },
    '/cgi-bin/user/get': {
      method: 'GET',
      auth: true,
      run: (_w, req, app) => userGet(w, app!, req.query.get('userid')),
    },
    '/cgi-bin/user/getuserid': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => getUserIdByMobile(w, app!, b),
    },
    '/cgi-bin/user/get_userid_by_email': {
      method: 'POST',
      auth: true,
      run: (_w, _r, app, b) => getUserIdByEmail(w, app!, b),
    },
    '/cgi-bin/department/list': {
      method: 'GET',
      auth: true,
      run: (_w, req, app) => departmentList(w, app!, req.query.get('id')),
    },
    '/cgi-bin/department/simplelist': {
      method: 'GET',
      auth: true,
      run: (_w, req, app) => departmentSimpleList(w, app!, req.query.get('id')),
    },
    '/cgi-bin/department/get': {
      method: 'GET',
      auth: true,
      run: (_w, req, app) => departmentGet(w, app!, req.query.get('id')),
    },
  };

  let server: SandboxServer | undefined;
  const handler = async (req: SandboxRequest): Promise<SandboxReply> => {
    if (req.path.startsWith('/__sandbox/')) return handleAdmin({ w, dispatcher, server: () => server! }, req);
    const route = routes[req.path];
    let errcode = 0;
    const log = () => {
      w.calls.push({ path: req.path, errcode, at: now(w) });
      if (w.calls.length > MAX_CALL_LOG) w.calls.splice(0, w.calls.length - MAX_CALL_LOG);
    };
    if (!route) {
      errcode = 404;
      log();
      return { status: 404, body: { errcode: -1, errmsg: `no such api ${req.path}` } };
    }
    let leave: (() => void) | undefined;
    try {
      checkRate(w, req.path);
      leave = enter(w, req.path);
      if (w.limits.processingMs > 0) await new Promise((r) => setTimeout(r, w.limits.processingMs));
      // Robot webhooks and gettoken carry no token; a POST API called with GET gets WeCom's "empty body".
      if (route.method === 'POST' && req.method !== 'POST') throw new WecomApiError(40063, 'use POST');
      const app = route.auth ? appOf(w, req) : undefined;
      const b = route.method === 'POST' ? body(req) : {};
      return ok(route.run(w, req, app, b));
    } catch (err) {
      if (!(err instanceof WecomApiError)) throw err;
      errcode = err.errcode;
      return errorReply(err.errcode, err.message, req.ip.replace(/^::ffff:/, ''));
    } finally {
      leave?.();
      log();
    }
  };

  server = await startSandboxServer(handler, options);
  const baseUrl = server.url;
  const s = server;
  return {
    system: 'wecom',
    baseUrl,
    urls: { api: baseUrl, admin: `${baseUrl}/__sandbox`, webhook: `${baseUrl}/cgi-bin/webhook/send` },
    credentials: {
      corpId: SEED.corpId,
      agentId: SEED.agentId,
      secret: SEED.secret,
      token: SEED.callbackToken,
      encodingAesKey: SEED.encodingAesKey,
      robots: { ...SEED.robots },
    },
    world: w,
    idle: () => dispatcher.idle(),
    close: async () => {
      dispatcher.close();
      await s.close();
    },
  };
}
