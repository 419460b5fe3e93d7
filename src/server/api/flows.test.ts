import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

const FLOW = `id: make-item
name: 创建条目
trigger: { type: manual }
steps:
  - id: pick
    map: { name: '=event.name' }
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: '=steps.pick' }
`;

const YAML = { 'content-type': 'text/yaml; charset=utf-8' };

describe('/api/flows', () => {
  let k: ApiKit;
  before(async () => {
    k = await startApiKit();
    await k.call('PUT', '/connections/target', { type: 'http', settings: k.targetSettings() });
  });
  after(() => k.close());

  it('PUT with a YAML body creates (201), the same again changes nothing (200), JSON {yaml} replaces', async () => {
    const created = await k.call('PUT', '/flows/make-item', FLOW, { ...YAML, 'x-qiao-actor': 'li.lei' });
    assert.equal(created.status, 201);
    assert.equal(created.body.id, 'make-item');
    assert.equal(created.body.name, '创建条目');
    assert.equal(created.body.version, 1);
    assert.equal(created.body.yaml, FLOW);
    assert.deepEqual(created.body.trigger, { type: 'manual' });
    assert.equal(created.body.steps, 2);

    const same = await k.call('PUT', '/flows/make-item', FLOW, YAML);
    assert.equal(same.status, 200);
    assert.equal(same.body.version, 1);

    const renamed = FLOW.replace('创建条目', '创建条目 v2');
    const replaced = await k.call('PUT', '/flows/make-item', { yaml: renamed });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.version, 2);
    assert.equal(replaced.body.name, '创建条目 v2');

    const audit = (await k.hub.store.listAudit({ limit: 1000 })).filter((a) => a.target === 'flow:make-item');
    assert.deepEqual(
      audit.map((a) => [a.actor, a.action]),
      [
        ['li.lei', 'flow.create'],
        ['api', 'flow.update'],
      ],
    );
  });

  it('list and get', async () => {
    const list = await k.call('GET', '/flows');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((f: any) => [f.id, f.enabled, f.origin]),
      [['make-item', true, 'api']],
    );
    const one = await k.call('GET', '/flows/make-item');
    assert.equal(one.status, 200);
    assert.match(one.body.yaml, /创建条目 v2/);
    assert.equal(one.body.definition.steps.length, 2);
  });

  it('invalid YAML is 422 with every problem, its path and line, and nothing is stored', async () => {
    const bad = `id: broken
name: b
trigger: { type: manual }
steps:
  - id: send
    action: target.requst
    input: { path: /items }
  - id: tell
    notify: nobody.send
    input: {}
`;
    const r = await k.call('PUT', '/flows/broken', bad, YAML);
    assert.equal(r.status, 422);
    assert.equal(r.body.error, 'validation_failed');
    assert.deepEqual(r.body.problems, [
      {
        path: 'steps[0].action',
        message:
          "unknown operation 'requst' on connection 'target' (http); did you mean 'request'? Known: request",
        file: 'broken.yaml',
        line: 6,
      },
      {
        path: 'steps[1].notify',
        message: "unknown connection 'nobody' (configured: target)",
        file: 'broken.yaml',
        line: 9,
      },
    ]);
    assert.equal((await k.call('GET', '/flows/broken')).status, 404, 'nothing stored');

    const syntax = await k.call('PUT', '/flows/broken', 'id: broken\nname: [unclosed\n', YAML);
    assert.equal(syntax.status, 422);
    assert.equal(syntax.body.problems[0].file, 'broken.yaml');
    assert.equal(typeof syntax.body.problems[0].line, 'number');
    assert.match(syntax.body.problems[0].message, /^YAML/);
  });

  it("the flow's id must be the URL's", async () => {
    const r = await k.call('PUT', '/flows/other-id', FLOW, YAML);
    assert.equal(r.status, 422);
    assert.deepEqual(r.body.problems, [
      {
        file: 'other-id.yaml',
        line: 1,
        path: 'id',
        message: "the flow's id 'make-item' is not the id in the URL ('other-id')",
      },
    ]);
  });

  it('POST /flows/validate: 200 for a valid flow, 422 with problems otherwise; stores nothing', async () => {
    const ok = await k.call('POST', '/flows/validate', FLOW.replace('make-item', 'not-saved'), YAML);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, {
      ok: true,
      flow: { id: 'not-saved', name: '创建条目', enabled: true, trigger: { type: 'manual' }, steps: 2 },
    });
    assert.equal((await k.call('GET', '/flows/not-saved')).status, 404);
    const bad = await k.call('POST', '/flows/validate', {
      yaml: FLOW.replace("'=event.name'", "'=event.name +'"),
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.problems[0].path, 'steps[0].map.name');
    assert.equal(bad.body.problems[0].line, 6);
  });

  it('bad requests: malformed id 400, unknown 404, unknown body field 400, missing yaml 400, JSON route given YAML', async () => {
    const malformed = await k.call('GET', '/flows/Make_Item');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.problems[0].path, 'params.id');
    for (const [m, p] of [
      ['GET', '/flows/nope'],
      ['DELETE', '/flows/nope'],
      ['POST', '/flows/nope/enable'],
      ['POST', '/flows/nope/disable'],
      ['POST', '/flows/nope/run'],
    ]) {
      const r = await k.call(m, p);
      assert.equal(r.status, 404, `${m} ${p}`);
      assert.deepEqual(r.body, { error: 'not_found', message: "flow 'nope' does not exist" });
    }
    const extra = await k.call('PUT', '/flows/make-item', { yaml: FLOW, force: true });
    assert.equal(extra.status, 400);
    assert.deepEqual(extra.body.problems, [{ path: 'body.force', message: 'unknown field' }]);
    const none = await k.call('PUT', '/flows/make-item', {});
    assert.deepEqual(none.body.problems, [{ path: 'body.yaml', message: 'required' }]);
    const runExtra = await k.call('POST', '/flows/make-item/run', { data: {}, when: 'now' });
    assert.equal(runExtra.status, 400);
    const yamlRun = await k.call('POST', '/flows/make-item/run', 'data: 1', YAML);
    assert.equal(yamlRun.status, 400);
  });

  it('manual runs: 202 with run ids, a repeated key starts nothing (200), the start is audited', async () => {
    const first = await k.call(
      'POST',
      '/flows/make-item/run',
      { data: { name: '手动' }, key: 'k-1' },
      {
        'x-qiao-actor': 'ops',
      },
    );
    assert.equal(first.status, 202);
    assert.equal(first.body.duplicate, false);
    assert.equal(first.body.runIds.length, 1);
    await k.until(first.body.runIds[0], ['completed']);
    const again = await k.call('POST', '/flows/make-item/run', { data: { name: '手动' }, key: 'k-1' });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { duplicate: true, runIds: [] });
    const noKey1 = await k.call('POST', '/flows/make-item/run', { data: { name: '手动' } });
    const noKey2 = await k.call('POST', '/flows/make-item/run');
    assert.equal(noKey1.status, 202);
    assert.equal(noKey2.status, 202, 'without a key, each call is a new run');
    await k.until(noKey2.body.runIds[0], ['completed']);
    const audit = (await k.hub.store.listAudit({ limit: 1000 })).filter((a) => a.action === 'flow.run');
    assert.equal(audit.length, 3);
    assert.deepEqual(audit[0].detail, { key: 'k-1', runIds: first.body.runIds });
    assert.equal(audit[0].actor, 'ops');
  });

  it('disable stops manual starts (409), enable allows them again; both audited, idempotent', async () => {
    const off = await k.call('POST', '/flows/make-item/disable', undefined, { 'x-qiao-actor': 'ops' });
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    const offAgain = await k.call('POST', '/flows/make-item/disable');
    assert.equal(offAgain.body.version, off.body.version, 'no new version when nothing changes');
    const refused = await k.call('POST', '/flows/make-item/run', { data: {} });
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body, {
      error: 'conflict',
      message: "flow 'make-item' is disabled; enable it first",
    });
    assert.equal(k.hub.engine.flows.get('make-item')?.enabled, false, 'the engine sees it');
    const on = await k.call('POST', '/flows/make-item/enable');
    assert.equal(on.body.enabled, true);
    const actions = (await k.hub.store.listAudit({ limit: 1000 }))
      .filter((a) => a.target === 'flow:make-item' && a.action.startsWith('flow.'))
      .map((a) => `${a.actor}:${a.action}`);
    assert.deepEqual(actions.slice(-2), ['ops:flow.disable', 'api:flow.enable']);
  });

  it('flows from qiao.yaml cannot be replaced or deleted here', async () => {
    await k.hub.saveFlow(FLOW.replace('make-item', 'from-file'), 'flows/from-file.yaml', 'config', 'config');
    const put = await k.call('PUT', '/flows/from-file', FLOW.replace('make-item', 'from-file'), YAML);
    assert.equal(put.status, 409);
    assert.match(put.body.message, /comes from a flow file of qiao\.yaml \(flows\/from-file\.yaml\)/);
    const del = await k.call('DELETE', '/flows/from-file');
    assert.equal(del.status, 409);
  });

  it('delete: 204, gone from the engine, audited', async () => {
    await k.call('PUT', '/flows/short-lived', FLOW.replace('make-item', 'short-lived'), YAML);
    const del = await k.call('DELETE', '/flows/short-lived', undefined, { 'x-qiao-actor': 'ops' });
    assert.equal(del.status, 204);
    assert.equal((await k.call('GET', '/flows/short-lived')).status, 404);
    assert.equal(k.hub.engine.flows.get('short-lived'), undefined);
    const last = (await k.hub.store.listAudit({ limit: 1000 })).at(-1)!;
    assert.deepEqual([last.actor, last.action, last.target], ['ops', 'flow.delete', 'flow:short-lived']);
  });
});
