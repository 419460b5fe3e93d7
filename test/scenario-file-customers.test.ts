/**
 * Scenario 9 (file mode) end to end with the shipped templates (flows/file-export-customers.yaml,
 * flows/file-import-customers.yaml): a hub with `kingdee`, `neocrm` and `files` connections, the two
 * sandboxes over real HTTP and a temporary folder as the file root.
 *
 * Export: the Kingdee customers become one XLSX with Chinese headers, exactly the sandbox's customers
 * with their values. Import: a GBK CSV and a UTF-8 CSV dropped into inbox/ become Neocrm accounts in a
 * batch; a row Neocrm refuses is reported in the result file with Neocrm's own message while the good
 * rows are created, once, however often the folder is polled.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { parse as parseYaml } from 'yaml';
import type { Hub } from '../src/hub.ts';
import { CUSTOMERS } from '../src/sandbox/common/company.ts';
import { FLOWS_DIR } from '../src/sandbox/connect-hub.ts';
import type { RunRow } from '../src/store/store.ts';
import { type ScenarioHub, startScenarioHub } from './support/scenario-hub.ts';

const EXPORT_FLOW = 'file-export-customers';
const IMPORT_FLOW = 'file-import-customers';
type Rec = Record<string, any>;

const HEADERS = [
  '客户编码',
  '客户名称',
  '简称',
  '统一社会信用代码',
  '信用等级',
  '信用额度',
  '联系电话',
  '通讯地址',
];

describe('scenario 9: file mode (Kingdee customers → XLSX; CSV in inbox/ → Neocrm accounts)', () => {
  let env: ScenarioHub<'kingdee' | 'neocrm'>;
  let root: string;
  let hub: Hub;
  let exportYaml: string;
  let importYaml: string;
  let calls = 0;

  const runs = (flowId: string) => hub.store.listRuns({ flowId, limit: 1000 });
  /** Waits (on state) until the flow has `n` runs and none is still going. */
  const settled = (flowId: string, n: number): Promise<RunRow[]> => env.settled(flowId, n);
  const pollNow = () => env.pollNow();
  /** Polls until the import flow has `n` settled runs: dropped files wait out the poll's settleMs (2 s). */
  const importRuns = async (n: number): Promise<RunRow[]> => {
    const end = Date.now() + 20_000;
    for (;;) {
      await pollNow();
      const all = await runs(IMPORT_FLOW);
      if (all.length >= n) return settled(IMPORT_FLOW, n);
      if (Date.now() > end) throw new Error(`import runs: ${all.length} of ${n}`);
    }
  };
  const readFileRows = async (input: Rec): Promise<Rec> =>
    (
      (await hub.connections.call('files', 'read', input, {
        idempotencyKey: `check-${++calls}`,
        attempt: 1,
      })) as { output: Rec }
    ).output;
  const accounts = async (): Promise<Rec[]> => (await env.crm('/records/account?limit=100000')).records;
  /** The header → field map the import flow reads with (the shared customer layout). */
  const importHeaders = (): Record<string, string> => parseYaml(importYaml).trigger.params.headers;

  before(async () => {
    env = await startScenarioHub({ name: 'file', systems: ['kingdee', 'neocrm'] });
    ({ hub } = env);
    root = path.join(env.dir, 'exchange');
    await mkdir(path.join(root, 'inbox'), { recursive: true });
    await hub.connections.save({ id: 'files', type: 'file', settings: { root }, origin: 'api' }, 'test');
    exportYaml = await readFile(path.join(FLOWS_DIR, `${EXPORT_FLOW}.yaml`), 'utf8');
    importYaml = await readFile(path.join(FLOWS_DIR, `${IMPORT_FLOW}.yaml`), 'utf8');
    await env.load(EXPORT_FLOW);
    await env.load(IMPORT_FLOW);
  });
  after(() => env?.close());

  it('both templates use the same header map', () => {
    const exported = parseYaml(exportYaml).steps.find((s: Rec) => s.id === 'export').input.headers;
    const result = parseYaml(importYaml).steps.find((s: Rec) => s.id === 'result').input.headers;
    assert.deepEqual(Object.keys(importHeaders()), HEADERS);
    assert.deepEqual(exported, importHeaders());
    assert.deepEqual(result, importHeaders());
  });

  it('exports exactly the Kingdee customers to one XLSX with Chinese headers, once per schedule slot', async () => {
    // 06:00 in Shanghai on 2026-03-10 is 22:00 UTC the day before: the file is named by China's date.
    const slot = { scheduledAt: '2026-03-09T22:00:00.000Z' };
    await hub.engine.startFlow(EXPORT_FLOW, slot, `cron:${slot.scheduledAt}`);
    await hub.engine.startFlow(EXPORT_FLOW, slot, `cron:${slot.scheduledAt}`);
    const [run, ...more] = await settled(EXPORT_FLOW, 1);
    assert.equal(run.status, 'completed', JSON.stringify(run.error));
    assert.equal(more.length, 0, 'the same slot twice is one run');
    assert.deepEqual(await readdir(path.join(root, 'outbox')), ['customers-2026-03-10.xlsx']);

    // The header row as a person sees it: the Chinese headers, in order.
    const plain = await readFileRows({ path: 'outbox/customers-2026-03-10.xlsx' });
    assert.equal(plain.sheet, '客户');
    assert.deepEqual(plain.fields, HEADERS);

    // The values, read back through the import flow's own map.
    const read = await readFileRows({
      path: 'outbox/customers-2026-03-10.xlsx',
      headers: importHeaders(),
      limit: 100_000,
    });
    assert.deepEqual(
      read.rows,
      CUSTOMERS.map((c) => ({
        number: c.number,
        name: c.name,
        shortName: c.shortName,
        taxId: c.taxId,
        creditRating: c.creditRating,
        creditLimit: c.creditLimit,
        phone: c.contactMobile,
        address: c.address,
      })),
    );
    assert.equal(typeof read.rows[0].creditLimit, 'number', '信用额度 is a number cell');
  });

  it('imports a GBK and a UTF-8 CSV: good rows become accounts once, the refused row is in the result file', async () => {
    const before = await accounts();
    const huarui = CUSTOMERS[0];
    // A dealer's list saved by Excel on Chinese Windows (GBK, CRLF). The third row repeats a customer
    // the CRM already has (客户名称 is unique in Neocrm): Neocrm refuses that row, not the file.
    const gbk =
      `${HEADERS.join(',')}\r\n` +
      'C0101,无锡启明自动化设备有限公司,启明自动化,91320200MA1QM0101X,AA,"800,000",13951010101,江苏省无锡市新吴区长江路8号\r\n' +
      'C0102,合肥恒川新能源科技有限公司,恒川新能源,91340100MA2HC0102X,B,300000,13955020202,安徽省合肥市高新区望江西路66号\r\n' +
      `C0103,${huarui.name},华锐,91320500MA3HR0103X,A,100000,13962030303,${huarui.address}\r\n`;
    await writeFile(path.join(root, 'inbox', 'dealers-202603.csv'), iconv.encode(gbk, 'gbk'));
    // A list saved as "CSV UTF-8" (with the BOM Excel writes), columns in another order.
    await writeFile(
      path.join(root, 'inbox', 'new-customers.csv'),
      '\uFEFF客户名称,客户编码,信用额度,信用等级\r\n成都蜀拓精工机械有限公司,C0104,500000,AAA\r\n',
    );

    const all = await importRuns(2);
    assert.deepEqual(
      all.map((r) => r.status),
      ['completed', 'completed'],
      JSON.stringify(all.map((r) => r.error)),
    );

    const after1 = await accounts();
    assert.equal(after1.length, before.length + 3, 'three new accounts: the good rows');
    const byName = (name: string) => after1.filter((a) => a.accountName === name);
    const qiming = byName('无锡启明自动化设备有限公司');
    assert.equal(qiming.length, 1);
    assert.equal(qiming[0].erpNumber__c, 'C0101');
    assert.equal(qiming[0].shortName__c, '启明自动化');
    assert.equal(qiming[0].taxNumber__c, '91320200MA1QM0101X');
    assert.equal(qiming[0].creditRating__c, 2, 'AA → picklist value 2');
    assert.equal(qiming[0].creditLimit__c, 800_000, '"800,000" read as a number');
    assert.equal(qiming[0].phone, '13951010101');
    assert.equal(qiming[0].address, '江苏省无锡市新吴区长江路8号');
    const hengchuan = byName('合肥恒川新能源科技有限公司');
    assert.equal(hengchuan.length, 1);
    assert.equal(hengchuan[0].erpNumber__c, 'C0102');
    assert.equal(hengchuan[0].creditRating__c, 4);
    assert.equal(hengchuan[0].creditLimit__c, 300_000);
    const shutuo = byName('成都蜀拓精工机械有限公司');
    assert.equal(shutuo.length, 1);
    assert.equal(shutuo[0].erpNumber__c, 'C0104');
    assert.equal(shutuo[0].creditRating__c, 1);
    assert.equal(shutuo[0].creditLimit__c, 500_000);
    assert.equal(byName(huarui.name).length, 1, 'the existing customer is not doubled');
    assert.equal(after1.filter((a) => a.erpNumber__c === 'C0103').length, 0);

    // The result file: the input rows, 结果, 错误 with Neocrm's message, and the CRM id of each new account.
    const result = await readFileRows({ path: 'results/dealers-202603.csv.result.csv' });
    assert.deepEqual(result.fields, [...HEADERS, '结果', '错误', '销售易ID']);
    assert.deepEqual(
      result.rows.map((r: Rec) => [r.客户编码, r.客户名称, r.信用额度, r.结果, r.错误]),
      [
        ['C0101', '无锡启明自动化设备有限公司', '800000', '成功', ''],
        ['C0102', '合肥恒川新能源科技有限公司', '300000', '成功', ''],
        [
          'C0103',
          huarui.name,
          '100000',
          '失败',
          `字段[客户名称(accountName)]的值[${huarui.name}]已存在，不能重复`,
        ],
      ],
    );
    assert.match(result.rows[0].销售易ID, /^\d{16}$/);
    assert.match(result.rows[1].销售易ID, /^\d{16}$/);
    assert.equal(result.rows[2].销售易ID, '');
    const utf8 = await readFileRows({ path: 'results/new-customers.csv.result.csv' });
    assert.deepEqual(
      utf8.rows.map((r: Rec) => [r.客户编码, r.客户名称, r.结果]),
      [['C0104', '成都蜀拓精工机械有限公司', '成功']],
    );

    // Two more polls: the files move to inbox/done and nothing is read, created or appended twice.
    await pollNow();
    await pollNow();
    const end = Date.now() + 10_000;
    while ((await readdir(path.join(root, 'inbox', 'done')).catch(() => [])).length < 2) {
      if (Date.now() > end) throw new Error('the files were not moved to inbox/done');
      await pollNow();
    }
    await hub.engine.drain();
    assert.deepEqual((await readdir(path.join(root, 'inbox', 'done'))).sort(), [
      'dealers-202603.csv',
      'new-customers.csv',
    ]);
    assert.equal((await runs(IMPORT_FLOW)).length, 2);
    assert.equal((await accounts()).length, before.length + 3);
    assert.equal((await readFileRows({ path: 'results/dealers-202603.csv.result.csv' })).rows.length, 3);
  });

  it('a file that cannot be read gets a result file saying why, and imports nothing', async () => {
    const before = await accounts();
    // No 客户名称 column (required), and a UTF-8 file without a BOM (read as GBK: refused, never garbled).
    await writeFile(
      path.join(root, 'inbox', 'no-name.csv'),
      iconv.encode('客户编码,信用额度\r\nC0105,100000\r\n', 'gbk'),
    );
    await writeFile(
      path.join(root, 'inbox', 'plain-utf8.csv'),
      '客户编码,客户名称,信用额度\r\nC0106,成都蜀拓精工机械有限公司,500000\r\n',
    );
    const all = await importRuns(4);
    for (const file of ['inbox/no-name.csv', 'inbox/plain-utf8.csv']) {
      const run = all.find((r) => (r.event as Rec).file === file);
      assert.equal(run?.status, 'filtered', file);
    }
    const noName = await readFileRows({ path: 'results/no-name.csv.result.csv' });
    assert.deepEqual(noName.fields, ['结果', '错误']);
    assert.equal(noName.rows.length, 1);
    assert.equal(noName.rows[0].结果, '失败');
    assert.match(noName.rows[0].错误, /required column missing: 客户名称 \(name\)/);
    const plain = await readFileRows({ path: 'results/plain-utf8.csv.result.csv' });
    assert.equal(plain.rows[0].结果, '失败');
    assert.match(plain.rows[0].错误, /line 2 is not valid gbk.*set encoding: utf-8/);
    assert.equal((await accounts()).length, before.length);
  });

  it('the exported workbook imports as it is: every customer is already in Neocrm, so each row is refused once', async () => {
    const before = await accounts();
    await copyFile(
      path.join(root, 'outbox', 'customers-2026-03-10.xlsx'),
      path.join(root, 'inbox', 'customers-2026-03-10.xlsx'),
    );
    const all = await importRuns(5);
    const run = all.find((r) => (r.event as Rec).file === 'inbox/customers-2026-03-10.xlsx');
    assert.equal(run?.status, 'completed', JSON.stringify(run?.error));
    const result = await readFileRows({ path: 'results/customers-2026-03-10.xlsx.result.csv' });
    assert.deepEqual(
      result.rows.map((r: Rec) => [r.客户编码, r.结果, r.错误]),
      CUSTOMERS.map((c) => [c.number, '失败', `字段[客户名称(accountName)]的值[${c.name}]已存在，不能重复`]),
    );
    assert.equal((await accounts()).length, before.length, 'nothing created twice');
  });
});
