/**
 * The Kingdee client over real HTTP: single-flight login, one re-login on session loss, and the error
 * table (MsgCode, login results, transport) with Kingdee's own code, message and field kept.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { KingdeeClient } from './client.ts';
import { kingdeeSettings } from './settings.ts';
import { type KingdeeFixture, startKingdeeFixture } from './testing.ts';

const customerQuery = { FormId: 'BD_Customer', FieldKeys: 'FNumber', FilterString: "FNumber = 'C0001'" };

async function rejectsWith(p: Promise<unknown>, check: (e: QiaoError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof QiaoError, `a QiaoError, got ${String(err)}`);
    check(err);
    return true;
  });
}

describe('kingdee client', () => {
  let f: KingdeeFixture;
  before(async () => {
    f = await startKingdeeFixture();
  });
  after(() => f.close());
  const client = (override: Record<string, unknown> = {}) =>
    new KingdeeClient(kingdeeSettings.parse({ ...f.settings, ...override }), silentLogger);

  it('logs in once for many concurrent calls, and once again after a revocation', async () => {
    const c = client();
    const rows = await Promise.all(Array.from({ length: 20 }, () => c.executeBillQuery(customerQuery)));
    assert.deepEqual(rows[19], [['C0001']]);
    assert.equal(c.stats.logins, 1);
    await f.admin('sessions/revoke', {});
    await Promise.all(Array.from({ length: 20 }, () => c.executeBillQuery(customerQuery)));
    assert.equal(c.stats.logins, 2, 'twenty calls hit the lost session; one re-login served them all');
  });

  it('a second session loss in a row is auth_expired, after exactly one re-login', async () => {
    const c = client();
    await c.connect();
    await f.admin('partner-faults', { sessionLossNext: 2 });
    await rejectsWith(c.executeBillQuery(customerQuery), (e) => {
      assert.equal(e.errorClass, 'auth_expired');
      assert.equal(e.partner?.code, 1);
      assert.equal(e.partner?.message, '会话信息已丢失，请重新登录');
    });
    assert.equal(c.stats.logins, 2);
    assert.deepEqual(await c.executeBillQuery(customerQuery), [['C0001']], 'the next call works');
  });

  it('maps MsgCode to the error classes and keeps Kingdee’s code and message', async () => {
    const c = client({ callLimitWaitMs: 1500 });
    const cases: Array<[number, string]> = [
      [4, 'transient'],
      [6, 'transient'],
      [13, 'transient'],
      [14, 'rate_limited'],
      [2, 'permanent'],
      [7, 'permanent'],
    ];
    for (const [code, cls] of cases) {
      await f.admin('partner-faults', { msgCodeNext: 1, msgCode: code });
      await rejectsWith(c.view('BD_Customer', { Number: 'C0001' }), (e) => {
        assert.equal(e.errorClass, cls, `MsgCode ${code}`);
        assert.equal(e.partner?.code, code);
        assert.equal(e.partner?.operation, 'View');
        assert.ok(e.partner?.message);
        if (code === 14) assert.equal(e.retryAfterMs, 1500);
      });
    }
  });

  it('validation failures are permanent with FieldName; an unknown form is permanent', async () => {
    const c = client();
    await rejectsWith(c.save('BD_Customer', { Model: { FNumber: 'X-1' } }), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 11);
      assert.equal(e.partner?.field, 'FName');
      assert.match(e.message, /Kingdee Save BD_Customer failed: 字段“客户名称”是必填项 \[FName\]/);
    });
    await rejectsWith(c.executeBillQuery({ FormId: 'BD_Nope', FieldKeys: 'FID' }), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.match(e.partner?.message ?? '', /业务对象不存在/);
    });
    await rejectsWith(c.executeBillQuery({ FormId: 'BD_Customer', FieldKeys: 'FFoo' }), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 9);
    });
  });

  it('transport: 5xx and response_error are transient, 404 permanent, timeouts and refused connections transient', async () => {
    const c = client({ timeoutMs: 300 });
    await f.admin('faults', { failNext: 1, errorStatus: 503 });
    await rejectsWith(c.executeBillQuery(customerQuery), (e) => {
      assert.equal(e.errorClass, 'transient');
      assert.equal(e.partner?.httpStatus, 503);
    });
    await f.admin('faults', { failNext: 1, errorStatus: 404 });
    await rejectsWith(c.executeBillQuery(customerQuery), (e) => assert.equal(e.errorClass, 'permanent'));
    await f.admin('partner-faults', { responseErrorNext: 1 });
    await rejectsWith(c.executeBillQuery(customerQuery), (e) => {
      assert.equal(e.errorClass, 'transient');
      assert.match(e.partner?.message ?? '', /SqlException/);
    });
    await f.admin('faults', { hangRate: 1 });
    try {
      await rejectsWith(c.executeBillQuery(customerQuery), (e) => {
        assert.equal(e.errorClass, 'transient');
        assert.match(e.message, /no answer/);
      });
    } finally {
      await f.admin('faults', undefined, 'DELETE');
    }
    const refused = new KingdeeClient(
      kingdeeSettings.parse({ ...f.settings, baseUrl: 'http://127.0.0.1:1/k3cloud/' }),
      silentLogger,
    );
    await rejectsWith(refused.dataCenters(), (e) => assert.equal(e.errorClass, 'transient'));
  });

  it('login failures are permanent with LoginResultType and the message; nothing is retried', async () => {
    const before = await f.admin('stats');
    await rejectsWith(client({ password: 'wrong-password' }).executeBillQuery(customerQuery), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.equal(e.partner?.code, 0);
      assert.equal(e.partner?.operation, 'ValidateUser');
      assert.match(e.partner?.message ?? '', /用户名或密码错误/);
      assert.ok(!e.message.includes('wrong-password'));
    });
    const after = await f.admin('stats');
    assert.equal(after.loginFailures - before.loginFailures, 1, 'one attempt, no blind retry (account lock)');
  });

  it('LoginByAppSecret when the session mode has no password', async () => {
    const c = client({ password: undefined });
    assert.deepEqual(await c.executeBillQuery(customerQuery), [['C0001']]);
    const sessions = await f.admin('sessions');
    assert.ok(sessions.some((s: { via: string }) => s.via === 'LoginByAppSecret'));
  });

  it('signature mode: no login call, the cookie is reused, a lost session is re-signed once', async () => {
    const c = client({ auth: 'signature' });
    await c.executeBillQuery(customerQuery);
    await c.executeBillQuery(customerQuery);
    assert.equal(c.stats.logins, 1, 'one session from the first signed call, reused');
    await f.admin('sessions/revoke', {});
    assert.deepEqual(await c.executeBillQuery(customerQuery), [['C0001']]);
    assert.equal(c.stats.logins, 2);
    const bad = client({ auth: 'signature', appSecret: 'f'.repeat(32) });
    await rejectsWith(bad.executeBillQuery(customerQuery), (e) => {
      assert.equal(e.errorClass, 'permanent');
      assert.match(e.partner?.message ?? '', /X-Kd-Signature/);
    });
  });

  it('scrubs secrets from messages', async () => {
    const secret = String(f.settings.password);
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          Result: {
            ResponseStatus: {
              IsSuccess: false,
              MsgCode: 11,
              Errors: [{ FieldName: 'FNote', Message: `bad note ${secret}`, DIndex: 0 }],
            },
          },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/k3cloud/`;
      const c = new KingdeeClient(
        kingdeeSettings.parse({ ...f.settings, baseUrl: url, auth: 'signature' }),
        silentLogger,
      );
      await rejectsWith(c.save('BD_Customer', { Model: {} }), (e) => {
        assert.ok(!e.message.includes(secret));
        assert.ok(!(e.partner?.message ?? '').includes(secret));
        assert.match(e.message, /bad note \*\*\*/);
      });
    } finally {
      server.close();
    }
  });
});
