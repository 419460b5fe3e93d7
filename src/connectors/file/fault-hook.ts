/**
 * Fault injection for tests. A folder has no server to answer 503, and an EBUSY (a file locked by
 * another program) cannot be provoked on Linux, so tests queue an errno for a root and the client
 * raises it from its next file-system call, through the same error table as a real one.
 * Nothing in production code queues faults.
 */
import path from 'node:path';

const queued = new Map<string, string[]>();

/** The next `times` file-system calls under `root` fail with `code` (e.g. `EBUSY`). */
export function injectFault(root: string, code: string, times = 1): void {
  const key = path.resolve(root);
  queued.set(key, [...(queued.get(key) ?? []), ...Array.from({ length: times }, () => code)]);
}

/** Clears every queued fault of `root`. */
export function clearFaults(root: string): void {
  queued.delete(path.resolve(root));
}

/** The next queued fault of `root`, if any (the client's side). */
export function takeFault(root: string): string | undefined {
  const list = queued.get(root);
  if (!list?.length) return undefined;
  const code = list.shift();
  if (list.length === 0) queued.delete(root);
  return code;
}
