// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${NAME}` is the flow-file syntax under test, not a template.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from './api/test-kit.ts';
import { webhookSecret } from './hooks.ts';

const flow = (id: string, secret: string) => `id: ${id}
name: ${id}
trigger: { type: webhook, secret: '${secret}' }
steps:
  - id: keep
    map: { id: '=id' }
`;

describe('webhook secrets', () => {
  it('`${NAME}` is read from the environment; anything else is the secret itself', () => {
    assert.deepEqual(webhookSecret('${PUSH}', { PUSH: 's3cret' }), { ok: true, value: 's3cret' });
    assert.deepEqual(webhookSecret('${PUSH}', {}), { ok: false, env: 'PUSH' });
    assert.deepEqual(webhookSecret('${PUSH}', { PUSH: '' }), { ok: false, env: 'PUSH' });
    assert.deepEqual(webhookSecret('plain-${PUSH}', {}), { ok: true, value: 'plain-${PUSH}' });
  });

  describe('over HTTP', () => {
    let k: ApiKit;
    const post = (flowId: string, secret?: string) =>
      fetch(`${k.hub.url}/hooks/http/${flowId}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(secret ? { 'x-qiao-secret': secret } : {}) },
        body: JSON.stringify({ id: 'A1' }),
      });
    before(async () => {
      k = await startApiKit();
      delete process.env.QIAO_TEST_HOOK_SECRET;
      assert.equal(
        (await k.call('PUT', '/flows/by-env', { yaml: flow('by-env', '${QIAO_TEST_HOOK_SECRET}') })).status,
        201,
      );
      assert.equal((await k.call('PUT', '/flows/literal', { yaml: flow('literal', 'abc123') })).status, 201);
    });
    after(async () => {
      delete process.env.QIAO_TEST_HOOK_SECRET;
      await k.close();
    });

    it('an unset variable refuses every request with 503 naming it, and starts nothing', async () => {
      const res = await post('by-env', 'anything');
      assert.equal(res.status, 503);
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'secret_unset');
      assert.match(body.message, /QIAO_TEST_HOOK_SECRET/);
      assert.equal((await k.hub.store.listRuns({ flowId: 'by-env' })).length, 0);
    });

    it('once set, the right header starts a run and a wrong one is 401', async () => {
      process.env.QIAO_TEST_HOOK_SECRET = 'from-the-environment';
      assert.equal((await post('by-env', 'wrong')).status, 401);
      assert.equal((await post('by-env')).status, 401);
      assert.equal((await post('by-env', 'from-the-environment')).status, 202);
      // The stored definition keeps the reference, never the value.
      const stored = await k.hub.store.getFlow('by-env');
      assert.deepEqual(stored?.definition.trigger, { type: 'webhook', secret: '${QIAO_TEST_HOOK_SECRET}' });
    });

    it('a literal secret is compared as written', async () => {
      assert.equal((await post('literal', 'abc12')).status, 401);
      assert.equal((await post('literal', 'abc123')).status, 202);
    });
  });
});
