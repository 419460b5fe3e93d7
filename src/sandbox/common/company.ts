/**
 * The one fictional company every sandbox is seeded with, so identities map across systems the way
 * they do in a real company (DESIGN.md, "Sandboxes"): the same employee is a Kingdee staff member
 * (`staffNumber`), a WeCom user (`wecomUserId`), a DingTalk user (`dingtalkUserId`) and a Neocrm user
 * (`neocrmUserId`), joined by mobile and email as a real IT team would join them.
 *
 * 杭州青禾智能装备有限公司 (Hangzhou Qinghe Intelligent Equipment Co., Ltd.) sells industrial equipment.
 */
export const COMPANY = {
  name: '杭州青禾智能装备有限公司',
  nameEn: 'Hangzhou Qinghe Intelligent Equipment Co., Ltd.',
  /** Kingdee organisation (FNumber) used for sales, finance and base data. */
  orgNumber: '100',
  orgName: '青禾智能总部',
  currency: 'PRE001',
  /** WeCom corp id and DingTalk corp id of the fictional tenant. */
  wecomCorpId: 'wwqinghe0000000001',
  dingtalkCorpId: 'dingqinghe00000001',
} as const;

export interface Department {
  id: number;
  number: string;
  name: string;
  parentId: number | null;
}

export const DEPARTMENTS: readonly Department[] = [
  { id: 1, number: 'D00', name: '青禾智能', parentId: null },
  { id: 2, number: 'D01', name: '销售部', parentId: 1 },
  { id: 3, number: 'D02', name: '财务部', parentId: 1 },
  { id: 4, number: 'D03', name: '研发部', parentId: 1 },
  { id: 5, number: 'D04', name: '总经办', parentId: 1 },
  { id: 6, number: 'D05', name: '采购部', parentId: 1 },
];

export interface Employee {
  /** Kingdee BD_Empinfo FNumber (工号). */
  staffNumber: string;
  name: string;
  mobile: string;
  email: string;
  departmentId: number;
  title: string;
  wecomUserId: string;
  dingtalkUserId: string;
  /** Neocrm user id: 64-bit, carried as a string. */
  neocrmUserId: string;
  /** Roles used by the scenarios: who approves, who pays. */
  roles: readonly ('sales' | 'sales-manager' | 'finance' | 'cashier' | 'ceo' | 'engineer' | 'purchasing')[];
}

export const EMPLOYEES: readonly Employee[] = [
  emp('E0001', '王建国', '13800000001', 'ceo', 5, '总经理', ['ceo']),
  emp('E0002', '李娜', '13800000002', 'lina', 2, '销售总监', ['sales-manager']),
  emp('E0003', '张伟', '13800000003', 'zhangwei', 2, '销售经理', ['sales']),
  emp('E0004', '刘洋', '13800000004', 'liuyang', 2, '销售代表', ['sales']),
  emp('E0005', '陈静', '13800000005', 'chenjing', 2, '销售代表', ['sales']),
  emp('E0006', '杨帆', '13800000006', 'yangfan', 3, '财务经理', ['finance']),
  emp('E0007', '赵敏', '13800000007', 'zhaomin', 3, '出纳', ['cashier']),
  emp('E0008', '黄磊', '13800000008', 'huanglei', 3, '会计', ['finance']),
  emp('E0009', '周杰', '13800000009', 'zhoujie', 4, '研发经理', ['engineer']),
  emp('E0010', '吴芳', '13800000010', 'wufang', 4, '工程师', ['engineer']),
  emp('E0011', '徐强', '13800000011', 'xuqiang', 6, '采购经理', ['purchasing']),
  emp('E0012', '孙丽', '13800000012', 'sunli', 2, '销售助理', ['sales']),
];

function emp(
  staffNumber: string,
  name: string,
  mobile: string,
  handle: string,
  departmentId: number,
  title: string,
  roles: Employee['roles'],
): Employee {
  const n = Number(staffNumber.slice(1));
  return {
    staffNumber,
    name,
    mobile,
    email: `${handle}@qinghe.example.cn`,
    departmentId,
    title,
    wecomUserId: handle === 'ceo' ? 'WangJianGuo' : handle.charAt(0).toUpperCase() + handle.slice(1),
    dingtalkUserId: `manager${String(4000 + n)}`,
    // Above 2^53 on purpose: Neocrm ids are 64-bit and must survive as strings.
    neocrmUserId: (9007199254740993n + BigInt(n) * 1000n).toString(),
    roles,
  };
}

export type CreditRating = 'AAA' | 'AA' | 'A' | 'B' | 'C';

export interface Customer {
  /** Kingdee BD_Customer FNumber. */
  number: string;
  name: string;
  shortName: string;
  /** Unified social credit code (统一社会信用代码), the natural key across systems. */
  taxId: string;
  industry: '制造业' | '能源' | '汽车' | '电子' | '医药' | '物流';
  province: string;
  city: string;
  address: string;
  contactName: string;
  contactMobile: string;
  creditRating: CreditRating;
  /** Credit limit in CNY, owned by the ERP. */
  creditLimit: number;
  /** Sales owner, by staff number. */
  ownerStaffNumber: string;
}

// biome-ignore format: one customer a line reads as the table it is
export const CUSTOMERS: readonly Customer[] = [
  cust('C0001', '苏州华锐精密机械有限公司', '华锐精密', '制造业', '江苏', '苏州', '工业园区星湖街328号', '钱志刚', 'AAA', 2_000_000, 'E0003'),
  cust('C0002', '宁波东海新能源科技有限公司', '东海新能源', '能源', '浙江', '宁波', '北仑区明州路88号', '林晓峰', 'AA', 1_500_000, 'E0003'),
  cust('C0003', '合肥智驰汽车零部件有限公司', '智驰汽车', '汽车', '安徽', '合肥', '经开区繁华大道566号', '郑海波', 'A', 800_000, 'E0004'),
  cust('C0004', '深圳芯联电子股份有限公司', '芯联电子', '电子', '广东', '深圳', '南山区科技园科苑路15号', '何静怡', 'AA', 1_200_000, 'E0004'),
  cust('C0005', '成都康宁医药设备有限公司', '康宁医药', '医药', '四川', '成都', '高新区天府大道1199号', '罗斌', 'B', 300_000, 'E0005'),
  cust('C0006', '武汉长江物流装备有限公司', '长江物流', '物流', '湖北', '武汉', '东西湖区走马岭路20号', '马丽华', 'A', 600_000, 'E0005'),
  cust('C0007', '青岛海拓重工有限公司', '海拓重工', '制造业', '山东', '青岛', '黄岛区长江中路216号', '高建军', 'C', 100_000, 'E0012'),
  cust('C0008', '天津滨港化工机械有限公司', '滨港化工', '能源', '天津', '天津', '滨海新区港城大道9号', '谢振华', 'B', 250_000, 'E0003'),
  cust('C0009', '无锡恒通自动化设备有限公司', '恒通自动化', '制造业', '江苏', '无锡', '新吴区长江路7号', '唐晓东', 'AA', 1_000_000, 'E0004'),
  cust('C0010', '长沙中联智造科技有限公司', '中联智造', '制造业', '湖南', '长沙', '岳麓区麓谷大道627号', '彭丽', 'A', 700_000, 'E0012'),
];

function cust(
  number: string,
  name: string,
  shortName: string,
  industry: Customer['industry'],
  province: string,
  city: string,
  street: string,
  contactName: string,
  creditRating: CreditRating,
  creditLimit: number,
  ownerStaffNumber: string,
): Customer {
  const n = Number(number.slice(1));
  return {
    number,
    name,
    shortName,
    // 18 characters shaped like a unified social credit code (fictional, not checksum-valid).
    taxId: `91${330100 + n * 7}MA2${pad(n, 2)}QH${pad(n * 13, 3)}X`.slice(0, 18),
    industry,
    province,
    city,
    address: `${province}省${city}市${street}`.replace('天津省天津市', '天津市'),
    contactName,
    contactMobile: `139${String(10000000 + n * 1111).slice(0, 8)}`,
    creditRating,
    creditLimit,
    ownerStaffNumber,
  };
}

export interface Product {
  /** Kingdee BD_MATERIAL FNumber. */
  number: string;
  name: string;
  spec: string;
  unit: string;
  /** Kingdee unit FNumber. */
  unitNumber: string;
  price: number;
  /** Stock on hand, for the stock-below-threshold alert. */
  stock: number;
  safetyStock: number;
}

// biome-ignore format: one product a line reads as the table it is
export const PRODUCTS: readonly Product[] = [
  { number: 'M0001', name: '六轴工业机器人', spec: 'QH-R6-20kg', unit: '台', unitNumber: 'Pcs', price: 168_000, stock: 12, safetyStock: 5 },
  { number: 'M0002', name: '协作机器人', spec: 'QH-C5-5kg', unit: '台', unitNumber: 'Pcs', price: 98_000, stock: 3, safetyStock: 5 },
  { number: 'M0003', name: '视觉检测系统', spec: 'QH-V200', unit: '套', unitNumber: 'Set', price: 56_000, stock: 20, safetyStock: 8 },
  { number: 'M0004', name: 'AGV搬运车', spec: 'QH-AGV-1T', unit: '台', unitNumber: 'Pcs', price: 125_000, stock: 6, safetyStock: 4 },
  { number: 'M0005', name: '伺服电机', spec: 'QH-SM-750W', unit: '个', unitNumber: 'Pcs', price: 2_800, stock: 400, safetyStock: 150 },
  { number: 'M0006', name: 'PLC控制器', spec: 'QH-PLC-32IO', unit: '个', unitNumber: 'Pcs', price: 4_500, stock: 90, safetyStock: 100 },
  { number: 'M0007', name: '安装调试服务', spec: '人天', unit: '天', unitNumber: 'Day', price: 2_000, stock: 0, safetyStock: 0 },
  { number: 'M0008', name: '年度维保服务', spec: '标准版', unit: '年', unitNumber: 'Year', price: 36_000, stock: 0, safetyStock: 0 },
];

export interface Project {
  /** Kingdee project base-data FNumber. */
  number: string;
  name: string;
}

export const PROJECTS: readonly Project[] = [
  { number: 'PRJ001', name: '项目A-华锐产线自动化改造' },
  { number: 'PRJ002', name: '项目B-东海电池仓储AGV' },
];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

export function employeeByStaffNumber(staffNumber: string): Employee | undefined {
  return EMPLOYEES.find((e) => e.staffNumber === staffNumber);
}
