/**
 * The official SDKs' per-request signature headers (spec 3.5), written from the spec's steps and
 * checked against its worked example in `signature.test.ts`. Where the SDKs differ the client sends
 * what the Python SDK 8.2.0 sends (timestamp = nonce = Unix seconds, path without query string).
 */
import { createHmac } from 'node:crypto';

const GATEWAY_KEY = Buffer.from('0054f397c6234378b09ca7d3e5debce7', 'ascii');

export interface SignatureInput {
  appId: string;
  appSecret: string;
  acctId: string;
  userName: string;
  lcid: number;
  /** `X-KDApi-OrgNum`: 0 unless an organisation is chosen. */
  orgNum: string | number;
  /** The request URL (only its path is signed). */
  url: string;
  /** Unix seconds, as a string. */
  timestamp: string;
}

/** Step 6: base64 of the UTF-8 bytes of the lower-case hex HMAC-SHA256. */
function hmacB64(message: string, key: string): string {
  const hex = createHmac('sha256', key).update(message, 'utf8').digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

/** Step 3: percent-encode every byte but `A-Z a-z 0-9 - _ . ~`, upper-case hex (`/` → `%2F`). */
function quote(path: string): string {
  return [...Buffer.from(path, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** Builds the nine headers of spec 3.5 (five `X-Api-*` only when the appId has a `_`). */
export function signatureHeaders(input: SignatureInput): Record<string, string> {
  const appData = `${input.acctId},${input.userName},${input.lcid},${input.orgNum}`;
  const headers: Record<string, string> = {
    'X-Kd-Appkey': input.appId,
    'X-Kd-Appdata': Buffer.from(appData, 'utf8').toString('base64'),
    'X-Kd-Signature': hmacB64(input.appId + appData, input.appSecret),
  };
  const i = input.appId.indexOf('_');
  if (i > 0) {
    const clientId = input.appId.slice(0, i);
    const encoded = input.appId.slice(i + 1);
    // Step 2: for the usual 32-char part, XOR the decoded bytes with the gateway key. For other lengths
    // the SDKs disagree; like Java, the part is then used unchanged.
    let clientSec = encoded;
    if (encoded.length === 32) {
      const decoded = Buffer.from(encoded, 'base64');
      clientSec = Buffer.from(decoded.map((b, j) => b ^ GATEWAY_KEY[j])).toString('base64');
    }
    const path = new URL(input.url).pathname;
    const toSign = `POST\n${quote(path)}\n\nx-api-nonce:${input.timestamp}\nx-api-timestamp:${input.timestamp}\n`;
    Object.assign(headers, {
      'X-Api-ClientID': clientId,
      'X-Api-Auth-Version': '2.0',
      'x-api-timestamp': input.timestamp,
      'x-api-nonce': input.timestamp,
      'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
      'X-Api-Signature': hmacB64(toSign, clientSec),
    });
  }
  return headers;
}
