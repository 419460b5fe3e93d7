/**
 * Typed calls over the Neocrm endpoints a hub uses (spec 4): xobjects CRUD and batch, describe,
 * business types, query v2, XOQL and XOQL scroll. Each unwraps its family's envelope (spec 3).
 */
import { PermanentError } from '../../core/errors.ts';
import type { NeocrmClient } from './client.ts';
import { idFieldsOf, type SchemaCache } from './schema.ts';

export type Rec = Record<string, unknown>;

export interface QueryPage {
  totalSize: number;
  count: number;
  records: Rec[];
}

export interface BatchItemResult {
  index: number;
  ok: boolean;
  id?: string;
  code: string;
  msg: string | null;
}

/** The query name of an object: `order` is a reserved word and is queried as `_order` (spec 4.10). */
export function queryName(object: string): string {
  return object === 'order' ? '_order' : object;
}

/** A string literal for a query statement, quotes doubled. */
export function quote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A literal for a query condition: numbers as is, id strings unquoted, other strings quoted. */
export function literal(value: unknown, asId = false): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  const s = String(value);
  return asId && /^\d+$/.test(s) ? s : quote(s);
}

const enc = encodeURIComponent;

export class NeocrmApi {
  readonly client: NeocrmClient;
  readonly schema: SchemaCache;
  private readonly busiTypes = new Map<string, Promise<Rec[]>>();

  constructor(client: NeocrmClient, schema: SchemaCache) {
    this.client = client;
    this.schema = schema;
  }

  private idFields(object: string): Set<string> {
    return idFieldsOf(this.schema.known(object));
  }

  /** `POST /rest/data/v2.0/xobjects/{apiKey}` (spec 4.1) → the new id. */
  async create(object: string, data: Rec, signal?: AbortSignal): Promise<string> {
    const res = await this.client.request({
      operation: `create ${object}`,
      method: 'POST',
      path: `/rest/data/v2.0/xobjects/${enc(object)}`,
      json: { data },
      idFields: this.idFields(object),
      signal,
    });
    const id = res.body?.data?.id;
    if (id === undefined || id === null) {
      throw new PermanentError(`Neocrm create ${object}: the answer carries no id`, {
        partner: { system: 'neocrm', operation: `create ${object}`, message: res.text.slice(0, 200) },
        fault: 'bug',
      });
    }
    return String(id);
  }

  /** `GET /rest/data/v2.0/xobjects/{apiKey}/{id}` (spec 4.2) → the flat record. */
  async get(object: string, id: string, signal?: AbortSignal): Promise<Rec> {
    const res = await this.client.request({
      operation: `get ${object}`,
      method: 'GET',
      path: `/rest/data/v2.0/xobjects/${enc(object)}/${enc(id)}`,
      signal,
    });
    return (res.body?.data ?? {}) as Rec;
  }

  /** `PATCH /rest/data/v2.0/xobjects/{apiKey}/{id}`: partial update (spec 4.3). */
  async update(object: string, id: string, data: Rec, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      operation: `update ${object}`,
      method: 'PATCH',
      path: `/rest/data/v2.0/xobjects/${enc(object)}/${enc(id)}`,
      json: { data },
      idFields: this.idFields(object),
      signal,
    });
  }

  /** `DELETE /rest/data/v2.0/xobjects/{apiKey}/{id}` (spec 4.4). */
  async remove(object: string, id: string, signal?: AbortSignal): Promise<void> {
    await this.client.request({
      operation: `delete ${object}`,
      method: 'DELETE',
      path: `/rest/data/v2.0/xobjects/${enc(object)}/${enc(id)}`,
      signal,
    });
  }

  /**
   * `POST|PATCH|DELETE …/{apiKey}/batch` with `xsy-execmode` (spec 4.5). Results are read from
   * `data.batchData` or a top-level `batchData` (both placements occur).
   */
  async batch(
    object: string,
    operation: 'create' | 'update' | 'delete',
    items: Rec[],
    execMode: 'continue' | 'stop',
    signal?: AbortSignal,
  ): Promise<BatchItemResult[]> {
    const method = operation === 'create' ? 'POST' : operation === 'update' ? 'PATCH' : 'DELETE';
    const res = await this.client.request({
      operation: `batch ${operation} ${object}`,
      method,
      path: `/rest/data/v2.0/xobjects/${enc(object)}/batch`,
      json: { batchData: items.map((data) => ({ data })) },
      idFields: this.idFields(object),
      headers: { 'xsy-execmode': execMode },
      signal,
    });
    const list = res.body?.data?.batchData ?? res.body?.batchData;
    if (!Array.isArray(list)) {
      throw new PermanentError(`Neocrm batch ${operation} ${object}: the answer carries no batchData`, {
        partner: {
          system: 'neocrm',
          operation: `batch ${operation} ${object}`,
          message: res.text.slice(0, 200),
        },
        fault: 'bug',
      });
    }
    return list.map((r: any, index: number) => ({
      index,
      ok: String(r?.code) === '200',
      ...(r?.data?.id !== undefined && r?.data?.id !== null ? { id: String(r.data.id) } : {}),
      code: String(r?.code ?? ''),
      msg: r?.msg ?? null,
    }));
  }

  /** `GET …/{apiKey}/description` (spec 4.6) → the describe `data`. */
  async describe(object: string, signal?: AbortSignal): Promise<any> {
    const res = await this.client.request({
      operation: `describe ${object}`,
      method: 'GET',
      path: `/rest/data/v2.0/xobjects/${enc(object)}/description`,
      signal,
    });
    return res.body?.data;
  }

  /** `GET …/{apiKey}/busiType` (spec 4.7), cached: the business types, default first. */
  businessTypes(object: string, signal?: AbortSignal): Promise<Rec[]> {
    let p = this.busiTypes.get(object);
    if (!p) {
      p = this.client
        .request({
          operation: `busiType ${object}`,
          method: 'GET',
          path: `/rest/data/v2.0/xobjects/${enc(object)}/busiType`,
          signal,
        })
        .then((res) => (Array.isArray(res.body?.data?.records) ? (res.body.data.records as Rec[]) : []));
      p.catch(() => this.busiTypes.delete(object));
      this.busiTypes.set(object, p);
    }
    return p;
  }

  /** The id of the object's default business type, for creates that do not name one (spec 4.1). */
  async defaultEntityType(object: string, signal?: AbortSignal): Promise<string | undefined> {
    const types = await this.businessTypes(object, signal);
    const def = types.find((b) => b.isDefault === true) ?? types[0];
    return def?.id !== undefined ? String(def.id) : undefined;
  }

  /** `GET /rest/data/v2/query?q=` (spec 4.10): one page, numeric-code envelope with `result` (spec 3.2). */
  async queryV2(statement: string, signal?: AbortSignal): Promise<QueryPage> {
    const res = await this.client.request({
      operation: 'query',
      method: 'GET',
      path: '/rest/data/v2/query',
      query: { q: statement },
      signal,
    });
    return page(res.body?.result);
  }

  /** `POST /rest/data/v2.0/query/xoql` (spec 4.11). */
  async xoql(statement: string, signal?: AbortSignal): Promise<QueryPage> {
    const res = await this.client.request({
      operation: 'xoql',
      method: 'POST',
      path: '/rest/data/v2.0/query/xoql',
      form: { xoql: statement },
      signal,
    });
    return page(res.body?.data);
  }

  /**
   * `POST /rest/data/v2.0/query/xoqlScroll` (spec 4.12): yields batches until the `queryLocator`
   * comes back empty. The locator is at the top level, passed back with the same statement.
   */
  async *scroll(statement: string, batchCount = 2000, signal?: AbortSignal): AsyncGenerator<Rec[]> {
    let locator = '';
    for (;;) {
      const res = await this.client.request({
        operation: 'xoqlScroll',
        method: 'POST',
        path: '/rest/data/v2.0/query/xoqlScroll',
        form: { xoql: statement, batchCount: String(batchCount), queryLocator: locator },
        signal,
      });
      const p = page(res.body?.data);
      yield p.records;
      locator = typeof res.body?.queryLocator === 'string' ? res.body.queryLocator : '';
      if (!locator) return;
    }
  }

  /**
   * Streams a query v2 statement (without `limit`) page by page: `order by id` and `limit offset,size`
   * as spec 6 describes, `size` the documented ceiling.
   */
  async *queryAll(statement: string, pageSize: number, signal?: AbortSignal): AsyncGenerator<QueryPage> {
    const ordered = /\border\s+by\b/i.test(statement) ? statement : `${statement} order by id asc`;
    for (let offset = 0; ; offset += pageSize) {
      const p = await this.queryV2(`${ordered} limit ${offset},${pageSize}`, signal);
      yield p;
      if (p.records.length < pageSize) return;
    }
  }
}

function page(x: any): QueryPage {
  const records = Array.isArray(x?.records) ? (x.records as Rec[]) : [];
  return {
    totalSize: Number(x?.totalSize ?? records.length),
    count: Number(x?.count ?? records.length),
    records,
  };
}
