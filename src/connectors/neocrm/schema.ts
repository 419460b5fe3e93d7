/**
 * Neocrm objects and fields. A static schema of the standard objects (spec 5) is known up front; the
 * tenant's real fields, custom ones included (`customItemNNN__c`, `xxx__c` differ per tenant, spec 5.2),
 * come from describe (spec 4.6) and are cached, refreshable, so mappings are validated against them.
 */
import type { ConnectorSchema, FieldSchema, FieldType, ObjectSchema } from '../../core/connector.ts';

const s = (label: string, extra: Partial<FieldSchema> = {}): FieldSchema => ({
  type: 'string',
  label,
  ...extra,
});
const ref = (label: string, target: string, extra: Partial<FieldSchema> = {}): FieldSchema => ({
  type: 'ref',
  label,
  ref: target,
  ...extra,
});
const int = (label: string): FieldSchema => ({ type: 'integer', label });
const num = (label: string): FieldSchema => ({ type: 'number', label });
const ms = (label: string): FieldSchema => ({ type: 'datetime', label });

/** System fields on every object (spec 5.1). */
const SYSTEM: Record<string, FieldSchema> = {
  id: s('ID'),
  entityType: ref('业务类型', 'busiType'),
  ownerId: ref('所有人', 'user'),
  dimDepart: ref('所属部门', 'department'),
  createdAt: ms('创建日期'),
  createdBy: ref('创建人', 'user'),
  updatedAt: ms('最新修改日'),
  updatedBy: ref('最新修改人', 'user'),
  lockStatus: int('锁定状态'),
};

const obj = (
  label: string,
  numberField: string | undefined,
  fields: Record<string, FieldSchema>,
): ObjectSchema => ({
  label,
  idField: 'id',
  ...(numberField ? { numberField } : {}),
  fields: { ...SYSTEM, ...fields },
});

/** The standard objects and key fields of spec 5.2 (field lists [L]); describe replaces them per tenant. */
export const STATIC_SCHEMA: ConnectorSchema = {
  objects: {
    account: obj('客户', 'accountName', {
      accountName: s('客户名称', { required: true }),
      phone: s('电话'),
      fax: s('传真'),
      url: s('公司网址'),
      address: s('详细地址'),
      zipCode: s('邮政编码'),
      fState: int('省份'),
      fCity: int('城市'),
      fDistrict: int('区县'),
      industryId: int('行业'),
      level: int('客户级别'),
      parentAccountId: ref('上级客户', 'account'),
      highSeaId: int('所属公海'),
      highSeaStatus: int('公海状态'),
      employeeNumber: int('员工人数'),
      annualRevenue: num('年营业额'),
      comment: s('备注'),
      totalOrderAmount: num('订单总金额'),
      paidAmount: num('已回款金额'),
      unpaidAmount: num('未回款金额'),
      totalWonOpportunities: int('赢单商机数'),
    }),
    contact: obj('联系人', undefined, {
      contactName: s('姓名', { required: true }),
      accountId: ref('客户', 'account'),
      mobile: s('手机'),
      phone: s('电话'),
      email: s('邮箱'),
      post: s('职务'),
      depart: s('部门'),
      gender: int('性别'),
      contactRole: int('角色'),
      address: s('地址'),
      contactBirthday: ms('生日'),
    }),
    opportunity: obj('商机', undefined, {
      opportunityName: s('商机名称', { required: true }),
      accountId: ref('客户', 'account'),
      // The amount is `money`, not `amount` (spec 5.2).
      money: num('销售金额'),
      saleStageId: int('销售阶段'),
      closeDate: ms('结单日期'),
      winRate: num('赢率'),
      status: int('状态'),
    }),
    lead: obj('线索', undefined, {
      name: s('姓名', { required: true }),
      companyName: s('公司名称'),
      mobile: s('手机'),
      status: int('状态'),
      leadSourceId: int('线索来源'),
    }),
    product: obj('产品', undefined, {
      productName: s('产品名称', { required: true }),
      priceUnit: num('标准价格'),
      unit: s('单位'),
      parentId: int('产品目录'),
      enableStatus: int('启用状态'),
    }),
    contract: obj('合同', undefined, {
      title: s('合同标题', { required: true }),
      accountId: ref('客户', 'account'),
      startDate: ms('开始日期'),
      endDate: ms('结束日期'),
      status: int('合同状态'),
    }),
    order: obj('订单', undefined, {
      accountId: ref('客户', 'account'),
    }),
    paymentApplicationPlan: obj('回款计划', undefined, {
      accountId: ref('客户', 'account'),
      contractId: ref('合同', 'contract'),
      orderId: ref('订单', 'order'),
      amount: num('计划回款金额'),
      transactionDate: ms('计划回款日期'),
      stage: int('期次'),
      status: int('状态'),
    }),
    paymentApplication: obj('回款', undefined, {
      name: s('回款编号'),
      accountId: ref('客户', 'account'),
      contractId: ref('合同', 'contract'),
      orderId: ref('订单', 'order'),
      planId: ref('回款计划', 'paymentApplicationPlan'),
      amount: num('回款金额'),
      paymentDate: ms('回款日期'),
      paymentMethod: int('付款方式'),
    }),
    user: obj('用户', undefined, {
      name: s('姓名'),
      phone: s('手机'),
      status: int('状态'),
    }),
  },
};

/**
 * An object the connection declares (`objects`, e.g. a custom `project__c`) that neither the static
 * schema nor describe has filled in yet: known by name, with the system fields every object carries
 * (spec 5.1), so flows may name it before the partner is asked.
 */
export function declaredObject(apiKey: string): ObjectSchema {
  return obj(apiKey, undefined, {});
}

/** Describe `type` words → Qiao field types; unknown words fall back on `itemType` (spec 4.6: vocabulary not captured). */
const TYPE_MAP: Record<string, FieldType> = {
  text: 'string',
  textarea: 'string',
  phone: 'string',
  email: 'string',
  url: 'string',
  autonumber: 'string',
  id: 'string',
  integer: 'integer',
  real: 'number',
  currency: 'number',
  percent: 'number',
  formula: 'number',
  date: 'datetime',
  datetime: 'datetime',
  boolean: 'boolean',
  selectitem: 'integer',
  picklist: 'integer',
  multiselectitem: 'array',
  multipicklist: 'array',
  lookup: 'ref',
  reference: 'ref',
  entitytype: 'ref',
};

const ITEM_TYPE_MAP: Record<string, FieldType> = {
  string: 'string',
  long: 'integer',
  integer: 'integer',
  int: 'integer',
  double: 'number',
  bigdecimal: 'number',
  boolean: 'boolean',
  array: 'array',
};

/** One described field → a FieldSchema (picklist options kept for validation and the console). */
export function fieldFromDescribe(f: any): FieldSchema {
  const word = String(f.type ?? '').toLowerCase();
  let type: FieldType = TYPE_MAP[word] ?? ITEM_TYPE_MAP[String(f.itemType ?? '').toLowerCase()] ?? 'string';
  const out: FieldSchema = {
    type,
    ...(f.label ? { label: String(f.label) } : {}),
    ...(f.required ? { required: true } : {}),
  };
  const items = Array.isArray(f.selectitem) && f.selectitem.length ? f.selectitem : f.checkitem;
  if (Array.isArray(items) && items.length) {
    out.options = items.map((o: any) => ({ value: o.value, ...(o.label ? { label: String(o.label) } : {}) }));
  }
  if (type === 'ref') {
    const target =
      f.referTo?.apiKey ?? (word === 'entitytype' || f.apiKey === 'entityType' ? 'busiType' : undefined);
    if (target) out.ref = String(target);
    else type = out.type = 'string';
  }
  return out;
}

/** A describe answer's `data` → an ObjectSchema. */
export function objectFromDescribe(data: any): ObjectSchema {
  const fields: Record<string, FieldSchema> = {};
  for (const f of Array.isArray(data?.fields) ? data.fields : []) {
    if (f?.apiKey) fields[String(f.apiKey)] = fieldFromDescribe(f);
  }
  const unique = (Array.isArray(data?.fields) ? data.fields : []).find(
    (f: any) => f?.unique && f.apiKey !== 'id' && ['text', 'autonumber'].includes(String(f.type)),
  );
  return {
    ...(data?.label ? { label: String(data.label) } : {}),
    idField: 'id',
    ...(unique ? { numberField: String(unique.apiKey) } : {}),
    fields,
  };
}

/** Fields of an object that hold ids (references, business type): sent as exact integers. */
export function idFieldsOf(schema: ObjectSchema | undefined): Set<string> {
  const out = new Set<string>(['id']);
  for (const [k, f] of Object.entries(schema?.fields ?? {})) if (f.type === 'ref') out.add(k);
  return out;
}

/** Objects `describe()` loads when the connection does not list its own (spec 5.2 standard objects). */
export const DEFAULT_DESCRIBED_OBJECTS = [
  'account',
  'contact',
  'opportunity',
  'contract',
  'order',
  'product',
  'paymentApplicationPlan',
  'paymentApplication',
];

/** Describes fetched from the tenant, kept for `ttlMs`, merged over the static schema. */
export class SchemaCache {
  private readonly described = new Map<string, { schema: ObjectSchema; at: number }>();
  private readonly inflight = new Map<string, Promise<ObjectSchema>>();
  private readonly load: (object: string) => Promise<ObjectSchema>;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    load: (object: string) => Promise<ObjectSchema>,
    ttlMs = 10 * 60_000,
    now: () => number = Date.now,
  ) {
    this.load = load;
    this.ttlMs = ttlMs;
    this.now = now;
  }

  /** The current schema: described objects over the static ones. */
  snapshot(): ConnectorSchema {
    const objects: Record<string, ObjectSchema> = { ...STATIC_SCHEMA.objects };
    for (const [k, v] of this.described) objects[k] = v.schema;
    return { objects };
  }

  /** Whether `object` has been described (its custom fields are known), not only statically listed. */
  isDescribed(object: string): boolean {
    return this.described.has(object);
  }

  /** The best known schema of one object without a call (described, else static). */
  known(object: string): ObjectSchema | undefined {
    return this.described.get(object)?.schema ?? STATIC_SCHEMA.objects[object];
  }

  /** One object's described schema, from cache while fresh; `refresh` forces a new describe. */
  async get(object: string, refresh = false): Promise<ObjectSchema> {
    const hit = this.described.get(object);
    if (hit && !refresh && this.now() - hit.at < this.ttlMs) return hit.schema;
    let p = this.inflight.get(object);
    if (!p) {
      p = this.load(object)
        .then((schema) => {
          this.described.set(object, { schema, at: this.now() });
          return schema;
        })
        .finally(() => this.inflight.delete(object));
      this.inflight.set(object, p);
    }
    return p;
  }
}
