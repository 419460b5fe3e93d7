import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fakeRegistry } from './fake-registry.ts';
import { formatProblems } from './format.ts';
import { loadFlows } from './load.ts';

const RECEIPT = `id: receipt-to-crm
name: 收款回写 / Receipts back to sales
trigger: { type: poll, connection: kingdee, trigger: receipt.audited, every: 5m }
steps:
  - id: tell
    notify: wecom.message.send
    input: { to: '=vars.owner', text: '="收到回款 " & $string(amount) & " 元"' }
`;

describe('loadFlows', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'qiao-flows-'));
    await mkdir(path.join(dir, 'flows', 'finance'), { recursive: true });
    await writeFile(path.join(dir, 'flows', 'receipt.yaml'), RECEIPT);
    await writeFile(path.join(dir, 'flows', 'finance', 'copy.yml'), RECEIPT);
    await writeFile(
      path.join(dir, 'flows', 'broken.yaml'),
      'id: broken\ntrigger: { type: manual }\nsteps:\n  - id: a\n    action: wecom.approval.strat\n',
    );
    await writeFile(path.join(dir, 'flows', 'README.md'), '# not a flow\n');
    await writeFile(path.join(dir, 'extra.flow'), RECEIPT.replace('receipt-to-crm', 'extra'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('expands globs, validates every file and reports every problem by file and line', async () => {
    const r = await loadFlows(['flows/**/*.{yaml,yml}'], dir, fakeRegistry());
    assert.deepEqual(r.files, ['flows/broken.yaml', 'flows/finance/copy.yml', 'flows/receipt.yaml']);
    // Files load in path order, so the copy under finance/ claims the id first.
    assert.deepEqual(
      r.flows.map((f) => [f.id, f.source]),
      [['receipt-to-crm', 'flows/finance/copy.yml']],
    );
    assert.equal(
      formatProblems(r.problems),
      [
        "flows/broken.yaml:5 steps[0].action: unknown operation 'approval.strat' on connection 'wecom'; did you mean 'approval.start'? Known: approval.start, message.send",
        "flows/receipt.yaml:1 id: duplicate flow id 'receipt-to-crm' (also in flows/finance/copy.yml)",
      ].join('\n'),
    );
  });

  it('reads plain paths whatever their name and reports missing ones', async () => {
    const r = await loadFlows(['extra.flow', 'flows/none.yaml', 'flows'], dir);
    assert.deepEqual(
      r.flows.map((f) => f.id),
      ['extra'],
    );
    assert.equal(formatProblems(r.problems), 'flows/none.yaml no such file\nflows is not a file');
  });

  it('validates without a registry too, and takes absolute patterns', async () => {
    const r = await loadFlows([path.join(dir, 'flows', '*.yaml')], '/', undefined);
    assert.deepEqual(r.flows.map((f) => f.id).sort(), ['broken', 'receipt-to-crm']);
    assert.deepEqual(r.problems, []);
    assert.ok(r.files.every((f) => f.startsWith(dir.slice(1))));
  });

  it('finds nothing without complaint when a glob matches nothing', async () => {
    assert.deepEqual(await loadFlows(['nowhere/*.yaml'], dir), { flows: [], problems: [], files: [] });
  });
});
