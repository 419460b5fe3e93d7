/**
 * Helpers for validation problems: the shared wording of messages (docs/flows.md, "Validation") and the
 * "did you mean" hint for misspelt names.
 */
import type { ValidationProblem } from '../core/errors.ts';

/** `steps[2]` + `route` → `steps[2].route`; numbers become `[n]`. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/**
 * The closest candidate: within a small edit distance (typos: `amont`), or containing the word's letters
 * in order (abbreviations: `maxAttempts` for `maximumAttempts`).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const w = word.toLowerCase();
  // One edit per three letters, at most three: `c` → `a` would be noise, `amont` → `amount` is not.
  const limit = Math.min(3, Math.floor(w.length / 3));
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = distance(w, lc);
    if (d < bestDistance && (d <= limit || (w.length >= 4 && isSubsequence(w, lc)))) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function isSubsequence(short: string, long: string): boolean {
  let i = 0;
  for (let j = 0; j < long.length && i < short.length; j++) if (short[i] === long[j]) i++;
  return i === short.length;
}

/** `; did you mean 'amount'?` or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c ? `; did you mean '${c}'?` : '';
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => {
    const row = new Array<number>(cols).fill(0);
    row[0] = i;
    return row;
  });
  for (let j = 0; j < cols; j++) d[0][j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * A problem whose line is found from a different path than the one reported: `unknown field 'amont'`
 * is reported on the object (`…when`) but its line is the key's own (`…when.amont`).
 */
export interface LocatedProblem extends ValidationProblem {
  /** Path used to find the line, when it differs from `path`. */
  at?: string;
}

/** `unknown field 'amont'; did you mean 'amount'?` reported on the object holding the key. */
export function unknownField(path: string, key: string, known: readonly string[]): LocatedProblem {
  return { path, message: `unknown field '${key}'${didYouMean(key, known)}`, at: join(path, key) };
}

/** `'a', 'b' or 'c'` */
export function oneOf(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} or ${q[q.length - 1]}`;
}

/** Describes a value's type in messages: `a string`, `a number`, `a list`, `a mapping`, `null`. */
export function typeOf(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return `${typeof v === 'number' ? 'the number' : 'the value'} ${String(v)}`;
}
