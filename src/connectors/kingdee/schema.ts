/**
 * The forms Qiao uses, with field keys, types, required flags and base-data references (spec 6), so
 * mappings are validated and the console can offer fields. "Required" means the mapping must provide
 * it: K/3 fills many ★ fields from the form's defaults (bill type, currency, dates, units), which the
 * sandbox mirrors; `test/kingdee-schema.test.ts` checks this schema against the sandbox's forms.
 *
 * Base-data references (`ref`) are sent as `{"FNumber": …}`; sub-headers (子单据头) are `object`
 * fields, entries (单据体) `array` fields.
 *
 * Field notation used below: `Key[:type][>RefForm][!][=标签]`, type s string (default), n number,
 * i integer, b boolean, d date, t datetime; `!` required.
 */
import type { ConnectorSchema, FieldSchema, FieldType, ObjectSchema } from '../../core/connector.ts';

const TYPES: Record<string, FieldType> = {
  s: 'string',
  n: 'number',
  i: 'integer',
  b: 'boolean',
  d: 'date',
  t: 'datetime',
};

export function fields(spec: string, nested: Record<string, FieldSchema> = {}): Record<string, FieldSchema> {
  const out: Record<string, FieldSchema> = {};
  for (const token of spec.trim().split(/\s+/)) {
    const m = /^([A-Za-z_][\w]*)(?::([a-z]))?(?:>([A-Za-z_]+))?(!)?(?:=(.+))?$/.exec(token);
    if (!m) throw new Error(`bad field token ${token}`);
    const [, key, type, ref, required, label] = m;
    const f: FieldSchema = { type: ref ? 'ref' : TYPES[type ?? 's'] };
    if (ref) f.ref = ref;
    if (required) f.required = true;
    if (label) f.label = label;
    out[key] = f;
  }
  return { ...out, ...nested };
}

const STATUS_OPTIONS = ['Z', 'A', 'B', 'C', 'D'].map((value) => ({ value }));
const AUDIT =
  'FCreatorId>SEC_User=创建人 FCreateDate:t=创建日期 FModifierId>SEC_User=修改人 FModifyDate:t=修改日期 FApproverId>SEC_User=审核人 FApproveDate:t=审核日期';
const BASE_STATUS = `FDocumentStatus=数据状态 FForbidStatus=禁用状态 ${AUDIT}`;
const BILL_STATUS = `FDocumentStatus=单据状态 FCancelStatus=作废状态 ${AUDIT}`;

const entry = (label: string, spec: string, required = false): FieldSchema => ({
  type: 'array',
  label,
  ...(required ? { required: true } : {}),
  fields: fields(`FEntryID:i=分录内码 ${spec}`),
});
const sub = (label: string, spec: string): FieldSchema => ({ type: 'object', label, fields: fields(spec) });

function form(
  label: string,
  idField: string,
  numberField: string,
  f: Record<string, FieldSchema>,
): ObjectSchema {
  if (f.FDocumentStatus) f.FDocumentStatus.options = STATUS_OPTIONS;
  return { label, idField, numberField, fields: f };
}

const lookup = (label: string, id: string, extra = '') =>
  form(label, id, 'FNumber', fields(`${id}:i FNumber=编码 FName!=名称 ${extra} ${BASE_STATUS}`));

export const KINGDEE_SCHEMA: ConnectorSchema = {
  objects: {
    BD_Customer: form(
      '客户',
      'FCUSTID',
      'FNumber',
      fields(
        `FCUSTID:i=客户内码 FNumber=客户编码 FName!=客户名称 FShortName=简称 FCreateOrgId>ORG_Organizations=创建组织
         FUseOrgId>ORG_Organizations=使用组织 FCOUNTRY>BOS_ASSISTANTDATA_DETAIL=国家 FPROVINCIAL>BOS_ASSISTANTDATA_DETAIL=省份
         FADDRESS=通讯地址 FTEL=联系电话 FMOBILE=移动电话 FINVOICETITLE=发票抬头 FTAXREGISTERCODE=纳税登记号
         FINVOICEBANKNAME=开户银行 FINVOICETEL=开票联系电话 FINVOICEBANKACCOUNT=银行账号 FINVOICEADDRESS=开票通讯地址
         FSOCIALCRECODE=统一社会信用代码 FCustTypeId>BOS_ASSISTANTDATA_DETAIL=客户类别 FTRADINGCURRID>BD_Currency=结算币别
         FSETTLETYPEID>BD_SETTLETYPE=结算方式 FRECCONDITIONID>BD_RecCondition=收款条件 FTaxRate>BD_TaxRate=默认税率
         FInvoiceType=发票类型 FIsGroup:b=集团客户 FIsDefPayer:b=默认付款方 FISCREDITCHECK:b=启用信用管理 FIsTrade:b=是否交易客户
         FSELLER>BD_Saler=销售员 FSALDEPTID>BD_Department=销售部门 F_QH_CreditRating=信用等级 F_QH_CreditLimit:n=信用额度
         F_QH_ContactName=联系人 F_QH_Industry>BOS_ASSISTANTDATA_DETAIL=行业 ${BASE_STATUS}`,
      ),
    ),
    BD_Supplier: form(
      '供应商',
      'FSupplierId',
      'FNumber',
      fields(
        `FSupplierId:i=供应商内码 FNumber=供应商编码 FName!=供应商名称 FShortName=简称 FCreateOrgId>ORG_Organizations=创建组织
         FUseOrgId>ORG_Organizations=使用组织 FSOCIALCRECODE=统一社会信用代码 FAddress=通讯地址 ${BASE_STATUS}`,
      ),
    ),
    BD_MATERIAL: form(
      '物料',
      'FMATERIALID',
      'FNumber',
      fields(
        `FMATERIALID:i=物料内码 FNumber=编码 FName!=名称 FSpecification=规格型号 FMnemonicCode=助记码 FOldNumber=旧物料编码
         FDescription=描述 FCreateOrgId>ORG_Organizations=创建组织 FUseOrgId>ORG_Organizations=使用组织 ${BASE_STATUS}`,
        {
          // Spec 6.3: the sub-header key has no F prefix.
          SubHeadEntity: sub('基本', 'FErpClsID=物料属性 FBaseUnitId>BD_UNIT=基本单位'),
          SubHeadEntity1: sub('库存', 'FStockId>BD_STOCK=仓库 FSafeStock:n=安全库存'),
        },
      ),
    ),
    BD_Empinfo: form(
      '员工',
      'FID',
      'FNumber',
      fields(
        `FID:i=内码 FNumber=员工编号 FName!=员工姓名 FStaffNumber=员工工号 FCreateOrgId>ORG_Organizations=创建组织
         FUseOrgId>ORG_Organizations=使用组织 FDeptId>BD_Department=部门 FMobile=移动电话 FEmail=电子邮箱 ${BASE_STATUS}`,
      ),
    ),
    // Spec 6.9 found no project form; tenants keep cost-accounting projects in BAS_PreBaseDataOne.
    BAS_PreBaseDataOne: lookup(
      '项目（预置基础资料1）',
      'FID',
      'FDescription=描述 FCreateOrgId>ORG_Organizations=创建组织 FUseOrgId>ORG_Organizations=使用组织',
    ),
    BD_Department: lookup(
      '部门',
      'FDEPTID',
      'FCreateOrgId>ORG_Organizations=创建组织 FUseOrgId>ORG_Organizations=使用组织',
    ),
    BD_Saler: lookup('销售员', 'FID', 'FBizOrgId>ORG_Organizations=销售组织 FStaffId>BD_Empinfo=员工'),
    SAL_SaleOrder: form(
      '销售订单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDate:d=日期 FSaleOrgId>ORG_Organizations=销售组织
         FCustId>BD_Customer!=客户 FSalerId>BD_Saler!=销售员 FSaleDeptId>BD_Department=销售部门 FReceiveId>BD_Customer=收货方
         FSettleId>BD_Customer=结算方 FChargeId>BD_Customer=付款方 FNote=备注 ${BILL_STATUS}`,
        {
          FSaleOrderFinance: sub(
            '财务信息',
            `FSettleCurrId>BD_Currency=结算币别 FRecConditionId>BD_RecCondition=收款条件 FSettleModeId>BD_SETTLETYPE=结算方式
             FExchangeTypeId>BD_ExchangeType=汇率类型 FExchangeRate:n=汇率 FIsIncludedTax:b=是否含税 FIsPriceExcludeTax:b=价外税
             FLocalCurrId>BD_Currency=本位币 FBillAmount:n=税额前金额合计 FBillTaxAmount:n=税额合计 FBillAllAmount:n=价税合计`,
          ),
          FSaleOrderEntry: entry(
            '明细信息',
            `FRowType=产品类型 FMaterialId>BD_MATERIAL!=物料编码 FUnitID>BD_UNIT=销售单位 FPriceUnitId>BD_UNIT=计价单位
             FStockUnitID>BD_UNIT=库存单位 FQty:n=销售数量 FPrice:n=单价 FTaxPrice:n=含税单价 FEntryTaxRate:n=税率%
             FIsFree:b=是否赠品 FDeliveryDate:d=要货日期 FSettleOrgIds>ORG_Organizations=结算组织
             FStockOrgId>ORG_Organizations=库存组织 FReserveType=预留类型 FOUTLMTUNIT=超发控制单位类型 FEntryNote=备注
             FAmount:n=金额 FTaxAmount:n=税额 FAllAmount:n=价税合计`,
            true,
          ),
          FSaleOrderPlan: entry(
            '收款计划',
            'FNeedRecAdvance:b=是否预收 FRecAdvanceRate:n=应收比例% FRecAdvanceAmount:n=应收金额 FMustDate:d=到期日',
          ),
        },
      ),
    ),
    SAL_DELIVERYNOTICE: form(
      '发货通知单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDate:d=日期 FSaleOrgId>ORG_Organizations=销售组织
         FDeliveryOrgID>ORG_Organizations=发货组织 FCustomerID>BD_Customer!=客户 FSalesManID>BD_Saler=销售员 FNote=备注 ${BILL_STATUS}`,
        {
          FEntity: entry(
            '明细信息',
            `FMaterialID>BD_MATERIAL!=物料编码 FUnitID>BD_UNIT=销售单位 FQty:n=销售数量 FTaxPrice:n=含税单价
             FDeliveryDate:d=要货日期 FSrcType=源单类型 FSrcBillNo=源单编号`,
            true,
          ),
        },
      ),
    ),
    SAL_OUTSTOCK: form(
      '销售出库单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDate:d=日期 FSaleOrgID>ORG_Organizations=销售组织
         FStockOrgId>ORG_Organizations=发货组织 FCustomerID>BD_Customer!=客户 FNote=备注 ${BILL_STATUS}`,
        {
          FEntity: entry(
            '明细信息',
            `FMaterialID>BD_MATERIAL!=物料编码 FUnitID>BD_UNIT=库存单位 FRealQty:n=实发数量 FTaxPrice:n=含税单价
             FStockID>BD_STOCK=仓库 FSrcType=源单类型 FSrcBillNo=源单编号`,
            true,
          ),
        },
      ),
    ),
    AR_receivable: form(
      '应收单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDATE:d=业务日期 FENDDATE_H:d=到期日
         FCUSTOMERID>BD_Customer!=客户 FCURRENCYID>BD_Currency=币别 FSETTLEORGID>ORG_Organizations=结算组织
         FPAYORGID>ORG_Organizations=收款组织 FSALEORGID>ORG_Organizations=销售组织 FSALEERID>BD_Saler=销售员
         FISINIT:b=期初单据 FISPRICEEXCLUDETAX:b=价外税 FALLAMOUNTFOR:n=价税合计 ${BILL_STATUS}`,
        {
          FsubHeadFinc: sub(
            '财务信息',
            `FACCNTTIMEJUDGETIME:d=到期日计算日期 FMAINBOOKSTDCURRID>BD_Currency=本位币 FEXCHANGETYPE>BD_ExchangeType=汇率类型
             FExchangeRate:n=汇率 FSettleTypeID>BD_SETTLETYPE=结算方式`,
          ),
          FEntityDetail: entry(
            '明细',
            `FMATERIALID>BD_MATERIAL=物料编码 FCOSTID>BD_Expense=费用项目 FPriceQty:n=计价数量 FTaxPrice:n=含税单价 FPrice:n=单价
             FEntryTaxRate:n=税率% FALLAMOUNTFOR_D:n=价税合计 FSourceBillNo=源单编号 FSOURCETYPE=源单类型`,
            true,
          ),
        },
      ),
    ),
    AR_RECEIVEBILL: form(
      '收款单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDATE:d=业务日期 FCONTACTUNITTYPE=往来单位类型
         FCONTACTUNIT>BD_Customer!=往来单位 FPAYUNITTYPE=付款单位类型 FPAYUNIT>BD_Customer=付款单位 FCURRENCYID>BD_Currency=币别
         FSETTLECUR>BD_Currency=结算币别 FSETTLEMAINBOOKID>BD_Currency=结算本位币 FPAYORGID>ORG_Organizations=收款组织
         FSETTLEORGID>ORG_Organizations=结算组织 FSALEORGID>ORG_Organizations=销售组织 FSALEDEPTID>BD_Department=销售部门
         FSALEERID>BD_Saler=销售员 FEXCHANGERATE:n=汇率 FSETTLERATE:n=结算汇率 FBUSINESSTYPE=业务类型 FISINIT:b=期初收款单
         FREMARK=备注 FRECEIVEAMOUNTFOR_H:n=收款金额 FREALRECAMOUNTFOR:n=实收金额 ${BILL_STATUS}`,
        {
          FRECEIVEBILLENTRY: entry(
            '收款单明细',
            `FSETTLETYPEID>BD_SETTLETYPE!=结算方式 FPURPOSEID>CN_RECPAYPURPOSE=收款用途 FRECTOTALAMOUNTFOR:n!=应收金额
             FRECAMOUNTFOR_E:n=收款金额 FRECAMOUNT_E:n=收款金额本位币 FREALRECAMOUNTFOR_D:n=实收金额 FNOTVERIFICATEAMOUNT:n=未核销金额
             FPOSTDATE:d=登账日期 FACCOUNTID>CN_BANKACNT=我方银行账号 FCOMMENT=备注`,
            true,
          ),
          FRECEIVEBILLSRCENTRY: entry(
            '源单明细',
            'FSRCBILLTYPEID=源单类型 FSRCBILLNO=源单编号 FAFTTAXTOTALAMOUNT:n=应收金额 FREALRECAMOUNT_S:n=本次收款金额',
          ),
        },
      ),
    ),
    AP_Payable: form(
      '应付单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDATE:d=业务日期 FENDDATE_H:d=到期日
         FSUPPLIERID>BD_Supplier!=供应商 FCURRENCYID>BD_Currency=币别 FSETTLEORGID>ORG_Organizations=结算组织
         FPAYORGID>ORG_Organizations=付款组织 FPURCHASEORGID>ORG_Organizations=采购组织 FISINIT:b=期初单据
         FISPRICEEXCLUDETAX:b=价外税 FALLAMOUNTFOR:n=价税合计 ${BILL_STATUS}`,
        {
          FsubHeadFinc: sub(
            '财务信息',
            `FACCNTTIMEJUDGETIME:d=到期日计算日期 FMAINBOOKSTDCURRID>BD_Currency=本位币 FEXCHANGETYPE>BD_ExchangeType=汇率类型
             FExchangeRate:n=汇率 FSettleTypeID>BD_SETTLETYPE=结算方式`,
          ),
          FEntityDetail: entry(
            '明细',
            `FMATERIALID>BD_MATERIAL=物料编码 FCOSTID>BD_Expense=费用项目 FPriceQty:n=计价数量 FTaxPrice:n=含税单价 FPrice:n=单价
             FEntryTaxRate:n=税率% FALLAMOUNTFOR_D:n=价税合计`,
            true,
          ),
        },
      ),
    ),
    AP_PAYBILL: form(
      '付款单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDATE:d=业务日期 FCONTACTUNITTYPE=往来单位类型
         FCONTACTUNIT>BD_Supplier!=往来单位 FRECTUNITTYPE=收款单位类型 FRECTUNIT>BD_Supplier=收款单位 FCURRENCYID>BD_Currency=币别
         FPAYORGID>ORG_Organizations=付款组织 FSETTLEORGID>ORG_Organizations=结算组织 FPURCHASEORGID>ORG_Organizations=采购组织
         FREMARK=备注 FPAYAMOUNTFOR_H:n=付款金额 FREALPAYAMOUNTFOR:n=实付金额 ${BILL_STATUS}`,
        {
          FPAYBILLENTRY: entry(
            '付款单明细',
            `FSETTLETYPEID>BD_SETTLETYPE!=结算方式 FPURPOSEID>CN_RECPAYPURPOSE=付款用途 FPAYTOTALAMOUNTFOR:n!=应付金额
             FPAYAMOUNTFOR_E:n=付款金额 FREALPAYAMOUNTFOR_D:n=实付金额 FHANDLINGCHARGEFOR:n=手续费 FCOSTID>BD_Expense=费用项目
             FEXPENSEDEPTID_E>BD_Department=费用承担部门 FACCOUNTID>CN_BANKACNT=我方银行账号 FCOMMENT=备注`,
            true,
          ),
          FPAYBILLSRCENTRY: entry(
            '源单明细',
            'FSRCBILLTYPEID=源单类型 FSRCBILLNO=源单编号 FPLANPAYAMOUNT:n=计划付款金额 FREALPAYAMOUNT_S:n=本次付款金额',
          ),
        },
      ),
    ),
    ER_ExpReimbursement: form(
      '费用报销单',
      'FID',
      'FBillNo',
      fields(
        `FID:i=内码 FBillNo=单据编号 FBillTypeID>BOS_BillType=单据类型 FDate:d=申请日期 FProposerID>BD_Empinfo!=申请人
         FRequestDeptID>BD_Department!=申请部门 FExpenseDeptID>BD_Department=费用承担部门 FOrgID>ORG_Organizations=申请组织
         FExpenseOrgId>ORG_Organizations=费用承担组织 FPayOrgId>ORG_Organizations=付款组织 FCurrencyID>BD_Currency=币别
         FLocCurrencyID>BD_Currency=本位币 FExchangeTypeID>BD_ExchangeType=汇率类型 FCONTACTUNITTYPE=往来单位类型
         FCONTACTUNIT>BD_Empinfo=往来单位 FCausa!=事由 FPayBox:b=付款 FrefundBox:b=退款 FPaySettlleTypeID>BD_SETTLETYPE=付款结算方式
         FRequestType=申请类型 FExpenseAmount:n=费用金额 FReqReimbAmount:n=申请报销金额 FPayedAmount:n=已付款金额 ${BILL_STATUS}`,
        {
          FEntity: entry(
            '明细信息',
            `FExpID>BD_Expense!=费用项目 FExpenseDeptEntryID>BD_Department=费用承担部门 FTaxSubmitAmt:n=含税报销金额
             FTaxRate:n=税率% FTaxAmt:n=税额 FExpSubmitAmount:n=申请报销金额 FRequestAmount:n=申请金额 FInvoiceType=发票类型
             FRemark=备注 F_QH_Project>BAS_PreBaseDataOne=项目`,
            true,
          ),
        },
      ),
    ),
  },
};

/** The key of a form's field, matched case-insensitively (K/3 keys are, spec 6.3), or undefined. */
export function canonicalField(object: ObjectSchema | undefined, key: string): string | undefined {
  if (!object) return undefined;
  if (object.fields[key]) return key;
  const lower = key.toLowerCase();
  return Object.keys(object.fields).find((k) => k.toLowerCase() === lower);
}

/** The schema's spelling of a form id, matched case-insensitively (`BD_MATERIAL` / `BD_Material`). */
export function canonicalForm(formId: string): string | undefined {
  const lower = formId.toLowerCase();
  return Object.keys(KINGDEE_SCHEMA.objects).find((k) => k.toLowerCase() === lower);
}

/** Schema entry of a form, matched case-insensitively. */
export function formSchema(formId: string): ObjectSchema | undefined {
  const key = canonicalForm(formId);
  return key ? KINGDEE_SCHEMA.objects[key] : undefined;
}

/** The primary-key and number fields of a form: from the schema, else the bill defaults FID / FBillNo. */
export function formKeys(formId: string): { idField: string; numberField: string } {
  const o = formSchema(formId);
  return { idField: o?.idField ?? 'FID', numberField: o?.numberField ?? 'FBillNo' };
}
