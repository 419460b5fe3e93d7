/**
 * Finding documents before writing them: by internal id, by number, by any other key field, with
 * their status, through ExecuteBillQuery (spec 4.4). This is what makes writes idempotent (spec 7,
 * "Idempotency: query by FNumber/external key first; if found, update with the internal id").
 */
import { PermanentError } from '../../core/errors.ts';
import type { KingdeeClient } from './client.ts';
import { formKeys } from './schema.ts';

export interface DocRef {
  id: number;
  number: string;
  /** FDocumentStatus: Z, A, B, C or D. */
  status: string;
}

/** A FilterString literal: single quotes, doubled inside (spec 4.4). */
export function quote(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replace(/'/g, "''")}'`;
}

/** A field key must look like one before it goes into a FilterString. */
export function assertFieldKey(key: string): string {
  if (!/^[A-Za-z_][\w.]*$/.test(key))
    throw new PermanentError(`not a Kingdee field key: ${key}`, { fault: 'user' });
  return key;
}

const CHUNK = 200;

/** Reads id, number and status of the documents matching `filter`. */
async function select(
  client: KingdeeClient,
  formId: string,
  filter: string,
  signal?: AbortSignal,
): Promise<DocRef[]> {
  const { idField, numberField } = formKeys(formId);
  const out: DocRef[] = [];
  for await (const page of client.queryPages(
    {
      FormId: formId,
      FieldKeys: `${idField},${numberField},FDocumentStatus`,
      FilterString: filter,
      OrderString: `${idField} ASC`,
    },
    { signal },
  )) {
    for (const row of page) {
      out.push({
        id: Number(row[idField]),
        number: String(row[numberField] ?? ''),
        status: String(row.FDocumentStatus ?? ''),
      });
    }
  }
  return out;
}

export type Locator =
  | { id: number | string }
  | { number: string }
  | { field: string; value: string | number };

/** The one document a locator names, or undefined. A key matching several documents is refused. */
export async function findDocument(
  client: KingdeeClient,
  formId: string,
  locator: Locator,
  signal?: AbortSignal,
): Promise<DocRef | undefined> {
  const { idField, numberField } = formKeys(formId);
  let filter: string;
  if ('id' in locator) filter = `${idField} = ${Number(locator.id)}`;
  else if ('number' in locator) filter = `${numberField} = ${quote(locator.number)}`;
  else filter = `${assertFieldKey(locator.field)} = ${quote(locator.value)}`;
  const found = await select(client, formId, filter, signal);
  // Entry fields may repeat a header: keep distinct documents.
  const distinct = [...new Map(found.map((d) => [d.id, d])).values()];
  if (distinct.length > 1 && !('id' in locator)) {
    throw new PermanentError(`${formId}: ${JSON.stringify(locator)} matches ${distinct.length} documents`, {
      fault: 'user',
    });
  }
  return distinct[0];
}

/** Documents by number and/or internal id, keyed by the number or id string given. */
export async function findMany(
  client: KingdeeClient,
  formId: string,
  keys: { numbers?: string[]; ids?: Array<string | number> },
  signal?: AbortSignal,
): Promise<Map<string, DocRef>> {
  const { idField, numberField } = formKeys(formId);
  const out = new Map<string, DocRef>();
  const numbers = [...new Set(keys.numbers ?? [])];
  const ids = [...new Set((keys.ids ?? []).map((i) => Number(i)).filter((n) => n > 0))];
  for (let i = 0; i < numbers.length; i += CHUNK) {
    const chunk = numbers.slice(i, i + CHUNK);
    for (const d of await select(
      client,
      formId,
      `${numberField} in (${chunk.map((n) => quote(n)).join(',')})`,
      signal,
    )) {
      const key = chunk.find((n) => n.toLowerCase() === d.number.toLowerCase());
      if (key !== undefined) out.set(key, d);
    }
  }
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    for (const d of await select(client, formId, `${idField} in (${chunk.join(',')})`, signal))
      out.set(String(d.id), d);
  }
  return out;
}
