/**
 * The sandbox's clock. K/3 Cloud stamps `FCreateDate`/`FModifyDate`/`FApproveDate` in the server's
 * local time and prints them without a zone (`yyyy-MM-ddTHH:mm:ss`, create/modify stamps with
 * fractional seconds; spec 4.4 "Value types"). A Chinese tenant's server runs at UTC+8, so the sandbox
 * formats with a fixed offset (default +480 minutes) whatever the host's zone is.
 *
 * Tests may shift or freeze the clock (spec 9.14 "Determinism") through `POST /__sandbox/clock`.
 */
export interface SandboxClock {
  /** Milliseconds since the epoch, as the sandbox sees them. */
  nowMs(): number;
  /** Now in Kingdee's local format with milliseconds: `2025-03-01T10:00:00.123`. */
  nowLocal(): string;
  /** Freezes the clock at `ms` (every write gets the same stamp), or unfreezes with `null`. */
  freeze(ms: number | null): void;
  /** Adds `ms` to the real time (negative moves back). */
  shift(ms: number): void;
  readonly utcOffsetMinutes: number;
  state(): { nowLocal: string; frozen: boolean; offsetMs: number; utcOffsetMinutes: number };
}

export function createClock(utcOffsetMinutes = 480): SandboxClock {
  let frozenAt: number | null = null;
  let offsetMs = 0;
  const nowMs = () => frozenAt ?? Date.now() + offsetMs;
  return {
    nowMs,
    nowLocal: () => formatLocal(nowMs(), utcOffsetMinutes),
    freeze(ms) {
      frozenAt = ms;
    },
    shift(ms) {
      offsetMs += ms;
    },
    utcOffsetMinutes,
    state: () => ({
      nowLocal: formatLocal(nowMs(), utcOffsetMinutes),
      frozen: frozenAt !== null,
      offsetMs,
      utcOffsetMinutes,
    }),
  };
}

/** Epoch ms → `yyyy-MM-ddTHH:mm:ss.fff` at the given offset. */
export function formatLocal(ms: number, utcOffsetMinutes: number): string {
  return new Date(ms + utcOffsetMinutes * 60_000).toISOString().slice(0, 23);
}

/** `yyyy-MM-dd[ |T]HH:mm[:ss[.fff]]` (local, no zone) → epoch ms, or NaN when it is not a date. */
export function parseLocal(text: string, utcOffsetMinutes: number): number {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?$/.exec(
    text.trim(),
  );
  if (!m) return Number.NaN;
  const frac = m[7] ? Number(`0.${m[7]}`) * 1000 : 0;
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0), Math.round(frac));
  return utc - utcOffsetMinutes * 60_000;
}

/**
 * Normalises a date or datetime literal to the sortable form `yyyy-MM-ddTHH:mm:ss.fff`, or returns
 * undefined. Used to compare FilterString literals with stored stamps.
 */
export function normaliseLocal(text: string): string | undefined {
  const ms = parseLocal(text, 0);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 23);
}
