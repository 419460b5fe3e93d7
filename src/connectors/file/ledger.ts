/**
 * The idempotency ledger, `.qiao-file-keys.json` in the root: which step idempotency key wrote which
 * file. A write is "build a temporary file, then rename it over the target"; the ledger makes the pair
 * effectively once:
 *
 * 1. key already in the ledger and its temporary file gone → the rename happened: return the first
 *    output, touch nothing (a retried or replayed step writes nothing a second time);
 * 2. key in the ledger and its temporary file still there → we crashed between the ledger write and
 *    the rename: rename now;
 * 3. otherwise build the temporary file (flushed to disk), record `key → {path, tmp, output}`, rename.
 *
 * Every change to the ledger is itself atomic (temporary file + rename) and made under a lock: an
 * in-process queue plus a lock file (`.qiao-file-keys.lock`, created exclusively) so workers in other
 * processes sharing the folder wait their turn. Entries older than 30 days, or beyond the newest
 * 5,000, are pruned.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransientError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';

export const LEDGER_FILE = '.qiao-file-keys.json';
const LOCK_FILE = '.qiao-file-keys.lock';
const MAX_ENTRIES = 5_000;
const MAX_AGE_MS = 30 * 86_400_000;
/** A lock file older than this was left by a crashed process. */
const STALE_LOCK_MS = 60_000;
const LOCK_WAIT_MS = 15_000;

export interface LedgerEntry {
  /** Root-relative path of the file written. */
  path: string;
  /** Absolute path of the temporary file renamed over it. */
  tmp: string;
  at: number;
  output: unknown;
}

interface LedgerData {
  version: 1;
  keys: Record<string, LedgerEntry>;
}

const queues = new Map<string, Promise<unknown>>();

export class Ledger {
  private readonly file: string;
  private readonly lockFile: string;
  private readonly log: Logger;

  constructor(rootReal: string, log: Logger) {
    this.file = path.join(rootReal, LEDGER_FILE);
    this.lockFile = path.join(rootReal, LOCK_FILE);
    this.log = log;
  }

  /**
   * Runs `fn` holding the ledger. `fn` changes `keys` and calls `save()` to make its change durable
   * before acting on it. Calls on one root in this process run one after another; other processes are
   * kept out by the lock file.
   */
  async with<T>(
    fn: (h: { keys: Record<string, LedgerEntry>; save(): Promise<void> }) => Promise<T>,
  ): Promise<T> {
    const prev = queues.get(this.file) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(() => this.locked(fn));
    queues.set(this.file, run);
    try {
      return await run;
    } finally {
      if (queues.get(this.file) === run) queues.delete(this.file);
    }
  }

  private async locked<T>(
    fn: (h: { keys: Record<string, LedgerEntry>; save(): Promise<void> }) => Promise<T>,
  ): Promise<T> {
    await this.acquire();
    try {
      const data = await this.load();
      return await fn({ keys: data.keys, save: () => this.save(data) });
    } finally {
      await unlink(this.lockFile).catch(() => {});
    }
  }

  private async acquire(): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
      try {
        const h = await open(this.lockFile, 'wx');
        await h.writeFile(`${process.pid}\n`);
        await h.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const s = await stat(this.lockFile).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > STALE_LOCK_MS) {
        this.log.warn('removing a stale file-connector ledger lock', { lock: this.lockFile });
        await unlink(this.lockFile).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) {
        throw new TransientError(`the idempotency ledger ${this.lockFile} stayed locked by another process`, {
          partner: { system: 'file', code: 'LEDGER_LOCKED', message: 'ledger lock held', operation: 'write' },
        });
      }
      await sleep(wait);
    }
  }

  private async load(): Promise<LedgerData> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, keys: {} };
      throw err;
    }
    try {
      const data = JSON.parse(text) as LedgerData;
      if (data && typeof data.keys === 'object') return data;
    } catch {}
    // Written atomically, so this is someone's hand edit; keep it for inspection and start afresh.
    const aside = `${this.file}.corrupt-${Date.now()}`;
    await rename(this.file, aside).catch(() => {});
    this.log.warn('the file-connector idempotency ledger was unreadable; set aside', { file: aside });
    return { version: 1, keys: {} };
  }

  private async save(data: LedgerData): Promise<void> {
    const now = Date.now();
    const entries = Object.entries(data.keys)
      .filter(([, e]) => now - e.at < MAX_AGE_MS)
      .sort((a, b) => b[1].at - a[1].at)
      .slice(0, MAX_ENTRIES);
    const tmp = `${this.file}.${randomBytes(6).toString('hex')}.tmp`;
    const h = await open(tmp, 'w');
    try {
      await h.writeFile(JSON.stringify({ version: 1, keys: Object.fromEntries(entries) }));
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, this.file);
  }
}
