import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { builtinConnectors } from '../../connectors/index.ts';
import { sampleSettings } from './connector-types.ts';
import { jsonSchema } from './openapi.ts';
import { type ApiKit, startApiKit } from './test-kit.ts';

describe('/api/connector-types', () => {
  let k: ApiKit;
  before(async () => {
    k = await startApiKit();
  });
  after(() => k.close());

  it('lists every built-in type with settings, secret fields, actions, triggers and objects', async () => {
    const r = await k.call('GET', '/connector-types');
    assert.equal(r.status, 200);
    const types = r.body.items.map((t: any) => t.type);
    assert.deepEqual(types, [...k.hub.connections.typeNames]);
    assert.ok(types.includes('http') && types.includes('wecom') && types.includes('neocrm'));

    const http = r.body.items.find((t: any) => t.type === 'http');
    assert.deepEqual(http.title, { 'zh-CN': '通用 HTTP', en: 'Generic HTTP' });
    assert.deepEqual(http.secretFields, ['auth.token', 'auth.password']);
    assert.deepEqual(http.settings.required, ['baseUrl']);
    assert.equal(http.settings.additionalProperties, false);
    assert.deepEqual(
      http.actions.map((a: any) => a.name),
      ['request'],
    );
    assert.match(http.actions[0].description, /Idempotency-Key/);
    assert.deepEqual(http.actions[0].input.properties.method.enum, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
    assert.deepEqual(
      http.triggers.map((t: any) => [t.name, t.kind]),
      [['poll', 'poll']],
    );

    const wecom = r.body.items.find((t: any) => t.type === 'wecom');
    const approval = wecom.triggers.find((t: any) => t.kind === 'event');
    assert.equal(typeof approval.eventType, 'string', 'event triggers name their event type');
    assert.ok(Object.keys(wecom.objects).length > 0);
    for (const t of r.body.items) {
      for (const a of t.actions) assert.equal(typeof a.description, 'string', `${t.type}.${a.name}`);
    }
  });

  it('uses a live connection of the type when there is one (the same answer)', async () => {
    const before = (await k.call('GET', '/connector-types')).body.items.find((t: any) => t.type === 'http');
    await k.call('PUT', '/connections/target', { type: 'http', settings: k.targetSettings() });
    const after = (await k.call('GET', '/connector-types')).body.items.find((t: any) => t.type === 'http');
    assert.deepEqual(after, before);
  });

  it('takes no query', async () => {
    const r = await k.call('GET', '/connector-types?type=http');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.problems, [{ path: 'query.type', message: 'unknown field' }]);
  });

  it("placeholder settings pass every built-in connector's settings schema (so no type is listed empty)", () => {
    for (const d of builtinConnectors()) {
      const r = d.settings.safeParse(sampleSettings(jsonSchema(d.settings, 'input')));
      assert.ok(r.success, `${d.type}: ${r.error?.message}`);
    }
    const schema = z.strictObject({
      baseUrl: z.url(),
      secret: z.string().min(16),
      offset: z
        .string()
        .regex(/^[+-]\d\d:\d\d$/)
        .default('+08:00'),
      code: z
        .string()
        .regex(/^[A-Z]+$/)
        .optional(),
      mode: z.enum(['a', 'b']),
      n: z.number().int().min(3),
    });
    assert.deepEqual(sampleSettings(jsonSchema(schema, 'input')), {
      baseUrl: 'http://127.0.0.1/',
      secret: 'xxxxxxxxxxxxxxxx',
      offset: '+08:00',
      mode: 'a',
      n: 3,
    });
  });
});
