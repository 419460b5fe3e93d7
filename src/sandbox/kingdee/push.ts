/**
 * Push (下推, spec 4.7, 9.9): converts audited source bills into target bills by a conversion rule,
 * saves the targets (status A, not audited) and answers `ConvertResponseStatus` (the sources) plus
 * `ResponseStatus` (the save result; `SuccessEntitys` hold the target ids and numbers).
 *
 * Rule ids are the sandbox's configuration (spec 9.9 "configurable rule ids"); `IsEnableDefaultRule`
 * with `TargetFormId` picks the rule by source and target form.
 */
import { bool, pick } from './body.ts';
import type { EntryRow, StoredRecord, Table } from './db.ts';
import {
  failStatus,
  type KdError,
  KdFailure,
  MsgCode,
  okStatus,
  operationEnvelope,
  type SuccessEntity,
} from './envelope.ts';
import { type Actor, describe, savePackage } from './save.ts';
import type { KingdeeState } from './state.ts';

type Model = Record<string, unknown>;

export interface PushRule {
  id: string;
  source: string;
  target: string;
  /** Builds the target's Save package from the source and the entry rows chosen. */
  convert(src: StoredRecord, rows: EntryRow[], state: KingdeeState): Model;
}

const id = (v: unknown) => (typeof v === 'number' ? { FID: v } : undefined);
const settleWire = { FNumber: 'JSFS04_SYS' };

export const PUSH_RULES: readonly PushRule[] = [
  {
    id: 'SaleOrder-DeliveryNotice',
    source: 'SAL_SaleOrder',
    target: 'SAL_DELIVERYNOTICE',
    convert: (src, rows) => ({
      FSaleOrgId: id(src.values.FSaleOrgId),
      FCustomerID: id(src.values.FCustId),
      FSalesManID: id(src.values.FSalerId),
      FEntity: rows.map((r) => ({
        FMaterialID: id(r.values.FMaterialId),
        FUnitID: id(r.values.FUnitID),
        FQty: r.values.FQty,
        FTaxPrice: r.values.FTaxPrice,
        FDeliveryDate: r.values.FDeliveryDate,
        FSrcType: 'SAL_SaleOrder',
        FSrcBillNo: src.values.FBillNo,
      })),
    }),
  },
  {
    id: 'SaleOrder-OutStock',
    source: 'SAL_SaleOrder',
    target: 'SAL_OUTSTOCK',
    convert: (src, rows) => ({
      FSaleOrgID: id(src.values.FSaleOrgId),
      FCustomerID: id(src.values.FCustId),
      FEntity: rows.map((r) => ({
        FMaterialID: id(r.values.FMaterialId),
        FUnitID: id(r.values.FUnitID),
        FRealQty: r.values.FQty,
        FTaxPrice: r.values.FTaxPrice,
        FSrcType: 'SAL_SaleOrder',
        FSrcBillNo: src.values.FBillNo,
      })),
    }),
  },
  {
    id: 'AR_ReceivableToReceiveBill',
    source: 'AR_receivable',
    target: 'AR_RECEIVEBILL',
    convert: (src) => ({
      FCONTACTUNITTYPE: 'BD_Customer',
      FCONTACTUNIT: id(src.values.FCUSTOMERID),
      FCURRENCYID: id(src.values.FCURRENCYID),
      FPAYORGID: id(src.values.FPAYORGID),
      FSETTLEORGID: id(src.values.FSETTLEORGID),
      FSALEERID: id(src.values.FSALEERID),
      FRECEIVEBILLENTRY: [
        {
          FSETTLETYPEID: id(src.values.FSettleTypeID) ?? settleWire,
          FRECTOTALAMOUNTFOR: src.values.FALLAMOUNTFOR,
        },
      ],
      FRECEIVEBILLSRCENTRY: [
        {
          FSRCBILLTYPEID: 'AR_receivable',
          FSRCBILLNO: src.values.FBillNo,
          FAFTTAXTOTALAMOUNT: src.values.FALLAMOUNTFOR,
          FREALRECAMOUNT_S: src.values.FALLAMOUNTFOR,
        },
      ],
    }),
  },
  {
    id: 'AP_PayableToPayBill',
    source: 'AP_Payable',
    target: 'AP_PAYBILL',
    convert: (src) => ({
      FCONTACTUNITTYPE: 'BD_Supplier',
      FCONTACTUNIT: id(src.values.FSUPPLIERID),
      FCURRENCYID: id(src.values.FCURRENCYID),
      FPAYORGID: id(src.values.FPAYORGID),
      FSETTLEORGID: id(src.values.FSETTLEORGID),
      FPAYBILLENTRY: [
        {
          FSETTLETYPEID: id(src.values.FSettleTypeID) ?? settleWire,
          FPAYTOTALAMOUNTFOR: src.values.FALLAMOUNTFOR,
        },
      ],
      FPAYBILLSRCENTRY: [
        {
          FSRCBILLTYPEID: 'AP_Payable',
          FSRCBILLNO: src.values.FBillNo,
          FPLANPAYAMOUNT: src.values.FALLAMOUNTFOR,
          FREALPAYAMOUNT_S: src.values.FALLAMOUNTFOR,
        },
      ],
    }),
  },
  {
    id: 'ER_ExpReimbursementToPayBill',
    source: 'ER_ExpReimbursement',
    target: 'AP_PAYBILL',
    convert: (src) => {
      const due = Number(src.values.FReqReimbAmount ?? 0) - Number(src.values.FPayedAmount ?? 0);
      return {
        FCONTACTUNITTYPE: 'BD_Empinfo',
        FCONTACTUNIT: id(src.values.FProposerID),
        FCURRENCYID: id(src.values.FCurrencyID),
        FPAYORGID: id(src.values.FPayOrgId),
        FREMARK: `报销付款：${String(src.values.FCausa ?? '')}`,
        FPAYBILLENTRY: [
          {
            FSETTLETYPEID: id(src.values.FPaySettlleTypeID) ?? settleWire,
            FPURPOSEID: { FNumber: 'SFKYT03_SYS' },
            FPAYTOTALAMOUNTFOR: due,
            FCOSTID: id(src.entries.FEntity?.[0]?.values.FExpID),
          },
        ],
        FPAYBILLSRCENTRY: [
          {
            FSRCBILLTYPEID: 'ER_ExpReimbursement',
            FSRCBILLNO: src.values.FBillNo,
            FPLANPAYAMOUNT: due,
            FREALPAYAMOUNT_S: due,
          },
        ],
      };
    },
  },
];

export function findRule(
  source: string,
  ruleId: string,
  targetFormId: string,
  useDefault: boolean,
): PushRule | undefined {
  const s = source.toLowerCase();
  if (ruleId)
    return PUSH_RULES.find(
      (r) => r.id.toLowerCase() === ruleId.toLowerCase() && r.source.toLowerCase() === s,
    );
  if (useDefault && targetFormId) {
    return PUSH_RULES.find(
      (r) => r.source.toLowerCase() === s && r.target.toLowerCase() === targetFormId.toLowerCase(),
    );
  }
  return undefined;
}

export interface PushOutcome {
  sources: SuccessEntity[];
  targets: SuccessEntity[];
  errors: KdError[];
  msgCode: number;
}

/** Pushes source records; used by the WebAPI and by the admin surface's "pay" action. */
export function push(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  data: Record<string, unknown>,
): PushOutcome {
  const ruleId = String(pick(data, 'RuleId') ?? '').trim();
  const targetFormId = String(pick(data, 'TargetFormId') ?? '').trim();
  const rule = findRule(t.form.formId, ruleId, targetFormId, bool(pick(data, 'IsEnableDefaultRule'), false));
  if (!rule) {
    throw new KdFailure(
      MsgCode.parameter,
      ruleId ? `未找到转换规则“${ruleId}”` : '转换规则RuleId不能为空（或启用默认规则并指定TargetFormId）',
    );
  }
  const target = state.db.table(rule.target)!;
  const entryIds = String(pick(data, 'EntryIds') ?? '')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0);
  const chosen: Array<{ rec?: StoredRecord; key: string; rows?: EntryRow[] }> = [];
  if (entryIds.length) {
    for (const rec of t.records.values()) {
      const rows = Object.values(rec.entries)
        .flat()
        .filter((r) => entryIds.includes(r.id));
      if (rows.length) chosen.push({ rec, key: String(rec.id), rows });
    }
  } else {
    const ids = pick(data, 'Ids');
    const numbers = pick(data, 'Numbers');
    for (const s of (Array.isArray(ids) ? ids.map(String) : String(ids ?? '').split(','))
      .map((x) => x.trim())
      .filter(Boolean)) {
      chosen.push({ rec: t.records.get(Number(s)), key: s });
    }
    for (const n of (Array.isArray(numbers) ? numbers.map(String) : [])
      .map((x) => x.trim())
      .filter(Boolean)) {
      const found = t.byNumber.get(n.toLowerCase());
      chosen.push({ rec: found === undefined ? undefined : t.records.get(found), key: n });
    }
  }
  if (chosen.length === 0)
    throw new KdFailure(MsgCode.parameter, '参数错误：Ids、Numbers 和 EntryIds 不能同时为空');
  const out: PushOutcome = { sources: [], targets: [], errors: [], msgCode: 0 };
  const draftOnFail = bool(pick(data, 'IsDraftWhenSaveFail'), false);
  const billType = String(pick(data, 'TargetBillTypeId') ?? '').trim();
  chosen.forEach(({ rec, key, rows }, i) => {
    if (!rec) {
      out.errors.push({ FieldName: null, Message: `${t.form.name}“${key}”不存在`, DIndex: i });
      out.msgCode ||= MsgCode.notFound;
      return;
    }
    if (rec.values.FDocumentStatus !== 'C') {
      out.errors.push({
        FieldName: null,
        Message: `${describe(t.form, rec)}，单据未审核，不允许下推！`,
        DIndex: i,
      });
      out.msgCode ||= MsgCode.validation;
      return;
    }
    const entity = t.form.entries[0];
    const model = rule.convert(rec, rows ?? (entity ? (rec.entries[entity.key] ?? []) : []), state);
    if (billType)
      model.FBillTypeID = /^\d+$/.test(billType) ? { FID: Number(billType) } : { FNumber: billType };
    out.sources.push({ Id: rec.id, Number: String(rec.values[t.form.numberKey] ?? ''), DIndex: i });
    const saveOpts = {
      draft: false,
      isDeleteEntry: true,
      isVerifyBaseDataField: false,
      autoSubmitAndAudit: false,
      needReturnFields: [],
    };
    try {
      const saved = savePackage(state, actor, target, model, i, saveOpts);
      out.targets.push({
        Id: saved.id,
        Number: String(saved.values[target.form.numberKey] ?? ''),
        DIndex: i,
      });
    } catch (err) {
      if (!(err instanceof KdFailure)) throw err;
      out.errors.push(...err.errors.map((e) => ({ ...e, DIndex: i })));
      out.msgCode ||= err.msgCode;
      if (draftOnFail) {
        const drafted = savePackage(state, actor, target, model, i, { ...saveOpts, draft: true });
        out.targets.push({
          Id: drafted.id,
          Number: String(drafted.values[target.form.numberKey] ?? ''),
          DIndex: i,
        });
      }
    }
  });
  return out;
}

export function handlePush(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  data: Record<string, unknown>,
): object {
  const r = push(state, actor, t, data);
  const convertFailed = r.sources.length === 0 && r.errors.length > 0;
  const convert = convertFailed ? failStatus(r.msgCode, r.errors) : okStatus(r.sources);
  const saved = r.errors.length ? failStatus(r.msgCode, r.errors, r.targets) : okStatus(r.targets);
  return operationEnvelope(saved, { ConvertResponseStatus: convert });
}
