/**
 * The signing algorithms of spec 3.3 (LoginBySign) and 3.5 (per-request signature headers), as the
 * server verifies them. Written from the spec's steps; `signature.test.ts` checks the worked example.
 * (The connector has its own implementation of the client side; the two are kept apart on purpose so
 * each checks the other.)
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Step 2: the constant whose ASCII bytes XOR the decoded gateway secret. */
const GATEWAY_KEY = Buffer.from('0054f397c6234378b09ca7d3e5debce7', 'ascii');

/** Step 6: base64 of the UTF-8 bytes of the lower-case hex HMAC-SHA256 (not of the raw digest). */
export function hmacB64(message: string, key: string): string {
  return Buffer.from(createHmac('sha256', key).update(message, 'utf8').digest('hex'), 'utf8').toString(
    'base64',
  );
}

/**
 * Step 2: `clientSec` from the encoded part of the appId. For a 32-char part: base64(decoded XOR key).
 * Other lengths: implementations disagree (Java uses it unchanged, Python an empty key, .NET ROT13);
 * the server accepts any of the three, so this returns every candidate.
 */
export function clientSecrets(encoded: string): string[] {
  if (encoded.length === 32) {
    const decoded = Buffer.from(encoded, 'base64');
    const out = Buffer.alloc(decoded.length);
    for (let i = 0; i < decoded.length; i++) out[i] = decoded[i] ^ GATEWAY_KEY[i % GATEWAY_KEY.length];
    return [out.toString('base64')];
  }
  return [encoded, '', rot13(encoded)];
}

function rot13(s: string): string {
  return s.replace(/[a-z]/gi, (c) => {
    const base = c <= 'Z' ? 65 : 97;
    return String.fromCharCode(((c.charCodeAt(0) - base + 13) % 26) + base);
  });
}

/**
 * Step 3: URL-encode the path with `/` → `%2F` and upper-case hex, leaving only the unreserved
 * characters `A-Z a-z 0-9 - _ . ~` as they are (what Python's `quote(path, safe='')` does).
 */
export function encodePath(path: string): string {
  let out = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Step 5: the string the gateway signature covers (LF line breaks, trailing LF). */
export function stringToSign(encodedPath: string, nonce: string, timestamp: string): string {
  return `POST\n${encodedPath}\n\nx-api-nonce:${nonce}\nx-api-timestamp:${timestamp}\n`;
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * LoginBySign (spec 3.3): lower-case hex SHA-256 (or SHA-1 before 8.0.0.202205) of the five strings
 * sorted ordinally and concatenated without separator.
 */
export function loginSign(parts: string[], algorithm: 'sha256' | 'sha1'): string {
  const sorted = [...parts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash(algorithm).update(sorted.join(''), 'utf8').digest('hex');
}
