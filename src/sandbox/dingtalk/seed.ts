/**
 * The seeded DingTalk tenant: the shared fictional company (src/sandbox/common/company.ts) as a
 * DingTalk organisation — users (`dingtalkUserId`, job number = Kingdee staff number, same mobiles
 * and emails), departments (DingTalk's root department id is 1, as in the shared company), the app
 * (appKey/appSecret/agentId/robotCode), approval templates, custom group robots and the group chats
 * the enterprise robot sits in.
 */
import { randomBytes } from 'node:crypto';
import { COMPANY, DEPARTMENTS, EMPLOYEES, type Employee } from '../common/company.ts';
import { stableOpaque } from './ids.ts';

export interface SandboxUser {
  userid: string;
  unionid: string;
  /** The opaque `senderId` the robot protocol uses for this user (spec §6.1). */
  senderId: string;
  name: string;
  mobile: string;
  email: string;
  /** 工号: the Kingdee staff number, the key that maps a DingTalk user to an employee. */
  jobNumber: string;
  title: string;
  deptIds: number[];
  managerUserid?: string;
  leaderOf: number[];
  boss: boolean;
  admin: boolean;
  active: boolean;
  hiredDate: number;
}

export interface SandboxDepartment {
  id: number;
  name: string;
  parentId: number | null;
}

export type FormComponentType =
  | 'TextField'
  | 'TextareaField'
  | 'MoneyField'
  | 'NumberField'
  | 'DDDateField'
  | 'DDSelectField';

export interface TemplateField {
  id: string;
  name: string;
  componentType: FormComponentType;
  required: boolean;
  options?: string[];
}

export interface ApproverNode {
  actionType: 'AND' | 'OR' | 'NONE';
  userIds: string[];
}

export interface ProcessTemplate {
  processCode: string;
  /** Short key used by the admin surface and docs: contract, expense, payment, project. */
  key: string;
  name: string;
  fields: TemplateField[];
  /** The template's own approval flow, used when a create call sends no `approvers`. */
  approvers: ApproverNode[];
}

export interface CustomRobot {
  name: string;
  accessToken: string;
  /** 加签 secret (`SEC…`), when signing is the robot's security setting. */
  secret?: string;
  keywords: string[];
  ipList: string[];
  enabled: boolean;
  conversationTitle: string;
}

export interface Conversation {
  conversationId: string;
  type: 'single' | 'group';
  title: string;
  members: string[];
}

export interface SandboxApp {
  corpId: string;
  appKey: string;
  appSecret: string;
  agentId: number;
  robotCode: string;
  /** Event subscription settings from the developer console (spec §7.1). */
  eventToken: string;
  aesKey: string;
  /** Owner key appended to event plaintexts: the appKey for console subscriptions (spec §7.1). */
  ownerKey: string;
  appName: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(n: number): string {
  let s = '';
  for (const b of randomBytes(n)) s += ALNUM[b % ALNUM.length];
  return s;
}

export function seedApp(): SandboxApp {
  const appKey = `ding${randomAlnum(16).toLowerCase()}`;
  return {
    corpId: COMPANY.dingtalkCorpId,
    appKey,
    appSecret: randomAlnum(64),
    agentId: 2_800_000_000 + Math.floor(Math.random() * 99_999_999),
    robotCode: appKey,
    eventToken: randomAlnum(24),
    aesKey: randomAlnum(43),
    ownerKey: appKey,
    appName: '青禾桥接助手',
  };
}

const DEPT_LEADERS: Record<number, string> = {
  1: 'E0001',
  2: 'E0002',
  3: 'E0006',
  4: 'E0009',
  5: 'E0001',
  6: 'E0011',
};

function byStaff(staffNumber: string): Employee {
  const e = EMPLOYEES.find((x) => x.staffNumber === staffNumber);
  if (!e) throw new Error(`unknown staff number ${staffNumber}`);
  return e;
}

export function seedUsers(): SandboxUser[] {
  return EMPLOYEES.map((e, i) => {
    const leaderOf = Object.entries(DEPT_LEADERS)
      .filter(([, s]) => s === e.staffNumber)
      .map(([d]) => Number(d));
    const deptLeader = byStaff(DEPT_LEADERS[e.departmentId]);
    const manager = deptLeader.staffNumber === e.staffNumber ? byStaff('E0001') : deptLeader;
    return {
      userid: e.dingtalkUserId,
      unionid: stableOpaque(`union:${e.dingtalkUserId}`, 20),
      senderId: `$:LWCP_v1:$${stableOpaque(`sender:${e.dingtalkUserId}`, 32)}`,
      name: e.name,
      mobile: e.mobile,
      email: e.email,
      jobNumber: e.staffNumber,
      title: e.title,
      deptIds: [e.departmentId],
      ...(manager.staffNumber !== e.staffNumber ? { managerUserid: manager.dingtalkUserId } : {}),
      leaderOf,
      boss: e.roles.includes('ceo'),
      admin: e.roles.includes('ceo'),
      active: true,
      hiredDate: Date.UTC(2019, i % 12, 1 + i) - 8 * 3600_000,
    };
  });
}

export function seedDepartments(): SandboxDepartment[] {
  return DEPARTMENTS.map((d) => ({ id: d.id, name: d.name, parentId: d.parentId }));
}

const uid = (staffNumber: string) => byStaff(staffNumber).dingtalkUserId;

function field(
  id: string,
  name: string,
  componentType: FormComponentType,
  required = false,
  options?: string[],
): TemplateField {
  return { id, name, componentType, required, ...(options ? { options } : {}) };
}

export function seedTemplates(): ProcessTemplate[] {
  return [
    {
      processCode: 'PROC-7C1E4A2B-3D5F-4E60-8A91-B2C3D4E5F601',
      key: 'contract',
      name: '合同审批',
      fields: [
        field('TextField-CT01', '合同名称', 'TextField', true),
        field('TextField-CT02', '客户名称', 'TextField', true),
        field('MoneyField-CT03', '合同金额', 'MoneyField', true),
        field('DDDateField-CT04', '签约日期', 'DDDateField'),
        field('TextField-CT05', '合同编号', 'TextField'),
        field('TextareaField-CT06', '备注', 'TextareaField'),
      ],
      approvers: [
        { actionType: 'NONE', userIds: [uid('E0002')] },
        { actionType: 'NONE', userIds: [uid('E0001')] },
      ],
    },
    {
      processCode: 'PROC-2B8D6F10-94A3-4C7E-B5D2-7E8F9A0B1C02',
      key: 'expense',
      name: '费用报销',
      fields: [
        field('TextField-EX01', '报销事由', 'TextField', true),
        field('MoneyField-EX02', '报销金额', 'MoneyField', true),
        field('DDDateField-EX03', '费用日期', 'DDDateField', true),
        field('DDSelectField-EX04', '费用类型', 'DDSelectField', false, [
          '差旅费',
          '招待费',
          '办公费',
          '其他',
        ]),
        field('TextField-EX05', '项目', 'TextField'),
        field('TextareaField-EX06', '备注', 'TextareaField'),
      ],
      approvers: [{ actionType: 'NONE', userIds: [uid('E0006')] }],
    },
    {
      processCode: 'PROC-9E4F3A21-5B6C-4D7E-8F90-A1B2C3D4E503',
      key: 'payment',
      name: '付款申请',
      fields: [
        field('TextField-PY01', '付款事由', 'TextField', true),
        field('MoneyField-PY02', '付款金额', 'MoneyField', true),
        field('TextField-PY03', '收款单位', 'TextField', true),
        field('DDDateField-PY04', '付款日期', 'DDDateField'),
        field('TextField-PY05', '应付单号', 'TextField'),
        field('TextareaField-PY06', '备注', 'TextareaField'),
      ],
      approvers: [
        { actionType: 'NONE', userIds: [uid('E0006')] },
        { actionType: 'NONE', userIds: [uid('E0001')] },
      ],
    },
    {
      processCode: 'PROC-4A5B6C7D-8E9F-4A0B-9C1D-2E3F4A5B6C04',
      key: 'project',
      name: '立项申请',
      fields: [
        field('TextField-PJ01', '项目名称', 'TextField', true),
        field('TextField-PJ02', '项目编号', 'TextField'),
        field('TextField-PJ03', '客户名称', 'TextField'),
        field('MoneyField-PJ04', '预算金额', 'MoneyField', true),
        field('TextField-PJ05', '项目经理', 'TextField'),
        field('TextareaField-PJ06', '备注', 'TextareaField'),
      ],
      approvers: [
        { actionType: 'NONE', userIds: [uid('E0009')] },
        { actionType: 'NONE', userIds: [uid('E0001')] },
      ],
    },
  ];
}

export function seedRobots(): CustomRobot[] {
  return [
    {
      name: 'alerts',
      accessToken: randomBytes(32).toString('hex'),
      secret: `SEC${randomBytes(32).toString('hex')}`,
      keywords: [],
      ipList: [],
      enabled: true,
      conversationTitle: '财务通知群',
    },
    {
      name: 'ops',
      accessToken: randomBytes(32).toString('hex'),
      keywords: ['告警', 'Qiao'],
      ipList: [],
      enabled: true,
      conversationTitle: 'IT运维群',
    },
    {
      name: 'office',
      accessToken: randomBytes(32).toString('hex'),
      keywords: [],
      ipList: ['127.0.0.0/8'],
      enabled: true,
      conversationTitle: '总经办',
    },
  ];
}

export function seedConversations(): Conversation[] {
  const members = (...staff: string[]) => staff.map(uid);
  return [
    {
      conversationId: `cid${stableOpaque('group:finance', 28)}`,
      type: 'group',
      title: '财务付款群',
      members: members('E0001', 'E0006', 'E0007', 'E0008', 'E0002'),
    },
    {
      conversationId: `cid${stableOpaque('group:sales', 28)}`,
      type: 'group',
      title: '销售战报群',
      members: members('E0001', 'E0002', 'E0003', 'E0004', 'E0005', 'E0012'),
    },
  ];
}

/** The 1:1 conversation between a user and the enterprise robot. */
export function singleConversation(userid: string): Conversation {
  return {
    conversationId: `cid${stableOpaque(`single:${userid}`, 28)}`,
    type: 'single',
    title: '',
    members: [userid],
  };
}
