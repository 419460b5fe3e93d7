/**
 * The OA approval APIs (spec §3): gettemplatedetail, applyevent in both request dialects,
 * getapprovalinfo with both cursor dialects, getapprovaldetail; and the approvers' actions the admin
 * surface drives (agree, reject, transfer, urge, comment, withdraw, revoke), each pushing one
 * `sys_approval_change` with the matching StatuChangeEvent and the post-change SpStatus (§4.3, §10.9).
 */
import { validateContents } from './approval-values.ts';
import type { CallbackDispatcher } from './callbacks.ts';
import { WecomApiError } from './errors.ts';
import { visibleTo } from './seed.ts';
import {
  type App,
  type Approval,
  type FlowNode,
  type FlowNodeSpec,
  nowSeconds,
  type WecomWorld,
} from './state.ts';
import { toXml, type XmlNode } from './xml.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const param = (detail: string): never => {
  throw new WecomApiError(301025, detail);
};

/** StatuChangeEvent codes (spec §4.3). */
export const CHANGE = {
  submitted: 1,
  agreed: 2,
  rejected: 3,
  transferred: 4,
  urged: 5,
  withdrawn: 6,
  revoked: 8,
  commented: 10,
} as const;
export const TERMINAL = new Set([2, 3, 4, 6, 7, 10]);

function requireApprovalApp(app: App): void {
  // Only apps added to 审批 → 可调用接口的应用 may call these (spec §1, §10.4).
  if (!app.approval) throw new WecomApiError(301055, 'app is not allowed to call approval apis');
}

export function templateDetail(w: WecomWorld, app: App, body: Json): Json {
  requireApprovalApp(app);
  const t = typeof body.template_id === 'string' ? w.templates.get(body.template_id) : undefined;
  if (!t) throw new WecomApiError(301025, 'invalid template_id');
  const control = (c: (typeof t.controls)[number]): Json => {
    const out: Json = {
      property: {
        control: c.control,
        id: c.id,
        title: [{ text: c.title, lang: 'zh_CN' }],
        placeholder: [{ text: c.placeholder ?? '', lang: 'zh_CN' }],
        require: c.require,
        un_print: c.unPrint ?? 0,
      },
    };
    if (c.control === 'Table')
      out.config = {
        table: { children: (c.children ?? []).map(control), stat_field: [], sum_field: [], print_format: 0 },
      };
    else if (c.config) out.config = c.config;
    return out;
  };
  return {
    template_names: [{ text: t.name, lang: 'zh_CN' }],
    template_content: { controls: t.controls.map(control) },
  };
}

/** `YYYYMMDD` in China time + a 4-digit daily sequence (pattern of every official example, §10.6). */
function nextSpNo(w: WecomWorld, seconds: number): string {
  const d = new Date((seconds + 8 * 3600) * 1000);
  const day = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  const n = (w.daySeq.get(day) ?? 0) + 1;
  w.daySeq.set(day, n);
  return `${day}${String(n).padStart(4, '0')}`;
}

function userList(w: WecomWorld, v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0) return param(`${path} is empty`);
  return v.map((u) => {
    const m = typeof u === 'string' ? w.members.get(u.toLowerCase()) : undefined;
    if (!m) param(`${path}: invalid userid ${String(u)}`);
    return m!.userid;
  });
}

export function applyEvent(w: WecomWorld, app: App, body: Json, dispatcher: CallbackDispatcher): Json {
  requireApprovalApp(app);
  const creatorId = body.creator_userid;
  const creator = typeof creatorId === 'string' ? w.members.get(creatorId.toLowerCase()) : undefined;
  if (!creator || !visibleTo(w, app, creator.userid)) param('creator_userid not in app visiable range');
  const t = typeof body.template_id === 'string' ? w.templates.get(body.template_id) : undefined;
  if (!t) return param('invalid template_id');
  const useTemplate = body.use_template_approver ?? 0;
  if (useTemplate !== 0 && useTemplate !== 1) param('use_template_approver must be 0 or 1');
  let partyid = creator!.mainDepartment;
  if (body.choose_department !== undefined) {
    partyid = Number(body.choose_department);
    if (!creator!.departments.includes(partyid))
      param('choose_department is not a department of the creator');
  }
  if (!isObj(body.apply_data)) param('apply_data is empty');
  const { contents, values } = validateContents(w, t, (body.apply_data as Json).contents);

  if (body.summary_list !== undefined) {
    if (!Array.isArray(body.summary_list) || body.summary_list.length > 3)
      param('summary_list takes at most 3 lines');
    for (const [i, line] of (body.summary_list as unknown[]).entries()) {
      const info = isObj(line) ? line.summary_info : undefined;
      if (!Array.isArray(info) || info.length === 0) param(`summary_list[${i}].summary_info is empty`);
      for (const s of info as unknown[]) {
        if (!isObj(s) || typeof s.text !== 'string') param(`summary_list[${i}] text is empty`);
        if ([...((s as Json).text as string)].length > 20)
          param(`summary_list[${i}] text longer than 20 chars`);
        if ((s as Json).lang !== undefined && (s as Json).lang !== 'zh_CN' && (s as Json).lang !== 'en')
          param(`summary_list[${i}] lang must be zh_CN or en`);
      }
    }
  }

  let specs: FlowNodeSpec[];
  let notifyers: string[] = [];
  let notifyType = 1;
  if (useTemplate === 1) {
    const flow = t.flow(values, creator!.userid);
    specs = flow.nodes;
    notifyers = flow.notifyers;
  } else if (isObj(body.process)) {
    // Current dialect (spec §3.2): type 1 approver / 2 CC / 3 handler; apv_rel 1 会签 / 2 或签 / 3 sequential.
    const list = (body.process as Json).node_list;
    if (!Array.isArray(list) || list.length === 0) return param('process.node_list is empty');
    specs = [];
    for (const [i, n] of list.entries()) {
      if (!isObj(n)) return param(`process.node_list[${i}] must be an object`);
      const userids = userList(w, n.userid, `process.node_list[${i}].userid`);
      if (n.type === 2) {
        notifyers.push(...userids);
        continue;
      }
      if (n.type !== 1 && n.type !== 3) return param(`process.node_list[${i}].type must be 1, 2 or 3`);
      if (n.apv_rel !== 1 && n.apv_rel !== 2 && n.apv_rel !== 3)
        return param(`process.node_list[${i}].apv_rel must be 1, 2 or 3`);
      specs.push({ type: n.type, apvRel: n.apv_rel, userids });
    }
    if (!specs.some((s) => s.type === 1)) param('process.node_list has no approver node');
  } else if (Array.isArray(body.approver)) {
    // Classic dialect (spec §3.2): attr 1 = 或签, 2 = 会签 — the inverse of apv_rel.
    if (body.approver.length === 0) param('approver is empty');
    specs = (body.approver as unknown[]).map((a, i) => {
      if (!isObj(a)) return param(`approver[${i}] must be an object`);
      const userids = userList(w, a.userid, `approver[${i}].userid`);
      const attr = a.attr ?? 1;
      if (attr !== 1 && attr !== 2) return param(`approver[${i}].attr must be 1 or 2`);
      return { type: 1 as const, apvRel: attr === 2 ? (1 as const) : (2 as const), userids };
    });
    if (body.notifyer !== undefined) notifyers = userList(w, body.notifyer, 'notifyer');
    if (body.notify_type !== undefined) {
      // notify_type 0 is rejected with 301025: omit it instead (spec §3.2, go-workwx PR #57).
      if (body.notify_type !== 1 && body.notify_type !== 2 && body.notify_type !== 3)
        param('invalid notify_type');
      notifyType = body.notify_type as number;
    }
  } else {
    return param('approver is empty');
  }

  const applyTime = nowSeconds(w);
  const spNo = nextSpNo(w, applyTime);
  const nodes: FlowNode[] = specs.map((s) => ({
    type: s.type,
    apvRel: s.apvRel,
    status: 1,
    approvers: s.userids.map((userid) => ({ userid, status: 1, speech: '', sptime: 0, mediaIds: [] })),
  }));
  const a: Approval = {
    spNo,
    spName: t.name,
    templateId: t.id,
    applyTime,
    applyer: { userid: creator!.userid, partyid: String(partyid) },
    spStatus: 1,
    nodes,
    notifyers,
    notifyType,
    contents,
    summary: (body.summary_list as unknown[]) ?? [],
    comments: [],
    agentId: app.agentId,
  };
  w.approvals.set(spNo, a);
  pushChange(w, dispatcher, a, CHANGE.submitted);
  return { sp_no: spNo };
}

/** Compares sp_no numerically (length first): past 9999 a day the sequence grows a digit. */
export function compareSpNo(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function seconds(v: unknown, name: string): number {
  const s = typeof v === 'number' ? String(v) : v;
  if (typeof s !== 'string' || !/^\d+$/.test(s)) return param(`invalid starttime or endtime: ${name}`);
  // Milliseconds are refused (spec §3.3, [S20]).
  if (s.length > 10) return param('invalid starttime or endtime');
  return Number(s);
}

const FILTER_KEYS = new Set(['template_id', 'creator', 'department', 'sp_status', 'record_type']);

export function approvalInfo(w: WecomWorld, app: App, body: Json): Json {
  requireApprovalApp(app);
  const start = seconds(body.starttime, 'starttime');
  const end = seconds(body.endtime, 'endtime');
  if (end <= start) param('endtime must be greater than starttime');
  if (end - start > 31 * 86400) param('the time span must not exceed 31 days');
  const size = body.size === undefined ? 100 : Number(body.size);
  if (!Number.isInteger(size) || size < 1 || size > 100) param('size must be 1..100');
  const filters = new Map<string, string[]>();
  if (body.filters !== undefined) {
    if (!Array.isArray(body.filters)) param('filters must be an array');
    for (const f of body.filters as unknown[]) {
      if (!isObj(f) || typeof f.key !== 'string' || !FILTER_KEYS.has(f.key)) param('invalid filter key');
      const key = (f as Json).key as string;
      const list = filters.get(key) ?? [];
      // Different keys are AND-ed, repeated keys OR-ed, and only `department` may repeat (spec §3.3).
      if (list.length > 0 && key !== 'department') param(`filter ${key} may not repeat`);
      list.push(String((f as Json).value));
      filters.set(key, list);
    }
  }
  const match = (a: Approval): boolean => {
    if (a.applyTime < start || a.applyTime > end) return false;
    if (!visibleTo(w, app, a.applyer.userid)) return false;
    for (const [key, values] of filters) {
      if (key === 'template_id' && !values.includes(a.templateId)) return false;
      if (key === 'creator' && !values.some((v) => v.toLowerCase() === a.applyer.userid.toLowerCase()))
        return false;
      if (key === 'department' && !values.includes(a.applyer.partyid)) return false;
      if (key === 'sp_status' && !values.includes(String(a.spStatus))) return false;
      // The seeded templates are not leave/trip/… records: a record_type filter matches none of them.
      if (key === 'record_type') return false;
    }
    return true;
  };
  const all = [...w.approvals.values()].filter(match).sort((a, b) => compareSpNo(a.spNo, b.spNo));

  // Two cursor dialects (spec §3.3): `new_cursor` (string) → `new_next_cursor`; `cursor` (int) →
  // `next_cursor`. The next-cursor field is omitted on the last page.
  if ('cursor' in body && !('new_cursor' in body)) {
    const offset = Number(body.cursor ?? 0);
    if (!Number.isInteger(offset) || offset < 0) param('invalid cursor');
    const page = all.slice(offset, offset + size);
    const out: Json = { sp_no_list: page.map((a) => a.spNo) };
    if (offset + size < all.length) out.next_cursor = offset + size;
    return out;
  }
  let after = '';
  if (typeof body.new_cursor === 'string' && body.new_cursor !== '') {
    const decoded = Buffer.from(body.new_cursor, 'base64url').toString('utf8');
    if (!decoded.startsWith('sp:')) param('invalid new_cursor');
    after = decoded.slice(3);
  }
  const rest = after ? all.filter((a) => compareSpNo(a.spNo, after) > 0) : all;
  const page = rest.slice(0, size);
  const out: Json = { sp_no_list: page.map((a) => a.spNo) };
  if (rest.length > size)
    out.new_next_cursor = Buffer.from(`sp:${page[page.length - 1].spNo}`).toString('base64url');
  return out;
}

export function findApproval(w: WecomWorld, spNo: unknown): Approval {
  const key = typeof spNo === 'number' ? String(spNo) : spNo;
  const a = typeof key === 'string' ? w.approvals.get(key) : undefined;
  if (!a) throw new WecomApiError(301025, 'invalid sp_no');
  return a;
}

export function approvalDetail(w: WecomWorld, app: App, body: Json): Json {
  requireApprovalApp(app);
  return { info: detailOf(findApproval(w, body.sp_no)) };
}

/** The `info` object of getapprovaldetail (spec §3.4). */
export function detailOf(a: Approval): Json {
  return {
    sp_no: a.spNo,
    sp_name: a.spName,
    sp_status: a.spStatus,
    template_id: a.templateId,
    apply_time: a.applyTime,
    applyer: { userid: a.applyer.userid, partyid: a.applyer.partyid },
    sp_record: a.nodes.map((n) => ({
      sp_status: n.status,
      // approverattr: 1 或签, 2 会签 (sequential nodes need every approver, so 2).
      approverattr: n.apvRel === 2 ? 1 : 2,
      details: n.approvers.map((p) => ({
        approver: { userid: p.userid },
        speech: p.speech,
        sp_status: p.status,
        sptime: p.sptime,
        media_id: [...p.mediaIds],
      })),
    })),
    notifyer: a.notifyers.map((userid) => ({ userid })),
    apply_data: { contents: a.contents },
    comments: a.comments.map((c) => ({
      commentUserInfo: { userid: c.userid },
      commenttime: c.time,
      commentcontent: c.content,
      commentid: c.id,
      media_id: [...c.mediaIds],
    })),
    process_list: {
      node_list: [
        ...a.nodes.map((n) => ({
          node_type: n.type,
          sp_status: n.status,
          apv_rel: n.apvRel,
          sub_node_list: n.approvers.map((p) => ({
            userid: p.userid,
            speech: p.speech,
            sp_yj: p.status,
            sptime: p.sptime,
            media_ids: [...p.mediaIds],
          })),
        })),
        ...(a.notifyers.length
          ? [
              {
                node_type: 2,
                sp_status: 1,
                apv_rel: 1,
                sub_node_list: a.notifyers.map((userid) => ({
                  userid,
                  speech: '',
                  sp_yj: 1,
                  sptime: 0,
                  media_ids: [],
                })),
              },
            ]
          : []),
      ],
    },
    summary_list: a.summary,
  };
}

/** The decrypted plaintext of `sys_approval_change` (spec §4.3), with repeated sibling elements. */
export function approvalChangeXml(w: WecomWorld, a: Approval, change: number, createTime: number): string {
  const info: XmlNode = {
    SpNoStr: a.spNo,
    SpNo: Number(a.spNo),
    SpName: a.spName,
    SpStatus: a.spStatus,
    TemplateId: a.templateId,
    ApplyTime: a.applyTime,
    Applyer: { UserId: a.applyer.userid, Party: a.applyer.partyid },
    SpRecord: a.nodes.map((n) => ({
      SpStatus: n.status,
      ApproverAttr: n.apvRel === 2 ? 1 : 2,
      Details: n.approvers.map((p) => ({
        Approver: { UserId: p.userid },
        Speech: p.speech,
        SpStatus: p.status,
        SpTime: p.sptime,
      })),
    })),
    Notifyer: a.notifyers.map((u) => ({ UserId: u })),
    Comments: a.comments.map((c) => ({
      CommentUserInfo: { UserId: c.userid },
      CommentTime: c.time,
      CommentContent: c.content,
      CommentId: c.id,
    })),
    StatuChangeEvent: change,
  };
  return `<xml>${toXml({
    ToUserName: w.corpId,
    FromUserName: 'sys',
    CreateTime: createTime,
    MsgType: 'event',
    Event: 'sys_approval_change',
    AgentID: w.approvalAgentId,
    ApprovalInfo: info,
  })}</xml>`;
}

/** Pushes one sys_approval_change to every approval-enabled app (spec §4.3: "one application, many events"). */
export function pushChange(w: WecomWorld, dispatcher: CallbackDispatcher, a: Approval, change: number): void {
  const createTime = nowSeconds(w);
  const xml = approvalChangeXml(w, a, change, createTime);
  for (const app of w.apps.values()) {
    if (app.approval)
      dispatcher.emit(app.agentId, 'sys_approval_change', a.spNo, xml, createTime, w.approvalAgentId);
  }
}

export type ApprovalAction =
  | 'agree'
  | 'reject'
  | 'transfer'
  | 'urge'
  | 'comment'
  | 'withdraw'
  | 'revoke'
  | 'delete'
  | 'pay';

/** Thrown for actions a person could not take in the product (e.g. approving a closed application). */
export class ActionRefused extends Error {}

/**
 * What an approver (or the applicant) does in the 审批 app. Or-sign nodes complete on the first
 * agreement, all-sign and sequential nodes on the last; any rejection rejects the application (§10.9).
 */
export function act(
  w: WecomWorld,
  dispatcher: CallbackDispatcher,
  spNo: string,
  action: ApprovalAction,
  opts: { userid?: string; speech?: string; to?: string; content?: string },
): Approval {
  const a = w.approvals.get(spNo);
  if (!a) throw new ActionRefused(`no approval ${spNo}`);
  const t = nowSeconds(w);
  const pending = () => {
    if (a.spStatus !== 1)
      throw new ActionRefused(`approval ${spNo} is not pending (sp_status ${a.spStatus})`);
  };
  const current = (): FlowNode => a.nodes.find((n) => n.status === 1) as FlowNode;
  const approverOnCurrent = () => {
    pending();
    const node = current();
    const uid = (opts.userid ?? '').toLowerCase();
    const open = node.approvers.filter((p) => p.status === 1);
    // Sequential nodes (apv_rel 3): only the next approver in order may act.
    const candidates = node.apvRel === 3 ? open.slice(0, 1) : open;
    const who = candidates.find((p) => p.userid.toLowerCase() === uid);
    if (!who) {
      throw new ActionRefused(
        `${opts.userid ?? '(no userid)'} is not a pending approver of the current node (${candidates.map((p) => p.userid).join(', ')})`,
      );
    }
    return { node, who };
  };
  switch (action) {
    case 'agree': {
      const { node, who } = approverOnCurrent();
      Object.assign(who, { status: 2, sptime: t, speech: opts.speech ?? '' });
      const done = node.apvRel === 2 || node.approvers.every((p) => p.status === 2 || p.status === 4);
      if (done) node.status = 2;
      if (done && !a.nodes.some((n) => n.status === 1)) a.spStatus = 2;
      pushChange(w, dispatcher, a, CHANGE.agreed);
      break;
    }
    case 'reject': {
      const { node, who } = approverOnCurrent();
      Object.assign(who, { status: 3, sptime: t, speech: opts.speech ?? '' });
      node.status = 3;
      a.spStatus = 3;
      pushChange(w, dispatcher, a, CHANGE.rejected);
      break;
    }
    case 'transfer': {
      const { node, who } = approverOnCurrent();
      const to = opts.to ? w.members.get(opts.to.toLowerCase()) : undefined;
      if (!to) throw new ActionRefused(`transfer needs a known "to" userid`);
      Object.assign(who, { status: 4, sptime: t, speech: opts.speech ?? '' });
      node.approvers.push({ userid: to.userid, status: 1, speech: '', sptime: 0, mediaIds: [] });
      pushChange(w, dispatcher, a, CHANGE.transferred);
      break;
    }
    case 'urge':
      pending();
      pushChange(w, dispatcher, a, CHANGE.urged);
      break;
    case 'comment': {
      const uid = opts.userid ? w.members.get(opts.userid.toLowerCase())?.userid : a.applyer.userid;
      if (!uid) throw new ActionRefused(`unknown userid ${opts.userid}`);
      if (!opts.content) throw new ActionRefused('comment needs "content"');
      w.seq.comment += 1;
      a.comments.push({
        userid: uid,
        time: t,
        content: opts.content,
        id: `6750538708562${String(w.seq.comment).padStart(6, '0')}`,
        mediaIds: [],
      });
      pushChange(w, dispatcher, a, CHANGE.commented);
      break;
    }
    case 'withdraw':
      pending();
      a.spStatus = 4;
      pushChange(w, dispatcher, a, CHANGE.withdrawn);
      break;
    case 'revoke':
      if (a.spStatus !== 2)
        throw new ActionRefused(`only an approved application can be revoked (sp_status ${a.spStatus})`);
      a.spStatus = 6;
      pushChange(w, dispatcher, a, CHANGE.revoked);
      break;
    case 'delete':
    case 'pay':
      // 7 deleted / 10 paid may be set directly; their StatuChangeEvent is undocumented (§10.9), so
      // no callback is pushed — a receiver learns of them only by reading the detail.
      a.spStatus = action === 'delete' ? 7 : 10;
      break;
    default:
      throw new ActionRefused(`unknown action ${String(action)}`);
  }
  return a;
}
