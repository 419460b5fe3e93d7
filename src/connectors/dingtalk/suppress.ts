/**
 * Alert suppression for `robot.send` (DESIGN.md scenario 7: "a storm becomes one message"). A message
 * sent with `suppress: { key, windowMs }` opens a window for (robot, key): it is posted, and every
 * further message with that key until the window ends is counted instead of posted. When the window
 * ends, one summary is posted for what was held back (nothing when nothing was). So a storm of 50
 * alerts is one message and one summary, whatever the flow that sends them.
 *
 * The flow format has no state shared between runs, so the windows live here, in the connector:
 * - per connection and per process: after a restart, the next alert of a storm opens a new window, and
 *   with several `qiao worker` processes each may post its own first message;
 * - the summary is timed in memory (an unref'd timer): a process that stops sends the summaries it
 *   holds on `close()`; one that crashes loses them (the alerts themselves are still runs in the store).
 * A step retried with the same idempotency key gets the decision it got the first time, so a retry is
 * neither posted twice nor counted twice.
 */

export interface SuppressInput {
  /** What makes alerts "the same": e.g. `dead-letters`, `stock`, `approval-sla`. */
  key: string;
  /** How long one message stands for its key; the summary follows when it ends. */
  windowMs: number;
  /** How many alerts this message stands for (e.g. 12 dead letters found by one check). Default 1. */
  count?: number;
}

export type SuppressDecision =
  | { send: true; key: string; windowEndsAt: number }
  | { send: false; key: string; windowEndsAt: number; suppressed: number };

export interface Summary {
  robot: string;
  key: string;
  /** Alerts held back during the window (sum of their `count`). */
  suppressed: number;
  /** Messages held back. */
  messages: number;
  windowMs: number;
  openedAt: number;
  firstSuppressedAt: number;
  lastSuppressedAt: number;
  /** The text of the last message held back, for context. */
  last: string;
}

interface Window {
  robot: string;
  key: string;
  windowMs: number;
  openedAt: number;
  endsAt: number;
  suppressed: number;
  messages: number;
  firstSuppressedAt: number;
  lastSuppressedAt: number;
  last: string;
  /** Idempotency keys seen in this window and what they were told. */
  seen: Map<string, SuppressDecision>;
  timer?: { cancel(): void };
}

export interface SuppressorOptions {
  /** Posts a summary; errors are reported to `onError` (a summary is best effort, like a notify). */
  sendSummary(s: Summary): Promise<void>;
  onError?(err: unknown, s: Summary): void;
  now?: () => number;
  /** Schedules `fn` after `ms`; the default is an unref'd setTimeout. */
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
}

const defaultSchedule = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

export class Suppressor {
  private readonly windows = new Map<string, Window>();
  private readonly opts: SuppressorOptions;
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => { cancel(): void };
  private readonly pending = new Set<Promise<void>>();

  constructor(opts: SuppressorOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? defaultSchedule;
  }

  /**
   * Whether a message for (robot, key) is posted now. A `send: true` decision opens the window only
   * once `sent()` confirms the post, so a failed post leaves the next attempt free to post.
   */
  admit(robot: string, s: SuppressInput, idempotencyKey: string, text: string): SuppressDecision {
    const id = `${robot}\n${s.key}`;
    const now = this.now();
    const w = this.windows.get(id);
    if (w && now < w.endsAt) {
      const known = w.seen.get(idempotencyKey);
      if (known) return known;
      const n = Math.max(1, s.count ?? 1);
      w.suppressed += n;
      w.messages += 1;
      if (w.messages === 1) w.firstSuppressedAt = now;
      w.lastSuppressedAt = now;
      w.last = text;
      const d: SuppressDecision = {
        send: false,
        key: s.key,
        windowEndsAt: w.endsAt,
        suppressed: w.suppressed,
      };
      w.seen.set(idempotencyKey, d);
      return d;
    }
    return { send: true, key: s.key, windowEndsAt: now + s.windowMs };
  }

  /** The message admitted for (robot, key) was posted: its window starts. */
  sent(robot: string, s: SuppressInput, idempotencyKey: string, decision: SuppressDecision): void {
    const id = `${robot}\n${s.key}`;
    const old = this.windows.get(id);
    if (old && this.now() < old.endsAt) {
      // A concurrent first message already opened it: remember this one as sent too.
      old.seen.set(idempotencyKey, decision);
      return;
    }
    if (old) this.close(id, old);
    const now = this.now();
    const w: Window = {
      robot,
      key: s.key,
      windowMs: s.windowMs,
      openedAt: now,
      endsAt: now + s.windowMs,
      suppressed: 0,
      messages: 0,
      firstSuppressedAt: 0,
      lastSuppressedAt: 0,
      last: '',
      seen: new Map([[idempotencyKey, decision]]),
    };
    w.timer = this.schedule(() => {
      if (this.windows.get(id) === w) this.close(id, w);
    }, s.windowMs);
    this.windows.set(id, w);
  }

  /** Ends every open window now, posting their summaries (on shutdown), and waits for the posts. */
  async flush(): Promise<void> {
    for (const [id, w] of [...this.windows]) this.close(id, w);
    await Promise.all([...this.pending]);
  }

  /** Open windows, for tests and diagnostics. */
  open(): Array<{ robot: string; key: string; endsAt: number; suppressed: number }> {
    return [...this.windows.values()].map((w) => ({
      robot: w.robot,
      key: w.key,
      endsAt: w.endsAt,
      suppressed: w.suppressed,
    }));
  }

  private close(id: string, w: Window): void {
    w.timer?.cancel();
    this.windows.delete(id);
    if (w.messages === 0) return;
    const summary: Summary = {
      robot: w.robot,
      key: w.key,
      suppressed: w.suppressed,
      messages: w.messages,
      windowMs: w.windowMs,
      openedAt: w.openedAt,
      firstSuppressedAt: w.firstSuppressedAt,
      lastSuppressedAt: w.lastSuppressedAt,
      last: w.last,
    };
    const p = this.opts
      .sendSummary(summary)
      .catch((err) => this.opts.onError?.(err, summary))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }
}

/** `HH:mm:ss` in Beijing time, for summaries read by people in China. */
function clock(ms: number): string {
  return new Date(ms + 8 * 3_600_000).toISOString().slice(11, 19);
}

/** A window's length in words: `10 分钟`, `1 小时`, `90 秒`. */
function span(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} 小时`;
  if (ms % 60_000 === 0) return `${ms / 60_000} 分钟`;
  return `${Math.round(ms / 1000)} 秒`;
}

/**
 * The summary's text. It starts with 【告警汇总】 so robots with keyword security (告警) accept it.
 * The last held-back message is quoted, cut at 500 characters.
 */
export function summaryText(s: Summary): string {
  const last = s.last.length > 500 ? `${s.last.slice(0, 500)}…` : s.last;
  return (
    `【告警汇总】${s.key}：${span(s.windowMs)}内另有 ${s.suppressed} 条同类告警未单独发送` +
    `（${clock(s.firstSuppressedAt)}–${clock(s.lastSuppressedAt)}，${s.messages} 条消息）。` +
    `最后一条：${last}`
  );
}
