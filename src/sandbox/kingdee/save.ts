/**
 * Save / BatchSave / Draft (spec 4.1, 9.5): create when the primary key is 0 or absent, update when it
 * names an existing record; `NeedUpDateFields`, `IsDeleteEntry`, `IsVerifyBaseDataField`,
 * `IsAutoSubmitAndAudit`, `NeedReturnFields`; base-data references resolved by number; required
 * fields, unique numbers, status guards and network-control locks enforced with K/3's own messages.
 */
import { bool, pick } from './body.ts';
import { normaliseLocal } from './clock.ts';
import type { EntryRow, StoredRecord, Table } from './db.ts';
import { failStatus, type KdError, KdFailure, MsgCode, okStatus, operationEnvelope } from './envelope.ts';
import type { DefaultContext, EntityDef, FieldDef, Form } from './forms.ts';
import { displayValue } from './query.ts';
import { type ChangeEvent, emitChange, type KingdeeState } from './state.ts';

/** Who is acting: the WebAPI session's user, or a person in the UI (admin surface). */
export interface Actor {
  userId: number;
  userName: string;
  orgId: number;
  via: 'api' | 'ui';
}

export interface SaveOptions {
  draft: boolean;
  needUpdateFields?: Set<string>;
  isDeleteEntry: boolean;
  isVerifyBaseDataField: boolean;
  autoSubmitAndAudit: boolean;
  needReturnFields: string[];
}

export function saveOptions(data: Record<string, unknown>, draft: boolean): SaveOptions {
  const nuf = pick(data, 'NeedUpDateFields');
  const nrf = pick(data, 'NeedReturnFields');
  return {
    draft,
    needUpdateFields:
      Array.isArray(nuf) && nuf.length > 0 ? new Set(nuf.map((k) => String(k).toLowerCase())) : undefined,
    isDeleteEntry: bool(pick(data, 'IsDeleteEntry'), true),
    isVerifyBaseDataField: bool(pick(data, 'IsVerifyBaseDataField'), false),
    autoSubmitAndAudit: bool(pick(data, 'IsAutoSubmitAndAudit'), false),
    needReturnFields: Array.isArray(nrf) ? nrf.map(String) : [],
  };
}

/** Handles Save, Draft and BatchSave; returns the envelope to send. */
export function handleSave(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  method: 'Save' | 'Draft' | 'BatchSave',
  data: Record<string, unknown>,
): object {
  const opts = saveOptions(data, method === 'Draft');
  const model = pick(data, 'Model');
  if (method === 'BatchSave') {
    const packages = Array.isArray(model) ? model : model && typeof model === 'object' ? [model] : [];
    if (packages.length === 0) throw new KdFailure(MsgCode.parameter, 'Model 参数不能为空');
    const entities: { Id: number; Number: string; DIndex: number }[] = [];
    const errors: KdError[] = [];
    const returned: unknown[] = [];
    let firstCode = 0;
    // Spec 4.1: one result per package keyed by DIndex; a failed package does not stop the others.
    packages.forEach((pkg, i) => {
      try {
        const rec = savePackage(state, actor, t, asObject(pkg, i), i, opts);
        entities.push({ Id: rec.id, Number: numberOf(t, rec), DIndex: i });
        returned.push(needReturnData(t, rec, opts.needReturnFields));
      } catch (err) {
        if (!(err instanceof KdFailure)) throw err;
        firstCode ||= err.msgCode;
        for (const e of err.errors) errors.push({ ...e, DIndex: i });
      }
    });
    const status = errors.length ? failStatus(firstCode, errors, entities) : okStatus(entities);
    return operationEnvelope(status, { NeedReturnData: returned });
  }
  if (!model || typeof model !== 'object' || Array.isArray(model)) {
    throw new KdFailure(MsgCode.parameter, 'Model 参数不能为空');
  }
  const rec = savePackage(state, actor, t, model as Record<string, unknown>, 0, opts);
  const number = numberOf(t, rec);
  return operationEnvelope(okStatus([{ Id: rec.id, Number: number, DIndex: 0 }]), {
    Id: rec.id,
    Number: number,
    NeedReturnData: [needReturnData(t, rec, opts.needReturnFields)],
  });
}

function asObject(pkg: unknown, i: number): Record<string, unknown> {
  if (!pkg || typeof pkg !== 'object' || Array.isArray(pkg)) {
    throw new KdFailure(MsgCode.parameter, `第${i + 1}个数据包格式错误`, null, i);
  }
  return pkg as Record<string, unknown>;
}

function numberOf(t: Table, rec: StoredRecord): string {
  return (rec.values[t.form.numberKey] as string | undefined) ?? '';
}

/** "单据编号为“XSDD000086”的销售订单" / "编码为“C0001”的客户": how K/3 names a record in messages. */
export function describe(form: Form, rec: StoredRecord): string {
  const n = rec.values[form.numberKey] ?? rec.id;
  return form.kind === 'bill' ? `单据编号为“${n}”的${form.name}` : `编码为“${n}”的${form.name}`;
}

/** Network control (网控, MsgCode 13): a record being edited elsewhere, or an injected conflict. */
export function checkNetworkControl(state: KingdeeState, form: Form, rec: StoredRecord | undefined): void {
  if (state.faults.lockNext > 0) {
    state.faults.lockNext -= 1;
    throw new KdFailure(
      MsgCode.networkControl,
      `网控冲突：${rec ? describe(form, rec) : form.name}正在被其他用户操作，请稍后再试。`,
    );
  }
  if (!rec) return;
  const holder = state.locks.get(`${form.formId.toLowerCase()}:${rec.id}`);
  if (holder) {
    throw new KdFailure(
      MsgCode.networkControl,
      `网控冲突：${describe(form, rec)}正在被用户“${holder}”编辑，请稍后再试。`,
    );
  }
}

function clone(rec: StoredRecord): StoredRecord {
  const entries: Record<string, EntryRow[]> = {};
  for (const [k, rows] of Object.entries(rec.entries)) {
    entries[k] = rows.map((r) => ({ id: r.id, seq: r.seq, values: { ...r.values } }));
  }
  return { id: rec.id, values: { ...rec.values }, entries, allocatedOrgs: [...rec.allocatedOrgs] };
}

/** What a field was given that did not resolve, for the required / verify checks. */
interface Unresolved {
  field: FieldDef;
  given: string;
  entity?: EntityDef;
  row?: number;
}

/** Saves one data package; throws a KdFailure listing every problem (DIndex = `dIndex`). */
export function savePackage(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  model: Record<string, unknown>,
  dIndex: number,
  opts: SaveOptions,
): StoredRecord {
  const form = t.form;
  const { db } = state;
  const pkRaw = pick(model, form.pk);
  const pk = Number(pkRaw) || 0;
  const existing = pk > 0 ? t.records.get(pk) : undefined;
  if (pk > 0 && !existing) {
    throw new KdFailure(MsgCode.notFound, `${form.name}内码为“${pk}”的数据不存在或已被删除`, form.pk, dIndex);
  }
  checkNetworkControl(state, form, existing);
  if (existing) {
    const status = existing.values.FDocumentStatus;
    // Spec 4.2 / 9.5: an in-approval (B) record, or an audited (C) bill, cannot be modified. Base data
    // audited in K/3 stays editable (修改 on an audited customer keeps it audited).
    if (status === 'B' || (status === 'C' && form.kind === 'bill')) {
      const what = status === 'B' ? '正在审核中' : '已经审核';
      throw new KdFailure(
        MsgCode.notAllowed,
        `${describe(form, existing)}，${what}，不允许修改！`,
        null,
        dIndex,
      );
    }
  }
  const working: StoredRecord = existing
    ? clone(existing)
    : {
        id: 0,
        values: {},
        entries: Object.fromEntries(form.entries.map((e) => [e.key, []])),
        allocatedOrgs: [],
      };
  const creating = !existing;
  const allowed = (key: string) =>
    creating || !opts.needUpdateFields || opts.needUpdateFields.has(key.toLowerCase());
  const errors: KdError[] = [];
  const unresolved: Unresolved[] = [];
  const dynrefs: Array<{
    field: FieldDef;
    value: unknown;
    target: Record<string, unknown>;
    entity?: EntityDef;
    row?: number;
  }> = [];
  const setField = (
    field: FieldDef,
    value: unknown,
    target: Record<string, unknown>,
    entity?: EntityDef,
    row?: number,
  ) => {
    if (field.system) return;
    if (field.kind === 'dynref') {
      dynrefs.push({ field, value, target, entity, row });
      return;
    }
    const converted = convert(state, field, value);
    if ('error' in converted) errors.push({ FieldName: field.key, Message: converted.error, DIndex: dIndex });
    else {
      target[field.key] = converted.value;
      if (converted.unresolved !== undefined)
        unresolved.push({ field, given: converted.unresolved, entity, row });
    }
  };

  // Header and sub-header fields. Unknown keys are skipped, as K/3 maps the package onto its metadata
  // and ignores properties it does not know.
  for (const [key, value] of Object.entries(model)) {
    const lower = key.toLowerCase();
    if (lower === form.pk.toLowerCase() || form.entryByKey.has(lower)) continue;
    const sub = form.subByKey.get(lower);
    if (sub) {
      const obj = Array.isArray(value) ? value[0] : value;
      if (!obj || typeof obj !== 'object') continue;
      for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
        const field = sub.fields.find((x) => x.key.toLowerCase() === k.toLowerCase());
        if (field && allowed(field.key)) setField(field, v, working.values);
      }
      continue;
    }
    const place = form.places.get(lower);
    if (place && (place.where === 'head' || place.where === 'sub') && allowed(place.field.key)) {
      setField(place.field, value, working.values);
    }
  }

  // Entries (单据体): rows matched by entry id; rows without one are new; IsDeleteEntry drops the rest.
  const newRows = new Set<EntryRow>();
  for (const entity of form.entries) {
    const given = pick(model, entity.key);
    if (
      !Array.isArray(given) ||
      (!creating && opts.needUpdateFields && !opts.needUpdateFields.has(entity.key.toLowerCase()))
    ) {
      continue;
    }
    const old = working.entries[entity.key] ?? [];
    const byId = new Map(old.map((r) => [r.id, r]));
    const rows: EntryRow[] = [];
    const seen = new Set<number>();
    given.forEach((rowData, i) => {
      if (!rowData || typeof rowData !== 'object') return;
      const eid =
        Number(pick(rowData as Record<string, unknown>, entity.pk, 'FEntryID', 'FEntryId', 'FDetailID')) || 0;
      let row = eid > 0 ? byId.get(eid) : undefined;
      if (row) seen.add(row.id);
      else {
        row = { id: 0, seq: 0, values: {} };
        newRows.add(row);
      }
      for (const [k, v] of Object.entries(rowData as Record<string, unknown>)) {
        const field = entity.fields.find((x) => x.key.toLowerCase() === k.toLowerCase());
        if (!field) continue;
        if (
          !creating &&
          opts.needUpdateFields &&
          !newRows.has(row) &&
          !opts.needUpdateFields.has(field.key.toLowerCase())
        ) {
          continue;
        }
        setField(field, v, row.values, entity, i);
      }
      rows.push(row);
    });
    if (!opts.isDeleteEntry) for (const r of old) if (!seen.has(r.id)) rows.push(r);
    rows.forEach((r, i) => {
      r.seq = i + 1;
    });
    working.entries[entity.key] = rows;
  }

  // Defaults: a new model carries the form's defaults before the package is applied (see forms.ts).
  const ctx = (row: Record<string, unknown>): DefaultContext => ({
    row,
    head: working.values,
    orgId: actor.orgId,
    today: `${state.clock.nowLocal().slice(0, 10)}T00:00:00`,
    idOf: (formId, number) => {
      const r = db.byNumber(formId, number);
      return r?.id;
    },
    refValue: (formId, id, key) => (typeof id === 'number' ? db.get(formId, id)?.values[key] : undefined),
  });
  const fill = (fields: FieldDef[], target: Record<string, unknown>, isNew: boolean) => {
    if (!isNew) return;
    for (const field of fields) {
      if (field.defaultFrom && isEmpty(target[field.key])) {
        const v = field.defaultFrom(ctx(target));
        if (!isEmpty(v)) target[field.key] = v;
      }
    }
  };
  fill(form.fields, working.values, creating);
  for (const sub of form.subHeaders) fill(sub.fields, working.values, creating);
  for (const entity of form.entries) {
    for (const row of working.entries[entity.key] ?? [])
      fill(entity.fields, row.values, newRows.has(row) || creating);
  }

  // Dynamic references resolve once the type fields are known (spec 6.5 FCONTACTUNITTYPE + FCONTACTUNIT).
  for (const d of dynrefs) {
    const typeKey = d.field.ref!;
    const formId = String(d.target[typeKey] ?? working.values[typeKey] ?? '');
    const converted = convert(state, { ...d.field, kind: 'ref', ref: formId }, d.value);
    if ('error' in converted)
      errors.push({ FieldName: d.field.key, Message: converted.error, DIndex: dIndex });
    else {
      d.target[d.field.key] = converted.value;
      if (converted.unresolved !== undefined) {
        unresolved.push({ field: d.field, given: converted.unresolved, entity: d.entity, row: d.row });
      }
    }
  }

  // Validation (skipped by Draft: 暂存 keeps whatever was entered).
  if (!opts.draft) {
    const reported = new Set<string>();
    if (opts.isVerifyBaseDataField) {
      for (const u of unresolved) {
        // Spec 4.1: the exact text for IsVerifyBaseDataField=true was not found; this is the sandbox's.
        const where = u.entity ? `单据体【${u.entity.label}】第【${(u.row ?? 0) + 1}】行，` : '';
        errors.push({
          FieldName: u.field.key,
          Message: `${where}“${u.field.label}”字段的值“${u.given}”在系统中不存在、未审核或已禁用`,
          DIndex: dIndex,
        });
        reported.add(`${u.entity?.key ?? ''}:${u.row ?? ''}:${u.field.key}`);
      }
    }
    for (const field of [...form.fields, ...form.subHeaders.flatMap((s) => s.fields)]) {
      if (field.required && isEmpty(working.values[field.key]) && !reported.has(`::${field.key}`)) {
        // Spec 4.1: an unresolved reference surfaces as the required-field error on that field.
        errors.push({ FieldName: field.key, Message: `字段“${field.label}”是必填项`, DIndex: dIndex });
      }
    }
    for (const entity of form.entries) {
      const rows = working.entries[entity.key] ?? [];
      if (entity.required && rows.length === 0) {
        errors.push({
          FieldName: entity.key,
          Message: `单据体实体【${entity.label}】至少需要录入一行分录`,
          DIndex: dIndex,
        });
      }
      rows.forEach((row, i) => {
        for (const field of entity.fields) {
          if (
            field.required &&
            isEmpty(row.values[field.key]) &&
            !reported.has(`${entity.key}:${i}:${field.key}`)
          ) {
            errors.push({
              FieldName: field.key,
              Message: `单据体实体【${entity.label}】第【${i + 1}】行分录，【${field.label}】字段必录`,
              DIndex: dIndex,
            });
          }
        }
      });
    }
  }

  // Numbers: auto-numbered when empty (drafts may stay without one, spec 4.1); unique per form.
  const numberKey = form.numberKey;
  if (isEmpty(working.values[numberKey]) && !opts.draft) working.values[numberKey] = state.db.newNumber(t);
  const number = working.values[numberKey];
  if (typeof number === 'string' && number) {
    const holder = t.byNumber.get(number.toLowerCase());
    if (holder !== undefined && holder !== working.id) {
      errors.push({
        FieldName: numberKey,
        Message: `违反字段唯一性要求：编码唯一。[${number}]在当前系统中已经被使用。`,
        DIndex: dIndex,
      });
    }
  }
  if (errors.length > 0) throw KdFailure.many(MsgCode.validation, errors);

  computeTotals(form, working);
  const now = state.clock.nowLocal();
  if (creating) {
    working.id = state.db.newId(t);
    working.values[form.pk] = working.id;
    working.values.FCreatorId = actor.userId;
    working.values.FCreateDate = now;
    if (form.kind === 'base') working.values.FForbidStatus = 'A';
    else working.values.FCancelStatus = 'A';
    working.values.FDocumentStatus = opts.draft ? 'Z' : 'A';
  } else if (working.values.FDocumentStatus === 'Z' && !opts.draft) {
    working.values.FDocumentStatus = 'A';
  }
  working.values.FModifierId = actor.userId;
  working.values.FModifyDate = now;
  for (const entity of form.entries) {
    for (const row of working.entries[entity.key] ?? []) if (!row.id) row.id = state.db.newEntryId();
  }
  if (existing) {
    const oldNumber = existing.values[numberKey];
    Object.assign(existing, working);
    state.db.reindex(t, existing, oldNumber);
  } else state.db.insert(t, working);
  const saved = existing ?? working;
  notify(state, form, saved, opts.draft ? 'Draft' : 'Save', actor);
  if (opts.autoSubmitAndAudit && !opts.draft) {
    // Spec 4.1: whether Save honours IsAutoSubmitAndAudit depends on the version; the sandbox does.
    saved.values.FDocumentStatus = 'C';
    saved.values.FApproverId = actor.userId;
    saved.values.FApproveDate = state.clock.nowLocal();
    notify(state, form, saved, 'Audit', actor);
  }
  return saved;
}

export function notify(
  state: KingdeeState,
  form: Form,
  rec: StoredRecord,
  operation: string,
  actor: Actor,
  payBill?: ChangeEvent['payBill'],
): void {
  const e: ChangeEvent = {
    formId: form.formId,
    operation,
    id: rec.id,
    number: String(rec.values[form.numberKey] ?? ''),
    documentStatus: String(rec.values.FDocumentStatus ?? ''),
    modifyDate: (rec.values.FModifyDate as string | undefined) ?? null,
    approveDate: (rec.values.FApproveDate as string | undefined) ?? null,
    via: actor.via,
    userName: actor.userName,
    ...(payBill ? { payBill } : {}),
  };
  emitChange(state, e);
}

export function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === 0;
}

/** Multi-language text may come as a string or `[{"Key": 2052, "Value": "…"}]` (spec 4.1). */
function textOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    const item = value.find((x) => x && typeof x === 'object' && Number((x as any).Key) === 2052) ?? value[0];
    return item && typeof item === 'object' ? String((item as any).Value ?? '') : null;
  }
  if (typeof value === 'object') return String((value as any).Value ?? JSON.stringify(value));
  return String(value);
}

type Converted = { value: unknown; unresolved?: string } | { error: string };

function convert(state: KingdeeState, field: FieldDef, value: unknown): Converted {
  switch (field.kind) {
    case 'text':
    case 'mltext':
      return { value: textOf(value) };
    case 'int':
    case 'decimal': {
      if (value === null || value === undefined || value === '') return { value: 0 };
      const n = Number(value);
      if (!Number.isFinite(n)) return { error: `字段“${field.label}”的值“${String(value)}”不是有效的数值` };
      return { value: field.kind === 'int' ? Math.trunc(n) : n };
    }
    case 'bool':
      return { value: bool(value, false) };
    case 'date':
    case 'datetime': {
      if (value === null || value === undefined || value === '') return { value: null };
      const norm = normaliseLocal(String(value));
      if (!norm) return { error: `字段“${field.label}”的值“${String(value)}”不是有效的日期` };
      return { value: field.kind === 'date' ? `${norm.slice(0, 10)}T00:00:00` : norm };
    }
    case 'enum': {
      if (value === null || value === undefined || value === '') return { value: null };
      const s = String(value);
      if (field.options && !field.options.includes(s)) {
        return { error: `字段“${field.label}”的值“${s}”不在可选范围内（${field.options.join('/')}）` };
      }
      return { value: s };
    }
    case 'ref':
    case 'assistant':
    case 'dynref': {
      if (value === null || value === undefined || value === '') return { value: null };
      const formId = field.ref ?? '';
      const t = state.db.table(formId);
      if (!t) return { value: null, unresolved: JSON.stringify(value) };
      const r = state.db.resolveRef(formId, value, true);
      if (r.id !== undefined) return { value: r.id };
      // Empty reference objects (`{"FNumber": ""}`) clear the field.
      if (r.given === undefined) return { value: null };
      return { value: null, unresolved: r.given };
    }
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Line and header amounts, computed as K/3's value-update rules do. */
export function computeTotals(form: Form, rec: StoredRecord): void {
  const v = rec.values;
  const lines = (
    key: string,
    qtyKey: string,
    allKey: string,
    amountKey?: string,
    taxKey?: string,
  ): { all: number; amount: number } => {
    let all = 0;
    let amount = 0;
    for (const row of rec.entries[key] ?? []) {
      const r = row.values;
      const qty = Number(r[qtyKey] ?? 0);
      const rate = Number(r.FEntryTaxRate ?? 0);
      let taxPrice = Number(r.FTaxPrice ?? 0);
      let price = Number(r.FPrice ?? 0);
      if (taxPrice) price = round2(taxPrice / (1 + rate / 100));
      else if (price) taxPrice = round2(price * (1 + rate / 100));
      if ('FPrice' in r || taxPrice) r.FPrice = price;
      r.FTaxPrice = taxPrice;
      const free = r.FIsFree === true;
      const lineAll = free ? 0 : round2(qty * taxPrice);
      const lineAmount = free ? 0 : round2(lineAll / (1 + rate / 100));
      r[allKey] = lineAll;
      if (amountKey) r[amountKey] = lineAmount;
      if (taxKey) r[taxKey] = round2(lineAll - lineAmount);
      all += lineAll;
      amount += lineAmount;
    }
    return { all: round2(all), amount: round2(amount) };
  };
  const sum = (key: string, field: string, fallback?: string) =>
    round2(
      (rec.entries[key] ?? []).reduce(
        (s, r) => s + Number(r.values[field] ?? r.values[fallback ?? ''] ?? 0),
        0,
      ),
    );
  switch (form.formId) {
    case 'SAL_SaleOrder': {
      const t = lines('FSaleOrderEntry', 'FQty', 'FAllAmount', 'FAmount', 'FTaxAmount');
      v.FBillAllAmount = t.all;
      v.FBillAmount = t.amount;
      v.FBillTaxAmount = round2(t.all - t.amount);
      break;
    }
    case 'AR_receivable':
    case 'AP_Payable':
      v.FALLAMOUNTFOR = lines('FEntityDetail', 'FPriceQty', 'FALLAMOUNTFOR_D').all;
      break;
    case 'AR_RECEIVEBILL':
      for (const row of rec.entries.FRECEIVEBILLENTRY ?? []) {
        const r = row.values;
        r.FREALRECAMOUNTFOR_D = Number(r.FRECAMOUNTFOR_E || r.FRECTOTALAMOUNTFOR || 0);
        r.FNOTVERIFICATEAMOUNT = r.FREALRECAMOUNTFOR_D;
      }
      v.FRECEIVEAMOUNTFOR_H = sum('FRECEIVEBILLENTRY', 'FRECTOTALAMOUNTFOR');
      v.FREALRECAMOUNTFOR = sum('FRECEIVEBILLENTRY', 'FREALRECAMOUNTFOR_D');
      break;
    case 'AP_PAYBILL':
      for (const row of rec.entries.FPAYBILLENTRY ?? []) {
        const r = row.values;
        r.FREALPAYAMOUNTFOR_D = round2(Number(r.FPAYAMOUNTFOR_E || r.FPAYTOTALAMOUNTFOR || 0));
      }
      v.FPAYAMOUNTFOR_H = sum('FPAYBILLENTRY', 'FPAYTOTALAMOUNTFOR');
      v.FREALPAYAMOUNTFOR = sum('FPAYBILLENTRY', 'FREALPAYAMOUNTFOR_D');
      break;
    case 'ER_ExpReimbursement':
      v.FExpenseAmount = sum('FEntity', 'FTaxSubmitAmt');
      v.FReqReimbAmount = sum('FEntity', 'FExpSubmitAmount', 'FTaxSubmitAmt');
      v.FPayedAmount ??= 0;
      break;
  }
}

/** `NeedReturnData` for the requested keys; entry fields as `EntryKey.FieldKey` (spec 4.1). */
function needReturnData(t: Table, rec: StoredRecord, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const dot = key.indexOf('.');
    const entity = dot > 0 ? t.form.entryByKey.get(key.slice(0, dot).toLowerCase()) : undefined;
    if (entity) {
      const fieldKey = key.slice(dot + 1);
      const field = entity.fields.find((x) => x.key.toLowerCase() === fieldKey.toLowerCase());
      const rows = rec.entries[entity.key] ?? [];
      const list =
        (out[entity.key] as Record<string, unknown>[] | undefined) ??
        rows.map((): Record<string, unknown> => ({}));
      rows.forEach((row, i) => {
        list[i][fieldKey] =
          fieldKey.toLowerCase() === entity.pk.toLowerCase()
            ? row.id
            : field
              ? displayValue(field, row.values[field.key])
              : null;
      });
      out[entity.key] = list;
      continue;
    }
    const place = t.form.places.get(key.toLowerCase());
    if (key.toLowerCase() === t.form.pk.toLowerCase()) out[key] = rec.id;
    else if (place && (place.where === 'head' || place.where === 'sub')) {
      out[key] = displayValue(place.field, rec.values[place.field.key]);
    }
  }
  return out;
}
