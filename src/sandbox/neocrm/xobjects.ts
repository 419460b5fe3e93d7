/**
 * REST v2.0 xobjects (spec 4.1–4.9) and the older `/rest/data/v2/objects` family (4.14): create, get,
 * update, delete, batch (with `xsy-execmode`), describe, business types, record actions, and the
 * metadata v2.0 object list (4.8).
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { ok } from './envelope.ts';
import { parseJsonExact } from './json.ts';
import { type FieldDef, KIND_WIRE, LOCK_STATUS, type ObjectDef } from './metadata.ts';
import {
  type Actor,
  applyChanges,
  bodyData,
  createRecord,
  deleteRecord,
  idValue,
  requireObject,
  toWire,
  updateRecord,
  userRecord,
  visibleRecord,
  wireId,
} from './records.ts';
import { fail, NeoFailure, type Rec, type Tenant } from './state.ts';

/** Users and departments are administered in the product, not written through the data API. */
const READ_ONLY_OBJECTS = new Set(['user', 'department']);

function writable(def: ObjectDef): ObjectDef {
  if (READ_ONLY_OBJECTS.has(def.apiKey)) throw fail.permission(`对象[${def.label}]不支持通过API写入`);
  return def;
}

const idMode = (t: Tenant) => (t.config.idsAsStrings ? 'string' : 'number');

function pathId(raw: string): string {
  const id = idValue(raw);
  if (!id) throw fail.validation(`记录ID[${raw}]格式不正确`);
  return id;
}

export function describeField(f: FieldDef): Rec {
  const wire = KIND_WIRE[f.kind];
  const out: Rec = {
    apiKey: f.apiKey,
    label: f.label,
    type: wire.type,
    itemType: wire.itemType,
    defaultValue: null,
    enabled: true,
    required: f.required ?? false,
    createable: f.createable ?? true,
    updateable: f.updateable ?? true,
    sortable: f.kind !== 'textarea' && f.kind !== 'multipicklist',
    minLength: null,
    maxLength: f.maxLength ?? null,
    unique: f.unique ?? false,
    encrypt: false,
    dependentPropertyName: null,
  };
  if (f.kind === 'picklist') {
    out.selectitem = (f.options ?? []).map((o) => ({ ...o, dependentValue: [], isActive: true }));
  }
  if (f.kind === 'multipicklist') out.checkitem = (f.options ?? []).map((o) => ({ ...o, isActive: true }));
  if (f.referTo) out.referTo = { apiKey: f.referTo };
  return out;
}

/** `GET …/{apiKey}/description` (spec 4.6). */
export function describe(def: ObjectDef): Rec {
  const ro = READ_ONLY_OBJECTS.has(def.apiKey);
  return {
    apiKey: def.apiKey,
    label: def.label,
    custom: def.custom,
    disabled: false,
    createable: !ro,
    updateable: !ro,
    deletable: !ro,
    queryable: true,
    feedEnabled: true,
    fields: def.fields.map(describeField),
  };
}

function objectSummary(def: ObjectDef): Rec {
  return { apiKey: def.apiKey, label: def.label, custom: def.custom, active: true, objectId: def.belongId };
}

export function batchItemsOf(body: unknown): Rec[] {
  const items = (body as { batchData?: unknown } | undefined)?.batchData;
  if (!Array.isArray(items) || items.length === 0) throw fail.validation('请求参数错误：batchData 不能为空');
  return items as Rec[];
}

/** Runs one item of a batch; failures become per-item codes (spec 4.5). */
function batchItem(t: Tenant, def: ObjectDef, method: string, item: Rec, actor: Actor): Rec {
  try {
    if (method === 'POST') {
      const rec = createRecord(t, def, bodyData(item), actor);
      return { code: '200', msg: null, data: { id: wireId(rec.id as string, idMode(t)) } };
    }
    // Update and delete items name the record in `data.id` (a bare `id` is accepted too).
    const data = item.data && typeof item.data === 'object' ? (item.data as Rec) : item;
    const id = idValue(data.id);
    if (!id) throw fail.validation('批量更新/删除的每条数据必须包含 id', 'id');
    if (method === 'PATCH') updateRecord(t, def, id, data, actor);
    else deleteRecord(t, def, id, actor);
    return { code: '200', msg: null, data: { id: wireId(id, idMode(t)) } };
  } catch (err) {
    if (!(err instanceof NeoFailure)) throw err;
    return { code: err.code, msg: err.message, data: null };
  }
}

function batch(t: Tenant, def: ObjectDef, req: SandboxRequest, actor: Actor): SandboxReply {
  writable(def);
  const items = batchItemsOf(parseJsonExact(req.rawBody.toString('utf8')));
  if (items.length > t.config.batchMaxSize)
    throw fail.validation(`批量操作每次最多${t.config.batchMaxSize}条数据`);
  // `xsy-execmode: stop` halts at the first failure and marks the rest as not executed (spec 4.5).
  const stop = String(req.headers['xsy-execmode'] ?? 'continue').toLowerCase() === 'stop';
  const results: Rec[] = [];
  let failed = false;
  for (const item of items) {
    if (failed && stop) {
      results.push({ code: '-1', msg: '前序数据处理失败，未执行', data: null });
      continue;
    }
    const r = batchItem(t, def, req.method, item && typeof item === 'object' ? item : {}, actor);
    if (r.code !== '200') failed = true;
    results.push(r);
  }
  return t.config.batchResultPlacement === 'top'
    ? ok(null, { batchData: results })
    : ok({ batchData: results });
}

function lockTarget(
  t: Tenant,
  def: ObjectDef,
  req: SandboxRequest,
  idFromPath: string | undefined,
  actor: Actor,
): Rec {
  const raw = idFromPath ?? req.query.get('recordId') ?? '';
  return visibleRecord(t, def, pathId(raw), actor);
}

/** Record actions (spec 4.9). */
function action(t: Tenant, def: ObjectDef, rest: string[], req: SandboxRequest, actor: Actor): SandboxReply {
  const [name, ...tail] = rest;
  if (name === 'locks' && (req.method === 'PUT' || req.method === 'DELETE')) {
    // `/actions/locks/{id}/lock` or, for custom objects, `/actions/locks?recordId={id}`.
    const idFromPath = tail.length === 2 && tail[1] === 'lock' ? tail[0] : undefined;
    if (tail.length !== 0 && !idFromPath) throw fail.notFound('接口不存在');
    const rec = lockTarget(t, def, req, idFromPath, actor);
    const status = req.method === 'PUT' ? LOCK_STATUS.locked : LOCK_STATUS.unlocked;
    if (rec.lockStatus !== status) applyChanges(t, rec, { lockStatus: status }, actor.userId);
    return ok({ id: wireId(rec.id as string, idMode(t)), lockStatus: status });
  }
  if (name === 'transfers' && req.method === 'POST' && tail.length === 0) {
    const rec = lockTarget(t, def, req, undefined, actor);
    const target = idValue(req.query.get('targetUserId') ?? '');
    const user = target ? userRecord(t, target) : undefined;
    if (!user) throw fail.validation('目标用户不存在', 'targetUserId');
    applyChanges(t, rec, { ownerId: target, dimDepart: user.dimDepart }, actor.userId);
    return ok({ id: wireId(rec.id as string, idMode(t)) });
  }
  if (name === 'release' && req.method === 'POST' && def.apiKey === 'account' && tail.length === 0) {
    const body = (parseJsonExact(req.rawBody.toString('utf8')) ?? {}) as Rec;
    const ids = String(body.accountIds ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (ids.length === 0) throw fail.validation('accountIds 不能为空', 'accountIds');
    if (typeof body.reasonType !== 'number') throw fail.validation('reasonType 不能为空', 'reasonType');
    for (const raw of ids) {
      const rec = visibleRecord(t, def, pathId(raw), actor);
      applyChanges(t, rec, { highSeaStatus: 2, highSeaId: 1 }, actor.userId);
    }
    return ok(null);
  }
  if (
    (name === 'activation' || name === 'deactivation') &&
    req.method === 'PATCH' &&
    def.apiKey === 'paymentApplication'
  ) {
    const rec = visibleRecord(t, def, pathId(req.query.get('dataId') ?? ''), actor);
    applyChanges(t, rec, { activationStatus: name === 'activation' ? 2 : 1 }, actor.userId);
    return ok({ id: wireId(rec.id as string, idMode(t)) });
  }
  throw fail.notFound('接口不存在');
}

/** Routes `/rest/data/v2.0/xobjects/…` and `/rest/data/v2/objects/…`; `rest` is the path after the prefix. */
export function xobjects(t: Tenant, rest: string[], req: SandboxRequest, actor: Actor): SandboxReply {
  const [apiKey, second, ...more] = rest;
  const def = requireObject(t, apiKey ?? '');
  const m = req.method;
  if (second === undefined) {
    if (m !== 'POST') throw fail.notFound('接口不存在');
    const rec = createRecord(t, writable(def), bodyData(parseJsonExact(req.rawBody.toString('utf8'))), actor);
    return ok({ id: wireId(rec.id as string, idMode(t)) });
  }
  if (second === 'description' && m === 'GET' && more.length === 0) return ok(describe(def));
  if (second === 'busiType' && m === 'GET' && more.length === 0) {
    const records = def.busiTypes.map((b) => ({ ...b, id: wireId(b.id, idMode(t)), active: true }));
    return ok({ totalSize: records.length, records });
  }
  if (second === 'batch' && more.length === 0 && ['POST', 'PATCH', 'DELETE'].includes(m))
    return batch(t, def, req, actor);
  if (second === 'actions') return action(t, def, more, req, actor);
  if (more.length > 0) throw fail.notFound('接口不存在');
  const id = pathId(second);
  if (m === 'GET') return ok(toWire(def, visibleRecord(t, def, id, actor), idMode(t)));
  if (m === 'PATCH') {
    updateRecord(t, writable(def), id, bodyData(parseJsonExact(req.rawBody.toString('utf8'))), actor);
    return ok({ id: wireId(id, idMode(t)) });
  }
  if (m === 'DELETE') {
    deleteRecord(t, writable(def), id, actor);
    return ok(undefined);
  }
  throw fail.notFound('接口不存在');
}

/** `/rest/metadata/v2.0/xobjects[/filter|/{apiKey}[/items]]` (spec 4.8). */
export function metadata(t: Tenant, rest: string[], req: SandboxRequest): SandboxReply {
  if (req.method !== 'GET') throw fail.notFound('接口不存在');
  const all = [...t.meta.values()];
  if (rest.length === 0 || (rest.length === 1 && rest[0] === 'filter')) {
    let list = all;
    const custom = req.query.get('custom');
    if (custom === 'true' || custom === 'false') list = list.filter((d) => d.custom === (custom === 'true'));
    const records = list.map(objectSummary);
    return ok({ totalSize: records.length, records });
  }
  const def = requireObject(t, rest[0]);
  if (rest.length === 1) return ok({ ...objectSummary(def), fieldCount: def.fields.length });
  if (rest.length === 2 && rest[1] === 'items') {
    const records = def.fields.map(describeField);
    return ok({ totalSize: records.length, records });
  }
  throw fail.notFound('接口不存在');
}
