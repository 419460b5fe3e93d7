/**
 * File mode through a real hub (SQLite store, engine, scheduler): a partner with no API drops a GBK
 * CSV with Chinese headers in `inbox/`; the flow's poll trigger reads it with the headers map, a step
 * writes it out as XLSX under the same map, and the import result file gets one line per row with
 * 结果/错误. The file is moved to `inbox/done` afterwards, and nothing runs twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { createLogger } from '../../core/logger.ts';
import { SecretBox } from '../../core/secret-box.ts';
import { type Hub, startHub } from '../../hub.ts';
import type { RunRow } from '../../store/store.ts';
import { fileConnector } from './index.ts';

const FLOW = `
id: partner-customers
name: 经销商客户导入 / partner customer import
trigger:
  type: poll
  connection: files
  trigger: poll
  params:
    pattern: inbox/*.csv
    encoding: gbk
    settleMs: 0
    moveTo: inbox/done
    headers: &map { 客户编码: number, 客户名称: name, 信用额度: creditLimit }
    types: { creditLimit: number }
    required: [number, name]
  every: 1s
steps:
  - id: readable
    filter: '=$not($exists(error))'
  - id: export
    action: files.write
    input:
      path: '="out/" & $substringBefore($substringAfter(file, "inbox/"), ".csv") & ".xlsx"'
      rows: '=rows'
      headers: *map
      sheet: 客户
  - id: result
    action: files.append-result
    input:
      path: results/customers-result.csv
      rows: '=rows'
      results: '=$map(rows, function($r) { $r.creditLimit > 0 ? null : "信用额度必须大于0" })'
      headers: *map
`;

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('file mode through the hub', () => {
  let dir: string;
  let root: string;
  let hub: Hub;
  const runs = () => hub.store.listRuns({ flowId: 'partner-customers', limit: 100 });
  const settled = async (n: number): Promise<RunRow[]> => {
    const end = Date.now() + 20_000;
    for (;;) {
      const all = await runs();
      if (all.length >= n && all.every((r) => r.status !== 'running')) return all;
      if (Date.now() > end) throw new Error(`runs: ${JSON.stringify(all.map((r) => [r.status, r.error]))}`);
      await wait(20);
    }
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qiao-file-hub-'));
    root = path.join(dir, 'exchange');
    await mkdir(path.join(root, 'inbox'), { recursive: true });
    hub = await startHub({
      dataDir: dir,
      box: new SecretBox([randomBytes(32)]),
      serve: false,
      descriptors: [fileConnector],
      log: createLogger({}, { level: 'silent' }),
    });
    await hub.connections.save({ id: 'files', type: 'file', settings: { root }, origin: 'api' }, 'test');
  });
  after(async () => {
    await hub?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('validates the flow against the connector: actions, trigger params, a path out of the root', () => {
    assert.deepEqual(hub.validateFlow(FLOW, 'flows/partner.yaml').problems, []);
    const bad = hub.validateFlow(
      FLOW.replace('pattern: inbox/*.csv', 'pattern: ../*.csv'),
      'flows/partner.yaml',
    );
    assert.match(
      bad.problems.map((p) => `${p.path}: ${p.message}`).join('\n'),
      /trigger\.params.*contains '\.\.'/,
    );
  });

  it('imports a GBK partner file: XLSX export, result file with row errors, file moved to done', async () => {
    await writeFile(
      path.join(root, 'inbox', '202603-customers.csv'),
      iconv.encode(
        '客户编码,客户名称,信用额度\r\nC0001,苏州华锐精密机械有限公司,"2,000,000"\r\nC0007,青岛海拓重工有限公司,0\r\n',
        'gbk',
      ),
    );
    await hub.saveFlow(FLOW, 'flows/partner.yaml', 'api', 'test');
    const [run] = await settled(1);
    assert.equal(run.status, 'completed', JSON.stringify(run.error));

    const exported = await hub.connections.call(
      'files',
      'read',
      {
        path: 'out/202603-customers.xlsx',
        headers: { 客户编码: 'number', 客户名称: 'name', 信用额度: 'creditLimit' },
      },
      { idempotencyKey: 'check-1', attempt: 1 },
    );
    assert.deepEqual((exported as { output: { rows: unknown[] } }).output.rows, [
      { number: 'C0001', name: '苏州华锐精密机械有限公司', creditLimit: 2_000_000 },
      { number: 'C0007', name: '青岛海拓重工有限公司', creditLimit: 0 },
    ]);
    const result = (await readFile(path.join(root, 'results', 'customers-result.csv'), 'utf8')).slice(1);
    assert.equal(
      result,
      '客户编码,客户名称,信用额度,结果,错误\r\nC0001,苏州华锐精密机械有限公司,2000000,成功,\r\nC0007,青岛海拓重工有限公司,0,失败,信用额度必须大于0\r\n',
    );

    // The next poll moves the finished file out and starts nothing new.
    await hub.engine.reloadFlows();
    const end = Date.now() + 10_000;
    while (!(await readdir(path.join(root, 'inbox', 'done')).catch(() => [])).length) {
      if (Date.now() > end) throw new Error('the file was not moved to inbox/done');
      await wait(20);
    }
    assert.deepEqual(await readdir(path.join(root, 'inbox', 'done')), ['202603-customers.csv']);
    assert.equal((await runs()).length, 1);
  });

  it('a malformed file is a run that stops at the filter, with the line in the event', async () => {
    await writeFile(
      path.join(root, 'inbox', 'broken.csv'),
      iconv.encode('客户编码,客户名称\r\n"C0002,宁波\r\n', 'gbk'),
    );
    await hub.engine.reloadFlows();
    const all = await settled(2);
    const broken = all.find((r) => (r.event as { file: string }).file === 'inbox/broken.csv')!;
    assert.equal(broken.status, 'filtered');
    assert.match((broken.event as { error: { message: string } }).error.message, /malformed CSV at line 2/);
  });
});
