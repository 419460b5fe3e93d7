/**
 * Reads: query v2 (`GET /rest/data/v2/query?q=`, spec 4.10), XOQL (`POST /rest/data/v2.0/query/xoql`,
 * 4.11) and XOQL scroll (`POST /rest/data/v2.0/query/xoqlScroll`, 4.12), each with its own envelope,
 * restrictions and id serialisation.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { ok, okResult } from './envelope.ts';
import type { FieldDef, ObjectDef } from './metadata.ts';
import {
  type Expr,
  fieldsOf,
  type Literal,
  likePatterns,
  parseStatement,
  QuerySyntaxError,
  type Statement,
} from './query-language.ts';
import { type Actor, canSee, toWire, uniqueIndex, wireId } from './records.ts';
import { fail, now, objectByQueryName, type Rec, type Tenant } from './state.ts';

type Dialect = 'query' | 'xoql';

interface Resolved {
  value: unknown;
  field?: FieldDef;
}

/** Compares decimal id strings without BigInt: longer is larger, then lexical. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Follows a dotted path (`ownerId.name`, `dimDepart.departName`, `accountId.accountName`), spec 4.11. */
function resolve(t: Tenant, def: ObjectDef, rec: Rec, path: string): Resolved {
  const dot = path.indexOf('.');
  if (dot < 0) return { value: rec[path], field: def.byKey.get(path) };
  const head = path.slice(0, dot);
  const rest = path.slice(dot + 1);
  const f = def.byKey.get(head);
  const id = rec[head];
  if (!f || typeof id !== 'string') return { value: undefined };
  if (f.kind === 'entityType') {
    const bt = def.busiTypes.find((b) => b.id === id);
    const v = bt
      ? ({ id: bt.id, name: bt.label, label: bt.label, apiKey: bt.apiKey } as Rec)[rest]
      : undefined;
    return { value: v };
  }
  const targetDef = f.referTo ? t.meta.get(f.referTo) : undefined;
  const target = targetDef ? t.records.get(targetDef.apiKey)!.get(id) : undefined;
  if (!targetDef || !target) return { value: undefined };
  // `<ref>.name` names the target's name field when it has no `name` field (spec 4.11).
  const next = rest === 'name' && !targetDef.byKey.has('name') ? targetDef.nameField : rest;
  return resolve(t, targetDef, target, next);
}

/** Checks that a (possibly dotted) path exists in the metadata; returns the leaf field. */
function checkPath(t: Tenant, def: ObjectDef, path: string): FieldDef | undefined {
  const parts = path.split('.');
  let cur: ObjectDef | undefined = def;
  for (let i = 0; i < parts.length; i++) {
    const f: FieldDef | undefined = cur?.byKey.get(parts[i]);
    if (!f) {
      if (i > 0 && parts[i] === 'name' && cur) return cur.byKey.get(cur.nameField);
      if (i > 0 && cur === undefined) return undefined;
      throw fail.query(`字段[${parts.slice(0, i + 1).join('.')}]不存在`);
    }
    if (i === parts.length - 1) return f;
    if (f.kind === 'entityType') {
      if (!['id', 'name', 'label', 'apiKey'].includes(parts[i + 1]) || i + 2 !== parts.length) {
        throw fail.query(`字段[${path}]不存在`);
      }
      return undefined;
    }
    if (f.kind !== 'lookup' || !f.referTo)
      throw fail.query(`字段[${parts.slice(0, i + 1).join('.')}]不是关联字段`);
    cur = t.meta.get(f.referTo);
  }
  return undefined;
}

function literalNumber(l: Literal): number | undefined {
  if (l.kind === 'number') return Number(l.text);
  if (l.kind === 'string' && l.value.trim() !== '' && Number.isFinite(Number(l.value)))
    return Number(l.value);
  return undefined;
}

function literalId(l: Literal): string | undefined {
  const s = l.kind === 'number' ? l.text : l.kind === 'string' ? l.value : undefined;
  return s && /^\d+$/.test(s) ? s.replace(/^0+(?=\d)/, '') : undefined;
}

/** A literal with its numeric and id readings worked out once per statement. */
interface Prepped {
  lit: Literal;
  num: number | undefined;
  id: string | undefined;
}

const prep = (lit: Literal): Prepped => ({ lit, num: literalNumber(lit), id: literalId(lit) });

/** -1/0/1, or undefined when the two cannot be compared (null, type mismatch). */
function compare(value: unknown, field: FieldDef | undefined, p: Prepped): number | undefined {
  const lit = p.lit;
  if (value === undefined || value === null || lit.kind === 'null') return undefined;
  const kind = field?.kind;
  if (kind === 'id' || kind === 'lookup' || kind === 'entityType') {
    return p.id === undefined || typeof value !== 'string' ? undefined : Math.sign(compareIds(value, p.id));
  }
  if (typeof value === 'number') return p.num === undefined ? undefined : Math.sign(value - p.num);
  if (typeof value === 'boolean') {
    const b = lit.kind === 'bool' ? lit.value : lit.kind === 'number' ? lit.text === '1' : undefined;
    return b === undefined ? undefined : value === b ? 0 : 1;
  }
  if (Array.isArray(value)) return value.includes(p.num) ? 0 : 1;
  const s =
    lit.kind === 'string'
      ? lit.value
      : lit.kind === 'number'
        ? lit.text
        : String((lit as { value?: unknown }).value);
  const v = String(value);
  return v < s ? -1 : v > s ? 1 : 0;
}

function likeRegex(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'is');
}

function compile(t: Tenant, def: ObjectDef, e: Expr): (rec: Rec) => boolean {
  switch (e.kind) {
    case 'and': {
      const l = compile(t, def, e.left);
      const r = compile(t, def, e.right);
      return (rec) => l(rec) && r(rec);
    }
    case 'or': {
      const l = compile(t, def, e.left);
      const r = compile(t, def, e.right);
      return (rec) => l(rec) || r(rec);
    }
    case 'not': {
      const inner = compile(t, def, e.expr);
      return (rec) => !inner(rec);
    }
    case 'cmp': {
      const { op } = e;
      const lit = prep(e.value);
      const plain = !e.field.includes('.');
      const f = plain ? def.byKey.get(e.field) : undefined;
      return (rec) => {
        const r = plain ? { value: rec[e.field], field: f } : resolve(t, def, rec, e.field);
        const c = compare(r.value, r.field, lit);
        if (c === undefined) return false;
        return op === '='
          ? c === 0
          : op === '!='
            ? c !== 0
            : op === '>'
              ? c > 0
              : op === '<'
                ? c < 0
                : op === '>='
                  ? c >= 0
                  : c <= 0;
      };
    }
    case 'like': {
      const re = likeRegex(e.pattern);
      return (rec) => {
        const v = resolve(t, def, rec, e.field).value;
        const hit = v !== undefined && v !== null && re.test(String(v));
        return e.not ? !hit && v !== undefined && v !== null : hit;
      };
    }
    case 'in': {
      const values = e.values.map(prep);
      return (rec) => {
        const r = resolve(t, def, rec, e.field);
        if (r.value === undefined || r.value === null) return false;
        const hit = values.some((l) => compare(r.value, r.field, l) === 0);
        return e.not ? !hit : hit;
      };
    }
    case 'null':
      return (rec) => {
        const v = resolve(t, def, rec, e.field).value;
        const isNull = v === undefined || v === null || v === '';
        return e.not ? !isNull : isNull;
      };
    case 'between': {
      const low = prep(e.low);
      const high = prep(e.high);
      return (rec) => {
        const r = resolve(t, def, rec, e.field);
        const lo = compare(r.value, r.field, low);
        const hi = compare(r.value, r.field, high);
        const hit = lo !== undefined && hi !== undefined && lo >= 0 && hi <= 0;
        return e.not ? !hit && lo !== undefined : hit;
      };
    }
  }
}

/** Field kinds query v2 refuses in `where` (spec 4.10, from the neo-open-api README). */
const V2_WHERE_FORBIDDEN = new Set<FieldDef['kind']>(['multipicklist', 'textarea', 'lookup']);

interface Prepared {
  def: ObjectDef;
  st: Statement;
  match: (rec: Rec) => boolean;
}

function prepare(t: Tenant, text: string, dialect: Dialect): Prepared {
  if (!text?.trim()) throw fail.query('查询语句不能为空');
  let st: Statement;
  try {
    st = parseStatement(text);
  } catch (err) {
    if (err instanceof QuerySyntaxError) throw fail.query(err.message);
    throw err;
  }
  const def =
    dialect === 'query'
      ? objectByQueryName(t, st.object)
      : (objectByQueryName(t, st.object) ?? t.meta.get(st.object));
  if (!def) {
    const hint = st.object === 'order' ? '，订单对象请使用 _order' : '';
    throw fail.query(`对象[${st.object}]不存在${hint}`);
  }
  if (st.star) throw fail.query('不支持 select *，请明确列出查询字段');
  if (st.hasSubquery) throw fail.query('不支持子查询');
  for (const item of st.items) {
    if (dialect === 'query' && item.path.includes('.'))
      throw fail.query(`不支持关联字段[${item.path}]，请使用XOQL`);
    if (dialect === 'query' && item.alias) throw fail.query('不支持字段别名，请使用XOQL');
    checkPath(t, def, item.path);
  }
  for (const path of fieldsOf(st.where)) {
    if (dialect === 'query' && path.includes('.')) throw fail.query(`不支持关联字段[${path}]作为查询条件`);
    const f = checkPath(t, def, path);
    if (dialect === 'query' && f && V2_WHERE_FORBIDDEN.has(f.kind)) {
      throw fail.query(`字段[${path}]的类型不支持作为查询条件`);
    }
  }
  if (dialect === 'query') {
    // `like` only with a trailing wildcard; XOQL accepts any position (spec 4.10, 4.11).
    for (const p of likePatterns(st.where)) {
      if (p.slice(0, -1).includes('%')) throw fail.query(`like 只支持后缀通配符(如 '华%')：'${p}'`);
    }
    for (const o of st.orderBy) if (o.field !== 'id') throw fail.query('order by 只支持 id 字段');
  } else {
    for (const o of st.orderBy) {
      if (o.field.includes('.')) throw fail.query(`不支持按关联字段[${o.field}]排序`);
      checkPath(t, def, o.field);
    }
  }
  const match = st.where ? compile(t, def, st.where) : () => true;
  return { def, st, match };
}

/** The `updatedAt` bounds a condition imposes on every match (its top-level `and` terms), if any. */
function timeBounds(e: Expr | undefined): { lo: number; hi: number } | undefined {
  if (!e) return undefined;
  if (e.kind === 'and') {
    const a = timeBounds(e.left);
    const b = timeBounds(e.right);
    if (!a) return b;
    if (!b) return a;
    return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
  }
  const num = (l: Literal) => literalNumber(l);
  if (e.kind === 'cmp' && e.field === 'updatedAt') {
    const n = num(e.value);
    if (n === undefined) return undefined;
    if (e.op === '=') return { lo: n, hi: n };
    if (e.op === '>=') return { lo: n, hi: Number.POSITIVE_INFINITY };
    if (e.op === '>') return { lo: Math.floor(n) + 1, hi: Number.POSITIVE_INFINITY };
    if (e.op === '<=') return { lo: Number.NEGATIVE_INFINITY, hi: n };
    if (e.op === '<') return { lo: Number.NEGATIVE_INFINITY, hi: Math.ceil(n) - 1 };
  }
  if (e.kind === 'between' && !e.not && e.field === 'updatedAt') {
    const lo = num(e.low);
    const hi = num(e.high);
    if (lo !== undefined && hi !== undefined) return { lo, hi };
  }
  return undefined;
}

/** Index-assisted candidates (a database would use its indexes): unique-field equality, updatedAt ranges. */
function candidates(t: Tenant, p: Prepared): Iterable<Rec> {
  const store = t.records.get(p.def.apiKey)!;
  const w = p.st.where;
  if (w?.kind === 'cmp' && w.op === '=' && w.value.kind === 'string' && !w.field.includes('.')) {
    const f = p.def.byKey.get(w.field);
    if (f?.unique && f.kind !== 'lookup') {
      const id = uniqueIndex(t, p.def, f).get(w.value.value);
      const rec = id === undefined ? undefined : store.get(id);
      return rec ? [rec] : [];
    }
  }
  const bounds = store.size > 1000 ? timeBounds(p.st.where) : undefined;
  if (!bounds) return store.values();
  const version = t.versions.get(p.def.apiKey) ?? 0;
  let idx = t.timeIndex.get(p.def.apiKey);
  if (!idx || idx.version !== version) {
    const recs = [...store.values()].sort((a, b) => (a.updatedAt as number) - (b.updatedAt as number));
    idx = { version, times: recs.map((r) => r.updatedAt as number), recs };
    t.timeIndex.set(p.def.apiKey, idx);
  }
  const first = (x: number) => {
    let lo = 0;
    let hi = idx.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (idx.times[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const start = first(bounds.lo);
  const end = bounds.hi === Number.POSITIVE_INFINITY ? idx.times.length : first(bounds.hi + 1);
  return idx.recs.slice(start, Math.max(start, end));
}

/** Visible matching records, in id order unless the statement orders otherwise. */
function select(t: Tenant, p: Prepared, actor: Actor): Rec[] {
  const out: Rec[] = [];
  for (const rec of candidates(t, p)) {
    if (p.match(rec) && canSee(t, actor, p.def.apiKey, rec)) out.push(rec);
  }
  const order = p.st.orderBy.length ? p.st.orderBy : [{ field: 'id', desc: false }];
  // Records are stored in id order as a rule (ids only grow), so the usual `order by id asc` is a check.
  if (order.length === 1 && order[0].field === 'id' && !order[0].desc && isIdSorted(out)) return out;
  out.sort((a, b) => {
    for (const o of order) {
      const x = a[o.field];
      const y = b[o.field];
      let c: number;
      if (
        o.field === 'id' ||
        (typeof x === 'string' && typeof y === 'string' && /^\d+$/.test(x) && /^\d+$/.test(y))
      ) {
        c = compareIds(String(x), String(y));
      } else if (x === undefined || x === null) c = y === undefined || y === null ? 0 : -1;
      else if (y === undefined || y === null) c = 1;
      else c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return o.desc ? -c : c;
    }
    return 0;
  });
  return out;
}

function isIdSorted(rows: Rec[]): boolean {
  for (let i = 1; i < rows.length; i++)
    if (compareIds(rows[i - 1].id as string, rows[i].id as string) > 0) return false;
  return true;
}

function xoqlRow(t: Tenant, p: Prepared, rec: Rec): Rec {
  const row: Rec = {};
  for (const item of p.st.items) {
    const key = item.alias ?? item.path;
    const r = item.path.includes('.')
      ? resolve(t, p.def, rec, item.path)
      : { value: rec[item.path], field: p.def.byKey.get(item.path) };
    const k = r.field?.kind;
    // XOQL returns ids as strings (spec 4.11).
    row[key] =
      r.value === undefined
        ? null
        : (k === 'id' || k === 'lookup' || k === 'entityType') && typeof r.value === 'string'
          ? wireId(r.value, 'string')
          : r.value;
  }
  return row;
}

/** Runs a query v2 statement: `{totalSize, count, records}` with at most `ceiling` rows (spec 4.10, 7). */
export function queryRows(t: Tenant, statement: string, actor: Actor, ceiling: number): Rec {
  const p = prepare(t, statement, 'query');
  let { offset, size } = p.st.limit ?? { offset: 0, size: ceiling };
  if (size > ceiling) {
    if (t.config.queryPageOverflow === 'error') throw fail.query(`每页最多查询${ceiling}条数据`);
    size = ceiling;
  }
  const all = select(t, p, actor);
  const page = all.slice(offset, offset + size);
  const fields = p.st.items.map((i) => i.path);
  const ids = t.config.idsAsStrings ? 'string' : 'number';
  return {
    totalSize: all.length,
    count: page.length,
    records: page.map((r) => toWire(p.def, r, ids, fields)),
  };
}

/** `GET /rest/data/v2/query?q=` → `{"code": 200, "result": {totalSize, count, records}}` (spec 3.2, 4.10). */
export function queryV2(t: Tenant, statement: string, actor: Actor): SandboxReply {
  return okResult(queryRows(t, statement, actor, t.config.queryPageSize));
}

/** `POST /rest/data/v2.0/query/xoql` → string-code envelope, dotted keys, ids as strings (spec 4.11). */
export function xoql(t: Tenant, statement: string, actor: Actor): SandboxReply {
  const p = prepare(t, statement, 'xoql');
  const max = t.config.xoqlMaxRows;
  const { offset, size } = p.st.limit ?? { offset: 0, size: max };
  if (size > max) throw fail.query(`XOQL每次最多查询${max}条数据`);
  const all = select(t, p, actor);
  const page = all.slice(offset, offset + size);
  return ok({ totalSize: all.length, count: page.length, records: page.map((r) => xoqlRow(t, p, r)) });
}

/**
 * `POST /rest/data/v2.0/query/xoqlScroll`: the first call snapshots the matching ids; each call returns
 * `batchCount` rows and a top-level `queryLocator`, empty on the last batch (spec 4.12, 10.8).
 */
export function xoqlScroll(
  t: Tenant,
  statement: string,
  batchCount: number,
  locator: string,
  actor: Actor,
): SandboxReply {
  const p = prepare(t, statement, 'xoql');
  const at = now(t);
  for (const [k, s] of t.scrolls) if (s.expiresAt <= at) t.scrolls.delete(k);
  let state = locator ? t.scrolls.get(locator) : undefined;
  if (locator && (!state || state.statement !== statement))
    throw fail.query('queryLocator 无效或已过期，请重新发起查询');
  if (!state) {
    state = {
      object: p.def.apiKey,
      statement,
      ids: select(t, p, actor).map((r) => r.id as string),
      pos: 0,
      expiresAt: 0,
    };
  }
  const n = Math.max(
    1,
    Math.min(Number.isFinite(batchCount) && batchCount > 0 ? batchCount : 2000, t.config.scrollMaxBatch),
  );
  const store = t.records.get(p.def.apiKey)!;
  const rows: Rec[] = [];
  while (state.pos < state.ids.length && rows.length < n) {
    const rec = store.get(state.ids[state.pos++]);
    if (rec) rows.push(xoqlRow(t, p, rec));
  }
  if (locator) t.scrolls.delete(locator);
  let next = '';
  if (state.pos < state.ids.length) {
    next = Buffer.from(`scroll-${t.tenantId}-${randomBytes(12).toString('hex')}`).toString('base64');
    state.expiresAt = at + t.config.scrollTtlMs;
    t.scrolls.set(next, state);
  }
  return ok({ totalSize: state.ids.length, count: rows.length, records: rows }, { queryLocator: next });
}

/** The statement of a form, JSON or query-string request (`xoql=…`, spec 1.2). */
export function formParams(req: SandboxRequest): URLSearchParams {
  const text = req.rawBody.toString('utf8');
  const params = new URLSearchParams(req.query);
  if (text.trim().startsWith('{')) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, unknown>))
        params.set(k, String(v ?? ''));
    } catch {
      // Malformed JSON: the statement is then missing and the caller answers with a failure.
    }
  } else if (text) for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
  return params;
}
