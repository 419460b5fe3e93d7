/**
 * ExecuteBillQuery and BillQuery (spec 4.4, 9.8): FieldKeys with references (`FCustId.FNumber`),
 * entry ids (`FSaleOrderEntry_FEntryID`) and entry fields (one row per entry line), FilterString in
 * both forms, OrderString, StartRow / Limit / TopRowCount. Rows are arrays (ExecuteBillQuery) or
 * objects keyed by the requested key text (BillQuery); errors come back inside `[[…]]`.
 */
import { pick } from './body.ts';
import { normaliseLocal } from './clock.ts';
import type { EntryRow, StoredRecord, Table } from './db.ts';
import { KdFailure, MsgCode } from './envelope.ts';
import {
  type FilterNode,
  filterFields,
  type Operand,
  parseFilterArray,
  parseFilterString,
} from './filter.ts';
import type { EntityDef, FieldDef, FieldKind } from './forms.ts';
import type { KingdeeState } from './state.ts';

type ValueKind = FieldKind | 'id';

interface RowCtx {
  rec: StoredRecord;
  rows: Map<string, EntryRow | null>;
}

interface Column {
  key: string;
  entity?: EntityDef;
  kind: ValueKind;
  /** The raw stored value (ids for references). */
  raw(ctx: RowCtx): unknown;
  /** The value as the query prints it. */
  out(ctx: RowCtx): unknown;
}

export function fieldMissing(key: string): KdFailure {
  return new KdFailure(MsgCode.fieldNotFound, `元数据中标识为${key}的字段不存在`);
}

/** Formats a stored value the way queries print it (spec 4.4 "Value types"). */
export function displayValue(field: FieldDef, value: unknown): unknown {
  switch (field.kind) {
    case 'int':
    case 'decimal':
      return Number(value ?? 0);
    case 'ref':
    case 'assistant':
    case 'dynref':
      return typeof value === 'number' ? value : 0;
    case 'bool':
      return value === true;
    case 'date':
      return typeof value === 'string' ? `${value.slice(0, 10)}T00:00:00` : null;
    case 'datetime':
      return typeof value === 'string' ? trimMillis(value) : null;
    default:
      return value ?? null;
  }
}

/** `2025-03-01T10:00:00.000` → `2025-03-01T10:00:00`; other fractions stay. */
export function trimMillis(v: string): string {
  return v.endsWith('.000') ? v.slice(0, -4) : v;
}

function refTarget(field: FieldDef, values: Record<string, unknown>): string | undefined {
  if (field.kind === 'dynref') return String(values[field.ref!] ?? '') || undefined;
  return field.ref;
}

/** Resolves one field key of `t`'s form to a column, or throws MsgCode 9. */
export function column(state: KingdeeState, t: Table, key: string): Column {
  const form = t.form;
  const lower = key.trim().toLowerCase();
  if (lower === form.pk.toLowerCase()) {
    return { key, kind: 'id', raw: (c) => c.rec.id, out: (c) => c.rec.id };
  }
  const dot = lower.indexOf('.');
  if (dot > 0) {
    const base = form.places.get(lower.slice(0, dot));
    const sub = key.trim().slice(dot + 1);
    if (!base || (base.where !== 'head' && base.where !== 'sub' && base.where !== 'entry'))
      throw fieldMissing(key);
    const field = base.field;
    if (!['ref', 'assistant', 'dynref'].includes(field.kind) || sub.includes('.')) throw fieldMissing(key);
    const entity = base.where === 'entry' ? base.entity : undefined;
    const values = (c: RowCtx) => (entity ? (c.rows.get(entity.key)?.values ?? null) : c.rec.values);
    const target = (c: RowCtx): StoredRecord | undefined => {
      const vals = values(c);
      if (!vals) return undefined;
      const formId = refTarget(field, c.rec.values);
      const id = vals[field.key];
      return formId && typeof id === 'number' ? state.db.get(formId, id) : undefined;
    };
    const subLower = sub.toLowerCase();
    const staticTarget = field.kind === 'dynref' ? undefined : state.db.table(field.ref!);
    let targetField: FieldDef | undefined;
    if (staticTarget) {
      const p = staticTarget.form.places.get(subLower);
      if (p && (p.where === 'head' || p.where === 'sub')) targetField = p.field;
      else if (subLower !== 'fdatavalue' && subLower !== staticTarget.form.pk.toLowerCase())
        throw fieldMissing(key);
    }
    const kind: ValueKind = targetField?.kind ?? (subLower.endsWith('id') ? 'id' : 'text');
    const read = (c: RowCtx) => {
      const rec = target(c);
      if (!rec) return null;
      if (subLower === 'fdatavalue') return rec.values.FName ?? null;
      const t2 = state.db.table(refTarget(field, c.rec.values) ?? '');
      if (t2 && subLower === t2.form.pk.toLowerCase()) return rec.id;
      const p = t2?.form.places.get(subLower);
      return p && (p.where === 'head' || p.where === 'sub') ? (rec.values[p.field.key] ?? null) : null;
    };
    return {
      key,
      entity,
      kind,
      raw: read,
      out: (c) => {
        const v = read(c);
        return targetField && v !== null ? displayValue(targetField, v) : v;
      },
    };
  }
  const place = form.places.get(lower);
  if (!place) throw fieldMissing(key);
  switch (place.where) {
    case 'head':
    case 'sub': {
      const field = place.field;
      return {
        key,
        kind: field.kind,
        raw: (c) => c.rec.values[field.key] ?? null,
        out: (c) => displayValue(field, c.rec.values[field.key]),
      };
    }
    case 'entry': {
      const { entity, field } = place;
      return {
        key,
        entity,
        kind: field.kind,
        raw: (c) => c.rows.get(entity.key)?.values[field.key] ?? null,
        out: (c) => {
          const row = c.rows.get(entity.key);
          return row ? displayValue(field, row.values[field.key]) : null;
        },
      };
    }
    case 'entrypk':
      return {
        key,
        entity: place.entity,
        kind: 'id',
        raw: (c) => c.rows.get(place.entity.key)?.id ?? null,
        out: (c) => c.rows.get(place.entity.key)?.id ?? 0,
      };
    case 'entryseq':
      return {
        key,
        entity: place.entity,
        kind: 'int',
        raw: (c) => c.rows.get(place.entity.key)?.seq ?? null,
        out: (c) => c.rows.get(place.entity.key)?.seq ?? 0,
      };
  }
}

const NUMERIC: ReadonlySet<ValueKind> = new Set(['int', 'decimal', 'ref', 'assistant', 'dynref', 'id']);

const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$/;

/** `normaliseLocal` with a fast path for stored stamps, which are already in that form. */
function stamp(v: string): string | undefined {
  return STAMP.test(v) ? v : normaliseLocal(v);
}

/** SQL Server compares text case-insensitively under K/3's default collation. */
function compareValues(kind: ValueKind, a: unknown, b: unknown): number | undefined {
  if (a === null || a === undefined || b === null || b === undefined) return undefined;
  if (kind === 'date' || kind === 'datetime') {
    const x = stamp(String(a));
    const y = stamp(String(b));
    if (!x || !y) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (NUMERIC.has(kind) || kind === 'bool') {
    const x = typeof a === 'boolean' ? Number(a) : Number(a);
    const y = typeof b === 'boolean' ? Number(b) : Number(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return undefined;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = String(a).toLowerCase();
  const y = String(b).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

type Evaluator = (c: RowCtx) => boolean;

function compileFilter(node: FilterNode, col: (key: string) => Column): Evaluator {
  type Side = { kind?: ValueKind; lit?: string | number; get: (c: RowCtx) => unknown };
  const operand = (o: Operand): Side => {
    if (o.kind === 'lit') return { lit: o.value, get: () => o.value };
    const c = col(o.key);
    return { kind: c.kind, get: c.raw };
  };
  /** A date literal compared with a date field is normalised once, not per row. */
  const fix = (side: Side, kind: ValueKind): Side => {
    if (side.lit === undefined || (kind !== 'date' && kind !== 'datetime')) return side;
    const v = normaliseLocal(String(side.lit)) ?? String(side.lit);
    return { ...side, get: () => v };
  };
  const cmp = (l: Side, r: Side) => {
    const kind = l.kind ?? r.kind ?? 'text';
    const a = fix(l, kind);
    const b = fix(r, kind);
    return (c: RowCtx) => compareValues(kind, a.get(c), b.get(c));
  };
  switch (node.type) {
    case 'true':
      return () => true;
    case 'and': {
      const items = node.items.map((n) => compileFilter(n, col));
      return (c) => items.every((f) => f(c));
    }
    case 'or': {
      const items = node.items.map((n) => compileFilter(n, col));
      return (c) => items.some((f) => f(c));
    }
    case 'not': {
      const inner = compileFilter(node.item, col);
      return (c) => !inner(c);
    }
    case 'cmp': {
      const d = cmp(operand(node.left), operand(node.right));
      const op = node.op;
      return (c) => {
        const r = d(c);
        if (r === undefined) return false;
        switch (op) {
          case '=':
            return r === 0;
          case '<>':
            return r !== 0;
          case '>':
            return r > 0;
          case '>=':
            return r >= 0;
          case '<':
            return r < 0;
          case '<=':
            return r <= 0;
        }
      };
    }
    case 'like': {
      const l = operand(node.left);
      const p = operand(node.pattern);
      const cache = new Map<string, RegExp>();
      return (c) => {
        const v = l.get(c);
        const pat = p.get(c);
        if (v === null || v === undefined || pat === null || pat === undefined) return false;
        const key = String(pat);
        let re = cache.get(key);
        if (!re) {
          const body = key
            .replace(/[.*+?^${}()|\\]/g, '\\$&')
            .replace(/%/g, '.*')
            .replace(/_/g, '.');
          re = new RegExp(`^${body}$`, 'is');
          cache.set(key, re);
        }
        return re.test(String(v)) !== node.negated;
      };
    }
    case 'in': {
      const l = operand(node.left);
      const kind = l.kind ?? 'text';
      const list = node.list.map((o) => fix(operand(o), kind));
      return (c) => {
        const v = l.get(c);
        if (v === null || v === undefined) return false;
        return list.some((o) => compareValues(kind, v, o.get(c)) === 0) !== node.negated;
      };
    }
    case 'null': {
      const l = operand(node.left);
      return (c) => {
        const v = l.get(c);
        const isNull = v === null || v === undefined || v === '';
        return isNull !== node.negated;
      };
    }
    case 'between': {
      const l = operand(node.left);
      const lo = cmp(l, operand(node.low));
      const hi = cmp(l, operand(node.high));
      return (c) => {
        const a = lo(c);
        const b = hi(c);
        if (a === undefined || b === undefined) return false;
        return (a >= 0 && b <= 0) !== node.negated;
      };
    }
  }
}

export interface QueryResult {
  columns: Column[];
  keys: string[];
  rows: RowCtx[];
}

/** Runs a query's data object; throws KdFailure (MsgCode 9 for a wrong key). */
export function runQuery(state: KingdeeState, data: Record<string, unknown>): QueryResult {
  const formId = String(pick(data, 'FormId') ?? '').trim();
  if (!formId) throw new KdFailure(MsgCode.formEmpty, '表单标识FormId不能为空');
  const t = state.db.table(formId);
  if (!t) throw new KdFailure(MsgCode.exception, `业务对象不存在，表单标识：${formId}`);
  const fieldKeys = String(pick(data, 'FieldKeys') ?? '').trim();
  if (!fieldKeys) throw new KdFailure(MsgCode.parameter, '查询字段FieldKeys不能为空');
  const keys = fieldKeys
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const cache = new Map<string, Column>();
  const col = (key: string) => {
    const lower = key.toLowerCase();
    let c = cache.get(lower);
    if (!c) {
      c = column(state, t, key);
      cache.set(lower, c);
    }
    return c;
  };
  const columns = keys.map(col);
  const rawFilter = pick(data, 'FilterString');
  let filter: FilterNode = { type: 'true' };
  if (Array.isArray(rawFilter)) filter = parseFilterArray(rawFilter);
  else if (typeof rawFilter === 'string' && rawFilter.trim()) filter = parseFilterString(rawFilter);
  const filterCols = filterFields(filter).map(col);
  const order = parseOrder(String(pick(data, 'OrderString') ?? ''), col);
  const entities: EntityDef[] = [];
  for (const c of [...columns, ...filterCols, ...order.map((o) => o.col)]) {
    if (c.entity && !entities.includes(c.entity)) entities.push(c.entity);
  }
  const matches = compileFilter(filter, col);
  const rows: RowCtx[] = [];
  // Ids only grow, so insertion order is id order; an equality on the key or the number uses its index.
  const records = candidates(t, filter) ?? t.records.values();
  for (const rec of records) {
    // One row per entry line when entry fields are involved; a bill without lines still gives one
    // row (a left join, as K/3's query does).
    let combos: Map<string, EntryRow | null>[] = [new Map()];
    for (const entity of entities) {
      const list: (EntryRow | null)[] = rec.entries[entity.key]?.length ? rec.entries[entity.key] : [null];
      combos = combos.flatMap((m) => list.map((r) => new Map(m).set(entity.key, r)));
    }
    for (const m of combos) {
      const ctx = { rec, rows: m };
      if (matches(ctx)) rows.push(ctx);
    }
  }
  if (order.length) {
    rows.sort((a, b) => {
      for (const o of order) {
        const r = compareNullable(o.col.kind, o.col.raw(a), o.col.raw(b));
        if (r !== 0) return o.desc ? -r : r;
      }
      return 0;
    });
  }
  const top = Number(pick(data, 'TopRowCount') ?? 0) || 0;
  const start = Math.max(0, Number(pick(data, 'StartRow') ?? 0) || 0);
  let limit = Number(pick(data, 'Limit') ?? 0) || 0;
  // Spec 8: Limit ≤ 10000 (current docs) or ≤ 2000 (older); the configured maximum caps it.
  if (limit > state.options.queryLimitMax) limit = state.options.queryLimitMax;
  let out = top > 0 ? rows.slice(0, top) : rows;
  out = limit > 0 ? out.slice(start, start + limit) : out.slice(start);
  return { columns, keys, rows: out };
}

/**
 * Records an `FID = n`, `FID in (…)`, `FNumber = '…'` or `FNumber in (…)` (alone or inside a top-level
 * AND) can match, from the indexes; undefined when the filter needs a full scan.
 */
function candidates(t: Table, filter: FilterNode): StoredRecord[] | undefined {
  const pk = t.form.pk.toLowerCase();
  const num = t.form.numberKey.toLowerCase();
  const fromNode = (n: FilterNode): StoredRecord[] | undefined => {
    let key: string | undefined;
    let values: Operand[] = [];
    if (n.type === 'cmp' && n.op === '=' && n.left.kind === 'field' && n.right.kind === 'lit') {
      key = n.left.key.toLowerCase();
      values = [n.right];
    } else if (
      n.type === 'in' &&
      !n.negated &&
      n.left.kind === 'field' &&
      n.list.every((o) => o.kind === 'lit')
    ) {
      key = n.left.key.toLowerCase();
      values = n.list;
    }
    if (key !== pk && key !== num) return undefined;
    const ids = new Set<number>();
    for (const v of values) {
      if (v.kind !== 'lit') return undefined;
      const id = key === pk ? Number(v.value) : t.byNumber.get(String(v.value).toLowerCase());
      if (id !== undefined && t.records.has(id)) ids.add(id);
    }
    return [...ids].sort((a, b) => a - b).map((id) => t.records.get(id)!);
  };
  if (filter.type === 'and') {
    for (const item of filter.items) {
      const c = fromNode(item);
      if (c) return c;
    }
    return undefined;
  }
  return fromNode(filter);
}

function compareNullable(kind: ValueKind, a: unknown, b: unknown): number {
  const an = a === null || a === undefined;
  const bn = b === null || b === undefined;
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  return compareValues(kind, a, b) ?? 0;
}

function parseOrder(text: string, col: (key: string) => Column): Array<{ col: Column; desc: boolean }> {
  const out: Array<{ col: Column; desc: boolean }> = [];
  for (const part of text.split(',')) {
    const words = part.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const dir = words[1]?.toLowerCase();
    if (words.length > 2 || (dir && dir !== 'asc' && dir !== 'desc')) {
      throw new KdFailure(MsgCode.parameter, `排序条件“${part.trim()}”格式错误`);
    }
    out.push({ col: col(words[0]), desc: dir === 'desc' });
  }
  return out;
}

/** ExecuteBillQuery: rows as arrays in FieldKeys order. */
export function executeBillQuery(state: KingdeeState, data: Record<string, unknown>): unknown[][] {
  const r = runQuery(state, data);
  return r.rows.map((row) => r.columns.map((c) => c.out(row)));
}

/** BillQuery: rows as objects keyed by the requested key text. */
export function billQuery(state: KingdeeState, data: Record<string, unknown>): Record<string, unknown>[] {
  const r = runQuery(state, data);
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [r.keys[i], c.out(row)])));
}
