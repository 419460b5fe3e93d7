/**
 * View (spec 4.3): `Result.ResponseStatus` is null on success and `Result.Result` holds the object
 * graph under entity *property* names (`TEL`, not `FTEL`; entries by entity name), base data nested as
 * `{Id, Number, Name:[…]}` and assistant data as `{Id, FNumber, FDataValue:[…]}`.
 */
import { pick } from './body.ts';
import type { StoredRecord, Table } from './db.ts';
import { KdFailure, MsgCode } from './envelope.ts';
import { type FieldDef, propOf } from './forms.ts';
import { notFoundMessage } from './operations.ts';
import { trimMillis } from './query.ts';
import type { KingdeeState } from './state.ts';

const ml = (text: unknown) =>
  text === null || text === undefined ? [] : [{ Key: 2052, Value: String(text) }];

function refObject(state: KingdeeState, formId: string, id: unknown, assistant: boolean): unknown {
  if (typeof id !== 'number') return null;
  const t = state.db.table(formId);
  const rec = t?.records.get(id);
  if (!t || !rec) return null;
  const number = rec.values[t.form.numberKey] ?? null;
  if (assistant) return { Id: String(rec.id), FNumber: number, FDataValue: ml(rec.values.FName) };
  return { Id: rec.id, Number: number, Name: ml(rec.values.FName) };
}

function fieldValue(state: KingdeeState, field: FieldDef, values: Record<string, unknown>): unknown {
  const v = values[field.key];
  switch (field.kind) {
    case 'mltext':
      return ml(v);
    case 'ref':
      return refObject(state, field.ref!, v, false);
    case 'assistant':
      return refObject(state, field.ref!, v, true);
    case 'dynref':
      return refObject(state, String(values[field.ref!] ?? ''), v, false);
    case 'date':
      return typeof v === 'string' ? `${v.slice(0, 10)}T00:00:00` : null;
    case 'datetime':
      return typeof v === 'string' ? trimMillis(v) : null;
    case 'int':
    case 'decimal':
      return Number(v ?? 0);
    case 'bool':
      return v === true;
    default:
      return v ?? null;
  }
}

/** Renders one set of fields under their property names; references also get `<Prop>_Id`. */
function render(
  state: KingdeeState,
  fields: FieldDef[],
  values: Record<string, unknown>,
  out: Record<string, unknown>,
) {
  for (const field of fields) {
    const prop = propOf(field);
    out[prop] = fieldValue(state, field, values);
    if (field.kind === 'ref' || field.kind === 'assistant' || field.kind === 'dynref') {
      out[`${prop}_Id`] = typeof values[field.key] === 'number' ? values[field.key] : 0;
    }
  }
}

export function viewGraph(state: KingdeeState, t: Table, rec: StoredRecord): Record<string, unknown> {
  const form = t.form;
  const out: Record<string, unknown> = { Id: rec.id };
  render(
    state,
    form.fields.filter((f) => f.key !== form.pk),
    rec.values,
    out,
  );
  for (const sub of form.subHeaders) {
    // Sub-headers come as one-element arrays, as K/3 serialises a 1:1 sub-entity collection.
    const obj: Record<string, unknown> = { Id: rec.id };
    render(state, sub.fields, rec.values, obj);
    out[sub.prop] = [obj];
  }
  for (const entity of form.entries) {
    out[entity.prop] = (rec.entries[entity.key] ?? []).map((row) => {
      const obj: Record<string, unknown> = { Id: row.id, Seq: row.seq };
      render(state, entity.fields, row.values, obj);
      return obj;
    });
  }
  return out;
}

/** View data: `{"CreateOrgId": 0, "Number": "…", "Id": "", "IsSortBySeq": false}`. */
export function handleView(state: KingdeeState, t: Table, data: Record<string, unknown>): object {
  const id = Number(pick(data, 'Id') ?? 0) || 0;
  const number = String(pick(data, 'Number') ?? '').trim();
  let rec: StoredRecord | undefined;
  if (id > 0) rec = t.records.get(id);
  else if (number) {
    const found = t.byNumber.get(number.toLowerCase());
    rec = found === undefined ? undefined : t.records.get(found);
  } else throw new KdFailure(MsgCode.parameter, '参数错误：Number 和 Id 不能同时为空');
  // Spec 4.3/9.7: a missing record answers a failure envelope, MsgCode 10 assumed.
  if (!rec) throw new KdFailure(MsgCode.notFound, notFoundMessage(t.form, id > 0 ? String(id) : number));
  return { Result: { ResponseStatus: null, Result: viewGraph(state, t, rec) } };
}
