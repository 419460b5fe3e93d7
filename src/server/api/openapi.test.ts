import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

/** Every route the API has (docs/api.md), as `METHOD /path`. */
const ROUTES = [
  'GET /api/connections',
  'GET /api/connections/{id}',
  'PUT /api/connections/{id}',
  'DELETE /api/connections/{id}',
  'POST /api/connections/{id}/test',
  'GET /api/connector-types',
  'GET /api/flows',
  'POST /api/flows/validate',
  'GET /api/flows/{id}',
  'PUT /api/flows/{id}',
  'DELETE /api/flows/{id}',
  'POST /api/flows/{id}/enable',
  'POST /api/flows/{id}/disable',
  'POST /api/flows/{id}/run',
  'GET /api/runs',
  'GET /api/runs/{id}',
  'GET /api/dead-letters',
  'GET /api/dead-letters/{id}',
  'PATCH /api/dead-letters/{id}',
  'POST /api/dead-letters/{id}/replay',
  'POST /api/dead-letters/{id}/discard',
  'GET /api/links',
  'GET /api/audit',
  'GET /api/audit/verify',
  'GET /api/reviews',
  'GET /api/reviews/{id}',
  'POST /api/reviews/{id}/resolve',
  'GET /api/openapi.json',
];

describe('/api/openapi.json', () => {
  let k: ApiKit;
  let doc: any;
  before(async () => {
    k = await startApiKit();
    const r = await k.call('GET', '/openapi.json');
    assert.equal(r.status, 200);
    doc = r.body;
  });
  after(() => k.close());

  it('is OpenAPI 3.1 and lists exactly the routes the server has', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.title, 'Qiao (桥) API');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    assert.deepEqual([...listed].sort(), [...ROUTES].sort());
    for (const r of listed) {
      const [method, path] = r.split(' ');
      const url = path.replace(/\{(\w+)\}/g, ':$1');
      assert.ok(k.hub.server!.hasRoute({ method: method as 'GET', url }), `${r} is served`);
    }
    const ids = listed.map((r) => {
      const [m, p] = r.split(' ');
      return doc.paths[p][m.toLowerCase()].operationId;
    });
    assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
  });

  it('describes parameters, bodies and answers from the route schemas', () => {
    const listRuns = doc.paths['/api/runs'].get;
    assert.deepEqual(
      listRuns.parameters.map((p: any) => [p.name, p.in, p.required]),
      [
        ['flowId', 'query', false],
        ['status', 'query', false],
        ['limit', 'query', false],
        ['before', 'query', false],
      ],
    );
    assert.deepEqual(listRuns.parameters[1].schema.enum, [
      'running',
      'waiting',
      'completed',
      'failed',
      'filtered',
      'cancelled',
    ]);
    assert.equal(listRuns.parameters[2].schema.maximum, 1000);
    const run = listRuns.responses['200'].content['application/json'].schema;
    assert.ok(run.properties.items.items.properties.flowId);

    const putFlow = doc.paths['/api/flows/{id}'].put;
    assert.deepEqual(Object.keys(putFlow.requestBody.content), ['application/json', 'text/yaml']);
    assert.deepEqual(putFlow.requestBody.content['application/json'].schema.required, ['yaml']);
    assert.equal(putFlow.requestBody.content['application/json'].schema.additionalProperties, false);
    assert.ok(putFlow.responses['201'] && putFlow.responses['422'] && putFlow.responses['404']);
    assert.ok(
      putFlow.parameters.some((p: any) => p.$ref === '#/components/parameters/Actor'),
      'changes take the actor header',
    );
    assert.deepEqual(doc.paths['/api/connections/{id}'].get.parameters[0], {
      name: 'id',
      in: 'path',
      required: true,
      schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' },
    });
    assert.equal(doc.components.schemas.Error.properties.error.type, 'string');
  });
});
