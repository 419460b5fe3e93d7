import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('reads every unit', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('3d'), 259_200_000);
  });

  it('reads compounds, decimals and plain milliseconds', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 86_400_000 + 7_200_000 + 180_000 + 4_000 + 5);
    assert.equal(parseDuration('1.5s'), 1_500);
    assert.equal(parseDuration(' 2h '), 7_200_000);
    assert.equal(parseDuration(1500), 1500);
    assert.equal(parseDuration('1500'), 1500);
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration(0.4), 0);
  });

  it('rejects garbage with a message that says what is accepted', () => {
    for (const bad of ['', '5min', 'soon', '-5s', '5m1h', '1s1s', '5 s', 's', '1e3', '30S']) {
      assert.throws(
        () => parseDuration(bad),
        {
          message: `invalid duration '${bad}': write a number of milliseconds or a number with a unit (500ms, 30s, 5m, 2h, 3d, 1h30m)`,
        },
        bad,
      );
    }
    assert.throws(() => parseDuration(-1), /invalid duration -1/);
    assert.throws(() => parseDuration(Number.NaN), /invalid duration NaN/);
    assert.throws(() => parseDuration(Number.POSITIVE_INFINITY), /invalid duration Infinity/);
    assert.throws(() => parseDuration(true as unknown as string), /invalid duration true/);
  });

  it('caps at 400 days', () => {
    assert.equal(parseDuration('400d'), 400 * 86_400_000);
    assert.throws(() => parseDuration('401d'), {
      message: "duration '401d' is longer than the maximum of 400d",
    });
  });
});

describe('formatDuration', () => {
  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 999, 1000, 90_000, 5_400_000, 86_400_000 + 1]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
    assert.equal(formatDuration(90_000), '1m30s');
  });
});
