/**
 * Two-way sync decisions as pure functions (DESIGN.md, "Two-way sync"). A sync *pair* joins one record
 * held by two systems — the *sides*, named by the flow (`crm`, `erp`) — through canonical field names
 * that the flow maps to and from each system's own fields. Every field has an owner, declared in the
 * flow: a side, whose value always wins (the other side's edits are put back), or `both`, where the side
 * that changed the field since the last sync wins, and a change on both sides with different values is
 * a conflict for a person to resolve (the review queue) instead of one side silently overwriting the
 * other.
 *
 * "Since the last sync" is measured against `base`, the values both sides agreed on when Qiao last
 * synced the pair. A record that equals `base` has not changed: it is Qiao's own write coming back
 * (echo suppression), or a save that changed nothing Qiao syncs.
 */
import { createHash } from 'node:crypto';

export type Values = Record<string, unknown>;

/** `both`, or the name of the side that owns the field. */
export type Owner = string;

export const BOTH = 'both';

export interface MergeInput {
  /** The side whose record changed. */
  side: string;
  /** The side the change is synced to. */
  otherSide: string;
  /** Owner of each synced field. */
  fields: Record<string, Owner>;
  /** The changed side's current values (canonical names). */
  record: Values;
  /** The other side's current values; `null` when it has no record yet (it will be created). */
  other: Values | null;
  /** The values agreed at the last sync; absent before the first one. */
  base?: Values;
  /** Values for fields neither side has yet, e.g. a new customer's number by the number rule. */
  defaults?: Values;
}

export interface Merged {
  /** The values both sides hold once the writes are done (a conflicting field keeps its base value). */
  values: Values;
  /** Per side, the fields to write there (`null` clears a field). */
  writes: Record<string, Values>;
  /** Fields the changed side changed since the last sync. */
  changed: string[];
  /** Fields the changed side changed although the other side owns them: their value is put back. */
  ignored: string[];
  /** Fields changed on both sides to different values. */
  conflicts: string[];
}

export type DecisionAction = 'write' | 'skip' | 'conflict';
export type DecisionReason = 'echo' | 'in-sync' | 'created' | 'changed' | 'conflict';

export interface Decision extends Merged {
  action: DecisionAction;
  reason: DecisionReason;
}

/** Absent, `null` and `''` are one thing: "no value" (systems disagree on how they say it). */
export function normalize(v: unknown): unknown {
  if (v === null || v === undefined || v === '') return undefined;
  return v;
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

/**
 * Whether two field values are the same. Numbers equal their numeric text (`2000000` and
 * `"2000000.00"`): partners disagree on whether amounts are text.
 */
export function same(a: unknown, b: unknown): boolean {
  const x = normalize(a);
  const y = normalize(b);
  if (x === undefined || y === undefined) return x === y;
  const num = (v: unknown) =>
    typeof v === 'number' ? v : typeof v === 'string' && NUMERIC.test(v) ? Number(v) : undefined;
  const nx = num(x);
  const ny = num(y);
  if (nx !== undefined && ny !== undefined) return nx === ny;
  return stable(x) === stable(y);
}

/** JSON with object keys sorted and absent values dropped, so equal values print alike. */
export function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => stable(x ?? null)).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => normalize(x) !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stable(x)}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** The synced fields of a record, without the fields that have no value. */
export function project(record: Values | null | undefined, fields: Iterable<string>): Values {
  const out: Values = {};
  for (const f of fields) {
    const v = normalize(record?.[f]);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** Text like `2000000.00` is an amount; text like `0571` or an 18-digit id stays text. */
function asAmount(v: unknown): unknown {
  if (typeof v !== 'string' || !NUMERIC.test(v) || /^-?0\d/.test(v)) return v;
  return v.replace(/^-|\./g, '').length <= 15 ? Number(v) : v;
}

/**
 * Content hash of synced values: what echo suppression compares. The same values hash alike whatever
 * their key order, their way of saying "no value" and whether amounts come as numbers or text.
 */
export function valuesHash(values: Values, fields: Iterable<string>): string {
  const p = project(values, fields);
  for (const k of Object.keys(p)) p[k] = asAmount(p[k]);
  return createHash('sha256').update(stable(p)).digest('hex').slice(0, 32);
}

/** Resolves a conflicting field: a value, or `undefined` to leave it in conflict. */
export type ConflictResolver = (field: string) => { value: unknown } | undefined;

/**
 * Merges one change into the pair by the fields' owners. With `resolve`, conflicting fields take the
 * resolver's value (a person's decision) instead of staying in conflict.
 */
export function merge(input: MergeInput, resolve?: ConflictResolver): Merged {
  const { side, otherSide, fields } = input;
  const names = Object.keys(fields);
  const R = project(input.record, names);
  const O = input.other === null ? null : project(input.other, names);
  const B = input.base === undefined ? undefined : project(input.base, names);
  const first = B === undefined;
  const values: Values = {};
  const changed: string[] = [];
  const ignored: string[] = [];
  const conflicts: string[] = [];
  for (const f of names) {
    const owner = fields[f];
    const r = R[f];
    const o = O?.[f];
    const b = B?.[f];
    // Before the first sync every value a side has counts as its change.
    const sChanged = first ? r !== undefined : !same(r, b);
    const oChanged = O === null ? false : first ? o !== undefined : !same(o, b);
    if (sChanged) changed.push(f);
    let v: unknown;
    if (owner === side) {
      // The owner's value wins; before the first sync an empty owner field is seeded from the other side.
      v = first && r === undefined ? o : r;
    } else if (owner === otherSide) {
      v = O === null || (first && o === undefined) ? r : o;
      if (sChanged && !same(v, r)) ignored.push(f);
    } else if (!sChanged && !oChanged) {
      v = first ? (r ?? o) : b;
    } else if (sChanged && !oChanged) {
      v = r;
    } else if (!sChanged && oChanged) {
      v = o;
    } else if (same(r, o)) {
      v = r;
    } else {
      const decided = resolve?.(f);
      if (decided) v = decided.value;
      else {
        conflicts.push(f);
        v = b;
      }
    }
    if (normalize(v) === undefined && normalize(input.defaults?.[f]) !== undefined) v = input.defaults?.[f];
    v = normalize(v);
    if (v !== undefined) values[f] = v;
  }
  const writes: Record<string, Values> = { [side]: diff(values, R, names), [otherSide]: {} };
  writes[otherSide] = O === null ? { ...values } : diff(values, O, names);
  return { values, writes, changed, ignored, conflicts };
}

/** Fields whose value differs from `current`: the value, or `null` to clear it. */
function diff(values: Values, current: Values, names: string[]): Values {
  const out: Values = {};
  for (const f of names) if (!same(values[f], current[f])) out[f] = values[f] ?? null;
  return out;
}

/**
 * What to do with one side's changed record: `skip` an echo of Qiao's own write (the record equals the
 * agreed values) or a record already in step with the other side; send a `conflict` to review; else
 * `write` the changes (`created` when the other side has no record yet).
 */
export function decide(input: MergeInput): Decision {
  const names = Object.keys(input.fields);
  if (input.base !== undefined && valuesHash(input.record, names) === valuesHash(input.base, names)) {
    const values = project(input.base, names);
    return {
      action: 'skip',
      reason: 'echo',
      values,
      writes: { [input.side]: {}, [input.otherSide]: {} },
      changed: [],
      ignored: [],
      conflicts: [],
    };
  }
  const m = merge(input);
  if (m.conflicts.length) return { ...m, action: 'conflict', reason: 'conflict' };
  const quiet = Object.values(m.writes).every((w) => Object.keys(w).length === 0);
  if (quiet) return { ...m, action: 'skip', reason: 'in-sync' };
  return { ...m, action: 'write', reason: input.other === null ? 'created' : 'changed' };
}
