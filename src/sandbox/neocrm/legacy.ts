/**
 * Legacy v1 endpoints (spec 4.13, 4.15, 10.10), served only when `config.legacy` is on: the v1 query
 * (form `q`, bare `{totalSize, count, records}`, up to 300 rows), record info, the department
 * dimension picklist and the document list. Failures use the v1 body `{"error_code", "message"}`.
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { formParams, queryRows } from './query.ts';
import { type Actor, idValue, requireObject, toWire, visibleRecord } from './records.ts';
import { fail, type Tenant } from './state.ts';

const bare = (body: object): SandboxReply => ({ status: 200, body });

export function legacyV1(t: Tenant, rest: string[], req: SandboxRequest, actor: Actor): SandboxReply {
  const ids = t.config.idsAsStrings ? 'string' : 'number';
  if (rest[0] === 'query' && rest.length === 1) {
    const q = formParams(req).get('q') ?? '';
    return bare(queryRows(t, q, actor, 300));
  }
  if (rest[0] === 'objects' && rest[1] === 'document' && rest[2] === 'list' && req.method === 'GET') {
    // Attachments are not simulated: the list is always empty, note the singular `record` (spec 3.3).
    return bare({ totalSize: 0, count: 0, record: [] });
  }
  if (rest[0] === 'objects' && rest[2] === 'info' && req.method === 'GET') {
    const def = requireObject(t, rest[1] ?? '');
    const id = idValue(req.query.get('id') ?? '');
    if (!id) throw fail.validation('id 不能为空', 'id');
    return bare(toWire(def, visibleRecord(t, def, id, actor), ids));
  }
  if (rest[0] === 'picks' && rest[1] === 'dimension' && rest[2] === 'belongs' && req.method === 'GET') {
    const records = [...t.records.get('department')!.values()].map((d) => ({ id: d.id, name: d.departName }));
    return bare({
      totalSize: records.length,
      records: records.map((r) => toWire(t.meta.get('department')!, r, ids)),
    });
  }
  throw fail.notFound('接口不存在');
}
