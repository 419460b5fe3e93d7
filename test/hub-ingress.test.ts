/**
 * Long-lived ingress (DingTalk Stream and the like) follows the connection: a connection created
 * through the API starts delivering at once, a changed one reconnects, a removed one stops.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { builtinConnectors } from '../src/connectors/index.ts';
import type { ConnectorDescriptor, InboundEvent } from '../src/core/connector.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { startHub } from '../src/hub.ts';

test('ingress starts, restarts and stops with its connection', async () => {
  const open = new Map<string, (events: InboundEvent[]) => Promise<void>>();
  let starts = 0;
  const streaming: ConnectorDescriptor<{ name: string }> = {
    type: 'streaming',
    title: { 'zh-CN': '流式测试', en: 'Streaming test' },
    settings: z.strictObject({ name: z.string() }),
    secretFields: [],
    limits: {},
    create: (ctx) => ({
      check: async () => ({ ok: true }),
      actions: {},
      triggers: {},
      schema: { objects: {} },
      ingress: {
        async start(deliver) {
          starts += 1;
          open.set(ctx.connectionId, deliver);
          return { stop: async () => void open.delete(ctx.connectionId) };
        },
      },
    }),
  };
  const dir = mkdtempSync(join(tmpdir(), 'qiao-ingress-'));
  const hub = await startHub({
    dataDir: dir,
    box: new SecretBox([randomBytes(32)]),
    serve: false,
    descriptors: [...builtinConnectors(), streaming],
  });
  try {
    assert.equal(open.size, 0);
    await hub.connections.save(
      { id: 'live', type: 'streaming', settings: { name: 'a' }, origin: 'api' },
      'test',
    );
    assert.ok(open.has('live'), 'a new connection starts delivering without a restart');
    await open.get('live')!([{ key: 'm1', type: 'chat.message', data: { text: '确认付款' } }]);
    assert.equal(
      (await hub.store.getInbox('live', 'm1'))?.type,
      'chat.message',
      'its events reach the inbox',
    );
    await hub.connections.save(
      { id: 'live', type: 'streaming', settings: { name: 'b' }, origin: 'api' },
      'test',
    );
    assert.equal(starts, 2, 'a changed connection reconnects');
    assert.equal(open.size, 1);
    await hub.connections.remove('live', 'test');
    assert.equal(open.size, 0, 'a removed connection stops');
  } finally {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
