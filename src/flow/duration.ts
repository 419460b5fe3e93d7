/**
 * Durations as users write them in flow files: `500ms`, `30s`, `5m`, `2h`, `3d`, compounds such as
 * `1h30m`, or a plain number of milliseconds (`1500` or `'1500'`). Documented in docs/flows.md,
 * "Durations".
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** One `<number><unit>` part; units must appear from largest to smallest, each at most once. */
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
const ORDER = ['d', 'h', 'm', 's', 'ms'];

/** Longest duration accepted: 400 days, so a typo such as `30000d` is caught rather than obeyed. */
export const MAX_DURATION_MS = 400 * 86_400_000;

/**
 * Parses a duration into whole milliseconds (rounded). Throws an Error whose message says what is
 * accepted on anything else: negative numbers, unknown units (`5min`), empty strings, repeated or
 * out-of-order units (`5m1h`), or more than MAX_DURATION_MS.
 */
export function parseDuration(v: string | number): number {
  let ms: number;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) throw durationError(v);
    ms = v;
  } else if (typeof v === 'string') {
    const text = v.trim();
    if (/^\d+(\.\d+)?$/.test(text)) {
      ms = Number(text);
    } else {
      ms = parseUnits(text, v);
    }
  } else {
    throw durationError(v);
  }
  ms = Math.round(ms);
  if (ms > MAX_DURATION_MS) throw new Error(`duration ${quote(v)} is longer than the maximum of 400d`);
  return ms;
}

function parseUnits(text: string, original: unknown): number {
  if (text === '') throw durationError(original);
  let total = 0;
  let pos = 0;
  let lastUnit = -1;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) throw durationError(original);
    const unitIndex = ORDER.indexOf(m[2]);
    if (unitIndex <= lastUnit) throw durationError(original);
    lastUnit = unitIndex;
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = PART.lastIndex;
  }
  return total;
}

function durationError(v: unknown): Error {
  return new Error(
    `invalid duration ${quote(v)}: write a number of milliseconds or a number with a unit (500ms, 30s, 5m, 2h, 3d, 1h30m)`,
  );
}

function quote(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/** The shortest readable form of a duration, for messages and docs: 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = ms;
  let out = '';
  for (const unit of ORDER) {
    const size = UNIT_MS[unit];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
