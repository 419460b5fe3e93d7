/**
 * JSON with exact 64-bit ids. Neocrm ids exceed 2^53 and some endpoints send them as JSON numbers
 * (spec 1.2), so responses are parsed with each number's source text: every integer a double cannot
 * hold, and every id-like key, becomes a decimal string. Requests send ids back as exact integers.
 */

interface JsonWithRaw {
  rawJSON(text: string): unknown;
  parse(
    text: string,
    reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
  ): unknown;
}

const J = JSON as unknown as JsonWithRaw;

/** Keys whose values are ids whatever their size (system fields of spec 5.1, token fields of 2.2/2.4). */
const ID_KEYS = new Set([
  'id',
  'ownerId',
  'createdBy',
  'updatedBy',
  'dimDepart',
  'entityType',
  'tenant_id',
  'passport_id',
]);

/**
 * Whether a key holds an id: the system id fields, dotted `….id` paths, and reference fields named
 * `…Id`/`…Id__c` when the value is id-sized (a small `…Id` such as `industryId` is a picklist value).
 */
function isIdKey(key: string, value: number): boolean {
  if (ID_KEYS.has(key) || key.endsWith('.id')) return true;
  return /Id(__c)?$/.test(key) && Math.abs(value) >= 2 ** 31;
}

/** Integer literals of 16+ digits outside strings (ids; spec 1.2: "16 digits typical"). */
const BIG_INT = /([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g;

/**
 * Parses a Neocrm body; ids come back as decimal strings, exactly. The fast path quotes 16+-digit
 * integer literals before a plain JSON.parse: a literal inside a string cannot be quoted that way
 * without making the text invalid JSON, so any such case falls back to the exact source-text reviver.
 */
export function parseNeocrmJson(text: string): unknown {
  let fast: unknown;
  try {
    fast = JSON.parse(text.replace(BIG_INT, '$1"$2"'));
  } catch {
    return parseWithSource(text);
  }
  return idKeysToStrings(fast);
}

/** Smaller integers under id keys become strings too, so an id's type never depends on its size. */
function idKeysToStrings(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = idKeysToStrings(v[i]);
    return v;
  }
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'number') {
        if (Number.isInteger(x) && isIdKey(k, x)) o[k] = String(x);
      } else if (x && typeof x === 'object') idKeysToStrings(x);
    }
  }
  return v;
}

function parseWithSource(text: string): unknown {
  return J.parse(text, (key, value, context) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) return value;
    const src = context?.source;
    if (src && /^-?\d{16,}$/.test(src)) return src;
    if (!Number.isSafeInteger(value)) return src && /^-?\d+$/.test(src) ? src : value;
    return isIdKey(key, value) ? String(value) : value;
  });
}

/**
 * Serialises a request body. Digit-string values of `idFields` (and of `id`) go out as exact JSON
 * integers, the form the spec's examples use (4.1, 4.5); everything else as JSON.stringify does.
 */
export function stringifyNeocrm(value: unknown, idFields: ReadonlySet<string> = new Set()): string {
  return JSON.stringify(value, (key, v) =>
    typeof v === 'string' && (key === 'id' || idFields.has(key)) && /^[1-9]\d{0,19}$/.test(v)
      ? J.rawJSON(v)
      : v,
  );
}
