/**
 * WXBizMsgCrypt for the hub's side of WeCom callbacks (spec §5): verify the SHA-1 signature over
 * sort(token, timestamp, nonce, encrypt), decrypt AES-256-CBC (IV = AESKey[0..16)) with padding
 * handled by hand — WeCom pads PKCS#7 to 32-byte blocks, which Node's auto-padding rejects whenever
 * the pad exceeds 16 — then split `random16 ‖ len ‖ msg ‖ receiveId`. Our own code (the layering
 * keeps the connector free of the sandbox); tests check it against the official `@wecom/crypto`.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A failure with the official library's return code (spec §5 table), e.g. -40001 bad signature. */
export class CallbackCryptoError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'CallbackCryptoError';
    this.code = code;
  }
}

export function aesKey(encodingAesKey: string): Buffer {
  const key = /^[A-Za-z0-9]{43}$/.test(encodingAesKey)
    ? Buffer.from(`${encodingAesKey}=`, 'base64')
    : Buffer.alloc(0);
  if (key.length !== 32)
    throw new CallbackCryptoError(-40004, 'EncodingAESKey must be 43 letters/digits decoding to 32 bytes');
  return key;
}

export function sign(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
}

/** Constant-time comparison of the expected signature with the one in the query. */
export function signatureMatches(
  token: string,
  timestamp: string,
  nonce: string,
  encrypt: string,
  given: string,
): boolean {
  const want = Buffer.from(sign(token, timestamp, nonce, encrypt), 'utf8');
  const got = Buffer.from(given.toLowerCase(), 'utf8');
  return want.length === got.length && timingSafeEqual(want, got);
}

export function decryptMessage(
  encodingAesKey: string,
  encrypted: string,
): { message: string; receiveId: string; random: Buffer } {
  const key = aesKey(encodingAesKey);
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 32 !== 0) {
    // Ciphertexts are whole 32-byte PKCS#7 blocks; anything else was not made by WXBizMsgCrypt.
    throw new CallbackCryptoError(-40010, 'ciphertext is not a whole number of 32-byte blocks');
  }
  let plain: Buffer;
  try {
    const d = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    d.setAutoPadding(false);
    plain = Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw new CallbackCryptoError(-40007, 'AES decrypt failed');
  }
  const pad = plain[plain.length - 1];
  if (pad < 1 || pad > 32) throw new CallbackCryptoError(-40007, `bad padding (${pad})`);
  for (let i = plain.length - pad; i < plain.length; i++) {
    if (plain[i] !== pad) throw new CallbackCryptoError(-40007, 'bad padding');
  }
  const body = plain.subarray(0, plain.length - pad);
  if (body.length < 20) throw new CallbackCryptoError(-40008, 'decrypted buffer too short');
  const len = body.readUInt32BE(16);
  if (20 + len > body.length) throw new CallbackCryptoError(-40008, 'message length beyond the buffer');
  return {
    random: Buffer.from(body.subarray(0, 16)),
    message: body.subarray(20, 20 + len).toString('utf8'),
    receiveId: body.subarray(20 + len).toString('utf8'),
  };
}

/** For passive replies (spec §4.2) and tests; `random` injectable for reproducible vectors. */
export function encryptMessage(
  encodingAesKey: string,
  message: string,
  receiveId: string,
  random: Buffer = randomBytes(16),
): string {
  const key = aesKey(encodingAesKey);
  const msg = Buffer.from(message, 'utf8');
  const head = Buffer.alloc(20);
  random.copy(head, 0, 0, 16);
  head.writeUInt32BE(msg.length, 16);
  const plain = Buffer.concat([head, msg, Buffer.from(receiveId, 'utf8')]);
  const pad = 32 - (plain.length % 32);
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), c.final()]).toString(
    'base64',
  );
}
