/**
 * Frequency limits and bans (spec §9, §10.17): per-API counters per minute and per hour with 45009,
 * and the block that follows (minute → 60 s, hour → 60 min), a concurrency limiter with 45033, and
 * bans injected by the admin surface. Off by default except the group robot's 20/min.
 */
import { WecomApiError } from './errors.ts';
import { now, type WecomWorld } from './state.ts';

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** Counts one call of `scope` against `limit` in a fixed window; over the limit starts the block. */
export function countAgainst(w: WecomWorld, scope: string, limit: number, windowMs: number): void {
  const t = now(w);
  const blockKey = `block:${scope}`;
  const until = w.blocks.get(blockKey);
  if (until !== undefined && until > t) {
    throw new WecomApiError(45009, `${scope} blocked for ${Math.ceil((until - t) / 1000)}s more`);
  }
  const key = `win:${windowMs}:${scope}`;
  const start = Math.floor(t / windowMs) * windowMs;
  const win = w.windows.get(key);
  if (!win || win[0] !== start) {
    w.windows.set(key, [start, 1]);
    return;
  }
  win[1] += 1;
  if (win[1] > limit) {
    // The block lasts as long as the window that was exceeded (spec §9).
    w.blocks.set(blockKey, t + windowMs);
    throw new WecomApiError(45009, `more than ${limit} calls per ${windowMs === MINUTE ? 'minute' : 'hour'}`);
  }
}

/** Applies the corp/API limits to one partner call on `path`. Throws 45009 when over or banned. */
export function checkRate(w: WecomWorld, path: string): void {
  const t = now(w);
  for (const key of [`ban:${path}`, 'ban:*']) {
    const until = w.blocks.get(key);
    if (until !== undefined && until > t) {
      throw new WecomApiError(
        45009,
        `api freq out of limit, blocked for ${Math.ceil((until - t) / 1000)}s more`,
      );
    }
  }
  if (!w.limits.enabled) return;
  const perMinute = w.limits.perMinute[path] ?? w.limits.perMinute['*'];
  if (perMinute) countAgainst(w, `minute:${path}`, perMinute, MINUTE);
  const perHour = w.limits.perHour[path] ?? w.limits.perHour['*'];
  if (perHour) countAgainst(w, `hour:${path}`, perHour, HOUR);
}

/** Enters the concurrency limiter for `path`; call the returned function when the call ends. */
export function enter(w: WecomWorld, path: string): () => void {
  const max = w.limits.enabled ? w.limits.concurrency : 0;
  const n = w.inFlight.get(path) ?? 0;
  if (max > 0 && n >= max) throw new WecomApiError(45033);
  w.inFlight.set(path, n + 1);
  return () => w.inFlight.set(path, (w.inFlight.get(path) ?? 1) - 1);
}

/** A ban as the admin surface injects it: every call on `path` (or `*`) answers 45009 for `seconds`. */
export function ban(w: WecomWorld, path: string, seconds: number): number {
  const until = now(w) + seconds * 1000;
  w.blocks.set(`ban:${path}`, until);
  return until;
}

export function clearLimits(w: WecomWorld): void {
  w.blocks.clear();
  w.windows.clear();
  w.badSecrets.clear();
}

export const WINDOWS = { MINUTE, HOUR };
