import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

describe('/api/connections', () => {
  let k: ApiKit;
  before(async () => {
    k = await startApiKit();
  });
  after(() => k.close());

  it('creates a connection (201), masks its secret everywhere, seals it at rest and audits the actor', async () => {
    const put = await k.call(
      'PUT',
      '/connections/target',
      { type: 'http', settings: k.targetSettings(), limits: { concurrency: 4 } },
      { 'x-qiao-actor': encodeURIComponent('王芳') },
    );
    assert.equal(put.status, 201);
    assert.deepEqual(put.body.settings, {
      baseUrl: k.target.baseUrl,
      auth: { type: 'bearer', token: '******' },
    });
    assert.deepEqual(put.body.limits, { concurrency: 4 });
    assert.equal(put.body.origin, 'api');

    const list = await k.call('GET', '/connections');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((c: any) => [c.id, c.settings.auth.token]),
      [['target', '******']],
    );
    const one = await k.call('GET', '/connections/target');
    assert.equal(one.status, 200);
    assert.equal(one.body.settings.auth.token, '******');
    assert.doesNotMatch(JSON.stringify([list.body, one.body]), /qiao-target-token|qiao:v1/);

    const stored = await k.hub.store.getConnection('target');
    assert.match(String((stored!.settings.auth as any).token), /^qiao:v1:/, 'sealed at rest');

    const audit = (await k.hub.store.listAudit({ limit: 1000 })).filter(
      (a) => a.target === 'connection:target',
    );
    assert.deepEqual(
      audit.map((a) => [a.actor, a.action]),
      [['王芳', 'connection.create']],
    );
  });

  it('a PUT that sends the mask back keeps the stored secret; an unchanged PUT writes nothing', async () => {
    const before = (await k.hub.store.listAudit({ limit: 1000 })).length;
    const same = await k.call('PUT', '/connections/target', {
      type: 'http',
      settings: { baseUrl: k.target.baseUrl, auth: { type: 'bearer', token: '******' } },
      limits: { concurrency: 4 },
    });
    assert.equal(same.status, 200);
    assert.equal(same.body.version, 1, 'unchanged: no new version');
    assert.equal((await k.hub.store.listAudit({ limit: 1000 })).length, before, 'and no audit row');
    const test = await k.call('POST', '/connections/target/test');
    assert.equal(test.body.ok, true, 'the kept secret still works');

    const changed = await k.call('PUT', '/connections/target', {
      type: 'http',
      settings: { baseUrl: `${k.target.baseUrl}/`, auth: { type: 'bearer', token: '******' } },
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.version, 2);
    assert.equal(changed.body.limits, undefined);
    const audit = await k.hub.store.listAudit({ limit: 1000 });
    assert.deepEqual(
      [audit.at(-1)!.actor, audit.at(-1)!.action],
      ['api', 'connection.update'],
      'the actor defaults to api',
    );
  });

  it('the mask for a secret that was never stored is refused', async () => {
    const r = await k.call('PUT', '/connections/fresh', {
      type: 'http',
      settings: { baseUrl: k.target.baseUrl, auth: { type: 'bearer', token: '******' } },
    });
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'validation_failed');
    assert.deepEqual(r.body.problems, [
      {
        path: 'settings.auth.token',
        message: "'******' stands for a stored secret, and there is none: give the secret itself",
      },
    ]);
    assert.equal((await k.call('GET', '/connections/fresh')).status, 404);
  });

  it('test: ok with the detail, or the partner message with the secret scrubbed', async () => {
    const ok = await k.call('POST', '/connections/target/test');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.ok, true);
    assert.equal(ok.body.detail, 'HTTP 404');
    assert.equal(typeof ok.body.ms, 'number');

    await k.call('PUT', '/connections/wrong-token', {
      type: 'http',
      settings: {
        baseUrl: `${k.target.baseUrl}/items`,
        auth: { type: 'bearer', token: 'a-wrong-token-1234' },
      },
    });
    const bad = await k.call('POST', '/connections/wrong-token/test');
    assert.equal(bad.status, 200);
    assert.equal(bad.body.ok, false);
    assert.equal(bad.body.error.errorClass, 'permanent');
    assert.match(bad.body.error.message, /401/);
    assert.doesNotMatch(JSON.stringify(bad.body), /a-wrong-token-1234/);
  });

  it('bad input: malformed id 400, unknown id 404, unknown fields 400, invalid settings 422, unknown type 422', async () => {
    const malformed = await k.call('GET', '/connections/Bad_Id');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error, 'invalid_request');
    assert.equal(malformed.body.problems[0].path, 'params.id');

    for (const [method, path] of [
      ['GET', '/connections/nope'],
      ['DELETE', '/connections/nope'],
      ['POST', '/connections/nope/test'],
    ]) {
      const r = await k.call(method, path);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.deepEqual(r.body, { error: 'not_found', message: "connection 'nope' does not exist" });
    }

    const unknownField = await k.call('PUT', '/connections/x', { type: 'http', settings: {}, color: 'red' });
    assert.equal(unknownField.status, 400);
    assert.deepEqual(unknownField.body.problems, [{ path: 'body.color', message: 'unknown field' }]);

    const missing = await k.call('PUT', '/connections/x', { settings: {} });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body.problems, [{ path: 'body.type', message: 'required' }]);

    const badLimits = await k.call('PUT', '/connections/x', {
      type: 'http',
      settings: {},
      limits: { concurrency: 0 },
    });
    assert.equal(badLimits.status, 400);
    assert.equal(badLimits.body.problems[0].path, 'body.limits.concurrency');

    const invalid = await k.call('PUT', '/connections/x', {
      type: 'http',
      settings: { baseUrl: 'not a url', extra: 1 },
    });
    assert.equal(invalid.status, 422);
    assert.deepEqual(invalid.body.problems.map((p: any) => p.path).sort(), ['settings', 'settings.baseUrl']);
    assert.match(invalid.body.problems.find((p: any) => p.path === 'settings').message, /extra/);

    const type = await k.call('PUT', '/connections/x', { type: 'sap', settings: {} });
    assert.equal(type.status, 422);
    assert.equal(type.body.problems[0].path, 'type');
    assert.match(type.body.problems[0].message, /unknown connector type 'sap' \(known: .*http/);
    assert.equal((await k.call('GET', '/connections/x')).status, 404, 'nothing half-written');
  });

  it('malformed JSON is 400 invalid_json; a non-JSON content type is 415', async () => {
    const r = await k.call('PUT', '/connections/x', '{"type": "http",', {
      'content-type': 'application/json',
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_json');
    assert.match(r.body.message, /^the body is not valid JSON: /);
    const proto = await k.call('PUT', '/connections/x', '{"__proto__": {"x": 1}}', {
      'content-type': 'application/json',
    });
    assert.equal(proto.status, 400);
    assert.equal(proto.body.error, 'invalid_json');
    const text = await k.call('PUT', '/connections/x', 'type=http', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.equal(text.body.error, 'unsupported_media_type');
    const yaml = await k.call('PUT', '/connections/x', 'type: http', { 'content-type': 'text/yaml' });
    assert.equal(yaml.status, 400);
    assert.deepEqual(yaml.body.problems, [{ path: 'body', message: 'this route takes JSON, not YAML' }]);
  });

  it('an actor header with control characters is refused', async () => {
    const r = await k.call('DELETE', '/connections/target', undefined, { 'x-qiao-actor': '%0Aroot' });
    assert.equal(r.status, 400);
    assert.equal(r.body.problems[0].path, 'headers.x-qiao-actor');
    assert.equal((await k.call('GET', '/connections/target')).status, 200);
  });

  it('delete: refused while a flow uses the connection, refused for qiao.yaml connections, else 204 and audited', async () => {
    await k.hub.saveFlow(
      'id: uses-target\nname: u\ntrigger: { type: manual }\nsteps:\n  - id: s\n    action: target.request\n    input: { path: /items }\n',
      'u.yaml',
      'api',
      'test',
    );
    const used = await k.call('DELETE', '/connections/target');
    assert.equal(used.status, 409);
    assert.deepEqual(used.body, {
      error: 'conflict',
      message: "connection 'target' is used by flow uses-target; change or delete it first",
    });
    const retype = await k.call('PUT', '/connections/target', { type: 'wecom', settings: {} });
    assert.equal(retype.status, 409);
    assert.match(retype.body.message, /its type cannot change from http to wecom/);

    await k.hub.connections.save(
      { id: 'from-file', type: 'http', settings: k.targetSettings(), origin: 'config' },
      'config',
    );
    const cfg = await k.call('DELETE', '/connections/from-file');
    assert.equal(cfg.status, 409);
    assert.match(cfg.body.message, /comes from qiao\.yaml/);
    const cfgPut = await k.call('PUT', '/connections/from-file', {
      type: 'http',
      settings: k.targetSettings(),
    });
    assert.equal(cfgPut.status, 409);

    const del = await k.call('DELETE', '/connections/wrong-token', undefined, { 'x-qiao-actor': 'ops' });
    assert.equal(del.status, 204);
    assert.equal(del.body, undefined);
    assert.equal((await k.call('GET', '/connections/wrong-token')).status, 404);
    assert.equal(k.hub.connections.get('wrong-token'), undefined, 'closed and gone from the live set');
    const last = (await k.hub.store.listAudit({ limit: 1000 })).at(-1)!;
    assert.deepEqual(
      [last.actor, last.action, last.target],
      ['ops', 'connection.delete', 'connection:wrong-token'],
    );
  });
});
