/**
 * Rule tables (route steps, docs/flows.md, "Route"): the input values are computed once, then the first
 * row whose every condition holds wins and its `then` (a template) is the step's output.
 *
 *   route:
 *     input: { amount: '=steps.pick.amount', rating: '=customer.creditRating' }
 *     rows:
 *       - when: { amount: '>= 1000000', rating: [B, C] }
 *         then: { chain: [LiNa, YangFan, WangJianGuo] }
 *     default: { chain: [LiNa] }
 *
 * A condition is
 * - a literal: equality (`won`, `1000`, `true`, `null`); a number matches a numeric string and back,
 *   since partners disagree on whether amounts are strings (Kingdee, Neocrm) or numbers;
 * - a list: one of its literals (`[B, C]`);
 * - a comparison string: `>= 100000`, `> 5`, `<= 9`, `< 5`, `!= X` (also `≥ ≤ ≠`), `between 1 and 9`
 *   (inclusive). Numbers may carry `_` or `,` separators and a 万 (10⁴) or 亿 (10⁸) suffix:
 *   `>= 100万`. A non-numeric operand compares as text, so ISO dates work: `< 2026-01-01`;
 * - an expression `=…` with `value` bound to the input value (`=value % 2 = 0`).
 * A literal string that looks like a comparison is written as a one-item list: `['< 5']`.
 */
import type { RouteStep } from '../core/flow.ts';
import {
  type CompiledTemplate,
  compileExpression,
  compileTemplate,
  type ExprContext,
  isExpression,
} from './expr.ts';
import { join, type LocatedProblem, typeOf, unknownField } from './problems.ts';

export type Route = RouteStep['route'];

/** A compiled condition: true when the input value satisfies it. */
export type Condition = (value: unknown, ctx: ExprContext) => boolean | Promise<boolean>;

const COMPARISON = /^\s*(>=|<=|!=|≥|≤|≠|>(?!=)|<(?!=))\s*(\S(?:.*\S)?)\s*$/s;
const BETWEEN = /^\s*between\s+(\S(?:.*?\S)?)\s+and\s+(\S(?:.*\S)?)\s*$/is;
const NUMBER = /^[+-]?(?:\d{1,3}(?:[,_]\d{3})+|\d+(?:_\d+)*)(?:\.\d+)?(万|亿)?$/;

/** Reads `1,000,000`, `1_000_000`, `100万`, `1.5亿`; undefined when the text is no number. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  const m = NUMBER.exec(t);
  if (!m) return undefined;
  const scale = m[1] === '万' ? 1e4 : m[1] === '亿' ? 1e8 : 1;
  const n = Number(t.replace(/[,_万亿]/g, '')) * scale;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Compiles one condition. Throws an Error with a user-facing message when it is not a valid condition
 * (a mapping, a list holding a mapping, a comparison without operand, a bad expression).
 */
export function compileCondition(cond: unknown): Condition {
  if (Array.isArray(cond)) {
    cond.forEach((item, i) => {
      if (item !== null && typeof item === 'object') {
        throw new Error(`item ${i + 1} of the list must be a value; got ${typeOf(item)}`);
      }
    });
    const items = cond.map((c) => (typeof c === 'string' ? unescapeLiteral(c) : c));
    return (value) => items.some((item) => equals(value, item));
  }
  if (cond !== null && typeof cond === 'object') {
    throw new Error(
      `a condition is a value, a list of values, a comparison ('>= 100000', 'between 1 and 9', '!= C') or an expression ('=…'); got ${typeOf(cond)}`,
    );
  }
  if (typeof cond !== 'string') return (value) => equals(value, cond);
  if (isExpression(cond)) {
    const e = compileExpression(cond);
    return async (value, ctx) => truthy(await e.evaluate({ ...ctx, value }));
  }
  if (cond.startsWith('==')) {
    const literal = cond.slice(1);
    return (value) => equals(value, literal);
  }
  const between = BETWEEN.exec(cond);
  if (between) {
    const low = operand(between[1]);
    const high = operand(between[2]);
    if (compare(high.value, low.value, high.numeric && low.numeric) < 0) {
      throw new Error(`'${cond}' can never hold: ${between[1]} is more than ${between[2]}`);
    }
    return (value) => {
      const a = compareTo(value, low);
      const b = compareTo(value, high);
      return a !== undefined && b !== undefined && a >= 0 && b <= 0;
    };
  }
  const cmp = COMPARISON.exec(cond);
  if (cmp) {
    const op = cmp[1];
    const right = operand(cmp[2]);
    if (op === '!=' || op === '≠') return (value) => !equals(value, right.value);
    return (value) => {
      const c = compareTo(value, right);
      if (c === undefined) return false;
      switch (op) {
        case '>':
          return c > 0;
        case '>=':
        case '≥':
          return c >= 0;
        case '<':
          return c < 0;
        default:
          return c <= 0;
      }
    };
  }
  if (/^\s*(>=|<=|!=|>|<|≥|≤|≠)\s*$/.test(cond))
    throw new Error(`comparison '${cond}' has nothing to compare with`);
  if (/^\s*between\b/i.test(cond)) throw new Error(`write a range as 'between 1 and 9'; got '${cond}'`);
  return (value) => equals(value, cond);
}

interface Operand {
  value: string | number;
  numeric: boolean;
}

function operand(text: string): Operand {
  const unquoted = /^(['"])(.*)\1$/s.exec(text);
  if (unquoted) return { value: unquoted[2], numeric: false };
  const n = parseNumber(text);
  return n === undefined ? { value: text, numeric: false } : { value: n, numeric: true };
}

/** value − operand's sign, or undefined when they cannot be compared (text vs number, missing value). */
function compareTo(value: unknown, right: Operand): number | undefined {
  if (right.numeric) {
    const n = toNumber(value);
    return n === undefined ? undefined : compare(n, right.value, true);
  }
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return compare(String(value), right.value, false);
}

function compare(a: string | number, b: string | number, numeric: boolean): number {
  if (numeric) return (a as number) - (b as number);
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** Literal equality: strict, except that a number equals its numeric string and a missing value is null. */
export function equals(value: unknown, literal: unknown): boolean {
  if (value === literal) return true;
  if (value === undefined) return literal === null;
  if (typeof literal === 'number' && typeof value === 'string') return toNumber(value) === literal;
  if (typeof literal === 'string' && typeof value === 'number') return toNumber(literal) === value;
  return false;
}

/** JSONata's `$boolean`: false for false, 0, '', null, undefined, empty lists and empty mappings. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (typeof v === 'number') return !Number.isNaN(v);
  if (Array.isArray(v)) return v.some(truthy);
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

function unescapeLiteral(s: string): string {
  return s.startsWith('==') ? s.slice(1) : s;
}

interface CompiledRoute {
  inputs: Array<[string, ReturnType<typeof compileExpression>]>;
  rows: Array<{ when: Array<[string, Condition]>; output: CompiledTemplate }>;
  otherwise?: CompiledTemplate;
}

const compiledRoutes = new WeakMap<Route, CompiledRoute>();

function compileRoute(route: Route): CompiledRoute {
  let c = compiledRoutes.get(route);
  if (!c) {
    c = {
      inputs: Object.entries(route.input).map(([k, src]) => [k, compileExpression(src)]),
      rows: route.rows.map((row) => ({
        when: Object.entries(row.when).map(([k, cond]) => [k, compileCondition(cond)]),
        output: compileTemplate(row.then),
      })),
      otherwise: route.default === undefined ? undefined : compileTemplate(route.default),
    };
    compiledRoutes.set(route, c);
  }
  return c;
}

export interface RouteMatch {
  /** Index of the winning row, `default`, or null when nothing matched and there is no default. */
  row: number | 'default' | null;
  /** The input values the rows were tested against. */
  input: Record<string, unknown>;
  output: Record<string, unknown> | null;
}

/**
 * Evaluates a route and says which row won, for run history and the console's "why this approver"
 * view. `then` templates see the context plus `input` (the computed input values).
 */
export async function matchRoute(route: Route, ctx: ExprContext): Promise<RouteMatch> {
  const compiled = compileRoute(route);
  const values = await Promise.all(compiled.inputs.map(([, e]) => e.evaluate(ctx)));
  const input: Record<string, unknown> = {};
  compiled.inputs.forEach(([k], i) => {
    input[k] = values[i];
  });
  const thenCtx = (): ExprContext => ({ ...ctx, input });
  for (let r = 0; r < compiled.rows.length; r++) {
    const row = compiled.rows[r];
    let ok = true;
    for (const [key, cond] of row.when) {
      const held = cond(input[key], ctx);
      if (!(held instanceof Promise ? await held : held)) {
        ok = false;
        break;
      }
    }
    if (ok) return { row: r, input, output: (await row.output(thenCtx())) as Record<string, unknown> };
  }
  if (compiled.otherwise) {
    return {
      row: 'default',
      input,
      output: (await compiled.otherwise(thenCtx())) as Record<string, unknown>,
    };
  }
  return { row: null, input, output: null };
}

/** The winning row's `then` evaluated as a template; null when no row matched and there is no default. */
export async function evaluateRoute(route: Route, ctx: ExprContext): Promise<Record<string, unknown> | null> {
  return (await matchRoute(route, ctx)).output;
}

const ROUTE_FIELDS = ['input', 'rows', 'default'];
const ROW_FIELDS = ['when', 'then'];

/**
 * Checks the shape of a route as written in a flow file (`raw`, before it is trusted) and returns it in
 * FlowDef form with every input normalised to `=…`, or problems under `path`. Conditions and
 * expressions are compiled later, with the rest of the flow's expressions (validate.ts).
 */
export function checkRoute(raw: unknown, path: string): { route?: Route; problems: LocatedProblem[] } {
  const problems: LocatedProblem[] = [];
  if (!isMapping(raw)) {
    problems.push({ path, message: `must be a mapping with input, rows and default; got ${typeOf(raw)}` });
    return { problems };
  }
  for (const k of Object.keys(raw))
    if (!ROUTE_FIELDS.includes(k)) problems.push(unknownField(path, k, ROUTE_FIELDS));

  const input: Record<string, string> = {};
  const inputPath = join(path, 'input');
  if (raw.input === undefined) {
    problems.push({
      path: inputPath,
      message: 'is required: name the values the rows test, e.g. { amount: =amount }',
    });
  } else if (!isMapping(raw.input)) {
    problems.push({
      path: inputPath,
      message: `must be a mapping of names to expressions; got ${typeOf(raw.input)}`,
    });
  } else {
    for (const [k, v] of Object.entries(raw.input)) {
      if (typeof v !== 'string' || v.trim() === '' || v.trim() === '=') {
        problems.push({
          path: join(inputPath, k),
          message: `must be an expression such as '=amount'; got ${typeOf(v)}`,
        });
        continue;
      }
      input[k] = v.startsWith('=') ? v : `=${v}`;
    }
  }
  const inputKeys = isMapping(raw.input) ? Object.keys(raw.input) : undefined;

  const rows: Route['rows'] = [];
  const rowsPath = join(path, 'rows');
  if (raw.rows === undefined) {
    problems.push({ path: rowsPath, message: 'is required: a list of { when, then }' });
  } else if (!Array.isArray(raw.rows)) {
    problems.push({ path: rowsPath, message: `must be a list of { when, then }; got ${typeOf(raw.rows)}` });
  } else {
    raw.rows.forEach((row, i) => {
      const rowPath = join(rowsPath, i);
      if (!isMapping(row)) {
        problems.push({ path: rowPath, message: `must be a mapping with when and then; got ${typeOf(row)}` });
        return;
      }
      for (const k of Object.keys(row))
        if (!ROW_FIELDS.includes(k)) problems.push(unknownField(rowPath, k, ROW_FIELDS));
      const whenPath = join(rowPath, 'when');
      let when: Record<string, unknown> = {};
      if (row.when === undefined) {
        problems.push({
          path: whenPath,
          message: 'is required (write `when: {}` for a row that always matches)',
        });
      } else if (!isMapping(row.when)) {
        problems.push({
          path: whenPath,
          message: `must be a mapping of input names to conditions; got ${typeOf(row.when)}`,
        });
      } else {
        when = row.when;
        for (const k of Object.keys(row.when)) {
          if (inputKeys && !inputKeys.includes(k)) {
            const p = unknownField(whenPath, k, inputKeys);
            p.message += ` (route.input has ${inputKeys.length ? inputKeys.join(', ') : 'nothing'})`;
            problems.push(p);
          }
        }
      }
      const thenPath = join(rowPath, 'then');
      if (row.then === undefined) {
        problems.push({ path: thenPath, message: 'is required: the output when this row wins' });
      } else if (!isMapping(row.then)) {
        problems.push({
          path: thenPath,
          message: `must be a mapping (the step's output); got ${typeOf(row.then)}`,
        });
      }
      // biome-ignore lint/suspicious/noThenProperty: the row shape of core/flow.ts RouteStep names it `then`.
      rows.push({ when, then: isMapping(row.then) ? row.then : {} });
    });
  }
  if (raw.default !== undefined && !isMapping(raw.default)) {
    problems.push({
      path: join(path, 'default'),
      message: `must be a mapping (the step's output); got ${typeOf(raw.default)}`,
    });
  }
  if (problems.length > 0) return { problems };
  const route: Route = { input, rows };
  if (raw.default !== undefined) route.default = raw.default as Record<string, unknown>;
  return { route, problems };
}

/** A condition's compile error as a problem message. */
export function conditionMessage(err: unknown): string {
  const e = err as { name?: string; detail?: string; position?: number; message?: string };
  if (e.name === 'ExpressionSyntaxError') {
    return `invalid expression: ${e.detail}${e.position !== undefined ? ` (position ${e.position})` : ''}`;
  }
  return e.message ?? String(err);
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
