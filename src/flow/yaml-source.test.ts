import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parentPath, readYaml } from './yaml-source.ts';

describe('readYaml', () => {
  it('maps paths to the line of their key, falling back to the nearest ancestor', () => {
    const y = readYaml('id: t\nsteps:\n  - id: a\n    map:\n      金额: =amount\n  - id: b\n');
    assert.deepEqual(y.problems, []);
    assert.deepEqual(y.value, { id: 't', steps: [{ id: 'a', map: { 金额: '=amount' } }, { id: 'b' }] });
    assert.equal(y.lineOf(''), 1);
    assert.equal(y.lineOf('steps'), 2);
    assert.equal(y.lineOf('steps[0]'), 3);
    assert.equal(y.lineOf('steps[0].map.金额'), 5);
    assert.equal(y.lineOf('steps[0].map.missing'), 4);
    assert.equal(y.lineOf('steps[1].id'), 6);
    assert.equal(y.lineOf('nothing.at.all'), 1);
  });

  it('splits paths into parents', () => {
    assert.equal(parentPath('steps[2].route.rows[0]'), 'steps[2].route.rows');
    assert.equal(parentPath('steps[2].route.rows'), 'steps[2].route');
    assert.equal(parentPath('steps[2]'), 'steps');
    assert.equal(parentPath('steps'), '');
    assert.equal(parentPath(''), undefined);
  });
});
