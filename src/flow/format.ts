/**
 * Problems as people read them, one a line (`qiao flow validate`, server start-up):
 *
 *   flows/contract.yaml:14 steps[2].route.rows[0].when: unknown field 'amont'; did you mean 'amount'?
 */
import { formatProblem, type ValidationProblem } from '../core/errors.ts';

/** One line per problem, `file:line path: message`, in the order given. */
export function formatProblems(problems: readonly ValidationProblem[]): string {
  return problems.map(formatProblem).join('\n');
}

/** `3 problems in 2 files`, or `no problems`. */
export function summarizeProblems(problems: readonly ValidationProblem[]): string {
  if (problems.length === 0) return 'no problems';
  const files = new Set(problems.map((p) => p.file ?? ''));
  const n = problems.length;
  return `${n} problem${n === 1 ? '' : 's'} in ${files.size} file${files.size === 1 ? '' : 's'}`;
}
