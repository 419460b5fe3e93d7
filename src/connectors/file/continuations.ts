/**
 * Open readers kept between pages. Paging a file by "skip the first N rows" re-reads the file from the
 * top for every page: a 200,000-row first load in pages of 100 would parse 200 million rows. So when
 * a page ends inside a file, its reader (an open file positioned after the page) is kept under the
 * position the next page starts from; the next call that asks for exactly that position continues it.
 * A call that asks for anything else simply opens the file again, so a lost entry costs time, never
 * correctness. Entries are closed after `ttlMs` unused, and the oldest when there are more than `max`.
 */
export interface Parked<T> {
  value: T;
  close(): Promise<void>;
}

export class Continuations<T> {
  private readonly entries = new Map<string, Parked<T> & { timer: NodeJS.Timeout }>();
  private readonly ttlMs: number;
  private readonly max: number;

  constructor(opts: { ttlMs?: number; max?: number } = {}) {
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.max = opts.max ?? 16;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The reader parked under `key`, removed from the cache (it is the caller's now). */
  take(key: string): T | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    clearTimeout(e.timer);
    this.entries.delete(key);
    return e.value;
  }

  put(key: string, parked: Parked<T>): void {
    const old = this.entries.get(key);
    if (old) this.drop(key, old);
    while (this.entries.size >= this.max) {
      const [oldestKey, oldest] = this.entries.entries().next().value!;
      this.drop(oldestKey, oldest);
    }
    const timer = setTimeout(() => {
      const e = this.entries.get(key);
      if (e) this.drop(key, e);
    }, this.ttlMs);
    timer.unref();
    this.entries.set(key, { ...parked, timer });
  }

  async closeAll(): Promise<void> {
    const all = [...this.entries.entries()];
    this.entries.clear();
    await Promise.all(
      all.map(([, e]) => {
        clearTimeout(e.timer);
        return e.close().catch(() => {});
      }),
    );
  }

  private drop(key: string, e: Parked<T> & { timer: NodeJS.Timeout }): void {
    clearTimeout(e.timer);
    this.entries.delete(key);
    void e.close().catch(() => {});
  }
}
