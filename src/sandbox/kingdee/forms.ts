/**
 * The forms (business objects) the sandbox knows, as metadata: field keys, labels, kinds, required
 * flags, base-data references and defaults. Field keys follow the spec's section 6; labels are the
 * Chinese captions K/3 Cloud puts into its messages (e.g. 字段“客户”是必填项).
 *
 * K/3 Cloud's WebAPI Save first builds a new model with the form's default values, exactly as the UI
 * does, then applies the JSON package. That is why the official SDK sample saves a material with only
 * org, number and name although the field list flags more fields ★ (spec 6.3). The sandbox models this
 * with `defaultFrom`: a ★ field with a default never fails; one without (e.g. `FCustId`) does.
 */

export type FieldKind =
  | 'text'
  | 'mltext'
  | 'int'
  | 'decimal'
  | 'bool'
  | 'date'
  | 'datetime'
  | 'enum'
  /** Base-data reference: stored as the referenced record's internal id; sent as `{"FNumber": …}`. */
  | 'ref'
  /** Assistant data (辅助资料): a reference rendered by View as `{Id, FNumber, FDataValue}`. */
  | 'assistant'
  /** A reference whose form is named by another field (e.g. `FCONTACTUNIT` by `FCONTACTUNITTYPE`). */
  | 'dynref';

/** What a default is computed from: the row being filled, the header, the current session's org. */
export interface DefaultContext {
  row: Record<string, unknown>;
  head: Record<string, unknown>;
  orgId: number;
  today: string;
  /** Looks a base-data record up by number; returns its internal id. */
  idOf(formId: string, number: string): number | undefined;
  /** Reads a field of a referenced record. */
  refValue(formId: string, id: unknown, key: string): unknown;
}

export interface FieldDef {
  key: string;
  label: string;
  kind: FieldKind;
  /** View property name (spec 4.3): the key without its leading `F` unless given. */
  prop?: string;
  required?: boolean;
  /** For ref/assistant: the referenced FormId. For dynref: the field naming the FormId. */
  ref?: string;
  options?: readonly string[];
  /** Server-maintained (status, stamps, totals): Save ignores values sent for it. */
  system?: boolean;
  /** Filled when the package leaves the field empty. */
  defaultFrom?: (ctx: DefaultContext) => unknown;
}

export interface EntityDef {
  /** Save key of the entry (`FSaleOrderEntry`) and its View name (`SaleOrderEntry`). */
  key: string;
  prop: string;
  label: string;
  /** Entry primary key: `FEntryID` (query key `<key>_FEntryID`). */
  pk: string;
  fields: FieldDef[];
  /** At least one row on Save. */
  required?: boolean;
}

export interface SubHeaderDef {
  key: string;
  prop: string;
  fields: FieldDef[];
}

export interface FormDef {
  formId: string;
  name: string;
  kind: 'base' | 'bill';
  pk: string;
  numberKey: string;
  /** Auto-number prefix and digits, e.g. `XSDD` + 6 → `XSDD000123` (spec 9.4). */
  numberPrefix: string;
  numberDigits: number;
  /** Other reference keys records of this form are found by (`FSTAFFNUMBER` → `FStaffNumber`). */
  lookupKeys?: Record<string, string>;
  fields: FieldDef[];
  subHeaders: SubHeaderDef[];
  entries: EntityDef[];
}

const f = (key: string, label: string, kind: FieldKind, extra: Partial<FieldDef> = {}): FieldDef => ({
  key,
  label,
  kind,
  ...extra,
});
const ref = (key: string, label: string, form: string, extra: Partial<FieldDef> = {}): FieldDef =>
  f(key, label, 'ref', { ref: form, ...extra });
const orgRef = (key: string, label: string, extra: Partial<FieldDef> = {}) =>
  ref(key, label, 'ORG_Organizations', extra);
/** Default: a preset base-data number (e.g. currency `PRE001`). */
const preset =
  (formId: string, number: string) =>
  (c: DefaultContext): unknown =>
    c.idOf(formId, number);
const fromField =
  (key: string, where: 'row' | 'head' = 'head') =>
  (c: DefaultContext): unknown =>
    (where === 'row' ? c.row : c.head)[key] ?? undefined;
const sessionOrg = (c: DefaultContext): unknown => (c.orgId > 0 ? c.orgId : undefined);
const today = (c: DefaultContext): unknown => c.today;

/** Fields every form carries, maintained by the server (spec 6.1, 9.4). */
function auditFields(kind: 'base' | 'bill'): FieldDef[] {
  return [
    f('FDocumentStatus', '数据状态', 'enum', { options: ['Z', 'A', 'B', 'C', 'D'], system: true }),
    kind === 'base'
      ? f('FForbidStatus', '禁用状态', 'enum', { options: ['A', 'B'], system: true })
      : f('FCancelStatus', '作废状态', 'enum', { options: ['A', 'B'], system: true }),
    ref('FCreatorId', '创建人', 'SEC_User', { system: true }),
    f('FCreateDate', '创建日期', 'datetime', { system: true }),
    ref('FModifierId', '修改人', 'SEC_User', { system: true }),
    f('FModifyDate', '修改日期', 'datetime', { system: true, prop: 'FModifyDate' }),
    ref('FApproverId', '审核人', 'SEC_User', { system: true }),
    f('FApproveDate', '审核日期', 'datetime', { system: true }),
  ];
}

/** A small base-data form: number, name, the usual stamps. Used for lookups such as currencies. */
function lookupForm(
  formId: string,
  name: string,
  pk: string,
  extra: FieldDef[] = [],
  opts: Partial<FormDef> = {},
) {
  return {
    formId,
    name,
    kind: 'base',
    pk,
    numberKey: 'FNumber',
    numberPrefix: formId.replace(/[^A-Z]/g, '').slice(0, 4),
    numberDigits: 4,
    fields: [
      f(pk, '内码', 'int', { system: true, prop: 'Id' }),
      f('FNumber', '编码', 'text'),
      f('FName', '名称', 'mltext', { required: true }),
      ...extra,
      ...auditFields('base'),
    ],
    subHeaders: [],
    entries: [],
    ...opts,
  } satisfies FormDef;
}

// Blocks several forms share, each written once. They return fresh objects on every call: forms never
// share a FieldDef.

/** Base data's creation org (the session's) and use org (the creation org unless given, spec 6.1). */
function createUseOrgs(useOrgRequired = false): FieldDef[] {
  return [
    orgRef('FCreateOrgId', '创建组织', { required: true, defaultFrom: sessionOrg }),
    orgRef(
      'FUseOrgId',
      '使用组织',
      useOrgRequired
        ? { required: true, defaultFrom: fromField('FCreateOrgId') }
        : { defaultFrom: fromField('FCreateOrgId') },
    ),
  ];
}

/** The first fields of every bill: internal id, bill number, and the bill type preset for the form. */
function billHead(billType: string): FieldDef[] {
  return [
    f('FID', '内码', 'int', { system: true, prop: 'Id' }),
    f('FBillNo', '单据编号', 'text'),
    ref('FBillTypeID', '单据类型', 'BOS_BillType', {
      required: true,
      defaultFrom: preset('BOS_BillType', billType),
    }),
  ];
}

/** A bill's date: today unless given. */
const billDate = (key: string, label: string) =>
  f(key, label, 'date', { required: true, defaultFrom: today });

/** A bill's currency: CNY (`PRE001`) unless given. */
const currency = (key = 'FCURRENCYID') =>
  ref(key, '币别', 'BD_Currency', {
    required: true,
    defaultFrom: preset('BD_Currency', 'PRE001'),
  });

/** An entry (单据体) keyed by `FEntryID`; `required` asks Save for at least one row. */
function entry(key: string, prop: string, label: string, fields: FieldDef[], required = false): EntityDef {
  return required
    ? { key, prop, label, pk: 'FEntryID', required, fields }
    : { key, prop, label, pk: 'FEntryID', fields };
}

/** The sales org of a shipping bill (the session's) and the org that ships (the sales org unless given). */
function shippingOrgs(saleOrgKey: string, shipOrgKey: string): FieldDef[] {
  return [
    orgRef(saleOrgKey, '销售组织', { required: true, defaultFrom: sessionOrg }),
    orgRef(shipOrgKey, '发货组织', { required: true, defaultFrom: fromField(saleOrgKey) }),
  ];
}

/** A shipping line's material and unit (the material's base unit unless given). */
function materialAndUnit(unitLabel: string): FieldDef[] {
  return [
    ref('FMaterialID', '物料编码', 'BD_MATERIAL', { required: true }),
    ref('FUnitID', unitLabel, 'BD_UNIT', {
      required: true,
      defaultFrom: (c) => c.refValue('BD_MATERIAL', c.row.FMaterialID, 'FBaseUnitId'),
    }),
  ];
}

/** Where a pushed line came from (spec 4.7): the source form and bill number. */
const sourceBill = (): FieldDef[] => [f('FSrcType', '源单类型', 'text'), f('FSrcBillNo', '源单编号', 'text')];

/**
 * 应收单 and 应付单 mirror each other (spec 6.6, "AP_Payable has the mirror structure with FSUPPLIERID"):
 * the partner, the pay org's caption, the business org and the bill type differ; the finance sub-header
 * and the detail lines are shared. Both carry the payable's View names (`AP_PAYABLEFIN`,
 * `AP_PAYABLEENTRY`), as the sandbox always has; the spec records no View names for the receivable.
 */
function openItemForm(o: {
  formId: string;
  name: string;
  numberPrefix: string;
  billType: string;
  partner: FieldDef;
  payOrgLabel: string;
  bizOrg: readonly [key: string, label: string];
  /** After the business org. */
  moreHead?: FieldDef[];
  /** After the shared detail fields. */
  moreDetail?: FieldDef[];
}): FormDef {
  return {
    formId: o.formId,
    name: o.name,
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: o.numberPrefix,
    numberDigits: 8,
    fields: [
      ...billHead(o.billType),
      billDate('FDATE', '业务日期'),
      f('FENDDATE_H', '到期日', 'date', { defaultFrom: fromField('FDATE') }),
      o.partner,
      currency(),
      orgRef('FSETTLEORGID', '结算组织', { required: true, defaultFrom: sessionOrg }),
      orgRef('FPAYORGID', o.payOrgLabel, { defaultFrom: fromField('FSETTLEORGID') }),
      orgRef(o.bizOrg[0], o.bizOrg[1], { defaultFrom: fromField('FSETTLEORGID') }),
      ...(o.moreHead ?? []),
      f('FISINIT', '期初单据', 'bool'),
      f('FISPRICEEXCLUDETAX', '价外税', 'bool', { defaultFrom: () => true }),
      f('FALLAMOUNTFOR', '价税合计', 'decimal', { system: true }),
      ...auditFields('bill'),
    ],
    subHeaders: [
      {
        key: 'FsubHeadFinc',
        prop: 'AP_PAYABLEFIN',
        fields: [
          f('FACCNTTIMEJUDGETIME', '到期日计算日期', 'date', { defaultFrom: fromField('FDATE') }),
          ref('FMAINBOOKSTDCURRID', '本位币', 'BD_Currency', {
            defaultFrom: preset('BD_Currency', 'PRE001'),
          }),
          ref('FEXCHANGETYPE', '汇率类型', 'BD_ExchangeType', {
            defaultFrom: preset('BD_ExchangeType', 'HLTX01_SYS'),
          }),
          f('FExchangeRate', '汇率', 'decimal', { defaultFrom: () => 1 }),
          ref('FSettleTypeID', '结算方式', 'BD_SETTLETYPE'),
        ],
      },
    ],
    entries: [
      entry(
        'FEntityDetail',
        'AP_PAYABLEENTRY',
        '明细',
        [
          ref('FMATERIALID', '物料编码', 'BD_MATERIAL'),
          ref('FCOSTID', '费用项目', 'BD_Expense'),
          f('FPriceQty', '计价数量', 'decimal'),
          f('FTaxPrice', '含税单价', 'decimal'),
          f('FPrice', '单价', 'decimal'),
          f('FEntryTaxRate', '税率%', 'decimal', { defaultFrom: () => 13 }),
          f('FALLAMOUNTFOR_D', '价税合计', 'decimal', { system: true }),
          ...(o.moreDetail ?? []),
        ],
        true,
      ),
    ],
  };
}

/**
 * The counterparty of a receipt or payment: the contact unit (往来单位) and the unit that pays or is
 * paid (the contact unit unless given), each a reference whose form is named by its type field.
 */
function counterparty(
  unitTypes: readonly string[],
  other: { typeKey: string; typeLabel: string; key: string; label: string },
): FieldDef[] {
  return [
    f('FCONTACTUNITTYPE', '往来单位类型', 'enum', {
      options: [...unitTypes],
      defaultFrom: () => unitTypes[0],
    }),
    f('FCONTACTUNIT', '往来单位', 'dynref', { required: true, ref: 'FCONTACTUNITTYPE' }),
    f(other.typeKey, other.typeLabel, 'enum', {
      options: [...unitTypes],
      defaultFrom: fromField('FCONTACTUNITTYPE'),
    }),
    f(other.key, other.label, 'dynref', { ref: other.typeKey, defaultFrom: fromField('FCONTACTUNIT') }),
  ];
}

/** The org receiving or paying (the session's), the settlement org and a business org (both that org). */
function cashOrgs(cashOrgLabel: string, bizOrg: readonly [key: string, label: string]): FieldDef[] {
  return [
    orgRef('FPAYORGID', cashOrgLabel, { required: true, defaultFrom: sessionOrg }),
    orgRef('FSETTLEORGID', '结算组织', { required: true, defaultFrom: fromField('FPAYORGID') }),
    orgRef(bizOrg[0], bizOrg[1], { defaultFrom: fromField('FPAYORGID') }),
  ];
}

/** A receipt or payment line: settlement type, purpose (a preset unless given), amounts, bank, comment. */
function cashLine(purpose: { label: string; preset: string }, amounts: FieldDef[]): FieldDef[] {
  return [
    ref('FSETTLETYPEID', '结算方式', 'BD_SETTLETYPE', { required: true }),
    ref('FPURPOSEID', purpose.label, 'CN_RECPAYPURPOSE', {
      required: true,
      defaultFrom: preset('CN_RECPAYPURPOSE', purpose.preset),
    }),
    ...amounts,
    ref('FACCOUNTID', '我方银行账号', 'CN_BANKACNT'),
    f('FCOMMENT', '备注', 'text'),
  ];
}

/** The source lines (源单明细) of a receipt or payment pushed from a receivable, payable or expense. */
const sourceLines = (key: string, prop: string, amounts: FieldDef[]) =>
  entry(key, prop, '源单明细', [
    f('FSRCBILLTYPEID', '源单类型', 'text'),
    f('FSRCBILLNO', '源单编号', 'text'),
    ...amounts,
  ]);

export const FORMS: readonly FormDef[] = [
  lookupForm('ORG_Organizations', '组织机构', 'FORGID'),
  lookupForm('SEC_User', '用户', 'FUserID', [f('FUserAccount', '用户账号', 'text')]),
  lookupForm('BD_Currency', '币别', 'FCURRENCYID', [f('FCode', '货币代码', 'text')]),
  lookupForm('BD_UNIT', '计量单位', 'FUNITID'),
  lookupForm('BD_Department', '部门', 'FDEPTID', [
    orgRef('FCreateOrgId', '创建组织'),
    orgRef('FUseOrgId', '使用组织'),
  ]),
  lookupForm('BD_Saler', '销售员', 'FID', [
    orgRef('FBizOrgId', '销售组织'),
    ref('FStaffId', '员工', 'BD_Empinfo'),
  ]),
  lookupForm('BOS_BillType', '单据类型', 'FBILLTYPEID', [f('FBillFormID', '单据', 'text')]),
  lookupForm('BOS_ASSISTANTDATA_DETAIL', '辅助资料', 'FENTRYID', [f('FId', '类别', 'text')]),
  lookupForm('BD_SETTLETYPE', '结算方式', 'FID'),
  lookupForm('CN_RECPAYPURPOSE', '收付款用途', 'FID'),
  lookupForm('BD_ExchangeType', '汇率类型', 'FRATETYPEID'),
  lookupForm('BD_TaxRate', '税率', 'FID', [f('FTaxRate', '税率%', 'decimal')]),
  lookupForm('BD_RecCondition', '收款条件', 'FID'),
  lookupForm('BD_Expense', '费用项目', 'FEXPID'),
  lookupForm('BD_STOCK', '仓库', 'FStockId', [
    orgRef('FCreateOrgId', '创建组织'),
    orgRef('FUseOrgId', '使用组织'),
  ]),
  lookupForm('CN_BANKACNT', '银行账号', 'FBANKACNTID', [
    orgRef('FCreateOrgId', '创建组织'),
    f('FBankName', '开户银行', 'text'),
  ]),
  // Spec 6.9: "Project forms were not found in the sources." Tenants commonly keep cost-accounting
  // projects in the preset base data BAS_PreBaseDataOne (预置基础资料1) and reference it from a custom
  // field; the sandbox does the same (ER_ExpReimbursement entry field F_QH_Project).
  lookupForm('BAS_PreBaseDataOne', '项目', 'FID', [...createUseOrgs(), f('FDescription', '描述', 'text')]),
  {
    formId: 'BD_Empinfo',
    name: '员工',
    kind: 'base',
    pk: 'FID',
    numberKey: 'FNumber',
    numberPrefix: 'E',
    numberDigits: 4,
    lookupKeys: { fstaffnumber: 'FStaffNumber' },
    fields: [
      f('FID', '内码', 'int', { system: true, prop: 'Id' }),
      f('FNumber', '员工编号', 'text'),
      f('FName', '员工姓名', 'mltext', { required: true }),
      f('FStaffNumber', '员工工号', 'text', { defaultFrom: fromField('FNumber') }),
      ...createUseOrgs(),
      ref('FDeptId', '部门', 'BD_Department'),
      f('FMobile', '移动电话', 'text'),
      f('FEmail', '电子邮箱', 'text'),
      ...auditFields('base'),
    ],
    subHeaders: [],
    entries: [],
  },
  {
    formId: 'BD_Customer',
    name: '客户',
    kind: 'base',
    pk: 'FCUSTID',
    numberKey: 'FNumber',
    numberPrefix: 'CUST',
    numberDigits: 4,
    fields: [
      f('FCUSTID', '客户内码', 'int', { system: true, prop: 'Id' }),
      ...createUseOrgs(),
      f('FNumber', '客户编码', 'text'),
      f('FName', '客户名称', 'mltext', { required: true }),
      f('FShortName', '简称', 'mltext'),
      f('FCOUNTRY', '国家', 'assistant', { ref: 'BOS_ASSISTANTDATA_DETAIL' }),
      f('FPROVINCIAL', '省份', 'assistant', { ref: 'BOS_ASSISTANTDATA_DETAIL' }),
      f('FADDRESS', '通讯地址', 'text'),
      f('FTEL', '联系电话', 'text'),
      f('FMOBILE', '移动电话', 'text'),
      f('FINVOICETITLE', '发票抬头', 'text'),
      f('FTAXREGISTERCODE', '纳税登记号', 'text'),
      f('FINVOICEBANKNAME', '开户银行', 'text'),
      f('FINVOICETEL', '开票联系电话', 'text'),
      f('FINVOICEBANKACCOUNT', '银行账号', 'text'),
      f('FINVOICEADDRESS', '开票通讯地址', 'text'),
      f('FSOCIALCRECODE', '统一社会信用代码', 'text'),
      f('FCustTypeId', '客户类别', 'assistant', {
        ref: 'BOS_ASSISTANTDATA_DETAIL',
        defaultFrom: preset('BOS_ASSISTANTDATA_DETAIL', 'KHLB001_SYS'),
      }),
      ref('FTRADINGCURRID', '结算币别', 'BD_Currency', {
        required: true,
        defaultFrom: preset('BD_Currency', 'PRE001'),
      }),
      ref('FSETTLETYPEID', '结算方式', 'BD_SETTLETYPE'),
      ref('FRECCONDITIONID', '收款条件', 'BD_RecCondition'),
      ref('FTaxRate', '默认税率', 'BD_TaxRate'),
      f('FInvoiceType', '发票类型', 'enum', { options: ['1', '2'] }),
      f('FIsGroup', '集团客户', 'bool'),
      f('FIsDefPayer', '默认付款方', 'bool'),
      f('FISCREDITCHECK', '启用信用管理', 'bool', { defaultFrom: () => true }),
      f('FIsTrade', '是否交易客户', 'bool', { defaultFrom: () => true }),
      ref('FSELLER', '销售员', 'BD_Saler'),
      ref('FSALDEPTID', '销售部门', 'BD_Department'),
      // Tenant custom fields (spec 6.2 found no credit-level field in K/3 itself): the ERP owns credit.
      f('F_QH_CreditRating', '信用等级', 'enum', { options: ['AAA', 'AA', 'A', 'B', 'C'] }),
      f('F_QH_CreditLimit', '信用额度', 'decimal'),
      f('F_QH_ContactName', '联系人', 'text'),
      // Tenant custom field: the customer's industry as assistant data (行业 HY01…), synced with the
      // CRM's industry picklist through a value table (scenario 1, flows/customer-sync-*.yaml).
      f('F_QH_Industry', '行业', 'assistant', { ref: 'BOS_ASSISTANTDATA_DETAIL' }),
      ...auditFields('base'),
    ],
    subHeaders: [],
    entries: [],
  },
  {
    formId: 'BD_Supplier',
    name: '供应商',
    kind: 'base',
    pk: 'FSupplierId',
    numberKey: 'FNumber',
    numberPrefix: 'VEN',
    numberDigits: 4,
    fields: [
      f('FSupplierId', '供应商内码', 'int', { system: true, prop: 'Id' }),
      ...createUseOrgs(),
      f('FNumber', '供应商编码', 'text'),
      f('FName', '供应商名称', 'mltext', { required: true }),
      f('FShortName', '简称', 'mltext'),
      f('FSOCIALCRECODE', '统一社会信用代码', 'text'),
      f('FAddress', '通讯地址', 'text'),
      ...auditFields('base'),
    ],
    subHeaders: [],
    entries: [],
  },
  {
    formId: 'BD_MATERIAL',
    name: '物料',
    kind: 'base',
    pk: 'FMATERIALID',
    numberKey: 'FNumber',
    numberPrefix: 'MAT',
    numberDigits: 5,
    fields: [
      f('FMATERIALID', '物料内码', 'int', { system: true, prop: 'Id' }),
      ...createUseOrgs(true),
      f('FNumber', '编码', 'text'),
      f('FName', '名称', 'mltext', { required: true }),
      f('FSpecification', '规格型号', 'mltext'),
      f('FMnemonicCode', '助记码', 'text'),
      f('FOldNumber', '旧物料编码', 'text'),
      f('FDescription', '描述', 'mltext'),
      ...auditFields('base'),
    ],
    // Spec 6.3: the sub-header key has no F prefix.
    subHeaders: [
      {
        key: 'SubHeadEntity',
        prop: 'MaterialBase',
        fields: [
          f('FErpClsID', '物料属性', 'enum', {
            options: ['1', '2', '3', '5', '6', '9', '10'],
            defaultFrom: () => '1',
          }),
          ref('FBaseUnitId', '基本单位', 'BD_UNIT', {
            required: true,
            defaultFrom: preset('BD_UNIT', 'Pcs'),
          }),
        ],
      },
      {
        key: 'SubHeadEntity1',
        prop: 'MaterialStock',
        fields: [
          ref('FStockId', '仓库', 'BD_STOCK', { defaultFrom: preset('BD_STOCK', 'CK001') }),
          // 安全库存 of the 库存 tab (T_BD_MATERIALSTOCK.FSAFESTOCK): the stock alert compares with it.
          f('FSafeStock', '安全库存', 'decimal'),
        ],
      },
    ],
    entries: [],
  },
  {
    // 即时库存 (spec 6.x lists STK_Inventory as the inventory view): one row per material, warehouse and
    // organisation, read with ExecuteBillQuery. Real rows are keyed by a GUID FID and carry no number;
    // the sandbox keys every record by a number, so it numbers them INV00001… (FInventoryNo, not a K/3
    // field). Quantities move when people edit them in the admin surface (the sandbox has no stock
    // transactions).
    formId: 'STK_Inventory',
    name: '即时库存',
    kind: 'base',
    pk: 'FID',
    numberKey: 'FInventoryNo',
    numberPrefix: 'INV',
    numberDigits: 5,
    fields: [
      f('FID', '内码', 'int', { system: true, prop: 'Id' }),
      f('FInventoryNo', '库存记录编号（沙箱）', 'text'),
      orgRef('FStockOrgId', '库存组织', { required: true, defaultFrom: sessionOrg }),
      ref('FMaterialId', '物料编码', 'BD_MATERIAL', { required: true }),
      ref('FStockId', '仓库', 'BD_STOCK', { required: true, defaultFrom: preset('BD_STOCK', 'CK001') }),
      ref('FBaseUnitId', '基本单位', 'BD_UNIT', {
        defaultFrom: (c) => c.refValue('BD_MATERIAL', c.head.FMaterialId, 'FBaseUnitId'),
      }),
      f('FBaseQty', '库存量(基本单位)', 'decimal'),
      f('FBaseLockQty', '锁库量(基本单位)', 'decimal'),
      f('FQty', '库存量(库存单位)', 'decimal'),
      ...auditFields('base'),
    ],
    subHeaders: [],
    entries: [],
  },
  {
    formId: 'SAL_SaleOrder',
    name: '销售订单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'XSDD',
    numberDigits: 6,
    fields: [
      ...billHead('XSDD01_SYS'),
      billDate('FDate', '日期'),
      orgRef('FSaleOrgId', '销售组织', { required: true, defaultFrom: sessionOrg }),
      ref('FCustId', '客户', 'BD_Customer', { required: true }),
      ref('FSalerId', '销售员', 'BD_Saler', { required: true }),
      ref('FSaleDeptId', '销售部门', 'BD_Department'),
      ref('FReceiveId', '收货方', 'BD_Customer', { defaultFrom: fromField('FCustId') }),
      ref('FSettleId', '结算方', 'BD_Customer', { defaultFrom: fromField('FCustId') }),
      ref('FChargeId', '付款方', 'BD_Customer', { defaultFrom: fromField('FCustId') }),
      f('FNote', '备注', 'text'),
      ...auditFields('bill'),
    ],
    subHeaders: [
      {
        key: 'FSaleOrderFinance',
        prop: 'SaleOrderFinance',
        fields: [
          ref('FSettleCurrId', '结算币别', 'BD_Currency', {
            required: true,
            defaultFrom: (c) =>
              c.refValue('BD_Customer', c.head.FCustId, 'FTRADINGCURRID') ?? c.idOf('BD_Currency', 'PRE001'),
          }),
          ref('FRecConditionId', '收款条件', 'BD_RecCondition'),
          ref('FSettleModeId', '结算方式', 'BD_SETTLETYPE'),
          ref('FExchangeTypeId', '汇率类型', 'BD_ExchangeType', {
            defaultFrom: preset('BD_ExchangeType', 'HLTX01_SYS'),
          }),
          f('FExchangeRate', '汇率', 'decimal', { defaultFrom: () => 1 }),
          f('FIsIncludedTax', '是否含税', 'bool', { defaultFrom: () => true }),
          f('FIsPriceExcludeTax', '价外税', 'bool', { defaultFrom: () => true }),
          ref('FLocalCurrId', '本位币', 'BD_Currency', { defaultFrom: preset('BD_Currency', 'PRE001') }),
          // Head totals. The spec lists them loosely as FAmount/FTaxAmount/FAllAmount, keys that the entry
          // also uses; K/3 metadata cannot hold one key twice, so the head totals carry the Bill prefix.
          f('FBillAmount', '税额前金额合计', 'decimal', { system: true }),
          f('FBillTaxAmount', '税额合计', 'decimal', { system: true }),
          f('FBillAllAmount', '价税合计', 'decimal', { system: true }),
        ],
      },
    ],
    entries: [
      {
        key: 'FSaleOrderEntry',
        prop: 'SaleOrderEntry',
        label: '明细信息',
        pk: 'FEntryID',
        required: true,
        fields: [
          f('FRowType', '产品类型', 'enum', {
            options: ['Standard', 'Parent', 'Son', 'Service'],
            defaultFrom: () => 'Standard',
          }),
          ref('FMaterialId', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitID', '销售单位', 'BD_UNIT', {
            required: true,
            defaultFrom: (c) => c.refValue('BD_MATERIAL', c.row.FMaterialId, 'FBaseUnitId'),
          }),
          ref('FPriceUnitId', '计价单位', 'BD_UNIT', {
            required: true,
            defaultFrom: fromField('FUnitID', 'row'),
          }),
          ref('FStockUnitID', '库存单位', 'BD_UNIT', {
            required: true,
            defaultFrom: fromField('FUnitID', 'row'),
          }),
          f('FQty', '销售数量', 'decimal'),
          f('FPrice', '单价', 'decimal'),
          f('FTaxPrice', '含税单价', 'decimal'),
          f('FEntryTaxRate', '税率%', 'decimal', { defaultFrom: () => 13 }),
          f('FIsFree', '是否赠品', 'bool'),
          f('FDeliveryDate', '要货日期', 'date', { required: true, defaultFrom: fromField('FDate') }),
          orgRef('FSettleOrgIds', '结算组织', { required: true, defaultFrom: fromField('FSaleOrgId') }),
          orgRef('FStockOrgId', '库存组织', { defaultFrom: fromField('FSaleOrgId') }),
          f('FReserveType', '预留类型', 'enum', {
            required: true,
            options: ['1', '2', '3'],
            defaultFrom: () => '1',
          }),
          f('FOUTLMTUNIT', '超发控制单位类型', 'enum', {
            required: true,
            options: ['SAL', 'STK'],
            defaultFrom: () => 'SAL',
          }),
          f('FEntryNote', '备注', 'text'),
          f('FAmount', '金额', 'decimal', { system: true }),
          f('FTaxAmount', '税额', 'decimal', { system: true }),
          f('FAllAmount', '价税合计', 'decimal', { system: true }),
        ],
      },
      {
        key: 'FSaleOrderPlan',
        prop: 'SaleOrderPlan',
        label: '收款计划',
        pk: 'FEntryID',
        fields: [
          f('FNeedRecAdvance', '是否预收', 'bool'),
          f('FRecAdvanceRate', '应收比例%', 'decimal'),
          f('FRecAdvanceAmount', '应收金额', 'decimal'),
          f('FMustDate', '到期日', 'date'),
        ],
      },
    ],
  },
  {
    formId: 'SAL_DELIVERYNOTICE',
    name: '发货通知单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'FHTZD',
    numberDigits: 6,
    fields: [
      ...billHead('FHTZD01_SYS'),
      billDate('FDate', '日期'),
      ...shippingOrgs('FSaleOrgId', 'FDeliveryOrgID'),
      ref('FCustomerID', '客户', 'BD_Customer', { required: true }),
      ref('FSalesManID', '销售员', 'BD_Saler'),
      f('FNote', '备注', 'text'),
      ...auditFields('bill'),
    ],
    subHeaders: [],
    entries: [
      entry(
        'FEntity',
        'SAL_DELIVERYNOTICEENTRY',
        '明细信息',
        [
          ...materialAndUnit('销售单位'),
          f('FQty', '销售数量', 'decimal'),
          f('FTaxPrice', '含税单价', 'decimal'),
          f('FDeliveryDate', '要货日期', 'date', { defaultFrom: fromField('FDate') }),
          ...sourceBill(),
        ],
        true,
      ),
    ],
  },
  {
    formId: 'SAL_OUTSTOCK',
    name: '销售出库单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'XSCKD',
    numberDigits: 6,
    fields: [
      ...billHead('XSCKD01_SYS'),
      billDate('FDate', '日期'),
      ...shippingOrgs('FSaleOrgID', 'FStockOrgId'),
      ref('FCustomerID', '客户', 'BD_Customer', { required: true }),
      f('FNote', '备注', 'text'),
      ...auditFields('bill'),
    ],
    subHeaders: [],
    entries: [
      entry(
        'FEntity',
        'SAL_OUTSTOCKENTRY',
        '明细信息',
        [
          ...materialAndUnit('库存单位'),
          f('FRealQty', '实发数量', 'decimal'),
          f('FTaxPrice', '含税单价', 'decimal'),
          ref('FStockID', '仓库', 'BD_STOCK', {
            required: true,
            defaultFrom: (c) => c.refValue('BD_MATERIAL', c.row.FMaterialID, 'FStockId'),
          }),
          ...sourceBill(),
        ],
        true,
      ),
    ],
  },
  openItemForm({
    formId: 'AR_receivable',
    name: '应收单',
    numberPrefix: 'AR',
    billType: 'YSD01_SYS',
    partner: ref('FCUSTOMERID', '客户', 'BD_Customer', { required: true }),
    payOrgLabel: '收款组织',
    bizOrg: ['FSALEORGID', '销售组织'],
    moreHead: [ref('FSALEERID', '销售员', 'BD_Saler')],
    moreDetail: [f('FSourceBillNo', '源单编号', 'text'), f('FSOURCETYPE', '源单类型', 'text')],
  }),
  {
    formId: 'AR_RECEIVEBILL',
    name: '收款单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'SKD',
    numberDigits: 8,
    fields: [
      ...billHead('SKDLX01_SYS'),
      billDate('FDATE', '业务日期'),
      ...counterparty(['BD_Customer', 'BD_Supplier', 'BD_Department', 'BD_Empinfo'], {
        typeKey: 'FPAYUNITTYPE',
        typeLabel: '付款单位类型',
        key: 'FPAYUNIT',
        label: '付款单位',
      }),
      currency(),
      ref('FSETTLECUR', '结算币别', 'BD_Currency', { defaultFrom: fromField('FCURRENCYID') }),
      ref('FSETTLEMAINBOOKID', '结算本位币', 'BD_Currency', { defaultFrom: preset('BD_Currency', 'PRE001') }),
      ...cashOrgs('收款组织', ['FSALEORGID', '销售组织']),
      ref('FSALEDEPTID', '销售部门', 'BD_Department'),
      ref('FSALEERID', '销售员', 'BD_Saler'),
      f('FEXCHANGERATE', '汇率', 'decimal', { defaultFrom: () => 1 }),
      f('FSETTLERATE', '结算汇率', 'decimal', { defaultFrom: () => 1 }),
      f('FBUSINESSTYPE', '业务类型', 'enum', { options: ['1', '2', '3'], defaultFrom: () => '1' }),
      f('FISINIT', '期初收款单', 'bool'),
      f('FREMARK', '备注', 'text'),
      f('FRECEIVEAMOUNTFOR_H', '收款金额', 'decimal', { system: true }),
      f('FREALRECAMOUNTFOR', '实收金额', 'decimal', { system: true }),
      ...auditFields('bill'),
    ],
    subHeaders: [],
    entries: [
      entry(
        'FRECEIVEBILLENTRY',
        'RECEIVEBILLENTRY',
        '收款单明细',
        cashLine({ label: '收款用途', preset: 'SFKYT01_SYS' }, [
          f('FRECTOTALAMOUNTFOR', '应收金额', 'decimal', { required: true }),
          f('FRECAMOUNTFOR_E', '收款金额', 'decimal', {
            defaultFrom: fromField('FRECTOTALAMOUNTFOR', 'row'),
          }),
          f('FRECAMOUNT_E', '收款金额本位币', 'decimal', {
            defaultFrom: fromField('FRECAMOUNTFOR_E', 'row'),
          }),
          f('FREALRECAMOUNTFOR_D', '实收金额', 'decimal', { system: true }),
          f('FNOTVERIFICATEAMOUNT', '未核销金额', 'decimal', { system: true }),
          f('FPOSTDATE', '登账日期', 'date', { defaultFrom: fromField('FDATE') }),
        ]),
        true,
      ),
      sourceLines('FRECEIVEBILLSRCENTRY', 'RECEIVEBILLSRCENTRY', [
        f('FAFTTAXTOTALAMOUNT', '应收金额', 'decimal'),
        f('FREALRECAMOUNT_S', '本次收款金额', 'decimal'),
      ]),
    ],
  },
  openItemForm({
    formId: 'AP_Payable',
    name: '应付单',
    numberPrefix: 'AP',
    billType: 'YFD01_SYS',
    partner: ref('FSUPPLIERID', '供应商', 'BD_Supplier', { required: true }),
    payOrgLabel: '付款组织',
    bizOrg: ['FPURCHASEORGID', '采购组织'],
  }),
  {
    formId: 'AP_PAYBILL',
    name: '付款单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'FKD',
    numberDigits: 8,
    fields: [
      ...billHead('FKDLX01_SYS'),
      billDate('FDATE', '业务日期'),
      ...counterparty(['BD_Supplier', 'BD_Customer', 'BD_Department', 'BD_Empinfo'], {
        typeKey: 'FRECTUNITTYPE',
        typeLabel: '收款单位类型',
        key: 'FRECTUNIT',
        label: '收款单位',
      }),
      currency(),
      ...cashOrgs('付款组织', ['FPURCHASEORGID', '采购组织']),
      f('FREMARK', '备注', 'text'),
      f('FPAYAMOUNTFOR_H', '付款金额', 'decimal', { system: true }),
      f('FREALPAYAMOUNTFOR', '实付金额', 'decimal', { system: true }),
      ...auditFields('bill'),
    ],
    subHeaders: [],
    entries: [
      entry(
        'FPAYBILLENTRY',
        'PAYBILLENTRY',
        '付款单明细',
        cashLine({ label: '付款用途', preset: 'SFKYT02_SYS' }, [
          f('FPAYTOTALAMOUNTFOR', '应付金额', 'decimal', { required: true }),
          f('FPAYAMOUNTFOR_E', '付款金额', 'decimal', {
            defaultFrom: fromField('FPAYTOTALAMOUNTFOR', 'row'),
          }),
          f('FREALPAYAMOUNTFOR_D', '实付金额', 'decimal', { system: true }),
          f('FHANDLINGCHARGEFOR', '手续费', 'decimal'),
          ref('FCOSTID', '费用项目', 'BD_Expense'),
          ref('FEXPENSEDEPTID_E', '费用承担部门', 'BD_Department'),
        ]),
        true,
      ),
      sourceLines('FPAYBILLSRCENTRY', 'PAYBILLSRCENTRY', [
        f('FPLANPAYAMOUNT', '计划付款金额', 'decimal'),
        f('FREALPAYAMOUNT_S', '本次付款金额', 'decimal'),
      ]),
    ],
  },
  {
    formId: 'ER_ExpReimbursement',
    name: '费用报销单',
    kind: 'bill',
    pk: 'FID',
    numberKey: 'FBillNo',
    numberPrefix: 'FYBX',
    numberDigits: 6,
    fields: [
      ...billHead('FYBXD001_SYS'),
      billDate('FDate', '申请日期'),
      ref('FProposerID', '申请人', 'BD_Empinfo', { required: true }),
      ref('FRequestDeptID', '申请部门', 'BD_Department', { required: true }),
      ref('FExpenseDeptID', '费用承担部门', 'BD_Department', {
        required: true,
        defaultFrom: fromField('FRequestDeptID'),
      }),
      orgRef('FOrgID', '申请组织', { required: true, defaultFrom: sessionOrg }),
      orgRef('FExpenseOrgId', '费用承担组织', { required: true, defaultFrom: fromField('FOrgID') }),
      orgRef('FPayOrgId', '付款组织', { defaultFrom: fromField('FOrgID') }),
      currency('FCurrencyID'),
      ref('FLocCurrencyID', '本位币', 'BD_Currency', { defaultFrom: preset('BD_Currency', 'PRE001') }),
      ref('FExchangeTypeID', '汇率类型', 'BD_ExchangeType', {
        defaultFrom: preset('BD_ExchangeType', 'HLTX01_SYS'),
      }),
      f('FCONTACTUNITTYPE', '往来单位类型', 'enum', {
        options: ['BD_Empinfo', 'BD_Supplier', 'BD_Customer', 'BD_Department'],
        defaultFrom: () => 'BD_Empinfo',
      }),
      f('FCONTACTUNIT', '往来单位', 'dynref', {
        ref: 'FCONTACTUNITTYPE',
        defaultFrom: fromField('FProposerID'),
      }),
      f('FCausa', '事由', 'text', { required: true }),
      f('FPayBox', '付款', 'bool', { defaultFrom: () => true }),
      f('FrefundBox', '退款', 'bool'),
      ref('FPaySettlleTypeID', '付款结算方式', 'BD_SETTLETYPE'),
      f('FRequestType', '申请类型', 'enum', { options: ['1', '2'], defaultFrom: () => '1' }),
      f('FExpenseAmount', '费用金额', 'decimal', { system: true }),
      f('FReqReimbAmount', '申请报销金额', 'decimal', { system: true }),
      f('FPayedAmount', '已付款金额', 'decimal', { system: true }),
      ...auditFields('bill'),
    ],
    subHeaders: [],
    entries: [
      {
        key: 'FEntity',
        // Spec 6.7: the entry is saved as FEntity but View names it ER_ExpenseReimbEntry.
        prop: 'ER_ExpenseReimbEntry',
        label: '明细信息',
        pk: 'FEntryID',
        required: true,
        fields: [
          ref('FExpID', '费用项目', 'BD_Expense', { required: true }),
          ref('FExpenseDeptEntryID', '费用承担部门', 'BD_Department', {
            required: true,
            defaultFrom: fromField('FExpenseDeptID'),
          }),
          f('FTaxSubmitAmt', '含税报销金额', 'decimal'),
          f('FTaxRate', '税率%', 'decimal'),
          f('FTaxAmt', '税额', 'decimal'),
          f('FExpSubmitAmount', '申请报销金额', 'decimal', {
            defaultFrom: fromField('FTaxSubmitAmt', 'row'),
          }),
          f('FRequestAmount', '申请金额', 'decimal', { defaultFrom: fromField('FExpSubmitAmount', 'row') }),
          f('FInvoiceType', '发票类型', 'enum', { options: ['0', '1', '2'] }),
          f('FRemark', '备注', 'text'),
          // A tenant custom field (spec 6: `F_<prefix>_…`) pointing at the project base data.
          ref('F_QH_Project', '项目', 'BAS_PreBaseDataOne'),
        ],
      },
    ],
  },
];

/** Where a field lives inside a form. */
export type FieldPlace =
  | { where: 'head'; field: FieldDef }
  | { where: 'sub'; sub: SubHeaderDef; field: FieldDef }
  | { where: 'entry'; entity: EntityDef; field: FieldDef }
  | { where: 'entrypk'; entity: EntityDef }
  | { where: 'entryseq'; entity: EntityDef };

/** A form with its lookups prepared: field keys are matched case-insensitively (spec 2.2, 6.3). */
export interface Form extends FormDef {
  /** lower-case key → place; header and sub-header fields first, then entry fields. */
  places: Map<string, FieldPlace>;
  /** Canonical key of every header/sub-header field, in definition order. */
  headKeys: string[];
  subByKey: Map<string, SubHeaderDef>;
  entryByKey: Map<string, EntityDef>;
}

export function prepareForm(def: FormDef): Form {
  const places = new Map<string, FieldPlace>();
  const headKeys: string[] = [];
  const put = (key: string, place: FieldPlace) => {
    if (!places.has(key.toLowerCase())) places.set(key.toLowerCase(), place);
  };
  for (const field of def.fields) {
    put(field.key, { where: 'head', field });
    headKeys.push(field.key);
  }
  for (const sub of def.subHeaders) {
    for (const field of sub.fields) {
      put(field.key, { where: 'sub', sub, field });
      headKeys.push(field.key);
    }
  }
  for (const entity of def.entries) {
    // Spec 4.4: entry id and line number are queried as `<EntryKey>_FEntryID` / `<EntryKey>_FSeq`.
    put(`${entity.key}_${entity.pk}`, { where: 'entrypk', entity });
    put(`${entity.key}_FSeq`, { where: 'entryseq', entity });
    for (const field of entity.fields) put(field.key, { where: 'entry', entity, field });
  }
  return {
    ...def,
    places,
    headKeys,
    subByKey: new Map(def.subHeaders.map((s) => [s.key.toLowerCase(), s])),
    entryByKey: new Map(def.entries.map((e) => [e.key.toLowerCase(), e])),
  };
}

/** View property name of a field (spec 4.3: `TEL` for `FTEL`). */
export function propOf(field: FieldDef): string {
  return (
    field.prop ??
    (/^F[A-Z_]/i.test(field.key) && !field.key.startsWith('F_') ? field.key.slice(1) : field.key)
  );
}
