/**
 * Flow expressions (docs/flows.md, "Expressions"): a string value that starts with `=` is a JSONata
 * expression; `==` at the start escapes a literal `=`. Every expression sees the run's context
 *
 *   { event, steps: { <stepId>: output }, last, vars, run: { id, flowId, linkKey } }
 *
 * and, for brevity, a top-level name that is not a key of the context reads the event's field of that
 * name: `=amount` is `=event.amount`. The context's own keys win a clash (an event field called `last`
 * is `event.last`).
 *
 * Speed: the engine evaluates expressions on every step of every run, so sources are compiled once
 * (cached), a plain dotted path (`=steps.pick.amount`, `=event.客户名称`) and a path compared with a
 * literal (`=stage = "won"`, `=amount >= 1000000`) are answered directly, without JSONata, when the
 * value is a plain scalar (tested against JSONata's own answers), and templates are compiled into
 * closures that never re-walk their literal parts. Measured on a loaded 2-core machine: ~4M path reads,
 * ~3M comparisons and 140k–330k JSONata arithmetic evaluations per second.
 */
import jsonata from 'jsonata';
import { PermanentError } from '../core/errors.ts';
import { EXPRESSION_FUNCTIONS } from './functions.ts';

/** What an expression can read. The engine builds it; extra keys (e.g. `value` in routes) are allowed. */
export interface ExprContext {
  event?: unknown;
  steps?: Record<string, unknown>;
  last?: unknown;
  vars?: Record<string, unknown>;
  run?: { id: string; flowId: string; linkKey?: string };
  [name: string]: unknown;
}

/** A map step's value tables, read with `$table(name, value)`. */
export type ValueTables = Record<string, Record<string, unknown>>;

/** What an expression reads, found in its syntax tree; flow validation checks these. */
export interface ExpressionRefs {
  /** `X` of every `steps.X`. */
  steps: string[];
  /** Literal table names passed to `$table`. */
  tables: string[];
  /** `$name` of every function called that the expression does not define itself. */
  functions: string[];
}

export interface CompiledExpression {
  /** The JSONata source, without the leading `=`. */
  readonly source: string;
  readonly refs: ExpressionRefs;
  evaluate(ctx: ExprContext, tables?: ValueTables): Promise<unknown>;
}

/** A syntax error, with JSONata's message, code and 1-based position in the source. */
export class ExpressionSyntaxError extends Error {
  readonly source: string;
  readonly position?: number;
  readonly code?: string;
  /** JSONata's message alone, for validation problems that already say where. */
  readonly detail: string;

  constructor(source: string, detail: string, position?: number, code?: string) {
    super(
      `invalid expression '=${source}': ${detail}${position !== undefined ? ` (position ${position})` : ''}`,
    );
    this.name = 'ExpressionSyntaxError';
    this.source = source;
    this.detail = detail;
    this.position = position;
    this.code = code;
  }
}

/**
 * An expression failed while evaluating (a type error, `$error()`, a bad argument to a function). The
 * same input fails the same way every time, so it is permanent and the user's to fix.
 */
export class ExpressionError extends PermanentError {
  readonly source: string;
  readonly position?: number;
  readonly code?: string;

  constructor(source: string, detail: string, position?: number, code?: string, cause?: unknown) {
    super(
      `expression '=${source}' failed: ${detail}${position !== undefined ? ` (position ${position})` : ''}`,
      {
        fault: 'user',
        cause,
      },
    );
    this.name = 'ExpressionError';
    this.source = source;
    this.position = position;
    this.code = code;
  }
}

/** True for a string that is an expression: starts with `=` but not `==`. */
export function isExpression(v: unknown): boolean {
  return typeof v === 'string' && v.charCodeAt(0) === 61 && v.charCodeAt(1) !== 61;
}

/**
 * Guards against runaway expressions (JSONata optimises tail calls, so a recursive function can loop
 * forever): evaluation fails after `timeout` ms or `stack` nested calls. Read on every evaluation, so a
 * change applies to expressions already compiled (tests lower the timeout).
 */
export const EXPRESSION_LIMITS = { timeout: 2_000, stack: 500 };

/** JSONata's own functions; `$now` and `$millis` are bound per evaluation. */
const JSONATA_FUNCTIONS = new Set(
  (
    'sum count max min average string substring substringBefore substringAfter lowercase uppercase length trim ' +
    'pad match contains replace split join formatNumber formatBase formatInteger parseInteger number floor ceil ' +
    'round abs sqrt power random boolean not map zip filter single reduce sift keys lookup append exists spread ' +
    'merge reverse each error assert type sort shuffle distinct base64encode base64decode encodeUrlComponent ' +
    'encodeUrl decodeUrlComponent decodeUrl eval toMillis fromMillis clone now millis'
  ).split(' '),
);

/** Every function name an expression may call. */
export const KNOWN_FUNCTIONS: ReadonlySet<string> = new Set([
  ...JSONATA_FUNCTIONS,
  ...Object.keys(EXPRESSION_FUNCTIONS),
  'table',
]);

/** A dotted path of plain names that can be read without JSONata (see `readPath`). */
const PLAIN_PATH = /^\s*[\p{L}_][\p{L}\p{N}_]*(?:\.[\p{L}_][\p{L}\p{N}_]*)*\s*$/u;
const KEYWORDS = new Set(['and', 'or', 'in', 'true', 'false', 'null', 'function']);
/**
 * `path op literal`, the usual filter and `if` (`=stage = "won"`, `=amount >= 1000000`): answered
 * directly when the value is a plain number, text, boolean or null (see `compareDirect`).
 */
const COMPARE =
  /^\s*([\p{L}_][\p{L}\p{N}_]*(?:\.[\p{L}_][\p{L}\p{N}_]*)*)\s*(!=|<=|>=|=|<|>)\s*("[^"\\]*"|'[^'\\]*'|-?\d+(?:\.\d+)?|true|false|null)\s*$/u;
/** Marks "not answerable directly, ask JSONata". */
const FALLBACK: unique symbol = Symbol('fallback');

/** Per-evaluation state shared by all expressions of one template. */
interface Scope {
  ctx: ExprContext;
  tables?: ValueTables;
  /** The context with the event's fields merged under it, built only when a bare name needs it. */
  merged?: Record<string, unknown>;
  table?: (name: unknown, value: unknown) => unknown;
}

class Expression implements CompiledExpression {
  readonly source: string;
  readonly refs: ExpressionRefs;
  private readonly compiled: jsonata.Expression;
  /** Top-level names read (first steps of paths); those missing from the context read the event. */
  private readonly roots: string[];
  private readonly usesTable: boolean;
  private readonly path?: string[];
  private readonly comparison?: { path: string[]; op: string; literal: string | number | boolean | null };

  constructor(source: string) {
    this.source = source;
    try {
      this.compiled = jsonata(source, EXPRESSION_LIMITS);
    } catch (err) {
      const e = err as { message?: string; position?: number; code?: string };
      throw new ExpressionSyntaxError(source, e.message ?? String(err), e.position, e.code);
    }
    for (const [name, fn] of Object.entries(EXPRESSION_FUNCTIONS)) {
      this.compiled.registerFunction(name, fn.impl, fn.signature);
    }
    const analysis = analyse(this.compiled.ast() as AstNode);
    this.refs = { steps: analysis.steps, tables: analysis.tables, functions: analysis.functions };
    this.roots = analysis.roots;
    this.usesTable = analysis.usesTable;
    if (PLAIN_PATH.test(source)) {
      const path = source.trim().split('.');
      if (!path.some((p) => KEYWORDS.has(p))) this.path = path;
    }
    const cmp = COMPARE.exec(source);
    if (cmp) {
      const path = cmp[1].split('.');
      const lit = cmp[3];
      const literal = lit.startsWith("'")
        ? lit.slice(1, -1)
        : (JSON.parse(lit) as string | number | boolean | null);
      if (!path.some((p) => KEYWORDS.has(p))) this.comparison = { path, op: cmp[2], literal };
    }
  }

  evaluate(ctx: ExprContext, tables?: ValueTables): Promise<unknown> {
    const scope: Scope = { ctx, tables };
    try {
      return Promise.resolve(this.run(scope));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Evaluates within a scope; synchronous when the fast path answers. */
  run(scope: Scope): unknown {
    if (this.path) {
      const direct = readPath(scope.ctx, this.path);
      if (direct !== FALLBACK) return direct;
    }
    if (this.comparison) {
      const c = this.comparison;
      const direct = compareDirect(readPath(scope.ctx, c.path), c.op, c.literal);
      if (direct !== FALLBACK) return direct;
    }
    const ctx = scope.ctx;
    let input: Record<string, unknown> = ctx;
    for (const name of this.roots) {
      if (!Object.hasOwn(ctx, name)) {
        input = scope.merged ??= mergeEvent(ctx);
        break;
      }
    }
    let bindings: Record<string, unknown> | undefined;
    if (this.usesTable) {
      scope.table ??= tableFunction(scope.tables);
      bindings = { table: scope.table };
    }
    return this.compiled.evaluate(input, bindings).then(normalise, (err: unknown) => {
      throw this.failure(err);
    });
  }

  private failure(err: unknown): ExpressionError {
    if (err instanceof ExpressionError) return err;
    const e = (err ?? {}) as { message?: string; position?: number; code?: string };
    return new ExpressionError(this.source, e.message ?? String(err), e.position, e.code, err);
  }
}

/**
 * Reads `a.b.c` the way JSONata would, or answers FALLBACK when JSONata's sequence rules could matter
 * (an array anywhere on the path, including at its end).
 */
function readPath(ctx: ExprContext, path: string[]): unknown {
  const first = path[0];
  let cur: unknown;
  if (Object.hasOwn(ctx, first)) {
    cur = ctx[first];
  } else {
    const event = ctx.event;
    if (event === null || typeof event !== 'object') return undefined;
    if (Array.isArray(event)) return FALLBACK;
    cur = Object.hasOwn(event, first) ? (event as Record<string, unknown>)[first] : undefined;
  }
  for (let i = 1; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) return FALLBACK;
    cur = Object.hasOwn(cur, path[i]) ? (cur as Record<string, unknown>)[path[i]] : undefined;
  }
  return Array.isArray(cur) ? FALLBACK : cur;
}

/**
 * JSONata's comparison of a value with a literal, for the cases that cannot raise an error: `=` and
 * `!=` are false when the value is missing, ordering gives nothing then; `<`, `<=`, `>`, `>=` between
 * two numbers or two texts. Objects, lists and mixed types go to JSONata (which may raise T2009/T2010).
 */
function compareDirect(value: unknown, op: string, literal: string | number | boolean | null): unknown {
  if (value === FALLBACK) return FALLBACK;
  if (value === undefined) return op === '=' || op === '!=' ? false : undefined;
  if (value !== null && typeof value === 'object') return FALLBACK;
  if (op === '=') return value === literal;
  if (op === '!=') return value !== literal;
  const bothNumbers = typeof value === 'number' && typeof literal === 'number';
  const bothTexts = typeof value === 'string' && typeof literal === 'string';
  if (!bothNumbers && !bothTexts) return FALLBACK;
  const a = value as number | string;
  const b = literal as number | string;
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function mergeEvent(ctx: ExprContext): Record<string, unknown> {
  const event = ctx.event;
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return ctx;
  return { ...(event as Record<string, unknown>), ...ctx };
}

/** `$table(name, value)`: the value's entry in the step's table; an unknown value gives null. */
function tableFunction(tables: ValueTables | undefined): (name: unknown, value: unknown) => unknown {
  const lookup = (table: Record<string, unknown>, value: unknown): unknown => {
    if (value === undefined) return undefined;
    if (Array.isArray(value)) return value.map((v) => lookup(table, v));
    const key = String(value);
    return Object.hasOwn(table, key) ? table[key] : null;
  };
  return (name, value) => {
    if (typeof name !== 'string' || !tables || !Object.hasOwn(tables, name)) {
      const known = tables ? Object.keys(tables) : [];
      throw new Error(
        `$table: unknown table ${JSON.stringify(name)}${known.length ? ` (this step has: ${known.join(', ')})` : ' (this step has no tables)'}`,
      );
    }
    return lookup(tables[name], value);
  };
}

/**
 * JSONata marks the arrays it builds with an enumerable `sequence` flag (and a few others) and builds
 * objects without a prototype; both would leak into outputs and break deep equality and ordinary object
 * methods. Values that came from the input are left as they are.
 */
function normalise(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const a = value as unknown[] & { sequence?: boolean; keepSingleton?: boolean; outerWrapper?: boolean };
    if (a.sequence !== undefined || a.keepSingleton !== undefined || a.outerWrapper !== undefined) {
      const out = new Array(a.length);
      for (let i = 0; i < a.length; i++) out[i] = normalise(a[i]);
      return out;
    }
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (v !== null && typeof v === 'object') {
        const n = normalise(v);
        if (n !== v) a[i] = n;
      }
    }
    return a;
  }
  const o = value as Record<string, unknown>;
  if (Object.getPrototypeOf(o) === null) {
    // JSONata builds objects with Object.create(null): make them ordinary objects.
    const out: Record<string, unknown> = {};
    for (const k in o) out[k] = normalise(o[k]);
    return out;
  }
  for (const k in o) {
    const v = o[k];
    if (v !== null && typeof v === 'object') {
      const n = normalise(v);
      if (n !== v) o[k] = n;
    }
  }
  return o;
}

interface Analysis extends ExpressionRefs {
  roots: string[];
  usesTable: boolean;
}

/** JSONata's syntax tree, loosely typed: its published type misses node kinds such as `path` and `bind`. */
interface AstNode {
  type: string;
  value?: unknown;
  steps?: AstNode[];
  procedure?: AstNode;
  arguments?: AstNode[];
  lhs?: unknown;
}

/** Walks JSONata's syntax tree for what validation and evaluation need to know up front. */
function analyse(ast: AstNode): Analysis {
  const steps = new Set<string>();
  const tables = new Set<string>();
  const called = new Set<string>();
  const defined = new Set<string>();
  const roots = new Set<string>();
  let usesTable = false;

  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) visit(n);
      return;
    }
    const n = node as AstNode & Record<string, unknown>;
    if (n.type === 'path' && Array.isArray(n.steps)) {
      const s = n.steps;
      let i = 0;
      // `$.steps.x` and `$$.steps.x` read the root too.
      if (s[0]?.type === 'variable' && (s[0].value === '' || s[0].value === '$')) i = 1;
      if (s[i]?.type === 'name') {
        roots.add(String(s[i].value));
        if (s[i].value === 'steps' && s[i + 1]?.type === 'name') steps.add(String(s[i + 1].value));
      }
    }
    if ((n.type === 'function' || n.type === 'partial') && n.procedure?.type === 'variable') {
      const name = String(n.procedure.value);
      called.add(name);
      if (name === 'table') {
        usesTable = true;
        const first = n.arguments?.[0];
        if (first?.type === 'string') tables.add(String(first.value));
      }
    }
    if (n.type === 'bind' && (n.lhs as AstNode | undefined)?.type === 'variable') {
      defined.add(String((n.lhs as AstNode).value));
    }
    if (n.type === 'lambda' && Array.isArray(n.arguments)) {
      for (const a of n.arguments) defined.add(String(a.value));
    }
    for (const key in n) {
      if (key === 'type' || key === 'value' || key === 'position') continue;
      const child = n[key];
      if (child !== null && typeof child === 'object') visit(child);
    }
  };
  visit(ast);
  // Block-local and lambda variables may shadow anything, `$table` included.
  if (defined.has('table')) usesTable = true;
  return {
    steps: [...steps],
    tables: [...tables],
    functions: [...called].filter((f) => !defined.has(f)),
    roots: [...roots],
    usesTable,
  };
}

const CACHE_LIMIT = 10_000;
const cache = new Map<string, Expression>();

function stripEquals(src: string): string {
  return src.charCodeAt(0) === 61 ? src.slice(1) : src;
}

/**
 * Compiles an expression once; later calls with the same source return the cached compilation. The
 * leading `=` is optional. Throws ExpressionSyntaxError with JSONata's message and position.
 */
export function compileExpression(src: string): CompiledExpression {
  return compileInternal(stripEquals(src));
}

function compileInternal(source: string): Expression {
  let e = cache.get(source);
  if (!e) {
    e = new Expression(source);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(source, e);
  }
  return e;
}

/** Evaluates one expression (`=` optional) against a context. Rejects with ExpressionError. */
export function evaluateExpression(src: string, ctx: ExprContext, tables?: ValueTables): Promise<unknown> {
  try {
    return compileExpression(src).evaluate(ctx, tables);
  } catch (err) {
    return Promise.reject(err);
  }
}

/** A template compiled into a closure; see `compileTemplate`. */
export type CompiledTemplate = (ctx: ExprContext, tables?: ValueTables) => Promise<unknown>;

type Node = (scope: Scope) => unknown;

const templates = new WeakMap<object, CompiledTemplate>();

/**
 * Compiles a value whose strings may be expressions: objects and arrays are walked, `=…` strings
 * evaluated, `==…` unescaped to `=…`, everything else kept. In objects a key whose expression gives
 * `undefined` is left out (as JSON would); in arrays it becomes null. Literal objects and arrays are
 * copied on every evaluation, so callers may mutate what they get.
 */
export function compileTemplate(value: unknown): CompiledTemplate {
  const node = compileNode(value);
  return (ctx, tables) => {
    try {
      return Promise.resolve(node({ ctx, tables }));
    } catch (err) {
      return Promise.reject(err);
    }
  };
}

/**
 * Evaluates a template (see `compileTemplate`); the compilation is cached per object, so calling this
 * again with the same step input costs no compile.
 */
export function evaluateTemplate(value: unknown, ctx: ExprContext, tables?: ValueTables): Promise<unknown> {
  if (typeof value === 'string') {
    if (isExpression(value)) return evaluateExpression(value, ctx, tables);
    return Promise.resolve(unescapeLiteral(value));
  }
  if (value === null || typeof value !== 'object') return Promise.resolve(value);
  let t = templates.get(value);
  if (!t) {
    try {
      t = compileTemplate(value);
    } catch (err) {
      return Promise.reject(err);
    }
    templates.set(value, t);
  }
  return t(ctx, tables);
}

function unescapeLiteral(s: string): string {
  return s.startsWith('==') ? s.slice(1) : s;
}

/** A compiled node, or the literal value itself when there is nothing to evaluate below it. */
function compileNode(value: unknown): Node {
  if (typeof value === 'string') {
    if (isExpression(value)) {
      const e = compileInternal(value.slice(1));
      return (scope) => e.run(scope);
    }
    const s = unescapeLiteral(value);
    return () => s;
  }
  if (!hasExpression(value)) {
    const copy = literalCopier(value);
    return copy;
  }
  if (Array.isArray(value)) {
    const items = value.map(compileNode);
    return (scope) => {
      const out = new Array(items.length);
      let pending = false;
      for (let i = 0; i < items.length; i++) {
        const v = items[i](scope);
        if (v instanceof Promise) pending = true;
        out[i] = v;
      }
      const finish = (vals: unknown[]) => {
        for (let i = 0; i < vals.length; i++) if (vals[i] === undefined) vals[i] = null;
        return vals;
      };
      return pending ? Promise.all(out).then(finish) : finish(out);
    };
  }
  const keys = Object.keys(value as object);
  const nodes = keys.map((k) => compileNode((value as Record<string, unknown>)[k]));
  return (scope) => {
    const vals = new Array(keys.length);
    let pending = false;
    for (let i = 0; i < keys.length; i++) {
      const v = nodes[i](scope);
      if (v instanceof Promise) pending = true;
      vals[i] = v;
    }
    const finish = (vs: unknown[]) => {
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) if (vs[i] !== undefined) out[keys[i]] = vs[i];
      return out;
    };
    return pending ? Promise.all(vals).then(finish) : finish(vals);
  };
}

function hasExpression(value: unknown): boolean {
  // `=…` is evaluated and `==…` unescaped: both need a compiled node.
  if (typeof value === 'string') return value.charCodeAt(0) === 61;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasExpression);
  if (!isPlainObject(value)) return false;
  for (const k in value as object) if (hasExpression((value as Record<string, unknown>)[k])) return true;
  return false;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A function returning a fresh copy of a literal value (primitives are returned as they are). */
function literalCopier(value: unknown): Node {
  if (value === null || typeof value !== 'object') return () => value;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) return () => value.slice();
    const items = value.map(literalCopier);
    return (scope) => items.map((f) => f(scope));
  }
  if (!isPlainObject(value)) return () => value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.every(([, v]) => v === null || typeof v !== 'object')) {
    return () => ({ ...(value as Record<string, unknown>) });
  }
  const keys = entries.map(([k]) => k);
  const copiers = entries.map(([, v]) => literalCopier(v));
  return (scope) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) out[keys[i]] = copiers[i](scope);
    return out;
  };
}
