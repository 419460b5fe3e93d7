/**
 * What DingTalk sends, as Qiao's InboundEvents. The same event arrives flat over HTTP (`EventType`,
 * `EventTime`, `CorpId`, `BizId`, `eventId` + fields, spec §7.8) or as a Stream EVENT (`headers.eventType`,
 * `data`, §8.2); robot messages (§6.1) and card clicks (§11) arrive by HTTP or as Stream CALLBACKs.
 *
 * Event types and correlation keys:
 * - `approval.instance` (bpms_instance_change), `approval.task` (bpms_task_change): correlation =
 *   processInstanceId, so an approval resumes the run waiting for it;
 * - `chat.message`: correlation = the sender's userid (`senderStaffId`), so a reply resumes only the
 *   run waiting for that person; messages from outside the organisation carry no correlation;
 * - `card.click`: correlation = the card's `outTrackId`;
 * - `dingtalk.event`: any other event type.
 */
import { createHash } from 'node:crypto';
import type { InboundEvent } from '../../core/connector.ts';
import type { Json } from './client.ts';
import type { DingtalkUser } from './directory.ts';

export interface EventMeta {
  eventType: string;
  eventId?: string;
  bizId?: string;
  corpId?: string;
  bornTime?: number;
}

/** Reads a key case-insensitively (older pages show `corpId` lower-case, §7.8). */
function pick(o: Json, ...names: string[]): unknown {
  for (const n of names) if (o[n] !== undefined) return o[n];
  const lower = new Map(Object.keys(o).map((k) => [k.toLowerCase(), k]));
  for (const n of names) {
    const k = lower.get(n.toLowerCase());
    if (k !== undefined) return o[k];
  }
  return undefined;
}

const text = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);
const num = (v: unknown) =>
  typeof v === 'number'
    ? v
    : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))
      ? Number(v)
      : undefined;

export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}

/** The HTTP plaintext (after decryption) to an event. */
export function fromHttpPlaintext(p: Json): InboundEvent {
  const meta: EventMeta = {
    eventType: String(pick(p, 'EventType') ?? ''),
    eventId: text(pick(p, 'eventId')),
    bizId: text(pick(p, 'BizId')),
    corpId: text(pick(p, 'CorpId')),
    bornTime: num(pick(p, 'EventTime')),
  };
  const fields: Json = {};
  for (const [k, v] of Object.entries(p)) {
    if (!['eventtype', 'eventid', 'bizid', 'corpid', 'eventtime'].includes(k.toLowerCase())) fields[k] = v;
  }
  return businessEvent(meta, fields, p);
}

/** A Stream EVENT frame's headers and parsed `data` to an event. */
export function fromStreamEvent(headers: Json, data: Json): InboundEvent {
  return businessEvent(
    {
      eventType: String(headers.eventType ?? ''),
      eventId: text(headers.eventId),
      corpId: text(headers.eventCorpId),
      bornTime: num(headers.eventBornTime),
    },
    data,
    { headers, data },
  );
}

/**
 * Approval events are keyed by the change itself — an instance starts, finishes, is revoked or
 * deleted once; a task starts, finishes or is canceled once — so a redelivery, the same change pushed
 * on another channel, and the reconciler's answer for it (`reconcileApprovals`) all dedupe in the
 * inbox. Other events are keyed by `eventId` (the spec's dedupe advice, §8.4), else `BizId`.
 */
export function approvalKey(instance: boolean, id: string, type: string): string {
  return instance ? `dingtalk:approval:${id}:${type}` : `dingtalk:task:${id}:${type}`;
}

function businessEvent(meta: EventMeta, f: Json, raw: unknown): InboundEvent {
  let key = `dingtalk:event:${meta.eventId ?? meta.bizId ?? hashOf(raw)}`;
  const common = {
    eventType: meta.eventType,
    eventId: meta.eventId,
    bizId: meta.bizId,
    corpId: meta.corpId,
    bornTime: meta.bornTime,
  };
  if (meta.eventType === 'bpms_instance_change' || meta.eventType === 'bpms_task_change') {
    const processInstanceId = String(f.processInstanceId ?? '');
    const type = String(f.type ?? '');
    const result = text(f.result);
    const instance = meta.eventType === 'bpms_instance_change';
    const subject = instance ? processInstanceId : text(f.taskId);
    if (subject) key = approvalKey(instance, subject, type);
    return {
      key,
      type: instance ? 'approval.instance' : 'approval.task',
      ...(processInstanceId ? { correlation: processInstanceId } : {}),
      data: {
        ...common,
        processInstanceId,
        processCode: text(f.processCode),
        type,
        ...(result ? { result } : {}),
        staffId: text(f.staffId),
        title: text(f.title),
        businessId: text(f.businessId),
        ...(instance ? {} : { taskId: text(f.taskId), remark: text(f.remark) }),
        createTime: num(f.createTime),
        finishTime: num(f.finishTime),
        url: text(f.url),
        /** The instance reached an end: approved, refused or revoked. */
        finished: instance && (type === 'finish' || type === 'terminate' || type === 'delete'),
        approved: instance && type === 'finish' ? result === 'agree' : undefined,
      },
    };
  }
  return { key, type: 'dingtalk.event', data: { ...common, fields: f } };
}

/** The text a robot message carries: `text.content`, or top-level `content` (§16.12), or rich text. */
export function messageText(m: Json): string {
  const t = m.text;
  if (t && typeof t === 'object' && typeof (t as Json).content === 'string')
    return ((t as Json).content as string).trim();
  if (typeof m.content === 'string') return m.content.trim();
  const c = m.content as Json | undefined;
  if (c && typeof c === 'object' && Array.isArray(c.richText)) {
    return c.richText
      .map((p: unknown) =>
        p && typeof p === 'object' && typeof (p as Json).text === 'string' ? (p as Json).text : '',
      )
      .join('')
      .trim();
  }
  if (c && typeof c === 'object' && typeof c.recognition === 'string') return c.recognition.trim();
  return '';
}

export function senderView(u: DingtalkUser | undefined) {
  return u
    ? {
        userId: u.userId,
        name: u.name,
        jobNumber: u.jobNumber,
        mobile: u.mobile,
        email: u.email,
        title: u.title,
      }
    : undefined;
}

/**
 * The notice DingTalk sends instead of a message when the monthly quota is used up: no text, error
 * code 20001 in a field whose exact name is not documented (§6.1, [uncertain]); read in any case.
 */
function quotaNotice(m: Json): number | undefined {
  const v = pick(m, 'errCode', 'errcode', 'error_code');
  return Number(v) === 20001 ? 20001 : undefined;
}

/** A robot message (§6.1) to a `chat.message` event. `ownCorpId` marks external senders. */
export function fromRobotMessage(m: Json, sender?: DingtalkUser): InboundEvent {
  const staffId = text(m.senderStaffId);
  const msgId = text(m.msgId) ?? hashOf(m);
  return {
    key: `dingtalk:msg:${msgId}`,
    type: 'chat.message',
    ...(staffId ? { correlation: staffId } : {}),
    data: {
      msgId,
      msgtype: text(m.msgtype) ?? 'text',
      text: messageText(m),
      conversationType: m.conversationType === '2' || m.conversationType === 2 ? 'group' : 'single',
      conversationId: text(m.conversationId),
      conversationTitle: text(m.conversationTitle),
      senderStaffId: staffId,
      senderNick: text(m.senderNick),
      senderCorpId: text(m.senderCorpId),
      /** Only members of the organisation have a staff id (§6.1); guests and other orgs do not. */
      internal: !!staffId,
      isAdmin: m.isAdmin === true,
      isInAtList: m.isInAtList === true,
      robotCode: text(m.robotCode),
      sessionWebhook: text(m.sessionWebhook),
      sessionWebhookExpiredTime: num(m.sessionWebhookExpiredTime),
      createAt: num(m.createAt),
      ...(quotaNotice(m) ? { quotaExhausted: true, partnerCode: quotaNotice(m) } : {}),
      /** When Qiao received it (epoch ms, Qiao's clock): compare with an action's `sentAt`. */
      receivedAt: Date.now(),
      ...(sender ? { sender: senderView(sender) } : {}),
    },
  };
}

/** A card action callback (§11) to a `card.click` event. */
export function fromCardCallback(cb: Json, sender?: DingtalkUser): InboundEvent {
  let content: Json = {};
  if (typeof cb.content === 'string') {
    try {
      const v = JSON.parse(cb.content);
      if (v && typeof v === 'object') content = v as Json;
    } catch {
      content = {};
    }
  } else if (cb.content && typeof cb.content === 'object') content = cb.content as Json;
  const priv = (content.cardPrivateData ?? {}) as Json;
  const outTrackId = String(cb.outTrackId ?? '');
  const userId = text(cb.userId);
  return {
    // The body carries no id; the same click redelivered hashes the same.
    key: `dingtalk:card:${hashOf(cb)}`,
    type: 'card.click',
    ...(outTrackId ? { correlation: outTrackId } : {}),
    data: {
      outTrackId,
      userId,
      corpId: text(cb.corpId),
      actionIds: Array.isArray(priv.actionIds) ? priv.actionIds.map(String) : [],
      params: priv.params && typeof priv.params === 'object' ? priv.params : {},
      spaceType: text(cb.spaceType),
      spaceId: text(cb.spaceId),
      receivedAt: Date.now(),
      ...(sender ? { sender: senderView(sender) } : {}),
    },
  };
}
