/**
 * The connector conformance suite: one set of cases every connector passes against its sandbox
 * (STYLE.md, "One contract, many implementations, one shared test suite"). A connector's
 * `conformance.test.ts` calls `runConformance(fixture)`; a case may be skipped only with a written reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ActionContext, Connector, ConnectorDescriptor, Cursor, FieldType } from '../core/connector.ts';
import { QiaoError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';

export type ConformanceCase =
  | 'descriptor'
  | 'check'
  | 'check-bad-credentials'
  | 'actions-declared'
  | 'schema'
  | 'write-read'
  | 'idempotent-write'
  | 'transient-error'
  | 'auth-refresh'
  | 'rate-limited'
  | 'poll-once';

export interface ConformanceEnv {
  /** Settings for the sandbox's seeded tenant. */
  settings: Record<string, unknown>;
  /** The same with a wrong secret: `check()` must fail with the partner's own message. */
  badSettings: Record<string, unknown>;
  /** An action that writes a record; called twice with one idempotency key it must write once. */
  write: {
    action: string;
    input(unique: string): Record<string, unknown>;
    /** The partner id of what was written, from the action's output. */
    idOf(output: unknown): string;
  };
  /** An action that reads back what `write` wrote. */
  read: {
    action: string;
    input(id: string): Record<string, unknown>;
    /** Asserts the output is the record written with `unique`. */
    check(output: unknown, unique: string): void;
  };
  /** A poll trigger, and a way to make `n` records change so it sees them. */
  poll?: {
    trigger: string;
    params: Record<string, unknown>;
    change(n: number): Promise<void>;
  };
  faults: {
    /** The partner's next call answers with a server error. */
    serverError(): Promise<void>;
    /** The current token/session is revoked: the next call must re-authenticate once and succeed. */
    revokeAuth(): Promise<void>;
    /** The partner answers with its rate-limit error from now until `heal()`. */
    rateLimit?(): Promise<void>;
    /** Every fault off. */
    heal(): Promise<void>;
  };
  close(): Promise<void>;
}

export interface ConformanceFixture {
  descriptor: ConnectorDescriptor;
  start(): Promise<ConformanceEnv>;
  /** Cases that do not apply to this connector, each with the reason. */
  skip?: Partial<Record<ConformanceCase, string>>;
}

const FIELD_TYPES: readonly FieldType[] = [
  'string',
  'number',
  'integer',
  'boolean',
  'date',
  'datetime',
  'ref',
  'object',
  'array',
];

/** An ActionContext for calling actions directly, outside the engine. */
export function testActionContext(idempotencyKey: string, links = new Map<string, string>()): ActionContext {
  return {
    idempotencyKey,
    attempt: 1,
    links: { find: async (object, key) => links.get(`${object}:${key}`) },
    signal: AbortSignal.timeout(30_000),
    log: silentLogger,
  };
}

export function runConformance(fixture: ConformanceFixture): void {
  const { descriptor } = fixture;
  describe(`connector conformance: ${descriptor.type}`, () => {
    let env: ConformanceEnv;
    let connector: Connector;
    const create = (settings: Record<string, unknown>, id = 'conformance') =>
      descriptor.create({
        connectionId: id,
        settings: descriptor.settings.parse(settings),
        log: silentLogger,
      });

    before(async () => {
      env = await fixture.start();
      connector = create(env.settings);
    });
    after(async () => {
      await connector?.close?.();
      await env?.close();
    });

    const test = (name: ConformanceCase, fn: () => Promise<void>) => {
      const reason = fixture.skip?.[name];
      if (reason) it(name, { skip: reason }, fn);
      else it(name, fn);
    };

    test('descriptor', async () => {
      assert.match(descriptor.type, /^[a-z][a-z0-9-]*$/, 'type is lower-case kebab-case');
      assert.ok(descriptor.title['zh-CN'] && descriptor.title.en, 'title in zh-CN and en');
      assert.ok(descriptor.settings.safeParse(env.settings).success, 'good settings parse');
      assert.ok(
        descriptor.settings.safeParse(env.badSettings).success,
        'bad-credential settings still parse',
      );
      assert.equal(descriptor.settings.safeParse({}).success, false, 'empty settings are rejected');
      for (const f of descriptor.secretFields) {
        assert.ok(f in env.settings || !(f in env.badSettings), `secret field ${f} is a setting`);
      }
      if (descriptor.limits.rate) assert.ok(descriptor.limits.rate.perSecond > 0, 'rate is positive');
      if (descriptor.limits.concurrency) assert.ok(descriptor.limits.concurrency >= 1);
    });

    test('check', async () => {
      const r = await connector.check();
      assert.equal(r.ok, true);
    });

    test('check-bad-credentials', async () => {
      const bad = create(env.badSettings, 'conformance-bad');
      try {
        await assert.rejects(bad.check(), (err: unknown) => {
          assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
          assert.ok(['permanent', 'auth_expired'].includes(err.errorClass), `class ${err.errorClass}`);
          assert.equal(err.partner?.system, descriptor.type, 'partner.system names the connector');
          assert.ok(err.partner?.message, "the partner's own message is kept");
          for (const f of descriptor.secretFields) {
            const secret = env.badSettings[f];
            if (typeof secret === 'string' && secret.length >= 4) {
              assert.ok(!err.message.includes(secret), `secret ${f} is scrubbed from the message`);
            }
          }
          return true;
        });
      } finally {
        await bad.close?.();
      }
    });

    test('actions-declared', async () => {
      assert.ok(Object.keys(connector.actions).length > 0, 'at least one action');
      for (const [name, a] of Object.entries(connector.actions)) {
        assert.match(name, /^[a-z][a-zA-Z0-9.-]*$/, `action name ${name}`);
        assert.ok(a.description, `${name} has a description`);
        assert.equal(typeof a.input.safeParse, 'function', `${name} has an input schema`);
      }
      for (const [name, t] of Object.entries(connector.triggers)) {
        assert.ok(t.description, `trigger ${name} has a description`);
        assert.ok(t.kind === 'poll' || t.kind === 'event', `trigger ${name} kind`);
      }
      assert.ok(connector.actions[env.write.action], `write action ${env.write.action} exists`);
      assert.ok(connector.actions[env.read.action], `read action ${env.read.action} exists`);
    });

    test('schema', async () => {
      for (const [objName, obj] of Object.entries(connector.schema.objects)) {
        assert.ok(Object.keys(obj.fields).length > 0, `${objName} has fields`);
        for (const [fname, f] of Object.entries(obj.fields)) {
          assert.ok(FIELD_TYPES.includes(f.type), `${objName}.${fname} has a known type (${f.type})`);
          if (f.type === 'ref') assert.ok(f.ref, `${objName}.${fname} names what it references`);
        }
      }
      const w = connector.actions[env.write.action];
      const fields = w.fieldsOf?.(env.write.input('schema-probe'));
      if (fields) {
        const obj = connector.schema.objects[fields.object];
        assert.ok(obj, `write action's object ${fields.object} is in the schema`);
        for (const f of fields.fields) assert.ok(obj.fields[f], `${fields.object}.${f} is in the schema`);
      }
    });

    const unique = `cf${Date.now().toString(36)}`;
    let writtenId: string | undefined;

    test('write-read', async () => {
      const w = connector.actions[env.write.action];
      const out = await w.run(w.input.parse(env.write.input(unique)), testActionContext(`wr-${unique}`));
      writtenId = env.write.idOf(out.output);
      assert.ok(writtenId, 'the write returned an id');
      const r = connector.actions[env.read.action];
      const got = await r.run(r.input.parse(env.read.input(writtenId)), testActionContext(`rd-${unique}`));
      env.read.check(got.output, unique);
    });

    test('idempotent-write', async () => {
      const w = connector.actions[env.write.action];
      const key = `idem-${unique}`;
      const input = env.write.input(`${unique}i`);
      const a = await w.run(w.input.parse(input), testActionContext(key));
      const b = await w.run(w.input.parse(input), { ...testActionContext(key), attempt: 2 });
      assert.equal(env.write.idOf(b.output), env.write.idOf(a.output), 'the second write found the first');
    });

    test('transient-error', async () => {
      await env.faults.serverError();
      try {
        const r = connector.actions[env.read.action];
        await assert.rejects(
          r.run(r.input.parse(env.read.input(writtenId ?? '1')), testActionContext(`tr-${unique}`)),
          (err: unknown) => {
            assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
            assert.equal(err.errorClass, 'transient');
            return true;
          },
        );
      } finally {
        await env.faults.heal();
      }
    });

    test('auth-refresh', async () => {
      const r = connector.actions[env.read.action];
      // A first call makes sure a token/session exists, so the revocation hits a live one.
      await r
        .run(r.input.parse(env.read.input(writtenId ?? '1')), testActionContext(`ar0-${unique}`))
        .catch(() => {});
      await env.faults.revokeAuth();
      const out = await r.run(
        r.input.parse(env.read.input(writtenId ?? '1')),
        testActionContext(`ar-${unique}`),
      );
      if (writtenId) env.read.check(out.output, unique);
    });

    test('rate-limited', async () => {
      assert.ok(env.faults.rateLimit, 'the fixture can make the partner rate-limit');
      await env.faults.rateLimit();
      try {
        const r = connector.actions[env.read.action];
        await assert.rejects(
          r.run(r.input.parse(env.read.input(writtenId ?? '1')), testActionContext(`rl-${unique}`)),
          (err: unknown) => {
            assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
            assert.equal(err.errorClass, 'rate_limited');
            assert.ok((err.retryAfterMs ?? 0) > 0, 'says how long to wait');
            return true;
          },
        );
      } finally {
        await env.faults.heal();
      }
    });

    test('poll-once', async () => {
      assert.ok(env.poll, 'the fixture names a poll trigger');
      const t = connector.triggers[env.poll.trigger];
      assert.equal(t?.kind, 'poll');
      if (t.kind !== 'poll') return;
      const params = t.params.parse(env.poll.params);
      const ctx = { signal: AbortSignal.timeout(60_000), log: silentLogger };
      // Drain what is there, then change 25 records and read them incrementally.
      let cursor: Cursor | null = null;
      for (let i = 0; i < 1000; i++) {
        const page = await t.poll(params, cursor, ctx);
        cursor = page.cursor ?? cursor;
        if (!page.more) break;
      }
      await env.poll.change(25);
      const seen = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const page = await t.poll(params, cursor, ctx);
        for (const r of page.records) seen.set(r.key, (seen.get(r.key) ?? 0) + 1);
        if (page.cursor && cursor) {
          assert.ok(
            page.cursor.time > cursor.time ||
              (page.cursor.time === cursor.time && page.cursor.id >= cursor.id),
            'the cursor never moves back',
          );
        }
        cursor = page.cursor ?? cursor;
        if (!page.more) break;
      }
      assert.ok(seen.size >= 25, `all 25 changes seen (saw ${seen.size})`);
      // The overlap window may show a record version again on a later poll; the inbox drops it by
      // key. Within one incremental pass a version shows at most twice (its page and one overlap).
      for (const [k, n] of seen) assert.ok(n <= 2, `record version ${k} seen ${n} times`);
    });
  });
}
