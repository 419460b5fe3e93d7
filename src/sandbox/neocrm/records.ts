/**
 * Record semantics shared by xobjects, batch, bulk and the admin surface: validation against the
 * metadata (spec 10.5: unknown fields, wrong types, bad picklist values, missing required fields,
 * duplicates on unique fields, missing `entityType`), defaults (`ownerId`, `dimDepart`, audit fields),
 * locks, owner-based visibility and serialisation with exact 64-bit ids.
 */
import { rawInt } from './json.ts';
import { type FieldDef, isIdKind, LOCK_STATUS, type ObjectDef } from './metadata.ts';
import { bump, fail, NeoFailure, newId, now, type Rec, type Tenant } from './state.ts';

/** Who performs a call: the token's user, and whether `xsy-criteria: 10` was sent (spec 2.5). */
export interface Actor {
  userId: string;
  adminCriteria: boolean;
}

const TYPE_WORDS: Partial<Record<FieldDef['kind'], string>> = {
  integer: '整数',
  real: '数字',
  currency: '金额',
  percent: '百分比',
  date: '日期(毫秒)',
  datetime: '日期时间(毫秒)',
  boolean: '布尔值',
  picklist: '单选项值(整数)',
  multipicklist: '多选项值数组',
  lookup: '关联数据ID',
  entityType: '业务类型ID',
};

const label = (f: FieldDef) => `${f.label}(${f.apiKey})`;

/** An id given as a safe integer, an exact big integer or a digit string → its decimal string. */
export function idValue(v: unknown): string | undefined {
  if (typeof v === 'bigint') return v > 0n ? v.toString() : undefined;
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? String(v) : undefined;
  if (typeof v === 'string' && /^[1-9]\d{0,19}$/.test(v)) return v;
  return undefined;
}

function typeError(f: FieldDef): NeoFailure {
  const word = TYPE_WORDS[f.kind] ?? '文本';
  return fail.validation(`字段[${label(f)}]的值类型不正确，应为${word}`, f.apiKey);
}

/** Checks and normalises one value; `null` clears the field. */
function coerce(t: Tenant, def: ObjectDef, f: FieldDef, v: unknown): unknown {
  if (v === null) return null;
  switch (f.kind) {
    case 'text':
    case 'textarea':
    case 'phone':
    case 'email':
    case 'url':
    case 'autonumber': {
      if (typeof v !== 'string') throw typeError(f);
      if (f.maxLength && v.length > f.maxLength) {
        throw fail.validation(`字段[${label(f)}]长度超过限制(${f.maxLength})`, f.apiKey);
      }
      if (f.kind === 'email' && v !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v)) {
        throw fail.validation(`字段[${label(f)}]邮箱格式不正确`, f.apiKey);
      }
      return v;
    }
    case 'integer':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw typeError(f);
      return v;
    case 'real':
    case 'currency':
    case 'percent':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError(f);
      return v;
    case 'date':
    case 'datetime':
      // Dates are ms since the epoch (spec 1.2); a date string is a type error.
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw typeError(f);
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw typeError(f);
      return v;
    case 'picklist': {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(f);
      if (!f.options?.some((o) => o.value === v)) {
        throw fail.validation(`字段[${label(f)}]的选项值[${v}]不存在`, f.apiKey);
      }
      return v;
    }
    case 'multipicklist': {
      // Multi-select values must be arrays (spec 4.1).
      if (!Array.isArray(v)) throw typeError(f);
      for (const x of v) {
        if (typeof x !== 'number' || !f.options?.some((o) => o.value === x)) {
          throw fail.validation(`字段[${label(f)}]的选项值[${String(x)}]不存在`, f.apiKey);
        }
      }
      return [...v];
    }
    case 'entityType': {
      const id = idValue(v);
      if (!id) throw typeError(f);
      if (!def.busiTypes.some((b) => b.id === id)) {
        throw fail.validation(`业务类型[${id}]不存在或不属于对象[${def.apiKey}]`, f.apiKey);
      }
      return id;
    }
    case 'lookup': {
      const id = idValue(v);
      if (!id) throw typeError(f);
      const target = f.referTo ? t.records.get(f.referTo) : undefined;
      if (!target?.has(id)) throw fail.validation(`字段[${label(f)}]关联的数据[${id}]不存在`, f.apiKey);
      return id;
    }
    case 'id':
      throw fail.validation(`字段[${label(f)}]不允许写入`, f.apiKey);
  }
}

function bodyData(body: unknown): Rec {
  const data = (body as { data?: unknown } | undefined)?.data;
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    // Bodies are always wrapped in {"data": {...}} (spec 4.1).
    throw fail.validation('请求参数错误：请求体必须为{"data":{...}}');
  }
  return data as Rec;
}

export { bodyData };

/**
 * The unique-field index of one object field (value → record id), built on first use and kept up to
 * date by every write, so duplicate checks stay O(1) on large tenants.
 */
export function uniqueIndex(t: Tenant, def: ObjectDef, f: FieldDef): Map<unknown, string> {
  const key = `${def.apiKey}.${f.apiKey}`;
  let idx = t.uniqueIndex.get(key);
  if (!idx) {
    idx = new Map();
    for (const [id, rec] of t.records.get(def.apiKey)!) {
      const v = rec[f.apiKey];
      if (v !== undefined && v !== null && v !== '') idx.set(v, id);
    }
    t.uniqueIndex.set(key, idx);
  }
  return idx;
}

function checkUnique(t: Tenant, def: ObjectDef, f: FieldDef, value: unknown, selfId?: string): void {
  if (!f.unique || value === null || value === undefined || value === '') return;
  const owner = uniqueIndex(t, def, f).get(value);
  if (owner !== undefined && owner !== selfId) {
    throw fail.validation(`字段[${label(f)}]的值[${String(value)}]已存在，不能重复`, f.apiKey);
  }
}

/** Keeps the unique indexes in step with a record's unique fields (before → after). */
function reindex(
  t: Tenant,
  def: ObjectDef,
  id: string,
  before: Rec | undefined,
  after: Rec | undefined,
): void {
  for (const f of def.fields) {
    if (!f.unique) continue;
    const idx = t.uniqueIndex.get(`${def.apiKey}.${f.apiKey}`);
    if (!idx) continue;
    const a = before?.[f.apiKey];
    const b = after?.[f.apiKey];
    if (a === b) continue;
    if (a !== undefined && a !== null && a !== '' && idx.get(a) === id) idx.delete(a);
    if (b !== undefined && b !== null && b !== '') idx.set(b, id);
  }
}

function takeWriteFault(t: Tenant): void {
  const fw = t.faults.failWrites;
  if (fw && fw.count > 0) {
    fw.count -= 1;
    if (fw.count === 0) t.faults.failWrites = null;
    throw new NeoFailure(fw.code, fw.msg, 400);
  }
}

export function userRecord(t: Tenant, userId: string): Rec | undefined {
  return t.records.get('user')!.get(userId);
}

/**
 * Owner-based visibility (spec 10.5): users and departments are visible to all; other records to their
 * owner, to users of the owner's department or a parent of it, and to everything for an admin who sent
 * `xsy-criteria: 10`.
 */
export function canSee(t: Tenant, actor: Actor, objectKey: string, rec: Rec): boolean {
  if (objectKey === 'user' || objectKey === 'department') return true;
  if (actor.adminCriteria && t.admins.has(actor.userId)) return true;
  const owner = rec.ownerId as string | undefined;
  if (!owner || owner === actor.userId) return true;
  const actorDept = userRecord(t, actor.userId)?.dimDepart as string | undefined;
  let dept = userRecord(t, owner)?.dimDepart as string | undefined;
  const departments = t.records.get('department')!;
  for (let hops = 0; dept && hops < 20; hops++) {
    if (dept === actorDept) return true;
    dept = departments.get(dept)?.parentDepartId as string | undefined;
  }
  return false;
}

export function requireObject(t: Tenant, apiKey: string): ObjectDef {
  const def = t.meta.get(apiKey);
  if (!def) throw fail.notFound(`对象[${apiKey}]不存在`);
  return def;
}

/** Creates a record as `actor`; returns the stored record. */
export function createRecord(t: Tenant, def: ObjectDef, data: Rec, actor: Actor): Rec {
  // `id` first, as the captured get response shows it (spec 4.2); filled in once validation passed.
  const rec: Rec = { id: undefined };
  for (const [key, value] of Object.entries(data)) {
    const f = def.byKey.get(key);
    if (!f) throw fail.validation(`字段[${key}]不存在`, key);
    if (f.createable === false) throw fail.validation(`字段[${label(f)}]不允许写入`, key);
    if (value === null || value === undefined) continue;
    rec[key] = coerce(t, def, f, value);
  }
  if (rec.entityType === undefined) {
    if (t.config.requireEntityType) throw fail.validation('业务类型(entityType)不能为空', 'entityType');
    rec.entityType = def.busiTypes.find((b) => b.isDefault)!.id;
  }
  for (const f of def.fields) {
    if (f.required && (rec[f.apiKey] === undefined || rec[f.apiKey] === '')) {
      throw fail.validation(`必填字段[${label(f)}]不能为空`, f.apiKey);
    }
    if (f.unique) checkUnique(t, def, f, rec[f.apiKey]);
  }
  takeWriteFault(t);
  const at = now(t);
  const id = newId(t);
  rec.id = id;
  rec.ownerId ??= actor.userId;
  rec.dimDepart ??= userRecord(t, rec.ownerId as string)?.dimDepart ?? userRecord(t, actor.userId)?.dimDepart;
  rec.createdAt = at;
  rec.createdBy = actor.userId;
  rec.updatedAt = at;
  rec.updatedBy = actor.userId;
  rec.lockStatus = LOCK_STATUS.unlocked;
  if (def.byKey.has('approvalStatus')) rec.approvalStatus = 1;
  if (def.byKey.has('contractCode'))
    rec.contractCode = `HT-${String(t.records.get(def.apiKey)!.size + 1).padStart(6, '0')}`;
  if (def.apiKey === 'paymentApplication') rec.activationStatus = 1;
  t.records.get(def.apiKey)!.set(id, rec);
  reindex(t, def, id, undefined, rec);
  bump(t, def.apiKey);
  return rec;
}

/** Finds a record the actor may see, or fails as Neocrm does (not found / no permission). */
export function visibleRecord(t: Tenant, def: ObjectDef, id: string, actor: Actor): Rec {
  const rec = t.records.get(def.apiKey)!.get(id);
  if (!rec) throw fail.notFound();
  if (!canSee(t, actor, def.apiKey, rec)) throw fail.permission();
  return rec;
}

/** Partial update (spec 4.3); `id` inside `data` is tolerated as the Java SDK sends it. */
export function updateRecord(t: Tenant, def: ObjectDef, id: string, data: Rec, actor: Actor): Rec {
  const rec = visibleRecord(t, def, id, actor);
  if (rec.lockStatus === LOCK_STATUS.locked) throw fail.validation('数据已锁定，不能编辑');
  const changes: Rec = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === 'id') {
      if (idValue(value) !== id) throw fail.validation('请求参数错误：data.id与路径中的记录ID不一致', 'id');
      continue;
    }
    const f = def.byKey.get(key);
    if (!f) throw fail.validation(`字段[${key}]不存在`, key);
    if (f.updateable === false) throw fail.validation(`字段[${label(f)}]不允许修改`, key);
    const v = value === undefined ? null : coerce(t, def, f, value);
    if (f.required && (v === null || v === '')) throw fail.validation(`必填字段[${label(f)}]不能为空`, key);
    if (f.unique) checkUnique(t, def, f, v, id);
    changes[key] = v;
  }
  takeWriteFault(t);
  applyChanges(t, rec, changes, actor.userId, undefined, def);
  return rec;
}

/**
 * Writes changes and moves `updatedAt`. It never stays put on a change: when the clock has not moved
 * since the last write of this record, the new stamp is one ms later, so `(id, updatedAt)` names one
 * version (an incremental reader keys on it, spec 6).
 */
export function applyChanges(
  t: Tenant,
  rec: Rec,
  changes: Rec,
  userId: string,
  at?: number,
  def?: ObjectDef,
): void {
  const before = def ? { ...rec } : undefined;
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete rec[k];
    else rec[k] = v;
  }
  if (def) reindex(t, def, rec.id as string, before, rec);
  rec.updatedAt = at ?? Math.max(now(t), (rec.updatedAt as number) + 1);
  rec.updatedBy = userId;
  // Every object's records can change through here; invalidate them all (cheap: a counter each).
  for (const k of t.records.keys()) if (t.records.get(k)!.get(rec.id as string) === rec) bump(t, k);
}

export function deleteRecord(t: Tenant, def: ObjectDef, id: string, actor: Actor): void {
  const rec = visibleRecord(t, def, id, actor);
  if (rec.lockStatus === LOCK_STATUS.locked) throw fail.validation('数据已锁定，不能删除');
  takeWriteFault(t);
  t.records.get(def.apiKey)!.delete(id);
  reindex(t, def, id, rec, undefined);
  bump(t, def.apiKey);
}

/**
 * A record as the wire shows it: id-kind fields as exact JSON numbers (xobjects, query v2) or as
 * strings (XOQL, or `idsAsStrings`), spec 1.2.
 */
export function toWire(def: ObjectDef, rec: Rec, ids: 'number' | 'string', fields?: string[]): Rec {
  const out: Rec = {};
  for (const key of fields ?? Object.keys(rec)) {
    const v = rec[key];
    if (v === undefined) {
      if (fields) out[key] = null;
      continue;
    }
    const f = def.byKey.get(key);
    out[key] = f && isIdKind(f.kind) && typeof v === 'string' ? wireId(v, ids) : v;
  }
  return out;
}

export function wireId(id: string, ids: 'number' | 'string'): unknown {
  return ids === 'number' ? rawInt(id) : id;
}
