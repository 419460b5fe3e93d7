/**
 * The custom group robot webhook (自定义机器人, spec §5): `POST /robot/send?access_token=…`, with
 * the robot's security settings (keywords, 加签 signature with a ±1 h timestamp window, IPv4/CIDR
 * allow-list) answered as errcode 310000 (§5.2), message-type validation (400105 for others), the
 * `msgUuid` idempotency key, and the 20-messages-a-minute throttle that blocks the robot for 10
 * minutes (§5.3, default code 410100; 130101 and 660026 switchable, §16.1).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import {
  ipInCidr,
  ipv4,
  isObject,
  type Json,
  num,
  oapiError,
  parseJsonObject,
  parseNewBody,
} from './http-util.ts';
import type { CustomRobot } from './seed.ts';

export interface RobotMessageRecord {
  robot: string;
  msgtype: string;
  message: Json;
  at: number;
  msgUuid?: string;
}

export interface CustomRobotsState {
  messages: RobotMessageRecord[];
  windows: Map<string, number[]>;
  throttledUntil: Map<string, number>;
  uuids: Map<string, Set<string>>;
  rateLimitCode: 410100 | 130101 | 660026;
  unknownTokenCode: 400101 | 300005;
  perMinute: number;
  throttleMs: number;
}

const RATE_MESSAGES: Record<number, string> = {
  410100: '发送速度太快而限流',
  130101: 'send too fast, exceed 20 times per minute',
  660026: 'sending too many messages per minute',
};

export function robotSign(timestamp: string, secret: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

export function createCustomRobots(ctx: SandboxContext): CustomRobotsState {
  const state: CustomRobotsState = {
    messages: [],
    windows: new Map(),
    throttledUntil: new Map(),
    uuids: new Map(),
    rateLimitCode: 410100,
    unknownTokenCode: 400101,
    perMinute: 20,
    throttleMs: 600_000,
  };

  route(
    ctx.routes.oapi,
    'POST',
    '/robot/send',
    (req) => {
      const token = req.query.get('access_token');
      const robot = token ? ctx.robots.find((r) => r.accessToken === token) : undefined;
      if (!robot) {
        return state.unknownTokenCode === 300005
          ? oapiError(300005, 'token is not exist')
          : oapiError(400101, 'access_token不存在');
      }
      if (!robot.enabled) return oapiError(400102, '机器人已停用');
      const type = String(req.headers['content-type'] ?? '');
      if (!type.includes('application/json')) return oapiError(43004, '无效的HTTP HEADER Content-Type');
      const msg = parseJsonObject(req.rawBody);
      if (!msg) return oapiError(40035, '缺少参数 json');

      // Security settings (spec §5.2): IP list, then signature, then keywords.
      const ip = ipv4(req.ip);
      if (robot.ipList.length > 0 && !robot.ipList.some((c) => ipInCidr(ip, c))) {
        return oapiError(310000, `ip ${ip} not in whitelist`);
      }
      if (robot.secret) {
        const ts = req.query.get('timestamp') ?? '';
        const sign = req.query.get('sign') ?? '';
        const tsNum = Number(ts);
        if (!/^\d+$/.test(ts) || Math.abs(Date.now() - tsNum) > 3_600_000) {
          return oapiError(310000, 'invalid timestamp');
        }
        if (!safeEqual(sign, robotSign(ts, robot.secret))) return oapiError(310000, 'sign not match');
      }
      const problem = validateRobotMessage(msg, ['text', 'markdown', 'link', 'actionCard', 'feedCard']);
      if (problem) return oapiError(problem.code, problem.message);
      if (robot.keywords.length > 0) {
        const text = messageText(msg);
        if (!robot.keywords.some((k) => text.includes(k)))
          return oapiError(310000, 'keywords not in content');
      }

      // The documented idempotency key (D11): a repeated msgUuid is answered ok and not posted again.
      const uuid = typeof msg.msgUuid === 'string' && msg.msgUuid ? msg.msgUuid : undefined;
      const seen = state.uuids.get(robot.name) ?? new Set<string>();
      state.uuids.set(robot.name, seen);
      if (uuid && seen.has(uuid)) return { status: 200, body: { errcode: 0, errmsg: 'ok' } };

      const now = Date.now();
      if ((state.throttledUntil.get(robot.name) ?? 0) > now) return rateLimited(state);
      const window = (state.windows.get(robot.name) ?? []).filter((t) => now - t < 60_000);
      if (window.length >= state.perMinute) {
        state.throttledUntil.set(robot.name, now + state.throttleMs);
        state.windows.set(robot.name, window);
        return rateLimited(state);
      }
      window.push(now);
      state.windows.set(robot.name, window);
      if (uuid) seen.add(uuid);
      state.messages.push({
        robot: robot.name,
        msgtype: String(msg.msgtype),
        message: msg,
        at: now,
        msgUuid: uuid,
      });
      return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
    },
    { auth: false, metered: false },
  );

  const byName = (name: string) => ctx.robots.find((r) => r.name === decodeURIComponent(name));
  admin(ctx, 'GET', /^\/__sandbox\/robots$/, () =>
    ok({
      robots: ctx.robots.map((r) => ({ ...r, throttledUntil: state.throttledUntil.get(r.name) ?? null })),
      rateLimitCode: state.rateLimitCode,
      unknownTokenCode: state.unknownTokenCode,
    }),
  );
  admin(ctx, 'GET', /^\/__sandbox\/robots\/([^/]+)\/messages$/, (_req, [name]) => {
    const robot = byName(name);
    if (!robot) return bad('no such robot', 404);
    return ok({ messages: state.messages.filter((m) => m.robot === robot.name) });
  });
  admin(ctx, 'POST', /^\/__sandbox\/robots\/config$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const code = num(body.rateLimitCode);
    if (code === 410100 || code === 130101 || code === 660026) state.rateLimitCode = code;
    const unknown = num(body.unknownTokenCode);
    if (unknown === 400101 || unknown === 300005) state.unknownTokenCode = unknown;
    const per = num(body.perMinute);
    if (per !== undefined && per > 0) state.perMinute = per;
    const throttle = num(body.throttleMs);
    if (throttle !== undefined && throttle >= 0) state.throttleMs = throttle;
    return ok({
      rateLimitCode: state.rateLimitCode,
      unknownTokenCode: state.unknownTokenCode,
      perMinute: state.perMinute,
    });
  });
  // Acts as the group owner editing the robot's security settings.
  admin(ctx, 'POST', /^\/__sandbox\/robots\/([^/]+)$/, (req, [name]) => {
    const robot = byName(name);
    if (!robot) return bad('no such robot', 404);
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    return applyRobotSettings(robot, body) ?? ok(robot);
  });
  admin(ctx, 'POST', /^\/__sandbox\/robots\/([^/]+)\/unthrottle$/, (_req, [name]) => {
    const robot = byName(name);
    if (!robot) return bad('no such robot', 404);
    state.throttledUntil.delete(robot.name);
    state.windows.delete(robot.name);
    return ok(robot);
  });
  return state;
}

function applyRobotSettings(robot: CustomRobot, body: Json) {
  if (Array.isArray(body.keywords)) {
    if (body.keywords.length > 10) return bad('at most 10 keywords');
    robot.keywords = body.keywords.map(String);
  }
  if (Array.isArray(body.ipList)) robot.ipList = body.ipList.map(String);
  if (body.secret === null) robot.secret = undefined;
  if (typeof body.secret === 'string') {
    if (!body.secret.startsWith('SEC')) return bad('secret starts with SEC');
    robot.secret = body.secret;
  }
  if (typeof body.enabled === 'boolean') robot.enabled = body.enabled;
  if (!robot.secret && robot.keywords.length === 0 && robot.ipList.length === 0) {
    return bad('at least one security setting is mandatory (spec §5.2)');
  }
  return undefined;
}

function rateLimited(state: CustomRobotsState) {
  return oapiError(state.rateLimitCode, RATE_MESSAGES[state.rateLimitCode]);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** All text a keyword may match in (spec §15.9: "substring in the message's text fields"). */
export function messageText(msg: Json): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (isObject(v)) for (const [k, x] of Object.entries(v)) if (!/url$/i.test(k)) walk(x);
  };
  const type = String(msg.msgtype);
  walk(msg[type]);
  return parts.join('\n');
}

/**
 * Robot message shapes (spec §5.1, D11/D14). Returns the errcode and message for a bad one:
 * 400105 for a type the endpoint does not take, 40035 for a missing field.
 */
export function validateRobotMessage(
  msg: Json,
  allowed: readonly string[],
): { code: number; message: string } | undefined {
  const type = msg.msgtype;
  if (typeof type !== 'string' || !allowed.includes(type)) {
    return { code: 400105, message: `不支持的消息类型 ${String(type)}` };
  }
  const body = msg[type];
  if (!isObject(body)) return { code: 40035, message: `缺少参数 ${type}` };
  const need = (...keys: string[]) => {
    for (const k of keys) {
      if (typeof body[k] !== 'string' || !body[k]) return { code: 40035, message: `缺少参数 ${type}.${k}` };
    }
    return undefined;
  };
  switch (type) {
    case 'text':
      return need('content');
    case 'markdown':
      return need('title', 'text');
    case 'link':
      return need('title', 'text', 'messageUrl');
    case 'actionCard': {
      const p = need('title', 'text');
      if (p) return p;
      const single = typeof body.singleTitle === 'string' && typeof body.singleURL === 'string';
      const multi = Array.isArray(body.btns) && body.btns.every((b) => isObject(b) && b.title && b.actionURL);
      return single || (multi && (body.btns as unknown[]).length > 0)
        ? undefined
        : { code: 40035, message: '缺少参数 actionCard.singleTitle/singleURL 或 btns' };
    }
    case 'feedCard': {
      const links = body.links;
      return Array.isArray(links) &&
        links.length > 0 &&
        links.every((l) => isObject(l) && l.title && l.messageURL)
        ? undefined
        : { code: 40035, message: '缺少参数 feedCard.links' };
    }
    default:
      return undefined;
  }
}
