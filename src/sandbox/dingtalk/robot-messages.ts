/**
 * The enterprise robot (企业内部机器人, spec §6): a person "says" something to the robot (admin
 * surface) and the sandbox delivers it to the app — by HTTP callback with the `timestamp`/`sign`
 * headers (HMAC-SHA256 with the appSecret over `timestamp\nappSecret`, §6.1) or as a Stream CALLBACK
 * on `/v1.0/im/bot/messages/get` (§8.3). Group messages reach the robot only when they @ it; every
 * 1:1 message does (§6). Replies are accepted in the HTTP response, on the `sessionWebhook` until it
 * expires (§6.2), and through `/v1.0/robot/groupMessages/send` and `/v1.0/robot/oToMessages/batchSend`.
 */
import { createHmac } from 'node:crypto';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import { validateRobotMessage } from './custom-robot.ts';
import type { EventBus } from './events.ts';
import {
  apiError,
  apiOk,
  isObject,
  type Json,
  num,
  oapiError,
  parseJsonObject,
  parseNewBody,
} from './http-util.ts';
import { hex, opaque, stableOpaque } from './ids.ts';
import { type Conversation, singleConversation } from './seed.ts';
import { TOPIC_ROBOT } from './stream-gateway.ts';

export interface RobotSession {
  session: string;
  conversationId: string;
  userid: string;
  expiresAt: number;
}

export interface RobotReply {
  conversationId: string;
  via: 'httpResponse' | 'sessionWebhook' | 'groupMessages' | 'oToMessages';
  message: Json;
  userIds?: string[];
  at: number;
}

export interface IncomingRecord {
  msgId: string;
  conversationId: string;
  userid?: string;
  text?: string;
  message: Json;
  channel: 'http' | 'stream' | 'none';
  status: string;
  at: number;
}

export interface RobotState {
  sessions: Map<string, RobotSession>;
  replies: RobotReply[];
  incoming: IncomingRecord[];
  /** Session webhooks live about 90 minutes after createAt in every published sample (§6.1). */
  sessionTtlMs: number;
  /** §16.12: one sample puts `content` at the top level instead of `text.content`. */
  httpBodyVariant: 'text' | 'content';
  chatbotUserId: string;
}

const MSG_KEYS: Record<string, string[]> = {
  sampleText: ['content'],
  sampleMarkdown: ['title', 'text'],
  sampleLink: ['text', 'title', 'picUrl', 'messageUrl'],
  sampleActionCard: ['title', 'text', 'singleTitle', 'singleURL'],
  sampleImageMsg: ['photoURL'],
};

export function createRobotMessages(ctx: SandboxContext, bus: EventBus): RobotState {
  const state: RobotState = {
    sessions: new Map(),
    replies: [],
    incoming: [],
    sessionTtlMs: 5_400_000,
    httpBodyVariant: 'text',
    chatbotUserId: `$:LWCP_v1:$${stableOpaque(`bot:${ctx.app.appKey}`, 32)}`,
  };

  const findConversation = (id: string): Conversation | undefined =>
    ctx.conversations.find((c) => c.conversationId === id) ??
    ctx.users.map((u) => singleConversation(u.userid)).find((c) => c.conversationId === id);

  /** Builds the §6.1 body for one message and opens its session webhook. */
  const buildMessage = (userid: string | undefined, conv: Conversation, input: Json) => {
    const user = userid ? ctx.userById(userid) : undefined;
    const now = Date.now();
    const session: RobotSession = {
      session: hex(16),
      conversationId: conv.conversationId,
      userid: user?.userid ?? '',
      expiresAt: now + state.sessionTtlMs,
    };
    state.sessions.set(session.session, session);
    const group = conv.type === 'group';
    const msgtype = typeof input.msgtype === 'string' ? input.msgtype : 'text';
    const text = typeof input.text === 'string' ? input.text : '';
    const external = input.external === true;
    const body: Json = {
      // Group messages keep the space left where the @mention was removed (the §6.1 sample).
      ...(msgtype === 'text'
        ? { msgtype: 'text', text: { content: group ? ` ${text}` : text } }
        : { msgtype }),
      ...(msgtype !== 'text' && isObject(input.content) ? { content: input.content } : {}),
      msgId: `msg${opaque(18)}`,
      createAt: now,
      conversationType: group ? '2' : '1',
      conversationId: conv.conversationId,
      ...(group ? { conversationTitle: conv.title } : {}),
      senderId: user ? user.senderId : `$:LWCP_v1:$${opaque(24)}`,
      senderNick: user?.name ?? (typeof input.nick === 'string' ? input.nick : '访客'),
      // Absent for external users (§6.1).
      ...(user && !external ? { senderStaffId: user.userid, senderUnionId: user.unionid } : {}),
      senderCorpId: external ? `ding${hex(8)}` : ctx.app.corpId,
      isAdmin: user?.admin ?? false,
      chatbotCorpId: ctx.app.corpId,
      chatbotUserId: state.chatbotUserId,
      robotCode: ctx.app.robotCode,
      isInAtList: group ? input.atRobot !== false : true,
      ...(group ? { atUsers: [{ dingtalkId: state.chatbotUserId }] } : {}),
      sessionWebhook: `${ctx.urls.oapi}/robot/sendBySession?session=${session.session}`,
      sessionWebhookExpiredTime: session.expiresAt,
    };
    // With the monthly quota used up, the app gets a notice carrying error 20001 instead of the
    // message (D21; the key names are not shown there, so errCode/errMsg are the sandbox's reading).
    if (ctx.quotaExhausted()) {
      delete body.text;
      delete body.content;
      body.errCode = 20001;
      body.errMsg = '当前企业本月API调用量已用完，机器人消息无法推送';
      return body;
    }
    if (state.httpBodyVariant === 'content' && msgtype === 'text') {
      body.content = (body.text as Json).content;
      delete body.text;
    }
    return body;
  };

  const deliver = async (body: Json, input: Json): Promise<IncomingRecord> => {
    const rec: IncomingRecord = {
      msgId: String(body.msgId),
      conversationId: String(body.conversationId),
      userid: typeof body.senderStaffId === 'string' ? body.senderStaffId : undefined,
      text: isObject(body.text)
        ? String(body.text.content)
        : typeof body.content === 'string'
          ? body.content
          : undefined,
      message: body,
      channel:
        ctx.callbacks.robotMode === 'stream'
          ? 'stream'
          : ctx.callbacks.robotMode === 'http'
            ? 'http'
            : 'none',
      status: 'pending',
      at: Date.now(),
    };
    state.incoming.push(rec);
    if (ctx.callbacks.robotMode === 'stream') {
      const subscribed = ctx.pushStreamCallback(TOPIC_ROBOT, body, (ack) => {
        rec.status = ack ? 'acked' : 'unacked';
      });
      rec.status = subscribed ? 'sent' : 'queued';
      return rec;
    }
    if (ctx.callbacks.robotMode !== 'http' || !ctx.callbacks.robotUrl) {
      rec.status = 'no robot callback configured';
      return rec;
    }
    const fault = bus.takeFault();
    if (fault.delayMs > 0) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.drop) {
      rec.status = 'dropped';
      return rec;
    }
    const send = async () => {
      const timestamp = String(Date.now() + (num(input.clockSkewMs) ?? 0));
      const secret = input.badSignature === true ? `${ctx.app.appSecret}x` : ctx.app.appSecret;
      const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
      const res = await fetch(ctx.callbacks.robotUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', timestamp, sign },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(3000),
      });
      return { status: res.status, text: await res.text() };
    };
    try {
      const first = await send();
      if (fault.duplicate) await send().catch(() => undefined);
      rec.status = `HTTP ${first.status}`;
      // A valid robot message in the HTTP response is a reply; `{"msgtype":"empty"}` sends nothing (§6.2).
      const reply = first.status === 200 ? parseJsonObject(first.text) : undefined;
      if (
        reply &&
        reply.msgtype !== 'empty' &&
        !validateRobotMessage(reply, ['text', 'markdown', 'actionCard', 'feedCard'])
      ) {
        state.replies.push({
          conversationId: rec.conversationId,
          via: 'httpResponse',
          message: reply,
          at: Date.now(),
        });
      }
    } catch (err) {
      rec.status = `failed: ${(err as Error).message}`;
    }
    return rec;
  };

  route(
    ctx.routes.oapi,
    'POST',
    '/robot/sendBySession',
    (req) => {
      const s = state.sessions.get(req.query.get('session') ?? '');
      // The error for an unknown or expired session is not documented; 300005 mirrors the
      // observed "token is not exist" of the webhook family (§5.3) [sandbox choice].
      if (!s) return oapiError(300005, 'session is not exist');
      if (s.expiresAt < Date.now()) return oapiError(300005, 'session is expired');
      const msg = parseJsonObject(req.rawBody);
      if (!msg) return oapiError(40035, '缺少参数 json');
      const problem = validateRobotMessage(msg, ['text', 'markdown', 'actionCard', 'feedCard', 'link']);
      if (problem) return oapiError(problem.code, problem.message);
      state.replies.push({
        conversationId: s.conversationId,
        via: 'sessionWebhook',
        message: msg,
        at: Date.now(),
      });
      return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
    },
    { auth: false, metered: false },
  );

  const msgOf = (body: Json): Json | { error: ReturnType<typeof apiError> } => {
    const key = body.msgKey;
    if (typeof key !== 'string' || !MSG_KEYS[key])
      return { error: apiError(400, 'invalidParameter', 'msgKey 不合法') };
    const param = typeof body.msgParam === 'string' ? parseJsonObject(body.msgParam) : undefined;
    if (!param) return { error: apiError(400, 'invalidParameter', 'msgParam 必须是JSON字符串') };
    for (const k of MSG_KEYS[key]) {
      if (typeof param[k] !== 'string')
        return { error: apiError(400, 'invalidParameter', `msgParam.${k} 不能为空`) };
    }
    return { msgKey: key, msgParam: param };
  };

  route(ctx.routes.api, 'POST', '/v1.0/robot/groupMessages/send', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    if (body.robotCode !== ctx.app.robotCode) return apiError(400, 'robot.notExist', '机器人不存在');
    const conv =
      typeof body.openConversationId === 'string' ? findConversation(body.openConversationId) : undefined;
    if (conv?.type !== 'group') return apiError(400, 'invalidParameter', 'openConversationId 不合法');
    const msg = msgOf(body);
    if ('error' in msg) return msg.error as ReturnType<typeof apiError>;
    state.replies.push({
      conversationId: conv.conversationId,
      via: 'groupMessages',
      message: msg,
      at: Date.now(),
    });
    return apiOk({ processQueryKey: opaque(24) });
  });

  route(ctx.routes.api, 'POST', '/v1.0/robot/oToMessages/batchSend', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    if (body.robotCode !== ctx.app.robotCode) return apiError(400, 'robot.notExist', '机器人不存在');
    const userIds = Array.isArray(body.userIds) ? body.userIds.map(String) : [];
    if (userIds.length === 0 || userIds.length > 20)
      return apiError(400, 'invalidParameter', 'userIds 数量必须在1到20之间');
    const msg = msgOf(body);
    if ('error' in msg) return msg.error as ReturnType<typeof apiError>;
    const invalid = userIds.filter((u) => !ctx.userById(u)?.active);
    const valid = userIds.filter((u) => !invalid.includes(u));
    for (const u of valid) {
      state.replies.push({
        conversationId: singleConversation(u).conversationId,
        via: 'oToMessages',
        message: msg,
        userIds: [u],
        at: Date.now(),
      });
    }
    return apiOk({ processQueryKey: opaque(24), invalidStaffIdList: invalid, flowControlledStaffIdList: [] });
  });

  admin(ctx, 'GET', /^\/__sandbox\/conversations$/, () =>
    ok({
      groups: ctx.conversations,
      singles: ctx.users.map((u) => ({ userid: u.userid, ...singleConversation(u.userid) })),
    }),
  );
  // Acts as a person writing to the robot: {userId, text, group?, conversationId?, atRobot?, external?,
  // msgtype?, content?, badSignature?, clockSkewMs?}.
  admin(ctx, 'POST', /^\/__sandbox\/robot\/say$/, async (req) => {
    const input = parseNewBody(req);
    if (!isObject(input)) return bad('JSON body expected');
    const userid = typeof input.userId === 'string' ? input.userId : undefined;
    if (userid && !ctx.userById(userid)) return bad('no such user', 404);
    let conv: Conversation | undefined;
    if (typeof input.conversationId === 'string' || typeof input.group === 'string') {
      const key = String(input.conversationId ?? input.group);
      conv = ctx.conversations.find((c) => c.conversationId === key || c.title === key);
      if (!conv) return bad('no such group', 404);
      if (userid && !conv.members.includes(userid)) return bad('the user is not in that group');
    } else {
      if (!userid) return bad('userId is required for a 1:1 chat');
      conv = singleConversation(userid);
    }
    const body = buildMessage(userid, conv, input);
    // Group messages reach the robot only when they @ it (§6).
    if (conv.type === 'group' && input.atRobot === false) {
      return ok({ msgId: body.msgId, delivered: false, status: 'not for the robot (no @)' });
    }
    const rec = await ctx.track(deliver(body, input));
    return ok({ msgId: rec.msgId, delivered: true, status: rec.status, message: body });
  });
  admin(ctx, 'GET', /^\/__sandbox\/robot\/messages$/, () => ok({ incoming: state.incoming }));
  admin(ctx, 'GET', /^\/__sandbox\/robot\/replies$/, (req) => {
    const conversationId = req.query.get('conversationId');
    const userId = req.query.get('userId');
    const conv = userId ? singleConversation(userId).conversationId : conversationId;
    return ok({ replies: state.replies.filter((r) => !conv || r.conversationId === conv) });
  });
  admin(ctx, 'POST', /^\/__sandbox\/robot\/sessions\/expire$/, (req) => {
    const body = parseNewBody(req) ?? {};
    let n = 0;
    for (const s of state.sessions.values()) {
      if (!body.session || s.session === body.session) {
        s.expiresAt = Date.now() - 1;
        n += 1;
      }
    }
    return ok({ expired: n });
  });
  admin(ctx, 'POST', /^\/__sandbox\/robot\/config$/, (req) => {
    const body = parseNewBody(req);
    if (!isObject(body)) return bad('JSON body expected');
    const ttl = num(body.sessionTtlMs);
    if (ttl !== undefined && ttl > 0) state.sessionTtlMs = ttl;
    if (body.httpBodyVariant === 'text' || body.httpBodyVariant === 'content')
      state.httpBodyVariant = body.httpBodyVariant;
    return ok({ sessionTtlMs: state.sessionTtlMs, httpBodyVariant: state.httpBodyVariant });
  });
  return state;
}
