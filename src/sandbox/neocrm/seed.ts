/**
 * Seeds the tenant with the shared fictional company (src/sandbox/common/company.ts): its departments,
 * employees as users (with the same 64-bit `neocrmUserId` every sandbox uses), customers as accounts with
 * their credit rating, contacts, products, opportunities in every stage, contracts, orders, payment plans
 * and payments, so identities match across systems.
 */
import {
  CUSTOMERS,
  DEPARTMENTS,
  EMPLOYEES,
  employeeByStaffNumber,
  PRODUCTS,
  PROJECTS,
} from '../common/company.ts';
import {
  CITIES,
  CREDIT_RATINGS,
  INDUSTRIES,
  OPPORTUNITY_STATUS,
  PROVINCES,
  STAGE_LOST,
  STAGE_WON,
} from './metadata.ts';
import { type Actor, createRecord } from './records.ts';
import { now, type Rec, type Tenant } from './state.ts';

/** The integration user Qiao logs in as: an administrator in 总经办 (so `xsy-criteria: 10` matters). */
export const INTEGRATION_USER = {
  id: '9007199254749001',
  name: '桥集成账号',
  username: 'qiao.integration@qinghe.example.cn',
  password: 'Qinghe@2026',
  securityToken: 'XsyTk7Qh2026AbCd',
  departmentId: 5,
} as const;

/** Employees log in with this password and a per-user token, for tests that act as a salesperson. */
export const EMPLOYEE_PASSWORD = 'Qinghe@2026';

const DAY = 86_400_000;

export function departmentId(t: Tenant, companyDeptId: number): string {
  return (1_735_200_000_000_020n + BigInt(t.seed) * 1000n + BigInt(companyDeptId)).toString();
}

export function neocrmUserIdOf(staffNumber: string): string {
  const e = employeeByStaffNumber(staffNumber);
  if (!e) throw new Error(`unknown staff number ${staffNumber}`);
  return e.neocrmUserId;
}

function defaultType(t: Tenant, object: string): string {
  return t.meta.get(object)!.busiTypes[0].id;
}

/** Inserts a record with fixed audit times, bypassing the API (seed data predates the tenant's clock). */
function put(t: Tenant, object: string, id: string, rec: Rec, createdAt: number, by: string): Rec {
  const full: Rec = {
    id,
    entityType: defaultType(t, object),
    ...rec,
    createdAt,
    createdBy: by,
    updatedAt: createdAt,
    updatedBy: by,
    lockStatus: 1,
  };
  t.records.get(object)!.set(id, full);
  return full;
}

export function seedTenant(t: Tenant): void {
  for (const m of t.records.values()) m.clear();
  t.uniqueIndex.clear();
  t.timeIndex.clear();
  t.logins.clear();
  t.admins.clear();
  const at = now(t);
  const long = at - 400 * DAY;
  const admin = INTEGRATION_USER.id;

  for (const d of DEPARTMENTS) {
    put(
      t,
      'department',
      departmentId(t, d.id),
      {
        departName: d.name,
        departCode: d.number,
        ...(d.parentId ? { parentDepartId: departmentId(t, d.parentId) } : {}),
        ownerId: admin,
        dimDepart: departmentId(t, d.id),
      },
      long,
      admin,
    );
  }
  const addUser = (
    id: string,
    name: string,
    phone: string,
    email: string,
    dept: number,
    code: string,
    post: string,
  ) =>
    put(
      t,
      'user',
      id,
      {
        name,
        phone,
        email,
        status: 1,
        employeeCode: code,
        positionName: post,
        ownerId: admin,
        dimDepart: departmentId(t, dept),
      },
      long,
      admin,
    );
  addUser(
    INTEGRATION_USER.id,
    INTEGRATION_USER.name,
    '13800009999',
    INTEGRATION_USER.username,
    INTEGRATION_USER.departmentId,
    'QIAO',
    '系统集成',
  );
  t.logins.set(INTEGRATION_USER.username, {
    userId: INTEGRATION_USER.id,
    username: INTEGRATION_USER.username,
    password: INTEGRATION_USER.password,
    securityToken: INTEGRATION_USER.securityToken,
    isAdmin: true,
  });
  t.admins.add(INTEGRATION_USER.id);
  for (const e of EMPLOYEES) {
    addUser(e.neocrmUserId, e.name, e.mobile, e.email, e.departmentId, e.staffNumber, e.title);
    t.logins.set(e.email, {
      userId: e.neocrmUserId,
      username: e.email,
      password: EMPLOYEE_PASSWORD,
      securityToken: `Tk${e.staffNumber}Qinghe`,
      isAdmin: e.roles.includes('ceo'),
    });
    if (e.roles.includes('ceo')) t.admins.add(e.neocrmUserId);
  }

  // Everything below goes through createRecord so it is validated like API writes, then gets
  // back-dated audit stamps so incremental reads have a realistic history.
  let step = 0;
  const backdate = (rec: Rec) => {
    step += 1;
    const stamp = at - 200 * DAY + step * 3_600_000;
    rec.createdAt = stamp;
    rec.updatedAt = stamp;
    return rec;
  };
  const as = (staffNumber: string): Actor => ({ userId: neocrmUserIdOf(staffNumber), adminCriteria: true });
  const create = (object: string, data: Rec, actor: Actor) =>
    backdate(createRecord(t, t.meta.get(object)!, { entityType: defaultType(t, object), ...data }, actor));
  const opt = (list: { value: number; label: string }[], labelText: string) =>
    list.find((o) => o.label === labelText)?.value;

  const products = PRODUCTS.map((p) =>
    create(
      'product',
      {
        productName: p.name,
        priceUnit: p.price,
        unit: p.unit,
        productCode__c: p.number,
        spec__c: p.spec,
        enableStatus: 1,
      },
      { userId: admin, adminCriteria: true },
    ),
  );

  CUSTOMERS.forEach((c, i) => {
    const owner = as(c.ownerStaffNumber);
    const account = create(
      'account',
      {
        accountName: c.name,
        shortName__c: c.shortName,
        taxNumber__c: c.taxId,
        erpNumber__c: c.number,
        creditRating__c: opt(CREDIT_RATINGS, c.creditRating),
        creditLimit__c: c.creditLimit,
        industryId: opt(INDUSTRIES, c.industry),
        fState: opt(PROVINCES, c.province),
        fCity: opt(CITIES, c.city),
        address: c.address,
        phone: `0${571 + i}-8${String(6_000_000 + i * 1_234).slice(0, 7)}`,
        level: c.creditRating.startsWith('A') ? 1 : c.creditRating === 'B' ? 2 : 3,
        highSeaStatus: 1,
        employeeNumber: 200 + i * 150,
        annualRevenue: c.creditLimit * 20,
      },
      owner,
    );
    create(
      'contact',
      {
        contactName: c.contactName,
        accountId: account.id,
        mobile: c.contactMobile,
        post: '采购经理',
        contactRole: 2,
        gender: i % 3 === 0 ? 2 : 1,
      },
      owner,
    );
    // Two opportunities a customer: one won (with contract, order, payments), one in progress or lost.
    const product = products[i % products.length];
    const qty = 1 + (i % 3);
    const won = create(
      'opportunity',
      {
        opportunityName: `${c.shortName}-${product.productName as string}采购`,
        accountId: account.id,
        money: (product.priceUnit as number) * qty,
        saleStageId: STAGE_WON,
        status: OPPORTUNITY_STATUS.won,
        winRate: 100,
        closeDate: at - (60 - i) * DAY,
      },
      owner,
    );
    const lost = i % 4 === 3;
    create(
      'opportunity',
      {
        opportunityName: `${c.shortName}-二期扩产项目`,
        accountId: account.id,
        money: 300_000 + i * 50_000,
        saleStageId: lost ? STAGE_LOST : 1 + (i % 4),
        status: lost ? OPPORTUNITY_STATUS.lost : OPPORTUNITY_STATUS.open,
        winRate: lost ? 0 : 20 + (i % 4) * 20,
        closeDate: at + (30 + i) * DAY,
      },
      owner,
    );
    const amount = won.money as number;
    const contract = create(
      'contract',
      {
        title: `${c.shortName}设备采购合同`,
        accountId: account.id,
        opportunityId: won.id,
        amount,
        startDate: at - (55 - i) * DAY,
        endDate: at + (310 + i) * DAY,
        status: 3,
      },
      owner,
    );
    const order = create(
      'order',
      {
        po: `SO-${String(2026_0001 + i)}`,
        accountId: account.id,
        contractId: contract.id,
        amount,
        transactionDate: at - (50 - i) * DAY,
        status: 2,
      },
      owner,
    );
    const plans = [0.3, 0.7].map((share, k) =>
      create(
        'paymentApplicationPlan',
        {
          name: `${c.shortName}第${k + 1}期回款`,
          accountId: account.id,
          contractId: contract.id,
          orderId: order.id,
          amount: Math.round(amount * share),
          transactionDate: at + (k * 60 - 30) * DAY,
          stage: k + 1,
          status: k === 0 ? 3 : 1,
        },
        owner,
      ),
    );
    const payment = create(
      'paymentApplication',
      {
        name: `HK-${String(2026_0001 + i)}`,
        accountId: account.id,
        contractId: contract.id,
        orderId: order.id,
        planId: plans[0].id,
        amount: plans[0].amount,
        paymentDate: at - (20 - i) * DAY,
        paymentMethod: 1,
      },
      owner,
    );
    payment.activationStatus = 2;
  });

  PROJECTS.forEach((p, i) => {
    const account = [...t.records.get('account')!.values()][i];
    create(
      'project__c',
      { name: p.name, projectCode__c: p.number, accountId__c: account.id, budget__c: 500_000 * (i + 1) },
      as('E0003'),
    );
  });

  const leads: Array<[string, string, string]> = [
    ['周明', '嘉兴明远包装有限公司', '13700000001'],
    ['吴婷', '绍兴越华纺织有限公司', '13700000002'],
    ['郑凯', '扬州润达电气有限公司', '13700000003'],
  ];
  for (const [name, companyName, mobile] of leads) {
    create('lead', { name, companyName, mobile, status: 1, leadSourceId: 1 }, as('E0004'));
  }
}
