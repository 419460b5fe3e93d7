import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

const FLOW = `id: strict-item
name: strict
trigger: { type: webhook }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.name' } }
  - id: done
    map: { ok: true }
`;

describe('/api/dead-letters and /api/runs', () => {
  let k: ApiKit;
  /** Starts the flow with a name the target refuses (a number) and waits for the dead letter. */
  const failOne = async (name: unknown) => {
    const out = await k.hub.engine.startFlow('strict-item', { name });
    await k.until(out.runIds[0], ['failed']);
    return out.runIds[0];
  };

  before(async () => {
    k = await startApiKit();
    await k.call('PUT', '/connections/target', { type: 'http', settings: k.targetSettings() });
    await k.call('PUT', '/flows/strict-item', { yaml: FLOW });
  });
  after(() => k.close());

  it("lists and shows a dead letter with the partner's message", async () => {
    const runId = await failOne(42);
    const list = await k.call('GET', '/dead-letters?status=open');
    assert.equal(list.status, 200);
    const dl = list.body.items.find((d: any) => d.runId === runId);
    assert.ok(dl);
    assert.equal(dl.stepName, 'send');
    assert.equal(dl.connection, 'target');
    assert.equal(dl.action, 'request');
    assert.deepEqual(dl.input, { method: 'POST', path: '/items', body: { name: 42 } });
    assert.equal(dl.error.errorClass, 'permanent');
    assert.equal(dl.error.partner.message, 'name must be a string');
    const one = await k.call('GET', `/dead-letters/${dl.id}`);
    assert.deepEqual(one.body, dl);
    const byFlow = await k.call('GET', '/dead-letters?flowId=strict-item&limit=1');
    assert.equal(byFlow.body.items.length, 1);
    assert.equal((await k.call('GET', '/dead-letters?status=replayed')).body.items.length, 0);
  });

  it('edit → replay completes the run once: one effect per idempotency key', async () => {
    const runId = await failOne(7);
    const dl = (await k.call('GET', '/dead-letters?status=open')).body.items.find(
      (d: any) => d.runId === runId,
    );

    const bad = await k.call('PATCH', `/dead-letters/${dl.id}`, {
      input: { method: 'FETCH', path: '/items' },
    });
    assert.equal(bad.status, 422, "the action's input schema is applied");
    assert.equal(bad.body.problems[0].path, 'input.method');

    const edited = await k.call(
      'PATCH',
      `/dead-letters/${dl.id}`,
      { input: { method: 'POST', path: '/items', body: { name: '七' } } },
      { 'x-qiao-actor': 'ops' },
    );
    assert.equal(edited.status, 200);
    assert.deepEqual(edited.body.input, { method: 'POST', path: '/items', body: { name: '七' } });
    assert.equal(edited.body.status, 'open');

    const replayed = await k.call('POST', `/dead-letters/${dl.id}/replay`, undefined, {
      'x-qiao-actor': 'ops',
    });
    assert.equal(replayed.status, 200);
    assert.equal(replayed.body.status, 'replayed');
    await k.until(runId, ['completed']);

    const run = await k.call('GET', `/runs/${runId}`);
    assert.equal(run.status, 200);
    assert.equal(run.body.run.status, 'completed');
    assert.deepEqual(
      run.body.steps.map((s: any) => [s.name, s.status]),
      [
        ['send', 'completed'],
        ['done', 'completed'],
      ],
    );
    const send = run.body.steps[0];
    assert.deepEqual(send.input, { method: 'POST', path: '/items', body: { name: '七' } });
    assert.equal(send.output.body.name, '七');
    assert.deepEqual(
      send.history.map((h: any) => h.outcome),
      ['dead', 'completed'],
      'the history keeps the failed attempt',
    );
    assert.equal(send.history[0].error.partner.message, 'name must be a string');
    assert.equal(k.target.effects.get(send.idempotencyKey), 1, 'applied once');
    assert.equal([...k.target.items.values()].filter((i) => i.name === '七').length, 1);

    const again = await k.call('POST', `/dead-letters/${dl.id}/replay`);
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, { error: 'conflict', message: `dead letter ${dl.id} is already replayed` });
    const editLate = await k.call('PATCH', `/dead-letters/${dl.id}`, { input: {} });
    assert.equal(editLate.status, 409);

    const audit = (await k.hub.store.listAudit({ limit: 1000 })).filter(
      (a) => a.target === `dead-letter:${dl.id}`,
    );
    assert.deepEqual(
      audit.map((a) => [a.actor, a.action]),
      [
        ['ops', 'dead-letter.edit'],
        ['ops', 'dead-letter.replay'],
      ],
    );
    assert.deepEqual(audit[0].detail.before, { method: 'POST', path: '/items', body: { name: 7 } });
  });

  it('discard: the dead letter is closed and the run stays failed', async () => {
    const runId = await failOne(8);
    const dl = (await k.call('GET', '/dead-letters?status=open')).body.items.find(
      (d: any) => d.runId === runId,
    );
    const r = await k.call('POST', `/dead-letters/${dl.id}/discard`, {});
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'discarded');
    assert.equal((await k.call('GET', `/runs/${runId}`)).body.run.status, 'failed');
    assert.equal((await k.call('POST', `/dead-letters/${dl.id}/discard`)).status, 409);
    const last = (await k.hub.store.listAudit({ limit: 1000 })).at(-1)!;
    assert.deepEqual([last.actor, last.action], ['api', 'dead-letter.discard']);
  });

  it('bad requests: malformed id 400, unknown 404, bad status 400, unknown and missing fields 400', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const [m, p] of [
      ['GET', `/dead-letters/${unknown}`],
      ['PATCH', `/dead-letters/${unknown}`],
      ['POST', `/dead-letters/${unknown}/replay`],
      ['POST', `/dead-letters/${unknown}/discard`],
    ]) {
      const r = await k.call(m, p, m === 'PATCH' ? { input: {} } : undefined);
      assert.equal(r.status, 404, `${m} ${p}`);
      assert.deepEqual(r.body, { error: 'not_found', message: `dead letter ${unknown} does not exist` });
    }
    const malformed = await k.call('GET', '/dead-letters/42');
    assert.equal(malformed.status, 400);
    assert.deepEqual(malformed.body.problems, [{ path: 'params.id', message: 'a dead letter id is a UUID' }]);
    const status = await k.call('GET', '/dead-letters?status=lost');
    assert.equal(status.status, 400);
    assert.equal(status.body.problems[0].path, 'query.status');
    const extra = await k.call('PATCH', `/dead-letters/${unknown}`, { input: {}, note: 'x' });
    assert.equal(extra.status, 400);
    assert.deepEqual(extra.body.problems, [{ path: 'body.note', message: 'unknown field' }]);
    const missing = await k.call('PATCH', `/dead-letters/${unknown}`, {});
    assert.equal(missing.status, 400);
    const replayBody = await k.call('POST', `/dead-letters/${unknown}/replay`, { force: true });
    assert.equal(replayBody.status, 400, 'routes without a body refuse fields');
  });

  it('runs: list with filters and paging, get with steps; bad filters 400, unknown 404', async () => {
    const all = await k.call('GET', '/runs?flowId=strict-item');
    assert.equal(all.status, 200);
    assert.equal(all.body.items.length, 3);
    assert.equal(all.body.nextBefore, undefined, 'a page that is not full has no next');
    const failed = await k.call('GET', '/runs?status=failed');
    assert.deepEqual(
      failed.body.items.map((r: any) => r.status),
      ['failed', 'failed'],
    );
    const page = await k.call('GET', '/runs?flowId=strict-item&limit=2');
    assert.equal(page.body.items.length, 2);
    assert.equal(page.body.nextBefore, page.body.items[1].startedAt);
    const older = await k.call('GET', `/runs?flowId=strict-item&before=${page.body.nextBefore}`);
    assert.ok(older.body.items.every((r: any) => r.startedAt < page.body.nextBefore));
    assert.equal((await k.call('GET', '/runs?flowId=other')).body.items.length, 0);

    for (const q of [
      'status=lost',
      'limit=0',
      'limit=1001',
      'limit=x',
      'before=-1',
      'flowId=Bad_Id',
      'sort=asc',
    ]) {
      const r = await k.call('GET', `/runs?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error, 'invalid_request');
      assert.equal(r.body.problems[0].path, `query.${q.split('=')[0]}`);
    }
    assert.equal((await k.call('GET', '/runs/not-a-uuid')).status, 400);
    const unknown = await k.call('GET', '/runs/00000000-0000-4000-8000-000000000000');
    assert.equal(unknown.status, 404);
  });
});
