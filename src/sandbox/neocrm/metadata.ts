/**
 * The tenant's object metadata: which xobjects exist, their fields (kind, required, unique, picklist
 * options, reference targets) and business types. Describe (spec 4.6), busiType (4.7), the metadata list
 * (4.8), record validation and both query languages are all driven from these definitions.
 *
 * The concrete `type`/`itemType` vocabulary of describe is not captured by the spec (4.6 shows `"..."`);
 * the words used here (`text`, `selectitem`, `lookup`…) follow the one captured sample and are a
 * simulator choice, documented in docs/sandbox/neocrm.md.
 */

export type FieldKind =
  | 'id'
  | 'text'
  | 'textarea'
  | 'phone'
  | 'email'
  | 'url'
  | 'autonumber'
  | 'integer'
  | 'real'
  | 'currency'
  | 'percent'
  | 'date'
  | 'datetime'
  | 'boolean'
  | 'picklist'
  | 'multipicklist'
  | 'lookup'
  | 'entityType';

export interface PickOption {
  value: number;
  label: string;
  apiKey: string;
}

export interface FieldDef {
  apiKey: string;
  label: string;
  kind: FieldKind;
  required?: boolean;
  unique?: boolean;
  /** False for system fields the API refuses to write (id, createdAt…). Default true. */
  createable?: boolean;
  updateable?: boolean;
  maxLength?: number;
  options?: PickOption[];
  /** For `lookup`: the object referenced. */
  referTo?: string;
}

export interface BusiType {
  id: string;
  apiKey: string;
  label: string;
  isDefault: boolean;
}

export interface ObjectDef {
  apiKey: string;
  label: string;
  custom: boolean;
  /** The field `<ref>.name` resolves to in XOQL. */
  nameField: string;
  /** Query v2 name when the apiKey is a reserved word (`order` → `_order`, spec 4.10). */
  queryName?: string;
  fields: FieldDef[];
  /** The same fields by apiKey. */
  byKey: Map<string, FieldDef>;
  busiTypes: BusiType[];
  /** Numeric object id (`belongId`) of the web application and v1 APIs (spec 4.15). */
  belongId: number;
}

/** Describe `type` / `itemType` words per kind (simulator choice, see the file comment). */
export const KIND_WIRE: Record<FieldKind, { type: string; itemType: string }> = {
  id: { type: 'id', itemType: 'Long' },
  text: { type: 'text', itemType: 'String' },
  textarea: { type: 'textarea', itemType: 'String' },
  phone: { type: 'phone', itemType: 'String' },
  email: { type: 'email', itemType: 'String' },
  url: { type: 'url', itemType: 'String' },
  autonumber: { type: 'autonumber', itemType: 'String' },
  integer: { type: 'integer', itemType: 'Long' },
  real: { type: 'real', itemType: 'Double' },
  currency: { type: 'currency', itemType: 'BigDecimal' },
  percent: { type: 'percent', itemType: 'Double' },
  date: { type: 'date', itemType: 'Long' },
  datetime: { type: 'datetime', itemType: 'Long' },
  boolean: { type: 'boolean', itemType: 'Boolean' },
  picklist: { type: 'selectitem', itemType: 'Integer' },
  multipicklist: { type: 'multiselectitem', itemType: 'Array' },
  lookup: { type: 'lookup', itemType: 'Long' },
  entityType: { type: 'entityType', itemType: 'Long' },
};

/** Kinds whose values are 64-bit ids (serialised as exact integers or strings, spec 1.2). */
export function isIdKind(kind: FieldKind): boolean {
  return kind === 'id' || kind === 'lookup' || kind === 'entityType';
}

const opts = (...labels: string[]): PickOption[] =>
  labels.map((label, i) => ({ value: i + 1, label, apiKey: `option${i + 1}` }));

/** Options whose values are given explicitly (`[value, label]`). */
const optv = (...pairs: Array<[number, string]>): PickOption[] =>
  pairs.map(([value, label]) => ({ value, label, apiKey: `option${value}` }));

export const LOCK_STATUS = { unlocked: 1, locked: 2 } as const;

/** Opportunity stage picklist (`saleStageId`) and status (`status`): 进行中 / 赢单 / 输单. */
export const SALE_STAGES = opts('初步接洽', '需求确认', '方案报价', '商务谈判', '赢单', '输单');
export const STAGE_WON = 5;
export const STAGE_LOST = 6;
export const OPPORTUNITY_STATUS = { open: 1, won: 2, lost: 3 } as const;
export const CREDIT_RATINGS = opts('AAA', 'AA', 'A', 'B', 'C');
export const INDUSTRIES = opts('制造业', '能源', '汽车', '电子', '医药', '物流');
export const PROVINCES = opts('江苏', '浙江', '安徽', '广东', '四川', '湖北', '山东', '天津', '湖南');
export const CITIES = optv(
  [101, '苏州'],
  [102, '无锡'],
  [201, '宁波'],
  [202, '杭州'],
  [301, '合肥'],
  [401, '深圳'],
  [501, '成都'],
  [601, '武汉'],
  [701, '青岛'],
  [801, '天津'],
  [901, '长沙'],
);

/** Fields every object carries (spec 5.1). */
function systemFields(approval: boolean): FieldDef[] {
  const ro = { createable: false, updateable: false };
  const fields: FieldDef[] = [
    { apiKey: 'id', label: 'ID', kind: 'id', ...ro },
    { apiKey: 'entityType', label: '业务类型', kind: 'entityType', updateable: false },
    { apiKey: 'ownerId', label: '所有人', kind: 'lookup', referTo: 'user' },
    { apiKey: 'dimDepart', label: '所属部门', kind: 'lookup', referTo: 'department' },
    { apiKey: 'createdAt', label: '创建日期', kind: 'datetime', ...ro },
    { apiKey: 'createdBy', label: '创建人', kind: 'lookup', referTo: 'user', ...ro },
    { apiKey: 'updatedAt', label: '最新修改日', kind: 'datetime', ...ro },
    { apiKey: 'updatedBy', label: '最新修改人', kind: 'lookup', referTo: 'user', ...ro },
    { apiKey: 'lockStatus', label: '锁定状态', kind: 'picklist', options: opts('未锁定', '已锁定'), ...ro },
  ];
  if (approval) {
    fields.push({
      apiKey: 'approvalStatus',
      label: '审批状态',
      kind: 'picklist',
      options: opts('待提交', '审批中', '审批通过', '审批拒绝', '撤回'),
      ...ro,
    });
  }
  return fields;
}

interface ObjectSpec {
  apiKey: string;
  label: string;
  custom?: boolean;
  nameField: string;
  queryName?: string;
  belongId: number;
  approval?: boolean;
  busiTypes: string[];
  fields: FieldDef[];
}

const OBJECTS: ObjectSpec[] = [
  {
    apiKey: 'account',
    label: '客户',
    nameField: 'accountName',
    belongId: 1,
    busiTypes: ['默认业务类型', '渠道客户'],
    fields: [
      {
        apiKey: 'accountName',
        label: '客户名称',
        kind: 'text',
        required: true,
        unique: true,
        maxLength: 300,
      },
      { apiKey: 'phone', label: '电话', kind: 'phone', maxLength: 40 },
      { apiKey: 'fax', label: '传真', kind: 'phone', maxLength: 40 },
      { apiKey: 'url', label: '公司网址', kind: 'url', maxLength: 300 },
      { apiKey: 'address', label: '详细地址', kind: 'text', maxLength: 300 },
      { apiKey: 'zipCode', label: '邮政编码', kind: 'text', maxLength: 20 },
      { apiKey: 'fState', label: '省份', kind: 'picklist', options: PROVINCES },
      { apiKey: 'fCity', label: '城市', kind: 'picklist', options: CITIES },
      { apiKey: 'fDistrict', label: '区县', kind: 'picklist', options: opts('市辖区', '开发区', '高新区') },
      { apiKey: 'industryId', label: '行业', kind: 'picklist', options: INDUSTRIES },
      { apiKey: 'level', label: '客户级别', kind: 'picklist', options: opts('A', 'B', 'C') },
      { apiKey: 'parentAccountId', label: '上级客户', kind: 'lookup', referTo: 'account' },
      { apiKey: 'highSeaId', label: '所属公海', kind: 'integer' },
      {
        apiKey: 'highSeaStatus',
        label: '公海状态',
        kind: 'picklist',
        options: opts('正常', '待领取', '已领取', '已退回'),
      },
      { apiKey: 'employeeNumber', label: '员工人数', kind: 'integer' },
      { apiKey: 'annualRevenue', label: '年营业额', kind: 'currency' },
      { apiKey: 'comment', label: '备注', kind: 'textarea', maxLength: 2000 },
      {
        apiKey: 'totalOrderAmount',
        label: '订单总金额',
        kind: 'currency',
        createable: false,
        updateable: false,
      },
      { apiKey: 'paidAmount', label: '已回款金额', kind: 'currency', createable: false, updateable: false },
      { apiKey: 'unpaidAmount', label: '未回款金额', kind: 'currency', createable: false, updateable: false },
      {
        apiKey: 'totalWonOpportunities',
        label: '赢单商机数',
        kind: 'integer',
        createable: false,
        updateable: false,
      },
      { apiKey: 'taxNumber__c', label: '统一社会信用代码', kind: 'text', unique: true, maxLength: 18 },
      { apiKey: 'creditRating__c', label: '信用等级', kind: 'picklist', options: CREDIT_RATINGS },
      { apiKey: 'creditLimit__c', label: '信用额度', kind: 'currency' },
      { apiKey: 'erpNumber__c', label: 'ERP客户编码', kind: 'text', maxLength: 40 },
      { apiKey: 'shortName__c', label: '客户简称', kind: 'text', maxLength: 100 },
      // Tenant custom picklist synced with Kingdee 客户类别 (FCustTypeId) by a value table (scenario 1).
      {
        apiKey: 'customerType__c',
        label: '客户类型',
        kind: 'picklist',
        options: opts('普通客户', '寄售客户'),
      },
      {
        apiKey: 'tags__c',
        label: '客户标签',
        kind: 'multipicklist',
        options: opts('重点客户', '老客户', '新客户', '政府补贴'),
      },
    ],
  },
  {
    apiKey: 'contact',
    label: '联系人',
    nameField: 'contactName',
    belongId: 2,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'contactName', label: '姓名', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'mobile', label: '手机', kind: 'phone', maxLength: 40 },
      { apiKey: 'phone', label: '电话', kind: 'phone', maxLength: 40 },
      { apiKey: 'email', label: '邮箱', kind: 'email', maxLength: 100 },
      { apiKey: 'post', label: '职务', kind: 'text', maxLength: 100 },
      { apiKey: 'depart', label: '部门', kind: 'text', maxLength: 100 },
      { apiKey: 'gender', label: '性别', kind: 'picklist', options: opts('男', '女') },
      {
        apiKey: 'contactRole',
        label: '角色',
        kind: 'picklist',
        options: opts('决策人', '采购', '技术', '财务', '其他'),
      },
      { apiKey: 'address', label: '地址', kind: 'text', maxLength: 300 },
      { apiKey: 'contactBirthday', label: '生日', kind: 'date' },
    ],
  },
  {
    apiKey: 'opportunity',
    label: '商机',
    nameField: 'opportunityName',
    belongId: 3,
    approval: true,
    busiTypes: ['默认业务类型', '项目型商机'],
    fields: [
      { apiKey: 'opportunityName', label: '商机名称', kind: 'text', required: true, maxLength: 300 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'money', label: '销售金额', kind: 'currency' },
      { apiKey: 'saleStageId', label: '销售阶段', kind: 'picklist', options: SALE_STAGES },
      { apiKey: 'closeDate', label: '结单日期', kind: 'date' },
      { apiKey: 'winRate', label: '赢率', kind: 'percent' },
      {
        apiKey: 'status',
        label: '状态',
        kind: 'picklist',
        options: optv([1, '进行中'], [2, '赢单'], [3, '输单']),
      },
      { apiKey: 'comment', label: '备注', kind: 'textarea', maxLength: 2000 },
      { apiKey: 'riskScore__c', label: '风险评分', kind: 'integer' },
    ],
  },
  {
    apiKey: 'lead',
    label: '线索',
    nameField: 'name',
    belongId: 4,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'name', label: '姓名', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'companyName', label: '公司名称', kind: 'text', maxLength: 300 },
      { apiKey: 'mobile', label: '手机', kind: 'phone', maxLength: 40 },
      {
        apiKey: 'status',
        label: '状态',
        kind: 'picklist',
        options: opts('未处理', '跟进中', '已转换', '无效'),
      },
      {
        apiKey: 'leadSourceId',
        label: '线索来源',
        kind: 'picklist',
        options: opts('展会', '官网', '转介绍', '电话'),
      },
    ],
  },
  {
    apiKey: 'product',
    label: '产品',
    nameField: 'productName',
    belongId: 5,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'productName', label: '产品名称', kind: 'text', required: true, maxLength: 300 },
      { apiKey: 'priceUnit', label: '标准价格', kind: 'currency' },
      { apiKey: 'unit', label: '单位', kind: 'text', maxLength: 20 },
      { apiKey: 'parentId', label: '产品目录', kind: 'integer' },
      { apiKey: 'enableStatus', label: '启用状态', kind: 'picklist', options: opts('启用', '停用') },
      { apiKey: 'productCode__c', label: '产品编码', kind: 'text', unique: true, maxLength: 40 },
      { apiKey: 'spec__c', label: '规格型号', kind: 'text', maxLength: 100 },
    ],
  },
  {
    apiKey: 'contract',
    label: '合同',
    nameField: 'title',
    belongId: 6,
    approval: true,
    busiTypes: ['默认业务类型', '框架合同'],
    fields: [
      { apiKey: 'title', label: '合同标题', kind: 'text', required: true, maxLength: 300 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'opportunityId', label: '商机', kind: 'lookup', referTo: 'opportunity' },
      { apiKey: 'contractCode', label: '合同编号', kind: 'autonumber', createable: false, updateable: false },
      { apiKey: 'amount', label: '合同金额', kind: 'currency' },
      { apiKey: 'startDate', label: '开始日期', kind: 'date' },
      { apiKey: 'endDate', label: '结束日期', kind: 'date' },
      {
        apiKey: 'status',
        label: '合同状态',
        kind: 'picklist',
        options: opts('草稿', '审批中', '执行中', '已结束', '已作废'),
      },
      { apiKey: 'erpOrderNumber__c', label: 'ERP销售订单号', kind: 'text', maxLength: 40 },
      { apiKey: 'erpStatus__c', label: 'ERP单据状态', kind: 'text', maxLength: 40 },
      // The tenant's contract lines, kept as custom fields as many tenants do (spec 5.2: custom fields
      // are per tenant): what is sold, how many, and the approver's comment written back (scenario 2).
      { apiKey: 'product__c', label: '合同产品', kind: 'lookup', referTo: 'product' },
      { apiKey: 'quantity__c', label: '数量', kind: 'integer' },
      { apiKey: 'approvalComment__c', label: '审批意见', kind: 'textarea', maxLength: 2000 },
      // The approval that last returned the contract to 草稿: a resubmission is a new episode (scenario 2).
      { apiKey: 'returnedApprovalNo__c', label: '退回审批单号', kind: 'text', maxLength: 64 },
    ],
  },
  {
    apiKey: 'order',
    label: '订单',
    nameField: 'po',
    queryName: '_order',
    belongId: 7,
    approval: true,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'po', label: '订单编号', kind: 'text', required: true, unique: true, maxLength: 60 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'contractId', label: '合同', kind: 'lookup', referTo: 'contract' },
      { apiKey: 'amount', label: '订单金额', kind: 'currency' },
      { apiKey: 'transactionDate', label: '下单日期', kind: 'date' },
      {
        apiKey: 'status',
        label: '订单状态',
        kind: 'picklist',
        options: opts('草稿', '已确认', '已发货', '已完成', '已取消'),
      },
    ],
  },
  {
    apiKey: 'paymentApplicationPlan',
    label: '回款计划',
    nameField: 'name',
    belongId: 8,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'name', label: '回款计划', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'contractId', label: '合同', kind: 'lookup', referTo: 'contract' },
      { apiKey: 'orderId', label: '订单', kind: 'lookup', referTo: 'order' },
      { apiKey: 'amount', label: '计划回款金额', kind: 'currency', required: true },
      { apiKey: 'transactionDate', label: '计划回款日期', kind: 'date' },
      { apiKey: 'stage', label: '期次', kind: 'integer' },
      {
        apiKey: 'status',
        label: '状态',
        kind: 'picklist',
        options: opts('未回款', '部分回款', '已回款', '逾期'),
      },
    ],
  },
  {
    apiKey: 'paymentApplication',
    label: '回款',
    nameField: 'name',
    belongId: 9,
    approval: true,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'name', label: '回款编号', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'accountId', label: '客户', kind: 'lookup', referTo: 'account', required: true },
      { apiKey: 'contractId', label: '合同', kind: 'lookup', referTo: 'contract' },
      { apiKey: 'orderId', label: '订单', kind: 'lookup', referTo: 'order' },
      { apiKey: 'planId', label: '回款计划', kind: 'lookup', referTo: 'paymentApplicationPlan' },
      { apiKey: 'amount', label: '回款金额', kind: 'currency', required: true },
      { apiKey: 'paymentDate', label: '回款日期', kind: 'date' },
      {
        apiKey: 'paymentMethod',
        label: '付款方式',
        kind: 'picklist',
        options: opts('银行转账', '承兑汇票', '现金', '其他'),
      },
      {
        apiKey: 'activationStatus',
        label: '生效状态',
        kind: 'picklist',
        options: opts('未生效', '已生效'),
        createable: false,
        updateable: false,
      },
      { apiKey: 'erpReceiptNumber__c', label: 'ERP收款单号', kind: 'text', maxLength: 40 },
    ],
  },
  {
    apiKey: 'user',
    label: '用户',
    nameField: 'name',
    belongId: 10,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'name', label: '姓名', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'phone', label: '手机', kind: 'phone', maxLength: 40 },
      { apiKey: 'email', label: '邮箱', kind: 'email', unique: true, maxLength: 100 },
      { apiKey: 'status', label: '状态', kind: 'picklist', options: opts('启用', '停用') },
      { apiKey: 'employeeCode', label: '员工编号', kind: 'text', unique: true, maxLength: 40 },
      { apiKey: 'positionName', label: '职位', kind: 'text', maxLength: 100 },
    ],
  },
  {
    apiKey: 'department',
    label: '部门',
    nameField: 'departName',
    belongId: 11,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'departName', label: '部门名称', kind: 'text', required: true, maxLength: 100 },
      { apiKey: 'departCode', label: '部门编码', kind: 'text', unique: true, maxLength: 40 },
      { apiKey: 'parentDepartId', label: '上级部门', kind: 'lookup', referTo: 'department' },
    ],
  },
  {
    apiKey: 'project__c',
    label: '项目',
    custom: true,
    nameField: 'name',
    belongId: 1001,
    approval: true,
    busiTypes: ['默认业务类型'],
    fields: [
      { apiKey: 'name', label: '项目名称', kind: 'text', required: true, maxLength: 300 },
      { apiKey: 'projectCode__c', label: '项目编码', kind: 'text', unique: true, maxLength: 40 },
      { apiKey: 'accountId__c', label: '客户', kind: 'lookup', referTo: 'account' },
      { apiKey: 'opportunityId__c', label: '商机', kind: 'lookup', referTo: 'opportunity' },
      { apiKey: 'budget__c', label: '项目预算', kind: 'currency' },
    ],
  },
];

/**
 * Builds the tenant's metadata. Business-type ids are 16-digit like every id; they are derived from
 * `idBase` so two sandboxes started with different seeds do not share ids.
 */
export function buildMetadata(entityTypeBase: bigint): Map<string, ObjectDef> {
  const out = new Map<string, ObjectDef>();
  let n = 0n;
  for (const spec of OBJECTS) {
    const busiTypes = spec.busiTypes.map((label, i) => {
      n += 1n;
      return {
        id: (entityTypeBase + n).toString(),
        apiKey: i === 0 ? 'defaultBusiType' : `busiType${i + 1}`,
        label,
        isDefault: i === 0,
      };
    });
    const fields = [...systemFields(spec.approval ?? false), ...spec.fields];
    out.set(spec.apiKey, {
      apiKey: spec.apiKey,
      label: spec.label,
      custom: spec.custom ?? false,
      nameField: spec.nameField,
      queryName: spec.queryName,
      belongId: spec.belongId,
      busiTypes,
      fields,
      byKey: new Map(fields.map((f) => [f.apiKey, f])),
    });
  }
  return out;
}

export function fieldOf(def: ObjectDef, apiKey: string): FieldDef | undefined {
  return def.byKey.get(apiKey);
}
