/**
 * WXBizMsgCrypt as WeCom's servers apply it to the callbacks they push (spec §5): AES-256-CBC with
 * IV = AESKey[0..16), PKCS#7 padding to a multiple of **32** bytes, plaintext
 * `random16 ‖ uint32BE(len) ‖ msg ‖ receiveId`, signature `sha1(sort(token, timestamp, nonce, encrypt))`.
 *
 * The sandbox keeps its own implementation (the sandbox layer imports nothing but core); the tests
 * check it against the official `@wecom/crypto` package and the official sample vectors.
 */
import { createCipheriv, createDecipheriv, createHash, randomInt } from 'node:crypto';

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Library return codes (spec §5, "Library return codes"). */
export class WxCryptError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'WxCryptError';
    this.code = code;
  }
}

/** `AESKey = Base64Decode(EncodingAESKey + "=")`; anything but 43 chars decoding to 32 bytes is -40004. */
export function aesKeyOf(encodingAesKey: string): Buffer {
  if (!/^[A-Za-z0-9]{43}$/.test(encodingAesKey)) throw new WxCryptError(-40004, 'illegal EncodingAESKey');
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new WxCryptError(-40004, 'illegal EncodingAESKey');
  return key;
}

export function signature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
}

/** The 16 random ASCII letters/digits the official libraries prefix (spec §5, Encrypt step 1). */
export function randomPrefix(): Buffer {
  let s = '';
  for (let i = 0; i < 16; i++) s += LETTERS[randomInt(LETTERS.length)];
  return Buffer.from(s, 'ascii');
}

/** Encrypts `message` for `receiveId`; `random` is injectable so tests can reproduce official vectors. */
export function encrypt(
  encodingAesKey: string,
  message: string,
  receiveId: string,
  random = randomPrefix(),
): string {
  if (random.length !== 16) throw new WxCryptError(-40006, 'random prefix must be 16 bytes');
  const key = aesKeyOf(encodingAesKey);
  const msg = Buffer.from(message, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length, 0);
  const plain = Buffer.concat([random, len, msg, Buffer.from(receiveId, 'utf8')]);
  // PKCS#7 to a multiple of 32 bytes: a whole 32-byte block when already aligned (pad 1..32, never 0).
  const pad = 32 - (plain.length % 32);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

export interface Decrypted {
  message: string;
  receiveId: string;
  random: Buffer;
}

/** Decrypts with auto-padding off (Node's assumes 16-byte blocks and fails on pads above 16, spec §5). */
export function decrypt(encodingAesKey: string, encrypted: string): Decrypted {
  const key = aesKeyOf(encodingAesKey);
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WxCryptError(-40010, 'Base64 decode failed');
  let buf: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    buf = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new WxCryptError(-40007, 'AES decrypt failed');
  }
  const pad = buf[buf.length - 1];
  if (pad < 1 || pad > 32 || pad > buf.length) throw new WxCryptError(-40007, 'bad padding');
  for (let i = buf.length - pad; i < buf.length; i++) {
    if (buf[i] !== pad) throw new WxCryptError(-40007, 'bad padding');
  }
  const body = buf.subarray(0, buf.length - pad);
  if (body.length < 20) throw new WxCryptError(-40008, 'decrypted buffer too short');
  const len = body.readUInt32BE(16);
  if (20 + len > body.length) throw new WxCryptError(-40008, 'illegal message length');
  return {
    random: Buffer.from(body.subarray(0, 16)),
    message: body.subarray(20, 20 + len).toString('utf8'),
    receiveId: body.subarray(20 + len).toString('utf8'),
  };
}

/** A random nonce like the ones WeCom sends (decimal digits). */
export function nonce(): string {
  return String(randomInt(1_000_000_000, 9_999_999_999));
}
