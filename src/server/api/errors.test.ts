import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuthExpiredError,
  NotFoundError,
  PermanentError,
  RateLimitedError,
  TransientError,
  toQiaoError,
  ValidationError,
} from '../../core/errors.ts';
import { BadRequestError, ConflictError, InvalidJsonError, toErrorResponse } from './errors.ts';
import { type ApiKit, startApiKit } from './test-kit.ts';

describe('API errors', () => {
  it('maps each error class to one status and code', () => {
    const cases: Array<[unknown, number, string]> = [
      [new BadRequestError([{ path: 'query.limit', message: 'expected number' }]), 400, 'invalid_request'],
      [new InvalidJsonError('nope'), 400, 'invalid_json'],
      [new NotFoundError('gone'), 404, 'not_found'],
      [new ConflictError('busy'), 409, 'conflict'],
      [new ValidationError([{ path: 'id', message: 'required', line: 1 }]), 422, 'validation_failed'],
      [new RateLimitedError('slow', { retryAfterMs: 1500 }), 429, 'rate_limited'],
      [new PermanentError('refused'), 400, 'bad_request'],
      [new TransientError('partner down'), 502, 'partner_error'],
      [new AuthExpiredError('token'), 502, 'partner_error'],
      [toQiaoError(new TypeError('x is undefined')), 500, 'internal'],
      [new Error('plain'), 500, 'internal'],
      [
        Object.assign(new Error('big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }),
        413,
        'payload_too_large',
      ],
      [
        Object.assign(new Error('type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }),
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [err, status, code] of cases) {
      const r = toErrorResponse(err);
      assert.equal(r.status, status, (err as Error).message);
      assert.equal(r.body.error, code, (err as Error).message);
    }
    assert.equal(toErrorResponse(new RateLimitedError('slow', { retryAfterMs: 1500 })).retryAfterMs, 1500);
    assert.equal(
      toErrorResponse(new Error('secret detail')).body.message,
      'internal error; the server log has the details',
      'a bug does not leak its message',
    );
    assert.deepEqual(
      toErrorResponse(new ValidationError([{ path: 'id', message: 'required', line: 1 }])).body,
      {
        error: 'validation_failed',
        message: '1 problem: id: required',
        problems: [{ path: 'id', message: 'required', line: 1 }],
      },
    );
  });

  describe('over HTTP', () => {
    let k: ApiKit;
    before(async () => {
      k = await startApiKit({ bodyLimit: 4096 });
    });
    after(() => k.close());

    it('a body over the server limit is 413 and stores nothing', async () => {
      const r = await k.call('PUT', '/connections/big', {
        type: 'http',
        settings: { baseUrl: 'http://127.0.0.1:1', headers: { x: 'y'.repeat(5000) } },
      });
      assert.equal(r.status, 413);
      assert.equal(r.body.error, 'payload_too_large');
      assert.equal((await k.call('GET', '/connections/big')).status, 404);
    });

    it('an unknown route under /api is a JSON 404', async () => {
      const r = await k.call('GET', '/nothing/here?x=1');
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, {
        error: 'not_found',
        message: 'no route GET /api/nothing/here (GET /api/openapi.json lists every route)',
      });
      const wrongMethod = await k.call('DELETE', '/runs');
      assert.equal(wrongMethod.status, 404);
    });

    it('the rest of the server is untouched: /healthz and /hooks still answer', async () => {
      const h = await fetch(`${k.hub.url}/healthz`);
      assert.equal(h.status, 200);
      assert.equal(((await h.json()) as { status: string }).status, 'ok');
      const hook = await fetch(`${k.hub.url}/hooks/http/none`, { method: 'POST', body: '{}' });
      assert.equal(hook.status, 404);
    });
  });
});
