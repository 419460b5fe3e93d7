import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblems, summarizeProblems } from './format.ts';

describe('formatProblems', () => {
  it('writes one line per problem as file:line path: message', () => {
    const problems = [
      {
        file: 'flows/contract.yaml',
        line: 14,
        path: 'steps[2].route.rows[0].when',
        message: "unknown field 'amont'; did you mean 'amount'?",
      },
      { file: 'flows/contract.yaml', path: '', message: 'YAML: Map keys must be unique', line: 3 },
      { file: 'flows/none.yaml', path: '', message: 'no such file' },
      { path: 'id', message: 'is required' },
    ];
    assert.equal(
      formatProblems(problems),
      [
        "flows/contract.yaml:14 steps[2].route.rows[0].when: unknown field 'amont'; did you mean 'amount'?",
        'flows/contract.yaml:3 YAML: Map keys must be unique',
        'flows/none.yaml no such file',
        'id: is required',
      ].join('\n'),
    );
    assert.equal(summarizeProblems(problems), '4 problems in 3 files');
    assert.equal(summarizeProblems(problems.slice(0, 1)), '1 problem in 1 file');
    assert.equal(summarizeProblems([]), 'no problems');
    assert.equal(formatProblems([]), '');
  });
});
