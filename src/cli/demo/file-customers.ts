/**
 * The file-mode scene of `qiao demo` (flows/file-export-customers.yaml and file-import-customers.yaml,
 * scenario 9), in the exchange folder `<data folder>/exchange`: Kingdee's customers are exported to an
 * Excel workbook with Chinese headers, and a dealer list saved by Excel on Chinese Windows (a GBK CSV)
 * dropped into `inbox/` becomes Neocrm accounts in one batch — the row Neocrm refuses (a customer it
 * already has) is reported in the result file with Neocrm's own message, and the other rows are created.
 * The calls are those of test/scenario-file-customers.test.ts.
 *
 * The folder outlives the sandboxes: a later demo run on the same data folder asks for the same export
 * (the same key: not written again) and drops the same list again (the same content: not read again).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatRecord } from '../../connectors/file/csv.ts';
import { encodeText } from '../../connectors/file/encoding.ts';
import type { DemoContext, SceneResult } from './scene.ts';
import { waitFor, waitRun } from './scene.ts';

export const EXPORT_FLOW = 'file-export-customers';
export const IMPORT_FLOW = 'file-import-customers';
export const FILE_FLOWS = [EXPORT_FLOW, IMPORT_FLOW];
const EXPORT_KEY = 'qiao-demo:export-customers';
const LIST = 'inbox/dealers-202603.csv';
type Rec = Record<string, any>;

/**
 * The dealer list: a new customer, and one Neocrm already has (客户名称 is unique there). One new row
 * only: the store joins every account a batch creates to its run's one id link, so with two the
 * customer sync (played next) would find one dealer's account through the other's link.
 */
// biome-ignore format: one row a line reads as the table it is
const DEALERS = [
  ['客户编码', '客户名称', '简称', '统一社会信用代码', '信用等级', '信用额度', '联系电话', '通讯地址'],
  ['C0101', '无锡启明自动化设备有限公司', '启明自动化', '91320200MA1QM0101X', 'AA', '800,000', '13951010101', '江苏省无锡市新吴区长江路8号'],
  ['C0103', '苏州华锐精密机械有限公司', '华锐', '91320500MA3HR0103X', 'A', '100000', '13962030303', '江苏省苏州市工业园区星湖街328号'],
];

export async function playFileCustomers(ctx: DemoContext): Promise<SceneResult> {
  const { crm, hub } = ctx;
  const problems: string[] = [];
  if (!ctx.dataDir) throw new Error('the demo has no data folder for the exchange folder');
  const root = join(ctx.dataDir, 'exchange');
  await mkdir(join(root, 'inbox'), { recursive: true });
  await hub.connections.save({ id: 'files', type: 'file', settings: { root }, origin: 'api' }, 'demo');
  const before = await ctx.playedBefore(IMPORT_FLOW);
  for (const f of FILE_FLOWS) await ctx.load(f);
  let calls = 0;
  const read = async (input: Rec): Promise<Rec> =>
    (
      (await hub.connections.call('files', 'read', input, {
        idempotencyKey: `qiao-demo-read-${Date.now()}-${++calls}`,
        attempt: 1,
      })) as { output: Rec }
    ).output;

  // 1. 黄磊 saves the dealer's list into inbox/ (Excel on Chinese Windows: GBK, CRLF). The poll reads a
  //    file once it has been still for two seconds, so it is dropped first and read after the export.
  ctx.step(`黄磊 saves a dealer list (GBK CSV, 2 customers) as ${join(root, LIST)}`);
  const csv = `${DEALERS.map((r) => formatRecord(r, ',')).join('\r\n')}\r\n`;
  await writeFile(
    join(root, LIST),
    encodeText(csv, 'gbk', () => LIST),
  );
  const droppedAt = Date.now();

  // 2. The export, started by hand (the schedule runs it at 06:00): one key, one workbook.
  const exported = await hub.engine.startFlow(EXPORT_FLOW, {}, EXPORT_KEY);
  let runs = 0;
  let duplicates = 0;
  const written: Record<string, number> = {};
  // A repeated key starts nothing: the run is the one the key started before.
  const done = await waitRun(hub, EXPORT_FLOW, (r) => r.eventKey === EXPORT_KEY, ['completed', 'failed']);
  const xlsx = (done.steps.find((s) => s.name === 'export')?.output as Rec | undefined)?.path as string;
  if (exported.duplicate) {
    duplicates++;
    ctx.step(
      `the export was already made on this data folder: ${join(root, xlsx ?? 'outbox')} (not written again)`,
    );
  } else {
    runs++;
    if (done.run.status !== 'completed') throw new Error('the export failed');
    const book = await read({ path: xlsx, limit: 100_000 });
    const customers = (await ctx.erp('records/BD_Customer?limit=100000')).records as Rec[];
    const audited = customers.filter((c) => c.FDocumentStatus === 'C' && c.FForbidStatus === 'A');
    if (book.rows.length !== audited.length || book.fields[0] !== '客户编码' || book.sheet !== '客户') {
      problems.push(
        `${xlsx} holds ${book.rows.length} rows, expected the ${audited.length} audited customers`,
      );
    }
    written.files = 1;
    ctx.step(
      `Kingdee's ${book.rows.length} customers exported to ${join(root, xlsx)} (sheet 客户: ${book.fields.slice(0, 3).join(', ')}…)`,
    );
  }

  // 3. The import: polled now (and again while the file settles), one batch, a result file per list.
  const importRun = async () =>
    (await hub.store.listRuns({ flowId: IMPORT_FLOW, limit: 10_000 })).find(
      (r) => (r.event as Rec).file === LIST && r.startedAt >= droppedAt,
    );
  const moved = () => !existsSync(join(root, LIST));
  let asked = 0;
  await waitFor(
    `${LIST} to be read`,
    async () => {
      if ((before && moved()) || (!before && (await importRun()))) return true;
      if (Date.now() - asked > 500) {
        asked = Date.now();
        await hub.engine.reloadFlows();
      }
      return false;
    },
    20_000,
  );
  const result = `results/${LIST.slice('inbox/'.length)}.result.csv`;
  if (before) {
    const first = (await hub.store.listRuns({ flowId: IMPORT_FLOW, limit: 10_000 })).find(
      (r) => (r.event as Rec).file === LIST,
    );
    const inbox = first?.eventKey && (await hub.store.getInbox(`poll:${IMPORT_FLOW}`, first.eventKey));
    if (!inbox || inbox.duplicates < 1) problems.push(`${LIST} dropped again was not recognised`);
    if (await importRun()) problems.push(`${LIST} dropped again was imported again`);
    duplicates++;
    ctx.step(
      `the same list was imported on this data folder: read as a duplicate, nothing created (${join(root, result)})`,
    );
    return { runs, duplicates, written, problems };
  }
  const run = await waitRun(hub, IMPORT_FLOW, (r) => (r.event as Rec).file === LIST, ['completed', 'failed']);
  runs++;
  if (run.run.status !== 'completed') problems.push(`the import of ${LIST} failed`);
  const accounts = (await crm('/records/account?limit=100000')).records as Rec[];
  const created = accounts.filter((a) => a.accountName === DEALERS[1][1]);
  if (created.length !== 1 || created[0].erpNumber__c !== 'C0101' || created[0].creditLimit__c !== 800_000) {
    problems.push(`${created.length} Neocrm accounts ${DEALERS[1][1]} (C0101, 800,000), expected 1`);
  }
  if (accounts.some((a) => a.erpNumber__c === 'C0103')) problems.push('the refused row was created');
  const out = await read({ path: result });
  const outcome = out.rows.map((r: Rec) => `${r.客户编码} ${r.结果}`).join(', ');
  const refused = out.rows.find((r: Rec) => r.结果 === '失败');
  if (outcome !== 'C0101 成功, C0103 失败' || !/已存在，不能重复/.test(refused?.错误 ?? '')) {
    problems.push(`the result file says ${outcome}, expected C0101 成功, C0103 失败 (already there)`);
  }
  written.neocrm = created.length;
  written.files = (written.files ?? 0) + 1;
  ctx.step(`Neocrm account ${DEALERS[1][1]} created in the batch; C0103 refused: ${refused?.错误}`);
  ctx.step(`each row's outcome (结果, 错误, 销售易ID) is in ${join(root, result)}`);

  // 4. The next poll moves the finished list to inbox/done.
  await waitFor('the list to move to inbox/done', async () => {
    if (moved()) return true;
    if (Date.now() - asked > 500) {
      asked = Date.now();
      await hub.engine.reloadFlows();
    }
    return false;
  });
  ctx.step(`the list moves to ${join(root, 'inbox', 'done')}`);
  return { runs, duplicates, written, problems };
}
