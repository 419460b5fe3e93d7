/**
 * The sandbox's in-memory database: one table per form with auto-increment internal ids, auto-numbers
 * per form, and a case-insensitive number index (SQL Server's default collation is case-insensitive,
 * so K/3 treats `c0001` and `C0001` as the same number).
 */
import { FORMS, type Form, type FormDef, prepareForm } from './forms.ts';

export interface EntryRow {
  id: number;
  seq: number;
  values: Record<string, unknown>;
}

export interface StoredRecord {
  id: number;
  values: Record<string, unknown>;
  entries: Record<string, EntryRow[]>;
  /** Organisations this base-data record was allocated to (spec 4.6). */
  allocatedOrgs: number[];
}

export interface Table {
  form: Form;
  records: Map<number, StoredRecord>;
  byNumber: Map<string, number>;
  nextId: number;
  nextNumber: number;
}

export class KingdeeDb {
  readonly tables = new Map<string, Table>();
  private nextEntryId = 200001;

  constructor(defs: readonly FormDef[] = FORMS) {
    // Internal ids count per table, as K/3's id generators do.
    for (const def of defs) {
      this.tables.set(def.formId.toLowerCase(), {
        form: prepareForm(def),
        records: new Map(),
        byNumber: new Map(),
        nextId: 100001,
        nextNumber: 1,
      });
    }
  }

  /** Form ids are matched case-insensitively (`BD_MATERIAL` and `BD_Material`, spec 6.3). */
  table(formId: string): Table | undefined {
    return this.tables.get(formId.toLowerCase());
  }

  newId(t: Table): number {
    return t.nextId++;
  }

  newEntryId(): number {
    return this.nextEntryId++;
  }

  /** The next free auto-number, e.g. `XSDD000123` (spec 9.4). */
  newNumber(t: Table): string {
    for (;;) {
      const n = `${t.form.numberPrefix}${String(t.nextNumber++).padStart(t.form.numberDigits, '0')}`;
      if (!t.byNumber.has(n.toLowerCase())) return n;
    }
  }

  get(formId: string, id: number): StoredRecord | undefined {
    return this.table(formId)?.records.get(id);
  }

  byNumber(formId: string, number: string): StoredRecord | undefined {
    const t = this.table(formId);
    const id = t?.byNumber.get(number.toLowerCase());
    return id === undefined ? undefined : t!.records.get(id);
  }

  insert(t: Table, rec: StoredRecord): void {
    t.records.set(rec.id, rec);
    this.reindex(t, rec, undefined);
  }

  /** Keeps the number index right after a record's number changed (or it was created). */
  reindex(t: Table, rec: StoredRecord, oldNumber: unknown): void {
    if (typeof oldNumber === 'string' && oldNumber) t.byNumber.delete(oldNumber.toLowerCase());
    const n = rec.values[t.form.numberKey];
    if (typeof n === 'string' && n) t.byNumber.set(n.toLowerCase(), rec.id);
  }

  remove(t: Table, rec: StoredRecord): void {
    t.records.delete(rec.id);
    const n = rec.values[t.form.numberKey];
    if (typeof n === 'string' && n) t.byNumber.delete(n.toLowerCase());
  }

  /** Display helpers used by View, queries and messages. */
  numberOf(formId: string, id: unknown): string | undefined {
    if (typeof id !== 'number') return undefined;
    const t = this.table(formId);
    const rec = t?.records.get(id);
    return rec ? (rec.values[t!.form.numberKey] as string | undefined) : undefined;
  }

  nameOf(formId: string, id: unknown): string | undefined {
    if (typeof id !== 'number') return undefined;
    const rec = this.get(formId, id);
    const name = rec?.values.FName ?? rec?.values.FDataValue;
    return typeof name === 'string' ? name : undefined;
  }

  /**
   * Resolves a base-data reference object such as `{"FNumber": "C0001"}`. The key inside varies per
   * field and template (`FNumber`, `FNUMBER`, `FNAME`, `FUserID`, `FSTAFFNUMBER`, `FCODE`, `FID`, spec
   * 4.1) and its case is undocumented, so every listed key is accepted case-insensitively.
   * `usableOnly`: like K/3's base-data lookup, only audited, enabled records count (spec 4.1
   * `IsVerifyBaseDataField`: "disabled data counts as missing").
   */
  resolveRef(
    formId: string,
    value: unknown,
    usableOnly: boolean,
  ): { id?: number; given?: string; found?: StoredRecord } {
    const t = this.table(formId);
    if (!t || value === null || value === undefined || value === '') return {};
    if (typeof value !== 'object' || Array.isArray(value)) return { given: String(value) };
    let found: StoredRecord | undefined;
    let given: string | undefined;
    for (const [rawKey, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === null || v === undefined || v === '') continue;
      const key = rawKey.toLowerCase();
      given = String(v);
      if (key === 'fnumber' || key === 'number') found = this.byNumber(formId, String(v));
      else if (key === 'fid' || key === 'id' || key === 'fuserid' || key === t.form.pk.toLowerCase()) {
        found = t.records.get(Number(v));
      } else if (key === 'fname' || key === 'name') {
        found = [...t.records.values()].find((r) => r.values.FName === String(v));
      } else if (key === 'fcode') {
        found =
          [...t.records.values()].find(
            (r) => String(r.values.FCode ?? '').toLowerCase() === given!.toLowerCase(),
          ) ?? this.byNumber(formId, String(v));
      } else {
        const field = t.form.lookupKeys?.[key];
        if (field) {
          found = [...t.records.values()].find(
            (r) => String(r.values[field] ?? '').toLowerCase() === String(v).toLowerCase(),
          );
        }
      }
      if (found) break;
    }
    if (found && usableOnly && !isUsable(t.form, found)) return { given };
    return { id: found?.id, given, found };
  }
}

/** Audited and not forbidden: what a base-data lookup (F7) offers. */
export function isUsable(form: Form, rec: StoredRecord): boolean {
  if (form.kind !== 'base') return true;
  return rec.values.FDocumentStatus === 'C' && rec.values.FForbidStatus !== 'B';
}
