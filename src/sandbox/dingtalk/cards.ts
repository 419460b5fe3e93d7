/**
 * Interactive cards whose buttons call back (spec §11). A card is created and delivered with
 * `POST /v1.0/card/instances/createAndDeliver` (callbackType STREAM or HTTP; the create/deliver API
 * itself is outside the spec and follows DingTalk's card API reference), HTTP callbacks are routed by
 * `POST /v1.0/card/callbacks/register` (§11). A person clicking a button (admin surface) produces the
 * §11 callback body — over Stream on `/v1.0/card/instances/callback`, or by HTTP POST signed with
 * `x-ddpaas-signature` when an apiSecret was registered — and the reply's `cardData` /
 * `userPrivateData` update the card, within the 2 s budget.
 */
import { createHmac } from 'node:crypto';
import { admin, bad, ok, route, type SandboxContext } from './context.ts';
import type { EventBus } from './events.ts';
import { apiError, apiOk, isObject, type Json, parseJsonObject, parseNewBody } from './http-util.ts';
import { opaque } from './ids.ts';
import { TOPIC_CARD } from './stream-gateway.ts';

export interface SandboxCard {
  outTrackId: string;
  cardTemplateId: string;
  callbackType: 'STREAM' | 'HTTP';
  callbackRouteKey?: string;
  cardParamMap: Record<string, string>;
  privateData: Record<string, Record<string, string>>;
  spaces: Array<{ spaceType: 'IM_ROBOT' | 'IM_GROUP'; spaceId: string }>;
  createdAt: number;
  clicks: Array<{ userId: string; params: Json; at: number; delivered: string; response?: Json }>;
}

export interface CardsState {
  cards: Map<string, SandboxCard>;
  routes: Map<string, { callbackUrl: string; apiSecret?: string }>;
  replyDeadlineMs: number;
}

export function createCards(ctx: SandboxContext, bus: EventBus): CardsState {
  const state: CardsState = { cards: new Map(), routes: new Map(), replyDeadlineMs: 2000 };

  route(ctx.routes.api, 'POST', '/v1.0/card/callbacks/register', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    const key = body.callbackRouteKey;
    const url = body.callbackUrl;
    if (typeof key !== 'string' || !key)
      return apiError(400, 'invalidParameter', 'callbackRouteKey 不能为空');
    if (typeof url !== 'string' || !/^https?:\/\//.test(url))
      return apiError(400, 'invalidParameter', 'callbackUrl 不合法');
    if (state.routes.has(key) && body.forceUpdate !== true) {
      return apiError(400, 'invalidParameter', 'callbackRouteKey 已存在，如需更新请设置 forceUpdate');
    }
    const apiSecret = typeof body.apiSecret === 'string' && body.apiSecret ? body.apiSecret : undefined;
    state.routes.set(key, { callbackUrl: url, apiSecret });
    return apiOk({ success: true, result: { callbackUrl: url, ...(apiSecret ? { apiSecret } : {}) } });
  });

  route(ctx.routes.api, 'POST', '/v1.0/card/instances/createAndDeliver', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    const { cardTemplateId, outTrackId, openSpaceId } = body;
    if (typeof cardTemplateId !== 'string' || !cardTemplateId)
      return apiError(400, 'invalidParameter', 'cardTemplateId 不能为空');
    if (typeof outTrackId !== 'string' || !outTrackId)
      return apiError(400, 'invalidParameter', 'outTrackId 不能为空');
    if (typeof openSpaceId !== 'string' || !openSpaceId)
      return apiError(400, 'invalidParameter', 'openSpaceId 不能为空');
    if (state.cards.has(outTrackId)) return apiError(400, 'invalidParameter', 'outTrackId 已存在');
    const callbackType = body.callbackType === 'HTTP' ? 'HTTP' : 'STREAM';
    const routeKey = typeof body.callbackRouteKey === 'string' ? body.callbackRouteKey : undefined;
    if (callbackType === 'HTTP' && (!routeKey || !state.routes.has(routeKey))) {
      return apiError(400, 'invalidParameter', 'callbackRouteKey 未注册');
    }
    const spaces: SandboxCard['spaces'] = [];
    const results: Json[] = [];
    for (const part of openSpaceId.split(';').filter(Boolean)) {
      // dtv1.card//IM_ROBOT.<userId> or dtv1.card//IM_GROUP.<openConversationId>
      const m = /^dtv1\.card\/\/(IM_ROBOT|IM_GROUP)\.(.+)$/i.exec(part);
      if (!m) return apiError(400, 'invalidParameter', `openSpaceId 不合法: ${part}`);
      const spaceType = m[1].toUpperCase() as 'IM_ROBOT' | 'IM_GROUP';
      const spaceId = m[2];
      const valid =
        spaceType === 'IM_ROBOT'
          ? !!ctx.userById(spaceId)?.active
          : ctx.conversations.some((c) => c.conversationId === spaceId);
      if (spaceType === 'IM_ROBOT' && !isObject(body.imRobotOpenDeliverModel)) {
        return apiError(400, 'invalidParameter', 'imRobotOpenDeliverModel 不能为空');
      }
      if (spaceType === 'IM_GROUP' && !isObject(body.imGroupOpenDeliverModel)) {
        return apiError(400, 'invalidParameter', 'imGroupOpenDeliverModel 不能为空');
      }
      if (valid) spaces.push({ spaceType, spaceId });
      results.push({
        spaceType,
        spaceId,
        success: valid,
        ...(valid ? { carrierId: opaque(16) } : { errorMsg: '投放目标不存在' }),
      });
    }
    const params =
      isObject(body.cardData) && isObject(body.cardData.cardParamMap) ? body.cardData.cardParamMap : {};
    state.cards.set(outTrackId, {
      outTrackId,
      cardTemplateId,
      callbackType,
      callbackRouteKey: routeKey,
      cardParamMap: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
      privateData: {},
      spaces,
      createdAt: Date.now(),
      clicks: [],
    });
    return apiOk({ success: true, result: { outTrackId, deliverResults: results } });
  });

  route(ctx.routes.api, 'PUT', '/v1.0/card/instances', (req) => {
    const body = parseNewBody(req);
    if (!body) return apiError(400, 'invalidParameter', '请求体不是合法的JSON');
    const card = typeof body.outTrackId === 'string' ? state.cards.get(body.outTrackId) : undefined;
    if (!card) return apiError(400, 'invalidParameter', '卡片不存在');
    applyCardData(card, body);
    return apiOk({ success: true, result: true });
  });

  admin(ctx, 'GET', /^\/__sandbox\/cards$/, () =>
    ok({ cards: [...state.cards.values()], routes: Object.fromEntries(state.routes) }),
  );
  admin(ctx, 'GET', /^\/__sandbox\/cards\/([^/]+)$/, (_req, [id]) => {
    const card = state.cards.get(decodeURIComponent(id));
    return card ? ok(card) : bad('no such card', 404);
  });
  // Acts as a person clicking a button: {userId, params: {action: "confirm"}, actionIds?}.
  admin(ctx, 'POST', /^\/__sandbox\/cards\/([^/]+)\/click$/, async (req, [id]) => {
    const card = state.cards.get(decodeURIComponent(id));
    if (!card) return bad('no such card', 404);
    const input = parseNewBody(req);
    if (!isObject(input) || typeof input.userId !== 'string') return bad('{userId, params} expected');
    const userId = input.userId;
    const space = card.spaces.find(
      (s) =>
        (s.spaceType === 'IM_ROBOT' && s.spaceId === userId) ||
        (s.spaceType === 'IM_GROUP' &&
          ctx.conversations.find((c) => c.conversationId === s.spaceId)?.members.includes(userId)),
    );
    if (!space) return bad('the card was not delivered to this user', 403);
    const params = isObject(input.params) ? input.params : {};
    const actionIds = Array.isArray(input.actionIds) ? input.actionIds.map(String) : ['confirm'];
    const callback: Json = {
      type: 'actionCallback',
      outTrackId: card.outTrackId,
      corpId: ctx.app.corpId,
      userId,
      userIdType: 1,
      spaceType: space.spaceType,
      spaceId: space.spaceId,
      content: JSON.stringify({ cardPrivateData: { actionIds, params } }),
    };
    const click: SandboxCard['clicks'][number] = { userId, params, at: Date.now(), delivered: 'pending' };
    card.clicks.push(click);
    if (card.callbackType === 'STREAM') {
      const subscribed = ctx.pushStreamCallback(TOPIC_CARD, callback, (ack) => {
        click.delivered = ack ? 'acked' : 'unacked';
        const response = ack && isObject(ack.response) ? ack.response : undefined;
        if (response) {
          click.response = response;
          applyCardData(card, response, userId);
        }
      });
      click.delivered = subscribed ? 'sent' : 'queued';
      return ok({ delivered: click.delivered, callback });
    }
    const target = state.routes.get(card.callbackRouteKey ?? '');
    if (!target) return bad('callback route not registered', 409);
    const fault = bus.takeFault();
    if (fault.drop) {
      click.delivered = 'dropped';
      return ok({ delivered: click.delivered, callback });
    }
    const timestamp = String(Date.now());
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (target.apiSecret) {
      // HMAC over the timestamp alone, unlike robots (§11).
      headers['x-ddpaas-signature-timestamp'] = timestamp;
      headers['x-ddpaas-signature'] = createHmac('sha256', target.apiSecret)
        .update(timestamp, 'utf8')
        .digest('base64');
    }
    if (input.badSignature === true) headers['x-ddpaas-signature'] = 'AAAA';
    try {
      const res = await ctx.track(
        fetch(target.callbackUrl, {
          method: 'POST',
          headers,
          body: JSON.stringify(callback),
          signal: AbortSignal.timeout(state.replyDeadlineMs),
        }),
      );
      const text = await res.text();
      click.delivered = `HTTP ${res.status}`;
      const response = res.status === 200 ? parseJsonObject(text) : undefined;
      if (response) {
        click.response = response;
        applyCardData(card, response, userId);
      }
    } catch (err) {
      click.delivered = `failed: ${(err as Error).message}`;
    }
    return ok({ delivered: click.delivered, callback, response: click.response ?? null });
  });
  return state;
}

function applyCardData(card: SandboxCard, body: Json, userId?: string): void {
  if (isObject(body.cardData) && isObject(body.cardData.cardParamMap)) {
    for (const [k, v] of Object.entries(body.cardData.cardParamMap)) card.cardParamMap[k] = String(v);
  }
  const priv = isObject(body.userPrivateData)
    ? body.userPrivateData
    : isObject(body.privateData)
      ? body.privateData
      : undefined;
  if (priv && userId && isObject(priv.cardParamMap)) {
    card.privateData[userId] = Object.fromEntries(
      Object.entries(priv.cardParamMap).map(([k, v]) => [k, String(v)]),
    );
  }
}
