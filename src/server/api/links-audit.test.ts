import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './test-kit.ts';

const FLOW = `id: linked
name: linked
trigger:
  type: webhook
  source: { object: customer, id: '=event.id' }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.name' }, link: { object: item } }
`;

describe('/api/links and /api/audit', () => {
  let k: ApiKit;
  before(async () => {
    k = await startApiKit();
    await k.call('PUT', '/connections/target', { type: 'http', settings: k.targetSettings() });
    await k.call('PUT', '/flows/linked', { yaml: FLOW });
    for (const id of ['C0001', 'C0002']) {
      const res = await fetch(`${k.hub.url}/hooks/http/linked`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, name: `客户 ${id}` }),
      });
      assert.equal(res.status, 202);
    }
    await k.hub.engine.drain();
  });
  after(() => k.close());

  it('links: by source record, by link id (one record in every system), by connection and object', async () => {
    const src = await k.call('GET', '/links?connection=flow:linked&object=customer&externalId=C0001');
    assert.equal(src.status, 200);
    assert.equal(src.body.items.length, 1);
    const linkId = src.body.items[0].linkId;
    const all = await k.call('GET', `/links?linkId=${encodeURIComponent(linkId)}`);
    assert.deepEqual(all.body.items.map((l: any) => `${l.connection}/${l.object}`).sort(), [
      'flow:linked/customer',
      'target/item',
    ]);
    const item = all.body.items.find((l: any) => l.connection === 'target');
    assert.equal(k.target.items.get(item.externalId)?.name, '客户 C0001');
    const items = await k.call('GET', '/links?connection=target&object=item');
    assert.equal(items.body.items.length, 2);
    assert.equal((await k.call('GET', '/links?connection=target&limit=1')).body.items.length, 1);
    assert.equal((await k.call('GET', '/links?externalId=none')).body.items.length, 0);
  });

  it('links: bad filters are 400', async () => {
    for (const q of ['connection=', 'limit=0', 'linkid=x']) {
      const r = await k.call('GET', `/links?${q}`);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error, 'invalid_request');
    }
  });

  it('audit: pages in order with afterSeq and limit; bad paging is 400', async () => {
    const first = await k.call('GET', '/audit?limit=2');
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.items.map((a: any) => a.seq),
      [1, 2],
    );
    assert.deepEqual(
      first.body.items.map((a: any) => [a.actor, a.action]),
      [
        ['api', 'connection.create'],
        ['api', 'flow.create'],
      ],
    );
    const next = await k.call('GET', '/audit?afterSeq=2&limit=10000');
    assert.ok(next.body.items.length >= 2, 'the writes of the two runs');
    assert.equal(next.body.items[0].seq, 3);
    assert.equal(next.body.items[0].prevHash, first.body.items[1].hash);
    for (const q of ['afterSeq=-1', 'limit=10001', 'afterSeq=x', 'seq=1']) {
      assert.equal((await k.call('GET', `/audit?${q}`)).status, 400, q);
    }
  });

  it('verify: ok with the count; after a row is altered in the database, not ok with its seq', async () => {
    const ok = await k.call('GET', '/audit/verify');
    assert.equal(ok.status, 200);
    const count = (await k.hub.store.listAudit({ limit: 10_000 })).length;
    assert.deepEqual(ok.body, { ok: true, count });

    const db = new DatabaseSync(join(k.dataDir, 'qiao.db'));
    try {
      db.prepare("UPDATE audit SET actor = 'mallory' WHERE seq = 2").run();
    } finally {
      db.close();
    }
    const broken = await k.call('GET', '/audit/verify');
    assert.equal(broken.status, 200);
    assert.equal(broken.body.ok, false);
    assert.equal(broken.body.seq, 2);
    assert.equal(typeof broken.body.reason, 'string');
  });
});
