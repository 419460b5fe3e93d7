/**
 * What WeCom tells us, in the shape flows see: approval states (from a `sys_approval_change`
 * callback or a `getapprovaldetail` read), card clicks and members' messages, as InboundEvents with
 * stable dedupe keys (spec §4.2: approvals by SpNo + StatuChangeEvent + CreateTime; messages by
 * MsgId; events by FromUserName + CreateTime) and the SpNo / TaskId as correlation key.
 */
import { XMLParser } from 'fast-xml-parser';
import type { InboundEvent } from '../../core/connector.ts';
import { readContents } from './approval-form.ts';

type Json = Record<string, any>;

/** Application status (spec §3.4). Terminal: 2, 3, 4, 6, 7, 10. */
export const SP_STATUS: Record<number, string> = {
  1: 'pending',
  2: 'approved',
  3: 'rejected',
  4: 'withdrawn',
  6: 'revoked',
  7: 'deleted',
  10: 'paid',
};
export const TERMINAL_STATUSES = [2, 3, 4, 6, 7, 10] as const;

/** StatuChangeEvent (spec §4.3); 11–15 from secondary sources, kept so nothing crashes on them. */
export const CHANGE_EVENT: Record<number, string> = {
  1: 'submitted',
  2: 'agreed',
  3: 'rejected',
  4: 'transferred',
  5: 'urged',
  6: 'withdrawn',
  8: 'revoked',
  10: 'commented',
  11: 'returned',
  12: 'approver_added',
  13: 'added_and_agreed',
  14: 'handled',
  15: 'handed_over',
};

/** Node / approver status (spec §3.4); unknown values are named, never fatal (WxJava #2518). */
export const NODE_STATUS: Record<number, string> = {
  1: 'pending',
  2: 'agreed',
  3: 'rejected',
  4: 'transferred',
  11: 'returned',
  12: 'added',
  13: 'agreed_and_added',
  14: 'handled',
  15: 'handed_over',
};

const named = (table: Record<number, string>, n: number) => table[n] ?? `status_${n}`;
const iso = (seconds: number) => (seconds > 0 ? new Date(seconds * 1000).toISOString() : null);
const num = (v: unknown) => (v === undefined || v === null || v === '' ? 0 : Number(v));
const arr = (v: unknown): Json[] =>
  Array.isArray(v) ? v : v === undefined || v === null || v === '' ? [] : [v as Json];

export interface ApprovalState {
  spNo: string;
  spName: string;
  templateId: string;
  spStatus: number;
  status: string;
  terminal: boolean;
  applyTime: string | null;
  applyer: { userid: string; department: string };
  nodes: Array<{
    status: number;
    state: string;
    /** 或签 (any one approver) or 会签 (all). */
    mode: 'any' | 'all';
    approvers: Array<{ userid: string; status: number; state: string; speech: string; time: string | null }>;
  }>;
  notifyers: string[];
  comments: Array<{ userid: string; time: string | null; content: string; id: string }>;
  /** The form, by control title (from getapprovaldetail only). */
  fields?: Record<string, unknown>;
  /** What changed (callbacks only). */
  change?: { event: number; name: string; at: string | null };
  source: 'callback' | 'detail';
}

/** From getapprovaldetail's `info` (spec §3.4). */
export function stateFromDetail(info: Json): ApprovalState {
  const spStatus = num(info.sp_status);
  return {
    spNo: String(info.sp_no),
    spName: String(info.sp_name ?? ''),
    templateId: String(info.template_id ?? ''),
    spStatus,
    status: named(SP_STATUS, spStatus),
    terminal: (TERMINAL_STATUSES as readonly number[]).includes(spStatus),
    applyTime: iso(num(info.apply_time)),
    applyer: { userid: String(info.applyer?.userid ?? ''), department: String(info.applyer?.partyid ?? '') },
    nodes: arr(info.sp_record).map((r) => ({
      status: num(r.sp_status),
      state: named(NODE_STATUS, num(r.sp_status)),
      mode: num(r.approverattr) === 1 ? 'any' : 'all',
      approvers: arr(r.details).map((d) => ({
        userid: String(d.approver?.userid ?? ''),
        status: num(d.sp_status),
        state: named(NODE_STATUS, num(d.sp_status)),
        speech: String(d.speech ?? ''),
        time: iso(num(d.sptime)),
      })),
    })),
    notifyers: arr(info.notifyer).map((n) => String(n.userid)),
    comments: arr(info.comments).map((c) => ({
      userid: String(c.commentUserInfo?.userid ?? ''),
      time: iso(num(c.commenttime)),
      content: String(c.commentcontent ?? ''),
      id: String(c.commentid ?? ''),
    })),
    fields: readContents(info.apply_data?.contents),
    source: 'detail',
  };
}

const parser = new XMLParser({
  ignoreAttributes: true,
  // Keep every value a string: SpNo and MsgId must not lose digits (spec §10.2).
  parseTagValue: false,
  trimValues: true,
  processEntities: true,
  // Repeated sibling elements (spec §4.3): always lists, even with one element.
  isArray: (name) =>
    ['SpRecord', 'Details', 'Notifyer', 'Comments', 'SelectedItem', 'OptionId'].includes(name),
});

/** Parses a decrypted callback plaintext; `undefined` when it is not WeCom's `<xml>` document. */
export function parseCallbackXml(plaintext: string): Json | undefined {
  try {
    const doc = parser.parse(plaintext) as Json;
    return doc && typeof doc.xml === 'object' ? (doc.xml as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** From a `sys_approval_change` plaintext (spec §4.3). */
export function stateFromCallback(x: Json): ApprovalState {
  const a: Json = x.ApprovalInfo ?? {};
  const spStatus = num(a.SpStatus);
  const change = num(a.StatuChangeEvent);
  return {
    // SpNoStr is the recommended id; SpNo may be missing for some approvals (spec §4.3).
    spNo: String(a.SpNoStr || a.SpNo),
    spName: String(a.SpName ?? ''),
    templateId: String(a.TemplateId ?? ''),
    spStatus,
    status: named(SP_STATUS, spStatus),
    terminal: (TERMINAL_STATUSES as readonly number[]).includes(spStatus),
    applyTime: iso(num(a.ApplyTime)),
    applyer: { userid: String(a.Applyer?.UserId ?? ''), department: String(a.Applyer?.Party ?? '') },
    nodes: arr(a.SpRecord).map((r) => ({
      status: num(r.SpStatus),
      state: named(NODE_STATUS, num(r.SpStatus)),
      mode: num(r.ApproverAttr) === 1 ? 'any' : 'all',
      approvers: arr(r.Details).map((d) => ({
        userid: String(d.Approver?.UserId ?? ''),
        status: num(d.SpStatus),
        state: named(NODE_STATUS, num(d.SpStatus)),
        speech: String(d.Speech ?? ''),
        time: iso(num(d.SpTime)),
      })),
    })),
    notifyers: arr(a.Notifyer).map((n) => String(n.UserId ?? '')),
    comments: arr(a.Comments).map((c) => ({
      userid: String(c.CommentUserInfo?.UserId ?? ''),
      time: iso(num(c.CommentTime)),
      content: String(c.CommentContent ?? ''),
      id: String(c.CommentId ?? ''),
    })),
    change: { event: change, name: named(CHANGE_EVENT, change), at: iso(num(x.CreateTime)) },
    source: 'callback',
  };
}

/** The inbox event for an approval change. Duplicate deliveries carry the same plaintext → same key. */
export function approvalEvent(corpId: string, x: Json): InboundEvent {
  const s = stateFromCallback(x);
  return {
    key: `wecom:${corpId}:approval:${s.spNo}:${s.change?.event}:${s.spStatus}:${x.CreateTime}`,
    type: 'approval.change',
    correlation: s.spNo,
    data: s,
  };
}

/** The inbox event for a state the reconciler read (a callback that never came). */
export function reconciledEvent(corpId: string, s: ApprovalState): InboundEvent {
  return {
    key: `wecom:${corpId}:approval:${s.spNo}:read:${s.spStatus}`,
    type: 'approval.change',
    correlation: s.spNo,
    data: s,
  };
}

/** `template_card_event` (spec §4.5): correlation is the card's task_id. */
export function cardEvent(corpId: string, x: Json): InboundEvent {
  const selected = arr(x.SelectedItems?.SelectedItem).map((s) => ({
    questionKey: String(s.QuestionKey ?? ''),
    optionIds: arr(s.OptionIds?.OptionId).map(String),
  }));
  return {
    key: `wecom:${corpId}:card:${x.TaskId}:${x.FromUserName}:${x.EventKey}:${x.CreateTime}`,
    type: 'card.click',
    correlation: String(x.TaskId ?? ''),
    data: {
      taskId: String(x.TaskId ?? ''),
      key: String(x.EventKey ?? ''),
      userid: String(x.FromUserName ?? ''),
      cardType: String(x.CardType ?? ''),
      responseCode: String(x.ResponseCode ?? ''),
      selected,
      agentId: String(x.AgentID ?? ''),
      at: iso(num(x.CreateTime)),
    },
  };
}

/** A member's message to the app (spec §4.2): deduped by MsgId. */
export function messageEvent(corpId: string, x: Json): InboundEvent {
  return {
    key: `wecom:${corpId}:msg:${x.MsgId ?? `${x.FromUserName}:${x.CreateTime}`}`,
    type: 'chat.message',
    correlation: String(x.FromUserName ?? ''),
    data: {
      msgId: String(x.MsgId ?? ''),
      msgType: String(x.MsgType ?? ''),
      userid: String(x.FromUserName ?? ''),
      content: String(x.Content ?? ''),
      agentId: String(x.AgentID ?? ''),
      at: iso(num(x.CreateTime)),
    },
  };
}
