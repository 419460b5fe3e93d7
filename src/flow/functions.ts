/**
 * Functions flow expressions get on top of JSONata's own (docs/flows.md, "Functions"). Each one solves a
 * conversion the partner systems force on every integration:
 *
 * - amounts: WeCom/DingTalk approval forms and payment APIs count in fen (分), Kingdee and Neocrm in yuan
 *   (元); approval texts want the amount in capital Chinese numerals (大写金额);
 * - time: Neocrm carries milliseconds since the epoch (shared/specs/neocrm.md §"Date/time"), WeCom Unix
 *   seconds (wecom.md, `apply_time`), Kingdee zone-less Beijing local time `yyyy-MM-dd HH:mm:ss`
 *   (kingdee-k3cloud.md, "Dates"). China has one zone with no daylight saving, UTC+8.
 *
 * Like JSONata's built-ins, every function returns `undefined` for an `undefined` argument, so a missing
 * field stays missing instead of failing the step.
 */

const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** Yuan → integer fen, rounded half away from zero on the decimal value (1.005 元 → 101 分). */
export function fen(yuan: unknown): number | undefined {
  if (yuan === undefined) return undefined;
  const n = toNumber(yuan, '$fen');
  const out = Math.sign(n) * Number(decimalFen(Math.abs(n)));
  return out === 0 ? 0 : out;
}

/**
 * Rounds on the shortest decimal form of the number (what a person typed), not on its binary value:
 * 1.005 is stored as 1.00499999…, yet 1.005 元 must be 101 分.
 */
function decimalFen(abs: number): bigint {
  const s = String(abs);
  if (s.includes('e')) return BigInt(Math.round(abs * 100));
  const [int, frac = ''] = s.split('.');
  const padded = frac + '000';
  const base = BigInt(int) * 100n + BigInt(padded.slice(0, 2));
  return padded.charCodeAt(2) >= 53 ? base + 1n : base;
}

/** Fen → yuan (12345 → 123.45). */
export function yuan(fenValue: unknown): number | undefined {
  if (fenValue === undefined) return undefined;
  const n = toNumber(fenValue, '$yuan');
  // toPrecision(15) drops binary noise from the division (e.g. 0.1 + 0.2 style tails).
  return Number((n / 100).toPrecision(15));
}

const DIGITS = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const UNITS = ['', '拾', '佰', '仟'];
const SECTIONS = ['', '万', '亿', '万亿'];

/**
 * An amount in capital Chinese numerals as written on cheques and approval forms (中文大写金额), following
 * the People's Bank of China rules: one 零 for any run of zeros, `整` after 元 or 角 when there are no
 * fen, none after 分. 1005.5 → 壹仟零伍元伍角整; 100010 → 壹拾万零壹拾元整; -3 → 负叁元整.
 */
export function cnyWords(amount: unknown): string | undefined {
  if (amount === undefined) return undefined;
  const n = toNumber(amount, '$cnyWords');
  const abs = decimalFen(Math.abs(n));
  const negative = n < 0 && abs > 0n;
  if (abs >= 10n ** 18n) throw new Error(`$cnyWords: ${amount} is too large`);
  const integer = abs / 100n;
  const jiao = Number((abs / 10n) % 10n);
  const fenDigit = Number(abs % 10n);

  let out = integer > 0n ? integerWords(integer.toString()) + '元' : '';
  if (jiao === 0 && fenDigit === 0) {
    out = (out || '零元') + '整';
  } else {
    if (jiao > 0) out += DIGITS[jiao] + '角';
    else if (out) out += '零';
    out += fenDigit > 0 ? DIGITS[fenDigit] + '分' : '整';
  }
  return (negative ? '负' : '') + out;
}

function integerWords(digits: string): string {
  let out = '';
  let zero = false;
  let sectionHasDigit = false;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - 48;
    const p = digits.length - 1 - i;
    if (d === 0) {
      zero = true;
    } else {
      if (zero && out) out += '零';
      zero = false;
      sectionHasDigit = true;
      out += DIGITS[d] + UNITS[p % 4];
    }
    if (p % 4 === 0) {
      if (sectionHasDigit && p > 0) out += SECTIONS[p / 4];
      sectionHasDigit = false;
    }
  }
  return out;
}

/** `YYYY-MM-DD` in Beijing time. */
export function cnDate(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return beijingIso(toMillis(value, '$cnDate')).slice(0, 10);
}

/** `YYYY-MM-DD HH:mm:ss` in Beijing time: what Kingdee date fields take. */
export function cnDateTime(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const iso = beijingIso(toMillis(value, '$cnDateTime'));
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
}

/** `HH:mm:ss` in Beijing time: when something happened today, e.g. in an alert summary. */
export function cnTime(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return beijingIso(toMillis(value, '$cnTime')).slice(11, 19);
}

/** Milliseconds since the epoch: what Neocrm date fields take. */
export function cnMillis(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return toMillis(value, '$cnMillis');
}

/**
 * Reads a point in time: a number (seconds when below 1e11, i.e. before 1973 in milliseconds, since
 * WeCom sends Unix seconds; milliseconds otherwise), a numeric string the same way, an ISO 8601 string
 * with a zone, or a zone-less `yyyy-MM-dd[ HH:mm[:ss]]` / `yyyy-MM-ddTHH:mm:ss` read as Beijing time
 * (Kingdee's form).
 */
export function toMillis(value: unknown, fn = 'time'): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()))) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`${fn}: ${value} is not a time`);
    return Math.round(Math.abs(n) < 1e11 ? n * 1000 : n);
  }
  if (typeof value === 'string') {
    const s = value.trim();
    const local = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?))?$/.exec(s);
    const ms = local ? Date.parse(`${local[1]}T${local[2] ?? '00:00'}+08:00`) : Date.parse(s);
    if (Number.isNaN(ms)) throw new Error(`${fn}: '${value}' is not a time`);
    return ms;
  }
  throw new Error(`${fn}: expected a time, got ${describe(value)}`);
}

function beijingIso(ms: number): string {
  return new Date(ms + BEIJING_OFFSET_MS).toISOString();
}

function toNumber(v: unknown, fn: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) throw new Error(`${fn}: expected a number, got ${describe(v)}`);
  return n;
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : String(v);
}

/**
 * The functions bound in every expression, with JSONata signatures (`<j-:n>`: one argument of any JSON
 * type, the context value when omitted; returns a number). Names are JSONata variable names, used
 * as `$fen(amount)`.
 */
export const EXPRESSION_FUNCTIONS: Record<string, { impl: (...args: any[]) => unknown; signature: string }> =
  {
    fen: { impl: fen, signature: '<j-:n>' },
    yuan: { impl: yuan, signature: '<j-:n>' },
    cnyWords: { impl: cnyWords, signature: '<j-:s>' },
    cnDate: { impl: cnDate, signature: '<j-:s>' },
    cnDateTime: { impl: cnDateTime, signature: '<j-:s>' },
    cnTime: { impl: cnTime, signature: '<j-:s>' },
    cnMillis: { impl: cnMillis, signature: '<j-:n>' },
  };
