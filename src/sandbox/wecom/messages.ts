/**
 * Application messages (spec §6.1, §10.13–14): `message/send` for text, textcard, markdown and
 * template cards, recorded per member; `update_template_card` consuming one-time response codes; the
 * member's click on a card button (pushed as `template_card_event`) and a member writing to the app
 * (pushed as a text message event, spec §4.2).
 */
import { randomBytes } from 'node:crypto';
import type { CallbackDispatcher } from './callbacks.ts';
import { WecomApiError } from './errors.ts';
import { isWithin, visibleTo } from './seed.ts';
import { type App, type Card, now, nowSeconds, type StoredMessage, type WecomWorld } from './state.ts';
import { toXml, type XmlNode } from './xml.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

const MSGTYPES = new Set([
  'text',
  'image',
  'voice',
  'video',
  'file',
  'textcard',
  'news',
  'mpnews',
  'markdown',
  'miniprogram_notice',
  'template_card',
]);
const CARD_TYPES = new Set([
  'text_notice',
  'news_notice',
  'button_interaction',
  'vote_interaction',
  'multiple_interaction',
]);
const INTERACTIVE = new Set(['button_interaction', 'vote_interaction', 'multiple_interaction']);
/** Response codes are valid for 72 h (spec §6.2; §11.5 notes older docs said 24 h). */
const RESPONSE_CODE_TTL_MS = 72 * 3600_000;

/** Cuts a UTF-8 string to at most `max` bytes without splitting a character (WeCom truncates, §6.1). */
export function truncateBytes(s: string, max: number): string {
  if (bytes(s) <= max) return s;
  let out = '';
  for (const ch of s) {
    if (bytes(out + ch) > max) break;
    out += ch;
  }
  return out;
}

function responseCode(w: WecomWorld, taskId: string, agentId: number): string {
  const code = randomBytes(24).toString('base64url');
  w.responseCodes.set(code, { code, taskId, agentId, expiresAt: now(w) + RESPONSE_CODE_TTL_MS, used: false });
  return code;
}

function recipients(
  w: WecomWorld,
  app: App,
  body: Json,
): { users: string[]; invaliduser: string[]; invalidparty: string[]; invalidtag: string[] } {
  const users = new Set<string>();
  const invaliduser: string[] = [];
  const invalidparty: string[] = [];
  const invalidtag: string[] = [];
  const touser = typeof body.touser === 'string' ? body.touser : '';
  if (touser === '@all') {
    // @all: every member in the visible range; toparty/totag are then ignored (spec §6.1).
    for (const m of w.members.values()) if (visibleTo(w, app, m.userid)) users.add(m.userid);
    return { users: [...users], invaliduser, invalidparty, invalidtag };
  }
  for (const u of touser.split('|').filter(Boolean)) {
    const m = w.members.get(u.toLowerCase());
    if (m && visibleTo(w, app, m.userid)) users.add(m.userid);
    else invaliduser.push(u.toLowerCase());
  }
  const toparty = typeof body.toparty === 'string' ? body.toparty : '';
  for (const p of toparty.split('|').filter(Boolean)) {
    const id = Number(p);
    if (!w.depts.has(id) || !app.visibleDepartments.some((v) => isWithin(w, id, v))) {
      invalidparty.push(p);
      continue;
    }
    for (const m of w.members.values())
      if (m.departments.some((d) => isWithin(w, d, id))) users.add(m.userid);
  }
  const totag = typeof body.totag === 'string' ? body.totag : '';
  // The seeded corp has no tags: every tag is invalid.
  for (const t of totag.split('|').filter(Boolean)) invalidtag.push(t);
  return { users: [...users], invaliduser, invalidparty, invalidtag };
}

function validateCard(
  w: WecomWorld,
  app: App,
  card: unknown,
): { card: Json; taskId?: string; interactive: boolean } {
  if (!isObj(card)) throw new WecomApiError(40058, 'template_card is empty');
  const type = card.card_type;
  if (typeof type !== 'string' || !CARD_TYPES.has(type)) throw new WecomApiError(40058, 'invalid card_type');
  const interactive = INTERACTIVE.has(type);
  const taskId = card.task_id;
  if (interactive || taskId !== undefined) {
    // Unique per app; digits, letters, _-@; ≤ 128 bytes. Duplicates, empty or too long → 42014 (§6.1).
    if (typeof taskId !== 'string' || !/^[A-Za-z0-9_\-@]{1,128}$/.test(taskId))
      throw new WecomApiError(42014);
    if (w.cards.has(`${app.agentId}:${taskId}`)) throw new WecomApiError(42014, 'task_id already used');
  }
  if (Array.isArray(card.horizontal_content_list) && card.horizontal_content_list.length > 6) {
    throw new WecomApiError(40058, 'horizontal_content_list takes at most 6 items');
  }
  if (type === 'button_interaction') {
    const list = card.button_list;
    if (!Array.isArray(list) || list.length < 1 || list.length > 6)
      throw new WecomApiError(40058, 'button_list takes 1 to 6 buttons');
    const keys = new Set<string>();
    for (const b of list as unknown[]) {
      if (!isObj(b) || typeof b.text !== 'string' || !b.text)
        throw new WecomApiError(40058, 'button text is empty');
      if (b.style !== undefined && ![1, 2, 3, 4].includes(b.style as number))
        throw new WecomApiError(40058, 'button style must be 1..4');
      if ((b.type ?? 0) === 0) {
        if (typeof b.key !== 'string' || !b.key) throw new WecomApiError(42019);
        if (bytes(b.key) > 1024 || keys.has(b.key)) throw new WecomApiError(42018);
        keys.add(b.key);
      } else if (typeof b.url !== 'string' || !b.url) throw new WecomApiError(41010);
    }
  }
  return { card, taskId: taskId as string | undefined, interactive };
}

export function sendMessage(w: WecomWorld, app: App, body: Json): Json {
  if (body.agentid === undefined) throw new WecomApiError(40056, 'agentid missing');
  if (Number(body.agentid) !== app.agentId)
    throw new WecomApiError(40056, 'agentid does not match the access_token');
  const msgtype = body.msgtype;
  if (typeof msgtype !== 'string' || !MSGTYPES.has(msgtype)) throw new WecomApiError(40008);
  const content = body[msgtype];
  if (!isObj(content)) throw new WecomApiError(44004, `${msgtype} is empty`);
  let stored: Json = { ...content };
  let card: ReturnType<typeof validateCard> | undefined;
  switch (msgtype) {
    case 'text':
      if (typeof content.content !== 'string' || !content.content) throw new WecomApiError(44004);
      stored = { content: truncateBytes(content.content, 2048) };
      break;
    case 'markdown':
      if (typeof content.content !== 'string' || !content.content) throw new WecomApiError(44004);
      if (bytes(content.content) > 2048) throw new WecomApiError(45002, 'markdown content over 2048 bytes');
      break;
    case 'textcard':
      if (typeof content.title !== 'string' || !content.title)
        throw new WecomApiError(44004, 'title is empty');
      if (typeof content.description !== 'string' || !content.description) throw new WecomApiError(41033);
      if (typeof content.url !== 'string' || !content.url) throw new WecomApiError(41010);
      stored = {
        title: truncateBytes(content.title, 128),
        description: truncateBytes(content.description, 512),
        url: content.url,
        btntxt: [...(typeof content.btntxt === 'string' && content.btntxt ? content.btntxt : '详情')]
          .slice(0, 4)
          .join(''),
      };
      break;
    case 'template_card':
      card = validateCard(w, app, content);
      break;
  }
  const to = recipients(w, app, body);
  if (to.users.length === 0) throw new WecomApiError(81013);

  const t = now(w);
  // enable_duplicate_check: the same request JSON within the interval is not sent again (spec §6.1).
  let dupKey: string | undefined;
  if (body.enable_duplicate_check === 1) {
    dupKey = `${app.agentId}:${JSON.stringify(body)}`;
    const interval = Math.min(Number(body.duplicate_check_interval ?? 1800), 4 * 3600) * 1000;
    const prev = w.recentRequests.get(dupKey);
    if (prev && prev.at > t - interval) return withInvalid({ msgid: prev.msgid }, to);
  }
  const msgid = randomBytes(18).toString('base64url');
  if (dupKey) w.recentRequests.set(dupKey, { msgid, at: t });
  const out: Json = { msgid };
  if (card?.taskId) {
    const c: Card = {
      taskId: card.taskId,
      agentId: app.agentId,
      card: card.card,
      recipients: to.users,
      msgid,
      updates: [],
      clicks: [],
    };
    w.cards.set(`${app.agentId}:${card.taskId}`, c);
    if (card.interactive) out.response_code = responseCode(w, card.taskId, app.agentId);
  }
  for (const u of to.users) {
    const list = w.messages.get(u.toLowerCase()) ?? [];
    const m: StoredMessage = {
      msgid,
      agentId: app.agentId,
      msgtype,
      body: stored,
      at: t,
      taskId: card?.taskId,
    };
    if (w.limits.enabled) {
      // Per app per member ≤ 30/min; the excess is silently dropped (spec §9).
      const recent = list.filter((x) => x.agentId === app.agentId && !x.dropped && x.at > t - 60_000).length;
      if (recent >= w.limits.messagesPerMemberPerMinute) m.dropped = true;
    }
    list.push(m);
    w.messages.set(u.toLowerCase(), list);
  }
  return withInvalid(out, to);
}

function withInvalid(
  out: Json,
  to: { invaliduser: string[]; invalidparty: string[]; invalidtag: string[] },
): Json {
  if (to.invaliduser.length) out.invaliduser = to.invaliduser.join('|');
  if (to.invalidparty.length) out.invalidparty = to.invalidparty.join('|');
  if (to.invalidtag.length) out.invalidtag = to.invalidtag.join('|');
  return out;
}

export function updateTemplateCard(w: WecomWorld, app: App, body: Json): Json {
  if (Number(body.agentid) !== app.agentId) throw new WecomApiError(40056);
  const code = typeof body.response_code === 'string' ? w.responseCodes.get(body.response_code) : undefined;
  // One use per code, 72 h (spec §6.2). WeCom's code for a spent code is undocumented: 40058 here.
  if (!code || code.used || code.expiresAt <= now(w)) throw new WecomApiError(40058, 'invalid response_code');
  if (code.agentId !== app.agentId) throw new WecomApiError(42015);
  const card = w.cards.get(`${code.agentId}:${code.taskId}`);
  if (!card) throw new WecomApiError(42016);
  let update: Card['updates'][number];
  const userids =
    body.atall === 1
      ? ('all' as const)
      : Array.isArray(body.userids)
        ? (body.userids as string[])
        : card.recipients;
  if (isObj(body.button)) {
    if (typeof body.button.replace_name !== 'string' || !body.button.replace_name)
      throw new WecomApiError(42020);
    update = { userids, button: body.button, at: now(w) };
  } else if (isObj(body.template_card)) {
    const c = body.template_card;
    if (typeof c.card_type !== 'string' || !CARD_TYPES.has(c.card_type))
      throw new WecomApiError(40058, 'invalid card_type');
    update = { userids, card: c, at: now(w) };
  } else {
    throw new WecomApiError(40058, 'button or template_card is required');
  }
  code.used = true;
  card.updates.push(update);
  const invaliduser =
    userids === 'all'
      ? []
      : userids.filter((u) => !card.recipients.some((r) => r.toLowerCase() === u.toLowerCase()));
  return { invaliduser };
}

export class ClickRefused extends Error {}

/** A member clicks a button of an interactive card: a fresh ResponseCode and a `template_card_event` (§4.5). */
export function clickCard(
  w: WecomWorld,
  dispatcher: CallbackDispatcher,
  input: {
    userid: string;
    taskId: string;
    key: string;
    agentId?: number;
    selectedItems?: Array<{ questionKey: string; optionIds: string[] }>;
  },
): { responseCode: string; eventId: number } {
  const agentId = input.agentId ?? [...w.cards.values()].find((c) => c.taskId === input.taskId)?.agentId;
  const card = agentId === undefined ? undefined : w.cards.get(`${agentId}:${input.taskId}`);
  if (!card) throw new ClickRefused(`no card with task_id ${input.taskId}`);
  const member = card.recipients.find((r) => r.toLowerCase() === (input.userid ?? '').toLowerCase());
  if (!member) throw new ClickRefused(`${input.userid} did not receive card ${input.taskId}`);
  const cardType = String(card.card.card_type);
  if (!INTERACTIVE.has(cardType)) throw new ClickRefused(`card ${input.taskId} is not interactive`);
  if (cardType === 'button_interaction') {
    const keys = ((card.card.button_list as Json[]) ?? [])
      .filter((b) => (b.type ?? 0) === 0)
      .map((b) => b.key);
    if (!keys.includes(input.key))
      throw new ClickRefused(`card ${input.taskId} has no button ${input.key} (has ${keys.join(', ')})`);
  }
  const code = responseCode(w, card.taskId, card.agentId);
  const createTime = nowSeconds(w);
  card.clicks.push({ userid: member, key: input.key, at: now(w), responseCode: code });
  const node: XmlNode = {
    ToUserName: w.corpId,
    FromUserName: member,
    CreateTime: createTime,
    MsgType: 'event',
    Event: 'template_card_event',
    EventKey: input.key,
    TaskId: card.taskId,
    CardType: cardType,
    ResponseCode: code,
    AgentID: card.agentId,
  };
  if (input.selectedItems?.length) {
    node.SelectedItems = {
      SelectedItem: input.selectedItems.map((s) => ({
        QuestionKey: s.questionKey,
        OptionIds: { OptionId: s.optionIds },
      })),
    };
  }
  const ev = dispatcher.emit(
    card.agentId,
    'template_card_event',
    card.taskId,
    `<xml>${toXml(node)}</xml>`,
    createTime,
  );
  return { responseCode: code, eventId: ev.id };
}

/** A member writes a text message to the app; WeCom pushes it to the app's callback URL (§4.2). */
export function incomingText(
  w: WecomWorld,
  dispatcher: CallbackDispatcher,
  input: { userid: string; content: string; agentId: number },
): { msgId: string; eventId: number } {
  const m = w.members.get((input.userid ?? '').toLowerCase());
  if (!m) throw new ClickRefused(`unknown userid ${input.userid}`);
  w.seq.msg += 1;
  const msgId = 7_300_000_000_000_000 + w.seq.msg;
  const createTime = nowSeconds(w);
  const xml = `<xml>${toXml({
    ToUserName: w.corpId,
    FromUserName: m.userid,
    CreateTime: createTime,
    MsgType: 'text',
    Content: input.content,
    MsgId: msgId,
    AgentID: input.agentId,
  })}</xml>`;
  const ev = dispatcher.emit(input.agentId, 'text', String(msgId), xml, createTime);
  return { msgId: String(msgId), eventId: ev.id };
}
