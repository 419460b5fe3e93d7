/**
 * Exact 64-bit integers on the wire. Neocrm ids exceed 2^53 (spec 1.2): the sandbox stores them as
 * decimal strings and, where the real API sends JSON numbers (xobjects reads, query v2), emits them as
 * raw integer literals with `JSON.rawJSON` so no digit is lost. Request bodies are parsed with the
 * source text of each number, so an exact integer sent by a client is kept exactly too.
 */

interface JsonWithRaw {
  rawJSON(text: string): unknown;
  parse(
    text: string,
    reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
  ): unknown;
}

const J = JSON as unknown as JsonWithRaw;

/** A decimal id as an exact JSON number. */
export function rawInt(digits: string): unknown {
  return J.rawJSON(digits);
}

/**
 * Parses request JSON. Integers outside the safe range become `bigint` (their exact value);
 * `undefined` for an empty or malformed body.
 */
export function parseJsonExact(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return J.parse(text, (_key, value, context) => {
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) {
        const src = context?.source;
        if (src && /^-?\d+$/.test(src)) return BigInt(src);
      }
      return value;
    });
  } catch {
    return undefined;
  }
}
