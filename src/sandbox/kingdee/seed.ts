/**
 * Seed data: the shared fictional company (src/sandbox/common/company.ts) as K/3 Cloud would hold it —
 * the organisation, preset lookups (currencies, units, bill types, settlement types…), departments,
 * employees, sales staff, customers, suppliers, materials, projects, and a few bills in every status.
 * Seeded through the same Save path as API calls, so seeds obey the same rules.
 */
import { randomBytes } from 'node:crypto';
import { COMPANY, CUSTOMERS, DEPARTMENTS, EMPLOYEES, PRODUCTS, PROJECTS } from '../common/company.ts';
import { parseLocal } from './clock.ts';
import { applyOp } from './operations.ts';
import { type Actor, savePackage } from './save.ts';
import type { KingdeeState } from './state.ts';

const num = (n: string) => ({ FNumber: n });

/** The tenant's industry assistant data (行业): the company's industries and their codes. */
export const INDUSTRY_CODES: ReadonlyArray<readonly [string, string]> = [
  ['制造业', 'HY01'],
  ['能源', 'HY02'],
  ['汽车', 'HY03'],
  ['电子', 'HY04'],
  ['医药', 'HY05'],
  ['物流', 'HY06'],
];

export function seed(state: KingdeeState, apiPassword = randomBytes(9).toString('base64url')): void {
  const { db, clock } = state;
  const at = (local: string) => clock.freeze(parseLocal(local, clock.utcOffsetMinutes));
  let actor: Actor = { userId: 0, userName: 'administrator', orgId: 0, via: 'ui' };
  const save = (formId: string, model: Record<string, unknown>, status: 'A' | 'B' | 'C' = 'C') => {
    const t = db.table(formId)!;
    const opts = {
      draft: false,
      isDeleteEntry: true,
      isVerifyBaseDataField: false,
      autoSubmitAndAudit: false,
      needReturnFields: [],
    };
    const rec = savePackage(state, actor, t, model, 0, opts);
    if (status !== 'A') applyOp(state, actor, t, rec, 'Submit');
    if (status === 'C') applyOp(state, actor, t, rec, 'Audit');
    return rec;
  };

  at('2024-12-01T09:00:00');
  // Organisations first: every other record references one.
  const org = save('ORG_Organizations', { FNumber: COMPANY.orgNumber, FName: COMPANY.orgName });
  save('ORG_Organizations', { FNumber: '101', FName: '青禾智能上海分公司' });
  actor = { ...actor, orgId: org.id };
  const userNames: Array<{
    name: string;
    number: string;
    password: string;
    webApi: boolean;
    admin?: boolean;
  }> = [
    { name: 'administrator', number: 'administrator', password: '888888', webApi: false, admin: true },
    { name: state.tenant.apiUser, number: state.tenant.apiUser, password: apiPassword, webApi: true },
    ...EMPLOYEES.map((e) => ({ name: e.name, number: e.staffNumber, password: '888888', webApi: false })),
  ];
  for (const u of userNames) {
    const rec = save('SEC_User', { FNumber: u.number, FName: u.name, FUserAccount: u.number });
    state.tenant.users.push({
      userId: rec.id,
      name: u.name,
      password: u.password,
      webApiAllowed: u.webApi,
      locked: false,
      failures: 0,
      isAdmin: u.admin,
    });
  }
  actor = { ...actor, userId: state.tenant.users[0].userId };

  const lookups: Array<[string, Array<[string, string, Record<string, unknown>?]>]> = [
    [
      'BD_Currency',
      [
        ['PRE001', '人民币', { FCode: 'CNY' }],
        ['PRE002', '香港元', { FCode: 'HKD' }],
        ['PRE007', '美元', { FCode: 'USD' }],
      ],
    ],
    [
      'BD_UNIT',
      [
        ['Pcs', '个'],
        ['Set', '套'],
        ['Day', '天'],
        ['Year', '年'],
        ['kg', '千克'],
      ],
    ],
    [
      'BOS_BillType',
      [
        ['XSDD01_SYS', '标准销售订单', { FBillFormID: 'SAL_SaleOrder' }],
        ['FHTZD01_SYS', '标准发货通知单', { FBillFormID: 'SAL_DELIVERYNOTICE' }],
        ['XSCKD01_SYS', '标准销售出库单', { FBillFormID: 'SAL_OUTSTOCK' }],
        ['YSD01_SYS', '标准应收单', { FBillFormID: 'AR_receivable' }],
        ['SKDLX01_SYS', '销售业务收款单', { FBillFormID: 'AR_RECEIVEBILL' }],
        ['YFD01_SYS', '标准应付单', { FBillFormID: 'AP_Payable' }],
        ['YFD02_SYS', '费用应付单', { FBillFormID: 'AP_Payable' }],
        ['FKDLX01_SYS', '采购业务付款单', { FBillFormID: 'AP_PAYBILL' }],
        ['FYBXD001_SYS', '普通费用报销单', { FBillFormID: 'ER_ExpReimbursement' }],
      ],
    ],
    [
      'BOS_ASSISTANTDATA_DETAIL',
      [
        ['KHLB001_SYS', '普通销售客户', { FId: '客户类别' }],
        ['KHLB002_SYS', '寄售客户', { FId: '客户类别' }],
        ['China', '中国', { FId: '国家' }],
        ...INDUSTRY_CODES.map(
          ([label, code]) => [code, label, { FId: '行业' }] as [string, string, Record<string, unknown>],
        ),
      ],
    ],
    [
      'BD_SETTLETYPE',
      [
        ['JSFS01_SYS', '现金'],
        ['JSFS02_SYS', '现金支票'],
        ['JSFS03_SYS', '转账支票'],
        ['JSFS04_SYS', '电汇'],
      ],
    ],
    [
      'CN_RECPAYPURPOSE',
      [
        ['SFKYT01_SYS', '销售收款'],
        ['SFKYT02_SYS', '采购付款'],
        ['SFKYT03_SYS', '费用报销'],
        ['SFKYT07_SYS', '预收款'],
      ],
    ],
    ['BD_ExchangeType', [['HLTX01_SYS', '固定汇率']]],
    [
      'BD_TaxRate',
      [
        ['SL01_SYS', '13%增值税', { FTaxRate: 13 }],
        ['SL02_SYS', '9%增值税', { FTaxRate: 9 }],
        ['SL03_SYS', '6%增值税', { FTaxRate: 6 }],
      ],
    ],
    [
      'BD_RecCondition',
      [
        ['SKTJ01_SYS', '货到收款'],
        ['SKTJ02_SYS', '月结30天'],
      ],
    ],
    [
      'BD_Expense',
      [
        ['FYXM01', '差旅费'],
        ['FYXM02', '交通费'],
        ['FYXM03', '住宿费'],
        ['FYXM04', '业务招待费'],
        ['FYXM05', '办公费'],
      ],
    ],
    [
      'BD_STOCK',
      [
        ['CK001', '成品仓'],
        ['CK002', '原材料仓'],
      ],
    ],
    ['CN_BANKACNT', [['571909876510101', '招商银行杭州高新支行', { FBankName: '招商银行' }]]],
  ];
  for (const [formId, rows] of lookups) {
    for (const [number, name, extra] of rows) save(formId, { FNumber: number, FName: name, ...extra });
  }
  for (const d of DEPARTMENTS)
    save('BD_Department', { FNumber: d.number, FName: d.name, FCreateOrgId: num(COMPANY.orgNumber) });
  for (const e of EMPLOYEES) {
    const dept = DEPARTMENTS.find((d) => d.id === e.departmentId)!;
    save('BD_Empinfo', {
      FNumber: e.staffNumber,
      FName: e.name,
      FStaffNumber: e.staffNumber,
      FMobile: e.mobile,
      FEmail: e.email,
      FDeptId: num(dept.number),
    });
  }
  for (const e of EMPLOYEES.filter((x) => x.roles.includes('sales') || x.roles.includes('sales-manager'))) {
    save('BD_Saler', {
      FNumber: e.staffNumber,
      FName: e.name,
      FBizOrgId: num(COMPANY.orgNumber),
      FStaffId: num(e.staffNumber),
    });
  }
  for (const p of PROJECTS) save('BAS_PreBaseDataOne', { FNumber: p.number, FName: p.name });

  at('2025-01-02T09:30:00');
  for (const c of CUSTOMERS) {
    save('BD_Customer', {
      FNumber: c.number,
      FName: c.name,
      FShortName: c.shortName,
      FCOUNTRY: num('China'),
      FADDRESS: c.address,
      FTEL: c.contactMobile,
      FMOBILE: c.contactMobile,
      FINVOICETITLE: c.name,
      FTAXREGISTERCODE: c.taxId,
      FSOCIALCRECODE: c.taxId,
      FSELLER: num(c.ownerStaffNumber),
      FSALDEPTID: num('D01'),
      FSETTLETYPEID: num('JSFS04_SYS'),
      F_QH_CreditRating: c.creditRating,
      F_QH_CreditLimit: c.creditLimit,
      F_QH_ContactName: c.contactName,
      F_QH_Industry: num(INDUSTRY_CODES.find(([label]) => label === c.industry)![1]),
    });
  }
  const suppliers: Array<[string, string, string]> = [
    ['VEN0001', '上海精工伺服科技有限公司', '精工伺服'],
    ['VEN0002', '深圳宏图电子元器件有限公司', '宏图电子'],
    ['VEN0003', '杭州顺达物流有限公司', '顺达物流'],
  ];
  for (const [number, name, short] of suppliers)
    save('BD_Supplier', { FNumber: number, FName: name, FShortName: short });
  for (const p of PRODUCTS) {
    save('BD_MATERIAL', {
      FNumber: p.number,
      FName: p.name,
      FSpecification: p.spec,
      SubHeadEntity: {
        FErpClsID: p.stock === 0 && p.safetyStock === 0 ? '6' : '2',
        FBaseUnitId: num(p.unitNumber),
      },
      SubHeadEntity1: { FStockId: num('CK001'), FSafeStock: p.safetyStock },
    });
    // Goods on hand (services hold none).
    if (p.stock > 0 || p.safetyStock > 0) {
      save('STK_Inventory', {
        FMaterialId: num(p.number),
        FStockId: num('CK001'),
        FBaseQty: p.stock,
        FQty: p.stock,
      });
    }
  }

  // Bills in every interesting status, for the scenarios (orders, receivables, receipts, payables).
  const order = (
    date: string,
    cust: string,
    saler: string,
    lines: Array<[string, number, number]>,
    status: 'A' | 'C',
  ) => {
    at(`${date}T10:15:00`);
    return save(
      'SAL_SaleOrder',
      {
        FDate: date,
        FCustId: num(cust),
        FSalerId: num(saler),
        FSaleDeptId: num('D01'),
        FSaleOrderFinance: { FSettleCurrId: num('PRE001') },
        FSaleOrderEntry: lines.map(([m, qty, price]) => ({
          FMaterialId: num(m),
          FQty: qty,
          FTaxPrice: price,
          FEntryTaxRate: 13,
        })),
      },
      status,
    );
  };
  const so1 = order(
    '2025-01-10',
    'C0001',
    'E0003',
    [
      ['M0001', 2, 168_000],
      ['M0007', 10, 2_000],
    ],
    'C',
  );
  order('2025-01-18', 'C0002', 'E0003', [['M0004', 3, 125_000]], 'C');
  order(
    '2025-02-05',
    'C0004',
    'E0004',
    [
      ['M0003', 5, 56_000],
      ['M0008', 1, 36_000],
    ],
    'A',
  );
  at('2025-01-20T14:00:00');
  save('AR_receivable', {
    FDATE: '2025-01-20',
    FCUSTOMERID: num('C0001'),
    FSALEERID: num('E0003'),
    FEntityDetail: (so1.entries.FSaleOrderEntry ?? []).map((r) => ({
      FMATERIALID: { FID: r.values.FMaterialId },
      FPriceQty: r.values.FQty,
      FTaxPrice: r.values.FTaxPrice,
      FEntryTaxRate: 13,
      FSourceBillNo: so1.values.FBillNo,
      FSOURCETYPE: 'SAL_SaleOrder',
    })),
  });
  at('2025-02-10T11:20:00');
  save('AR_RECEIVEBILL', {
    FDATE: '2025-02-10',
    FCONTACTUNITTYPE: 'BD_Customer',
    FCONTACTUNIT: num('C0001'),
    FSALEERID: num('E0003'),
    FREMARK: '华锐精密首笔货款',
    FRECEIVEBILLENTRY: [
      { FSETTLETYPEID: num('JSFS04_SYS'), FRECTOTALAMOUNTFOR: 100_000, FACCOUNTID: num('571909876510101') },
    ],
  });
  at('2025-02-12T16:40:00');
  save('AP_Payable', {
    FDATE: '2025-02-12',
    FSUPPLIERID: num('VEN0001'),
    FEntityDetail: [{ FMATERIALID: num('M0005'), FPriceQty: 100, FTaxPrice: 2_500, FEntryTaxRate: 13 }],
  });
  save('AP_Payable', {
    FDATE: '2025-02-12',
    FSUPPLIERID: num('VEN0002'),
    FEntityDetail: [{ FMATERIALID: num('M0006'), FPriceQty: 50, FTaxPrice: 4_100, FEntryTaxRate: 13 }],
  });
  at('2025-03-11T09:05:00');
  save('ER_ExpReimbursement', {
    FDate: '2025-03-11',
    FProposerID: { FSTAFFNUMBER: 'E0004' },
    FRequestDeptID: num('D01'),
    FCausa: '3月10日赴苏州华锐精密现场调研差旅费',
    FEntity: [
      { FExpID: num('FYXM01'), FTaxSubmitAmt: 1_280, F_QH_Project: num('PRJ001'), FRemark: '高铁及住宿' },
    ],
  });
  clock.freeze(null);
}
