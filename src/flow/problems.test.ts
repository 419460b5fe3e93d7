import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closest, join, oneOf, unknownField } from './problems.ts';

describe('closest', () => {
  it('suggests typos and abbreviations, nothing for unrelated words', () => {
    assert.equal(closest('amont', ['amount', 'rating']), 'amount');
    assert.equal(closest('ratign', ['amount', 'rating']), 'rating');
    assert.equal(closest('maxAttempts', ['maximumAttempts', 'maximumInterval']), 'maximumAttempts');
    assert.equal(closest('Every', ['every', 'source']), 'every');
    assert.equal(closest('colour', ['amount', 'rating']), undefined);
    assert.equal(closest('x', ['y', 'zz']), undefined);
    assert.equal(closest('X', ['x', 'y']), 'x');
  });
});

describe('problem helpers', () => {
  it('joins paths and words', () => {
    assert.equal(join('', 'steps'), 'steps');
    assert.equal(join('steps', 2), 'steps[2]');
    assert.equal(join('steps[2]', 'route'), 'steps[2].route');
    assert.equal(oneOf(['a']), "'a'");
    assert.equal(oneOf(['a', 'b', 'c']), "'a', 'b' or 'c'");
  });

  it('reports an unknown field on its object, located at the key', () => {
    assert.deepEqual(unknownField('steps[2].route.rows[0].when', 'amont', ['amount', 'rating']), {
      path: 'steps[2].route.rows[0].when',
      message: "unknown field 'amont'; did you mean 'amount'?",
      at: 'steps[2].route.rows[0].when.amont',
    });
  });
});
