/**
 * Seeds one sandbox with the shared fictional company (src/sandbox/common/company.ts): the corp, two
 * self-built applications, the members (matching the Kingdee employees by 工号, mobile and email),
 * the departments, the approval templates 合同审批 / 费用报销 / 项目立项 and two group robots.
 */
import { COMPANY, DEPARTMENTS, EMPLOYEES } from '../common/company.ts';
import type { App, ControlDef, Dept, FlowNodeSpec, Member, Robot, TemplateDef, WecomWorld } from './state.ts';

/** The seeded tenant's settings (also what `credentials` returns). Fixed so docs and demos can quote them. */
export const SEED = {
  corpId: COMPANY.wecomCorpId,
  agentId: 1000002,
  secret: 'qiaoSandboxSecret0000000000000000000000001Ab',
  /** A second app whose visible range is 销售部 only and which is not allowed to call approvals. */
  salesAgentId: 1000003,
  salesSecret: 'qiaoSandboxSecret0000000000000000000000002Cd',
  callbackToken: 'QiaoCallbackToken2026',
  encodingAesKey: 'qiaoSandboxEncodingAesKey0123456789abcdefgh',
  robots: { alerts: '693a91f6-7d2e-4bc4-97a0-0ec2f1fa5aaa', sales: '5b8c2d7e-1f3a-4c9b-8e6d-2a7f9c1b4e3d' },
} as const;

/** Template ids in the style of current WeCom ids (spec §3.1). */
export const TEMPLATE_IDS = {
  contract: 'C4UDV7hF9qz2nS3yWqV8p1xKbJ5mT6aR4eLcYoN2uHg',
  expense: 'BsAvVD8RYLq3xXnJk2wPm7fT9cZ5hG6uE1yKaSdNbQr',
  project: '3WLJF6naF5ELeFtjkVFuFVUjPnjVZ3FqCNrPxVkbaaa',
} as const;

/** Control ids of the seeded templates, for tests and docs. */
export const CONTROL_IDS = {
  contract: {
    number: 'Text-1700000000001',
    customer: 'Text-1700000000002',
    amount: 'Money-1700000000003',
    payment: 'Selector-1700000000004',
    signDate: 'Date-1700000000005',
    owner: 'Contact-1700000000006',
    creditRating: 'Selector-1700000000007',
    remark: 'Textarea-1700000000008',
    attachment: 'File-1700000000009',
    tips: 'Tips-1700000000010',
  },
  expense: {
    category: 'Selector-1700000000101',
    amount: 'Money-1700000000102',
    date: 'Date-1700000000103',
    project: 'Text-1700000000104',
    reason: 'Textarea-1700000000105',
    details: 'Table-1700000000106',
    detailItem: 'Text-1700000000107',
    detailAmount: 'Money-1700000000108',
    detailDate: 'Date-1700000000109',
    receipts: 'File-1700000000110',
  },
  project: {
    number: 'Text-1700000000201',
    name: 'Text-1700000000202',
    customer: 'Text-1700000000203',
    budget: 'Money-1700000000204',
    start: 'Date-1700000000205',
    end: 'Date-1700000000206',
    manager: 'Contact-1700000000207',
    headcount: 'Number-1700000000208',
    description: 'Textarea-1700000000209',
  },
} as const;

const userOf = (staffNumber: string): string => {
  const e = EMPLOYEES.find((x) => x.staffNumber === staffNumber);
  if (!e) throw new Error(`no employee ${staffNumber}`);
  return e.wecomUserId;
};

function selector(type: 'single' | 'multi', prefix: string, labels: string[]): Record<string, unknown> {
  return {
    selector: {
      type,
      exp_type: 0,
      options: labels.map((text, i) => ({
        key: `option-${prefix}${String(i + 1).padStart(2, '0')}`,
        value: [{ text, lang: 'zh_CN' }],
      })),
    },
  };
}

function money(values: Map<string, unknown>, id: string): number {
  const v = values.get(id) as { new_money?: string } | undefined;
  return Number(v?.new_money ?? 0);
}

function contractTemplate(): TemplateDef {
  const c = CONTROL_IDS.contract;
  const controls: ControlDef[] = [
    { control: 'Text', id: c.number, title: '合同编号', require: 1 },
    { control: 'Text', id: c.customer, title: '客户名称', require: 1 },
    { control: 'Money', id: c.amount, title: '合同金额', require: 1 },
    {
      control: 'Selector',
      id: c.payment,
      title: '付款方式',
      require: 1,
      config: selector('single', '1700000000004', ['一次性付款', '分期付款', '货到付款']),
    },
    { control: 'Date', id: c.signDate, title: '签订日期', require: 1, config: { date: { type: 'day' } } },
    {
      control: 'Contact',
      id: c.owner,
      title: '销售负责人',
      require: 0,
      config: { contact: { type: 'single', mode: 'user' } },
    },
    {
      control: 'Selector',
      id: c.creditRating,
      title: '客户信用等级',
      require: 0,
      config: selector('single', '1700000000007', ['AAA', 'AA', 'A', 'B', 'C']),
    },
    { control: 'Textarea', id: c.remark, title: '合同说明', require: 0 },
    { control: 'File', id: c.attachment, title: '合同附件', require: 0 },
    {
      control: 'Tips',
      id: c.tips,
      title: '说明',
      require: 0,
      config: { tips: { tips_content: [{ text: [{ text: '金额≥50万元需总经理审批', lang: 'zh_CN' }] }] } },
    },
  ];
  return {
    id: TEMPLATE_IDS.contract,
    name: '合同审批',
    controls,
    // Conditional flow (spec §3.2 use_template_approver=1): sales director, finance, and the CEO from 500k.
    flow(values) {
      const nodes: FlowNodeSpec[] = [
        { type: 1, apvRel: 2, userids: [userOf('E0002')] },
        { type: 1, apvRel: 2, userids: [userOf('E0006')] },
      ];
      if (money(values, c.amount) >= 500_000) nodes.push({ type: 1, apvRel: 2, userids: [userOf('E0001')] });
      return { nodes, notifyers: [userOf('E0008')] };
    },
  };
}

function expenseTemplate(): TemplateDef {
  const c = CONTROL_IDS.expense;
  return {
    id: TEMPLATE_IDS.expense,
    name: '费用报销',
    controls: [
      {
        control: 'Selector',
        id: c.category,
        title: '报销类型',
        require: 1,
        config: selector('single', '1700000000101', ['差旅费', '交通费', '招待费', '办公费']),
      },
      { control: 'Money', id: c.amount, title: '报销金额', require: 1 },
      { control: 'Date', id: c.date, title: '发生日期', require: 1, config: { date: { type: 'day' } } },
      { control: 'Text', id: c.project, title: '关联项目', require: 0 },
      { control: 'Textarea', id: c.reason, title: '报销事由', require: 1 },
      {
        control: 'Table',
        id: c.details,
        title: '费用明细',
        require: 0,
        children: [
          { control: 'Text', id: c.detailItem, title: '费用项目', require: 1 },
          { control: 'Money', id: c.detailAmount, title: '金额', require: 1 },
          { control: 'Date', id: c.detailDate, title: '日期', require: 0, config: { date: { type: 'day' } } },
        ],
      },
      { control: 'File', id: c.receipts, title: '票据', require: 0 },
    ],
    flow(values) {
      const nodes: FlowNodeSpec[] = [{ type: 1, apvRel: 2, userids: [userOf('E0006')] }];
      if (money(values, c.amount) >= 5_000) nodes.push({ type: 1, apvRel: 2, userids: [userOf('E0001')] });
      return { nodes, notifyers: [userOf('E0007')] };
    },
  };
}

function projectTemplate(): TemplateDef {
  const c = CONTROL_IDS.project;
  return {
    id: TEMPLATE_IDS.project,
    name: '项目立项',
    controls: [
      { control: 'Text', id: c.number, title: '项目编号', require: 1 },
      { control: 'Text', id: c.name, title: '项目名称', require: 1 },
      { control: 'Text', id: c.customer, title: '客户名称', require: 0 },
      { control: 'Money', id: c.budget, title: '预算金额', require: 1 },
      { control: 'Date', id: c.start, title: '开始日期', require: 1, config: { date: { type: 'day' } } },
      { control: 'Date', id: c.end, title: '结束日期', require: 0, config: { date: { type: 'day' } } },
      {
        control: 'Contact',
        id: c.manager,
        title: '项目经理',
        require: 1,
        config: { contact: { type: 'single', mode: 'user' } },
      },
      { control: 'Number', id: c.headcount, title: '预计人数', require: 0 },
      { control: 'Textarea', id: c.description, title: '项目说明', require: 0 },
    ],
    flow() {
      return {
        nodes: [
          { type: 1, apvRel: 2, userids: [userOf('E0009')] },
          { type: 1, apvRel: 2, userids: [userOf('E0001')] },
        ],
        notifyers: [userOf('E0006')],
      };
    },
  };
}

/** Who leads whom, as the org chart of the fictional company reads. */
const LEADERS: Record<string, string> = {
  E0002: 'E0001',
  E0003: 'E0002',
  E0004: 'E0002',
  E0005: 'E0002',
  E0012: 'E0002',
  E0006: 'E0001',
  E0007: 'E0006',
  E0008: 'E0006',
  E0009: 'E0001',
  E0010: 'E0009',
  E0011: 'E0001',
};
const DEPT_LEADERS: Record<number, string> = {
  1: 'E0001',
  2: 'E0002',
  3: 'E0006',
  4: 'E0009',
  5: 'E0001',
  6: 'E0011',
};
const DEPT_EN: Record<number, string> = {
  1: 'Qinghe',
  2: 'Sales',
  3: 'Finance',
  4: 'R&D',
  5: 'CEO Office',
  6: 'Purchasing',
};

export function seedWorld(): WecomWorld {
  const apps = new Map<number, App>();
  apps.set(SEED.agentId, {
    agentId: SEED.agentId,
    name: '桥 Qiao 集成',
    secret: SEED.secret,
    approval: true,
    visibleDepartments: [1],
    visibleUsers: [],
    legacyContactFields: false,
  });
  apps.set(SEED.salesAgentId, {
    agentId: SEED.salesAgentId,
    name: '销售助手',
    secret: SEED.salesSecret,
    approval: false,
    visibleDepartments: [2],
    visibleUsers: [],
    legacyContactFields: true,
  });

  const depts = new Map<number, Dept>();
  for (const d of DEPARTMENTS) {
    depts.set(d.id, {
      id: d.id,
      name: d.name,
      nameEn: DEPT_EN[d.id] ?? d.number,
      parentId: d.parentId ?? 0,
      order: 100_000_000 - d.id * 1000,
      leaders: DEPT_LEADERS[d.id] ? [userOf(DEPT_LEADERS[d.id])] : [],
    });
  }

  const members = new Map<string, Member>();
  for (const e of EMPLOYEES) {
    const leaderOf = Object.entries(DEPT_LEADERS)
      .filter(([, s]) => s === e.staffNumber)
      .map(([id]) => Number(id))
      .filter((id) => id === e.departmentId || (id === 1 && e.staffNumber === 'E0001'));
    members.set(e.wecomUserId.toLowerCase(), {
      userid: e.wecomUserId,
      name: e.name,
      departments: [e.departmentId],
      mainDepartment: e.departmentId,
      position: e.title,
      mobile: e.mobile,
      email: e.email,
      gender: ['李娜', '陈静', '赵敏', '吴芳', '孙丽'].includes(e.name) ? '2' : '1',
      status: 1,
      staffNumber: e.staffNumber,
      leaderOf,
      directLeader: LEADERS[e.staffNumber] ? [userOf(LEADERS[e.staffNumber])] : [],
    });
  }

  const templates = new Map<string, TemplateDef>();
  for (const t of [contractTemplate(), expenseTemplate(), projectTemplate()]) templates.set(t.id, t);

  const robots = new Map<string, Robot>();
  for (const [name, key] of Object.entries(SEED.robots)) {
    robots.set(key, { key, name, disabled: false, inGroup: true, messages: [] });
  }

  return {
    corpId: SEED.corpId,
    corpName: COMPANY.name,
    apps,
    approvalAgentId: 3010040,
    tokens: new Map(),
    currentToken: new Map(),
    tokenTtlSeconds: 7200,
    members,
    depts,
    templates,
    approvals: new Map(),
    daySeq: new Map(),
    messages: new Map(),
    recentRequests: new Map(),
    cards: new Map(),
    responseCodes: new Map(),
    robots,
    limits: {
      enabled: false,
      perMinute: {
        '*': 10_000,
        '/cgi-bin/oa/gettemplatedetail': 600,
        '/cgi-bin/oa/getapprovalinfo': 600,
        '/cgi-bin/oa/getapprovaldetail': 600,
        '/cgi-bin/oa/applyevent': 60,
      },
      perHour: { '*': 150_000 },
      concurrency: 0,
      processingMs: 0,
      messagesPerMemberPerMinute: 30,
      robotPerMinute: 20,
      badSecretsPerHour: 2000,
    },
    windows: new Map(),
    blocks: new Map(),
    inFlight: new Map(),
    badSecrets: new Map(),
    callbackFaults: { dropNext: 0, dropRate: 0, delayMs: 0, duplicateNext: 0, duplicateTimes: 2 },
    callbackSettings: {
      timeoutMs: 5_000,
      verifyTimeoutMs: 1_000,
      retries: 3,
      retryDelaysMs: [1_000, 2_000, 4_000],
    },
    events: [],
    deliveries: [],
    calls: [],
    clockOffsetMs: 0,
    seq: { event: 0, delivery: 0, comment: 0, msg: 0 },
  };
}

/** Whether `userid` (case-insensitive, spec §1) is inside the app's visible range. */
export function visibleTo(w: WecomWorld, app: App, userid: string): boolean {
  const m = w.members.get(userid.toLowerCase());
  if (!m) return false;
  if (app.visibleUsers.some((u) => u.toLowerCase() === m.userid.toLowerCase())) return true;
  return m.departments.some((d) => app.visibleDepartments.some((v) => isWithin(w, d, v)));
}

/** Whether department `id` is `ancestor` or below it. */
export function isWithin(w: WecomWorld, id: number, ancestor: number): boolean {
  let cur: number | undefined = id;
  for (let i = 0; i < 100 && cur; i++) {
    if (cur === ancestor) return true;
    cur = w.depts.get(cur)?.parentId;
  }
  return false;
}
