/**
 * docs/flows.md is tested like code (STYLE.md, "Examples in docs are runnable and tested"):
 * - every ```yaml block that starts with `id:` is a complete flow and parses without problems, unless a
 *   ```text block of `flows/…` lines follows it: then those are exactly the problems Qiao reports;
 * - every `| Expression | Result |` table evaluates to its results against the sample event (the first
 *   ```json block);
 * - every `| Condition | Value | Holds |` table holds as shown.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { formatProblem } from '../core/errors.ts';
import { type ExprContext, evaluateExpression } from './expr.ts';
import { parseFlow } from './parse.ts';
import { compileCondition } from './route.ts';

const DOC = fileURLToPath(new URL('../../docs/flows.md', import.meta.url));
const text = readFileSync(DOC, 'utf8');

interface Block {
  lang: string;
  body: string;
  line: number;
}

function blocks(md: string): Block[] {
  const out: Block[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(md); m; m = re.exec(md)) {
    out.push({ lang: m[1], body: m[2], line: md.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** Rows of every table whose header is exactly `header`, as lists of cells. */
function tables(md: string, header: string[]): Array<{ cells: string[]; line: number }> {
  const rows: Array<{ cells: string[]; line: number }> = [];
  const lines = md.split('\n');
  const cellsOf = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('|') || cellsOf(lines[i]).join('|') !== header.join('|')) continue;
    for (let j = i + 2; j < lines.length && lines[j].startsWith('|'); j++)
      rows.push({ cells: cellsOf(lines[j]), line: j + 1 });
  }
  return rows;
}

/** The text inside the first pair of backticks of a cell. */
function code(cell: string): string | undefined {
  return /`([^`]+)`/.exec(cell)?.[1];
}

const all = blocks(text);

describe('docs/flows.md', () => {
  it('has complete flows that parse, and problem listings that match', () => {
    let flows = 0;
    let listings = 0;
    all.forEach((b, i) => {
      if (b.lang !== 'yaml' || !b.body.startsWith('id:')) return;
      const next = all[i + 1];
      const listing =
        next?.lang === 'text' && next.body.startsWith('flows/') ? next.body.trimEnd().split('\n') : undefined;
      const file = listing ? listing[0].split(':')[0] : 'flows/doc.yaml';
      const r = parseFlow(b.body, file);
      const got = r.problems.map(formatProblem);
      if (listing) {
        listings++;
        assert.deepEqual(got, listing, `the listing after the yaml block at docs/flows.md:${b.line}`);
      } else {
        flows++;
        assert.deepEqual(got, [], `the yaml block at docs/flows.md:${b.line}`);
      }
    });
    assert.ok(flows >= 10, `only ${flows} complete flows found`);
    assert.ok(listings >= 2, `only ${listings} problem listings found`);
  });

  it('evaluates its expression tables to the results shown', async () => {
    const sample = all.find((b) => b.lang === 'json');
    assert.ok(sample, 'the sample event');
    const ctx: ExprContext = {
      event: JSON.parse(sample.body),
      steps: { pick: { amount: 1_280_000 } },
      last: null,
      vars: { financeUser: 'YangFan', taxRate: 0.13 },
      run: { id: 'run-1', flowId: 'contract-approval' },
    };
    const rows = tables(text, ['Expression', 'Result']);
    assert.ok(rows.length >= 20, `only ${rows.length} expression rows found`);
    for (const { cells, line } of rows) {
      const expr = code(cells[0]);
      assert.ok(expr, `docs/flows.md:${line} has no expression`);
      const got = await evaluateExpression(expr, ctx);
      const want = code(cells[1]);
      if (want === undefined) assert.equal(got, undefined, `docs/flows.md:${line} ${expr}`);
      else assert.deepEqual(got, JSON.parse(want), `docs/flows.md:${line} ${expr}`);
    }
  });

  it('holds its route conditions as shown', async () => {
    const rows = tables(text, ['Condition', 'Value', 'Holds']);
    assert.ok(rows.length >= 10, `only ${rows.length} condition rows found`);
    for (const { cells, line } of rows) {
      const [cond, value, holds] = cells.map(code) as [string, string, string];
      // Comparisons are written quoted in flows (`>` and `!` mean something else to YAML).
      const literal = /^\[|^-?\d+(\.\d+)?$|^(true|false|null)$/.test(cond) ? parseYaml(cond) : cond;
      const condition = compileCondition(literal);
      assert.equal(
        await condition(JSON.parse(value), {}),
        JSON.parse(holds),
        `docs/flows.md:${line} ${cond} on ${value}`,
      );
    }
  });
});
