/**
 * The in-memory world of one WeCom sandbox instance: the corp, its applications, tokens, members,
 * approval templates and applications, messages, cards, robots, limits and callback settings.
 * Everything lives on one object per instance (no module-level state), so several sandboxes run in
 * one process.
 */

export interface App {
  agentId: number;
  name: string;
  secret: string;
  /** Added to 审批 → "可调用接口的应用" (spec §1): may call the OA approval APIs. */
  approval: boolean;
  /** Visible range: departments (with their descendants) and extra users. */
  visibleDepartments: number[];
  visibleUsers: string[];
  /** Created before 2022-06-20: `user/get` still returns mobile/email/etc. (spec §7). */
  legacyContactFields: boolean;
  /** Where callbacks go (接收消息 → 设置API接收, spec §4.1). */
  callback?: CallbackConfig;
}

export interface CallbackConfig {
  url: string;
  token: string;
  encodingAesKey: string;
  /** `xml` (default) or the JSON envelope some apps use (spec §4.2). */
  format: 'xml' | 'json';
}

export interface Member {
  userid: string;
  name: string;
  departments: number[];
  mainDepartment: number;
  position: string;
  mobile: string;
  email: string;
  gender: '1' | '2';
  /** 1 active, 2 disabled, 4 not activated, 5 exited (spec §7). */
  status: number;
  /** Kingdee 工号, kept as the custom attribute WeCom admins usually add. */
  staffNumber: string;
  leaderOf: number[];
  directLeader: string[];
}

export interface Dept {
  id: number;
  name: string;
  nameEn: string;
  parentId: number;
  order: number;
  leaders: string[];
}

export interface ControlDef {
  control: string;
  id: string;
  title: string;
  require: 0 | 1;
  placeholder?: string;
  unPrint?: 0 | 1;
  /** `config` as gettemplatedetail shows it (selector options, date type, contact mode…). */
  config?: Record<string, unknown>;
  /** For `Table`: the controls of one row. */
  children?: ControlDef[];
}

export interface TemplateDef {
  id: string;
  name: string;
  controls: ControlDef[];
  /** The flow configured in the admin console, used with `use_template_approver: 1` (spec §3.2). */
  flow(values: Map<string, unknown>, applyer: string): { nodes: FlowNodeSpec[]; notifyers: string[] };
}

export interface FlowNodeSpec {
  /** 1 approver, 3 handler (办理人). */
  type: 1 | 3;
  /** Current dialect: 1 会签 (all), 2 或签 (any one), 3 sequential (spec §3.2). */
  apvRel: 1 | 2 | 3;
  userids: string[];
}

export interface ApproverState {
  userid: string;
  /** 1 pending, 2 agreed, 3 rejected, 4 transferred (spec §3.4). */
  status: number;
  speech: string;
  sptime: number;
  mediaIds: string[];
}

export interface FlowNode {
  type: 1 | 3;
  apvRel: 1 | 2 | 3;
  /** Node status, same codes as approvers. */
  status: number;
  approvers: ApproverState[];
}

export interface Comment {
  userid: string;
  time: number;
  content: string;
  id: string;
  mediaIds: string[];
}

export interface Approval {
  spNo: string;
  spName: string;
  templateId: string;
  applyTime: number;
  applyer: { userid: string; partyid: string };
  /** 1 pending, 2 approved, 3 rejected, 4 withdrawn, 6 revoked after approval, 7 deleted, 10 paid. */
  spStatus: number;
  nodes: FlowNode[];
  notifyers: string[];
  notifyType: number;
  contents: Array<Record<string, unknown>>;
  summary: unknown[];
  comments: Comment[];
  /** The app whose token submitted it (for visibility only). */
  agentId: number;
}

export interface StoredMessage {
  msgid: string;
  agentId: number;
  msgtype: string;
  /** The body of the message type, as sent (after WeCom's truncation). */
  body: Record<string, unknown>;
  at: number;
  taskId?: string;
  /** Over the per-member 30/min limit: WeCom drops it silently (spec §9). */
  dropped?: boolean;
}

export interface Card {
  taskId: string;
  agentId: number;
  card: Record<string, unknown>;
  recipients: string[];
  msgid: string;
  /** What each member's copy currently shows after updates (button replace_name or a new card). */
  updates: Array<{
    userids: string[] | 'all';
    button?: Record<string, unknown>;
    card?: Record<string, unknown>;
    at: number;
  }>;
  clicks: Array<{ userid: string; key: string; at: number; responseCode: string }>;
}

export interface ResponseCode {
  code: string;
  taskId: string;
  agentId: number;
  expiresAt: number;
  used: boolean;
}

export interface Robot {
  key: string;
  name: string;
  disabled: boolean;
  inGroup: boolean;
  messages: Array<{ msgtype: string; body: Record<string, unknown>; at: number }>;
}

export interface CallbackFaults {
  /** The next N events are never delivered (lost callbacks). */
  dropNext: number;
  /** Share (0..1) of events never delivered. */
  dropRate: number;
  /** Wait this long before each delivery attempt. */
  delayMs: number;
  /** The next N events are delivered `duplicateTimes` extra times after the first success. */
  duplicateNext: number;
  duplicateTimes: number;
}

export interface CallbackSettings {
  /** WeCom drops the connection after 5 s (spec §4.2, §9). */
  timeoutMs: number;
  /** The URL-verification GET must be answered within 1 s (spec §4.1). */
  verifyTimeoutMs: number;
  /** Three retries after the first attempt (spec §4.2 "总共重试三次", read as 3 retries). */
  retries: number;
  retryDelaysMs: number[];
}

export interface DeliveryRecord {
  id: number;
  eventId: number;
  agentId: number;
  event: string;
  /** Correlation for assertions: SpNo or TaskId or MsgId. */
  ref: string;
  attempt: number;
  kind: 'event' | 'verify' | 'duplicate';
  url: string;
  status: number | null;
  error?: string;
  at: number;
  plaintext: string;
}

export interface EventRecord {
  id: number;
  /** The app whose callback URL receives it. */
  agentId: number;
  /** `AgentID` in the envelope: the approval app (3010040) for sys_approval_change (spec §4.3). */
  envelopeAgentId: number;
  event: string;
  ref: string;
  plaintext: string;
  createTime: number;
  outcome: 'pending' | 'delivered' | 'failed' | 'dropped' | 'no-callback';
}

export interface LimitSettings {
  /** Master switch for the frequency limits of spec §9 (off by default, spec §10.17). */
  enabled: boolean;
  /** Per API path per minute; `*` is the per-corp per-API default. */
  perMinute: Record<string, number>;
  perHour: Record<string, number>;
  /** In-flight calls per API path (45033), 0 = off. */
  concurrency: number;
  /** Time each call holds its concurrency slot (WeCom's own processing time), 0 = none. */
  processingMs: number;
  /** Application messages per member per minute, excess silently dropped (spec §9). */
  messagesPerMemberPerMinute: number;
  /** Group robot messages per key per minute (spec §6.3); on by default because it is the robot's documented limit. */
  robotPerMinute: number;
  /** Wrong secrets per IP per hour before gettoken answers 45009 for an hour (spec §2, UNCERTAIN 2000). */
  badSecretsPerHour: number;
}

export interface WecomWorld {
  corpId: string;
  corpName: string;
  apps: Map<number, App>;
  /** System approval application's AgentID as it appears in sys_approval_change (spec §4.3). */
  approvalAgentId: number;
  tokens: Map<string, { agentId: number; expiresAt: number; revoked: boolean }>;
  currentToken: Map<number, string>;
  tokenTtlSeconds: number;
  members: Map<string, Member>;
  depts: Map<number, Dept>;
  templates: Map<string, TemplateDef>;
  approvals: Map<string, Approval>;
  daySeq: Map<string, number>;
  messages: Map<string, StoredMessage[]>;
  /** For enable_duplicate_check: request JSON → (msgid, time). */
  recentRequests: Map<string, { msgid: string; at: number }>;
  cards: Map<string, Card>;
  responseCodes: Map<string, ResponseCode>;
  robots: Map<string, Robot>;
  limits: LimitSettings;
  /** Sliding windows: key → call times (ms). */
  windows: Map<string, number[]>;
  /** Blocks after a limit was exceeded: key → until (ms). */
  blocks: Map<string, number>;
  inFlight: Map<string, number>;
  badSecrets: Map<string, number[]>;
  callbackFaults: CallbackFaults;
  callbackSettings: CallbackSettings;
  events: EventRecord[];
  deliveries: DeliveryRecord[];
  /** Every partner call: path and outcome, for assertions such as "no calls during a ban". */
  calls: Array<{ path: string; errcode: number; at: number }>;
  /** Sandbox clock offset, moved by `POST /__sandbox/clock`. */
  clockOffsetMs: number;
  seq: { event: number; delivery: number; comment: number; msg: number };
}

export function now(w: WecomWorld): number {
  return Date.now() + w.clockOffsetMs;
}

export function nowSeconds(w: WecomWorld): number {
  return Math.floor(now(w) / 1000);
}
