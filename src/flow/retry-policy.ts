/**
 * Retry policies: plain data checked once with precise messages (STYLE.md, "Errors are classified
 * values", after Temporal's `compileRetryPolicy`), and the backoff the engine waits between attempts.
 * Documented in docs/flows.md, "Retry policies".
 *
 *   retry: { initialInterval: 2s, backoffCoefficient: 2, maximumInterval: 10m, maximumAttempts: 5,
 *            nonRetryable: [auth_expired] }
 */

import type { ErrorClass } from '../core/errors.ts';
import { ValidationError } from '../core/errors.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../core/flow.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { join, type LocatedProblem, oneOf, typeOf, unknownField } from './problems.ts';

const FIELDS = [
  'initialInterval',
  'backoffCoefficient',
  'maximumInterval',
  'maximumAttempts',
  'nonRetryable',
];
const RETRYABLE: ReadonlyArray<RetryPolicy['nonRetryable'][number]> = [
  'transient',
  'rate_limited',
  'auth_expired',
];

/** At most this many attempts: past it a step belongs in the dead-letter queue, not in a retry loop. */
export const MAX_ATTEMPTS = 1_000;

/**
 * Checks a retry policy as written in a flow and fills the missing fields from `base` (DEFAULT_RETRY:
 * 1s, ×2, at most 5m, 8 attempts). `undefined` gives `base`. When only `initialInterval` is given and
 * it exceeds the base maximum, the maximum rises to it. Throws a ValidationError listing every problem,
 * each with its path under `path` (e.g. `steps[4].retry.maximumAttempts`).
 */
export function compileRetryPolicy(
  input: unknown,
  path: string,
  base: RetryPolicy = DEFAULT_RETRY,
): RetryPolicy {
  const problems = retryPolicyProblems(input, path, base);
  if (problems.problems.length > 0) throw new ValidationError(problems.problems);
  return problems.policy;
}

/** The same as `compileRetryPolicy`, returning problems instead of throwing (for the flow parser). */
export function retryPolicyProblems(
  input: unknown,
  path: string,
  base: RetryPolicy = DEFAULT_RETRY,
): { policy: RetryPolicy; problems: LocatedProblem[] } {
  const problems: LocatedProblem[] = [];
  const policy: RetryPolicy = { ...base, nonRetryable: [...base.nonRetryable] };
  if (input === undefined) return { policy, problems };
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    problems.push({ path, message: `must be a mapping of ${FIELDS.join(', ')}; got ${typeOf(input)}` });
    return { policy, problems };
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!FIELDS.includes(key)) problems.push(unknownField(path, key, FIELDS));
  }

  const duration = (key: string): number | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    try {
      const ms = parseDuration(v as string | number);
      if (ms > 0) return ms;
      problems.push({ path: join(path, key), message: 'must be longer than 0' });
    } catch (err) {
      problems.push({ path: join(path, key), message: (err as Error).message });
    }
    return undefined;
  };

  const initial = duration('initialInterval');
  const maximum = duration('maximumInterval');
  if (initial !== undefined) policy.initialIntervalMs = initial;
  if (maximum !== undefined) policy.maximumIntervalMs = maximum;
  else if (initial !== undefined && initial > policy.maximumIntervalMs) policy.maximumIntervalMs = initial;
  if (
    policy.maximumIntervalMs < policy.initialIntervalMs &&
    (initial !== undefined || maximum !== undefined)
  ) {
    problems.push({
      path: join(path, 'maximumInterval'),
      message: `cannot be less than initialInterval (${formatDuration(policy.maximumIntervalMs)} < ${formatDuration(policy.initialIntervalMs)})`,
      at: join(path, maximum !== undefined ? 'maximumInterval' : 'initialInterval'),
    });
  }

  if (raw.backoffCoefficient !== undefined) {
    const c = raw.backoffCoefficient;
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 1) {
      problems.push({
        path: join(path, 'backoffCoefficient'),
        message: `must be a number of at least 1; got ${typeOf(c)}`,
      });
    } else {
      policy.backoffCoefficient = c;
    }
  }

  if (raw.maximumAttempts !== undefined) {
    const a = raw.maximumAttempts;
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 1 || a > MAX_ATTEMPTS) {
      problems.push({
        path: join(path, 'maximumAttempts'),
        message: `must be a whole number from 1 to ${MAX_ATTEMPTS} (attempts include the first); got ${typeOf(a)}`,
      });
    } else {
      policy.maximumAttempts = a;
    }
  }

  if (raw.nonRetryable !== undefined) {
    const list = raw.nonRetryable;
    if (!Array.isArray(list)) {
      problems.push({
        path: join(path, 'nonRetryable'),
        message: `must be a list of error classes (${oneOf(RETRYABLE)}); got ${typeOf(list)}`,
      });
    } else {
      const out = new Set<RetryPolicy['nonRetryable'][number]>();
      list.forEach((v, i) => {
        // `permanent` is never retried anyway; listing it is harmless.
        if (v === 'permanent') return;
        if (typeof v === 'string' && (RETRYABLE as readonly string[]).includes(v)) {
          out.add(v as RetryPolicy['nonRetryable'][number]);
        } else {
          problems.push({
            path: join(join(path, 'nonRetryable'), i),
            message: `unknown error class ${typeof v === 'string' ? `'${v}'` : typeOf(v)}; use ${oneOf([...RETRYABLE, 'permanent'])}`,
          });
        }
      });
      policy.nonRetryable = [...out];
    }
  }
  return { policy, problems };
}

/**
 * How long to wait after attempt `attempt` (1-based) failed: min(maximumInterval, initialInterval ×
 * backoffCoefficient^(attempt−1)) with full jitter between 50% and 100% of it, so a burst of failed
 * steps does not retry in lockstep. `random` is injectable for tests.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = policy.initialIntervalMs * policy.backoffCoefficient ** (n - 1);
  const capped = Math.min(policy.maximumIntervalMs, Number.isFinite(raw) ? raw : policy.maximumIntervalMs);
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(capped * (0.5 + 0.5 * r));
}

/**
 * Whether attempt `attempt` (1-based), which failed with `errorClass`, gets another. Never for
 * `permanent` or a class the policy lists as non-retryable, never past `maximumAttempts`, and (core
 * errors.ts) an `auth_expired` that follows another `auth_expired` is treated as permanent: the
 * connector already refreshed its credentials twice. Pass the previous attempt's class to get that rule.
 */
export function shouldRetry(
  policy: RetryPolicy,
  errorClass: ErrorClass,
  attempt: number,
  previousErrorClass?: ErrorClass,
): boolean {
  if (errorClass === 'permanent') return false;
  if ((policy.nonRetryable as readonly ErrorClass[]).includes(errorClass)) return false;
  if (errorClass === 'auth_expired' && previousErrorClass === 'auth_expired') return false;
  return attempt < policy.maximumAttempts;
}

/**
 * The wait before the next attempt for an error: the partner's own demand for `rate_limited` errors
 * that carry one (WeCom blocks 60 s, DingTalk bans 5 minutes; DESIGN.md), the jittered backoff
 * otherwise.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  error: { errorClass: ErrorClass; retryAfterMs?: number },
  attempt: number,
  random: () => number = Math.random,
): number {
  if (error.errorClass === 'rate_limited' && error.retryAfterMs !== undefined && error.retryAfterMs >= 0) {
    return error.retryAfterMs;
  }
  return backoffDelayMs(policy, attempt, random);
}
