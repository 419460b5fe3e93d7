import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../core/flow.ts';
import { backoffDelayMs, compileRetryPolicy, retryDelayMs, shouldRetry } from './retry-policy.ts';

function problemsOf(input: unknown): string[] {
  try {
    compileRetryPolicy(input, 'steps[4].retry');
  } catch (err) {
    assert.ok(err instanceof ValidationError);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected a ValidationError');
}

describe('compileRetryPolicy', () => {
  it('reads the documented example', () => {
    assert.deepEqual(
      compileRetryPolicy(
        {
          initialInterval: '2s',
          backoffCoefficient: 2,
          maximumInterval: '10m',
          maximumAttempts: 5,
          nonRetryable: ['auth_expired'],
        },
        'retry',
      ),
      {
        initialIntervalMs: 2_000,
        backoffCoefficient: 2,
        maximumIntervalMs: 600_000,
        maximumAttempts: 5,
        nonRetryable: ['auth_expired'],
      },
    );
  });

  it('fills what is missing from the defaults', () => {
    assert.deepEqual(compileRetryPolicy(undefined, 'retry'), DEFAULT_RETRY);
    assert.deepEqual(compileRetryPolicy({ maximumAttempts: 3 }, 'retry'), {
      ...DEFAULT_RETRY,
      maximumAttempts: 3,
    });
    // An initial interval above the default maximum raises the maximum with it.
    assert.equal(compileRetryPolicy({ initialInterval: '10m' }, 'retry').maximumIntervalMs, 600_000);
    assert.deepEqual(
      compileRetryPolicy({ nonRetryable: ['permanent', 'transient', 'transient'] }, 'r').nonRetryable,
      ['transient'],
    );
  });

  it('does not share the default nonRetryable list', () => {
    const p = compileRetryPolicy({}, 'retry');
    p.nonRetryable.push('transient');
    assert.deepEqual(DEFAULT_RETRY.nonRetryable, []);
  });

  it('says precisely what is wrong, every problem at once', () => {
    assert.deepEqual(
      problemsOf({
        initialInterval: 'soon',
        backoffCoefficient: 0.5,
        maximumAttempts: 2.5,
        nonRetryable: ['transient', 'timeout'],
        maxAttempts: 3,
      }),
      [
        "steps[4].retry: unknown field 'maxAttempts'; did you mean 'maximumAttempts'?",
        "steps[4].retry.initialInterval: invalid duration 'soon': write a number of milliseconds or a number with a unit (500ms, 30s, 5m, 2h, 3d, 1h30m)",
        'steps[4].retry.backoffCoefficient: must be a number of at least 1; got the number 0.5',
        'steps[4].retry.maximumAttempts: must be a whole number from 1 to 1000 (attempts include the first); got the number 2.5',
        "steps[4].retry.nonRetryable[1]: unknown error class 'timeout'; use 'transient', 'rate_limited', 'auth_expired' or 'permanent'",
      ],
    );
    assert.deepEqual(problemsOf({ initialInterval: '1m', maximumInterval: '30s' }), [
      'steps[4].retry.maximumInterval: cannot be less than initialInterval (30s < 1m)',
    ]);
    assert.deepEqual(problemsOf({ initialInterval: 0 }), [
      'steps[4].retry.initialInterval: must be longer than 0',
    ]);
    assert.deepEqual(problemsOf({ maximumAttempts: 0 }), [
      'steps[4].retry.maximumAttempts: must be a whole number from 1 to 1000 (attempts include the first); got the number 0',
    ]);
    assert.deepEqual(problemsOf({ backoffCoefficient: '2' }), [
      "steps[4].retry.backoffCoefficient: must be a number of at least 1; got the string '2'",
    ]);
    assert.deepEqual(problemsOf({ nonRetryable: 'transient' }), [
      "steps[4].retry.nonRetryable: must be a list of error classes ('transient', 'rate_limited' or 'auth_expired'); got the string 'transient'",
    ]);
    assert.deepEqual(problemsOf(5), [
      'steps[4].retry: must be a mapping of initialInterval, backoffCoefficient, maximumInterval, maximumAttempts, nonRetryable; got the number 5',
    ]);
  });
});

describe('backoffDelayMs', () => {
  const policy: RetryPolicy = {
    initialIntervalMs: 2_000,
    backoffCoefficient: 2,
    maximumIntervalMs: 600_000,
    maximumAttempts: 20,
    nonRetryable: [],
  };

  it('grows geometrically and is capped at the maximum', () => {
    const top = () => 1;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((a) => backoffDelayMs(policy, a, top)),
      [2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 600_000],
    );
    assert.equal(backoffDelayMs(policy, 5_000, top), 600_000);
    assert.equal(backoffDelayMs({ ...policy, backoffCoefficient: 1 }, 7, top), 2_000);
  });

  it('jitters between half and all of the delay', () => {
    assert.equal(
      backoffDelayMs(policy, 3, () => 0),
      4_000,
    );
    assert.equal(
      backoffDelayMs(policy, 3, () => 0.5),
      6_000,
    );
    let seed = 7;
    const lcg = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(600_000, 2_000 * 2 ** (attempt - 1));
      for (let i = 0; i < 200; i++) {
        const d = backoffDelayMs(policy, attempt, lcg);
        assert.ok(
          d >= ceiling / 2 && d <= ceiling,
          `attempt ${attempt}: ${d} outside [${ceiling / 2}, ${ceiling}]`,
        );
      }
    }
  });

  it('treats attempts below 1 as the first', () => {
    assert.equal(
      backoffDelayMs(policy, 0, () => 1),
      2_000,
    );
  });
});

describe('shouldRetry', () => {
  const policy = compileRetryPolicy({ maximumAttempts: 3, nonRetryable: ['rate_limited'] }, 'retry');

  it('stops at maximumAttempts', () => {
    assert.equal(shouldRetry(policy, 'transient', 1), true);
    assert.equal(shouldRetry(policy, 'transient', 2), true);
    assert.equal(shouldRetry(policy, 'transient', 3), false);
  });

  it('never retries permanent errors or classes listed as non-retryable', () => {
    assert.equal(shouldRetry(policy, 'permanent', 1), false);
    assert.equal(shouldRetry(policy, 'rate_limited', 1), false);
  });

  it('retries auth_expired once, not after another auth_expired', () => {
    assert.equal(shouldRetry(policy, 'auth_expired', 1), true);
    assert.equal(shouldRetry(policy, 'auth_expired', 2, 'transient'), true);
    assert.equal(shouldRetry(policy, 'auth_expired', 2, 'auth_expired'), false);
  });
});

describe('retryDelayMs', () => {
  it('waits as long as a rate-limited partner demands, else backs off', () => {
    const policy = compileRetryPolicy({}, 'retry');
    assert.equal(retryDelayMs(policy, { errorClass: 'rate_limited', retryAfterMs: 60_000 }, 1), 60_000);
    assert.equal(
      retryDelayMs(policy, { errorClass: 'transient' }, 2, () => 1),
      2_000,
    );
    assert.equal(
      retryDelayMs(policy, { errorClass: 'rate_limited' }, 1, () => 1),
      1_000,
    );
  });
});
