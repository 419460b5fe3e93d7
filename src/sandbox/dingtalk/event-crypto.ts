/**
 * DingTalk's event-subscription crypto (spec §7, "DingTalkEncryptor"): AES-256-CBC with
 * IV = first 16 key bytes, PKCS#7 padding to a **32-byte** block, plaintext =
 * random16 ‖ uint32_be(len) ‖ msg ‖ ownerKey, and a SHA-1 signature over the sorted
 * [token, timestamp, nonce, encrypt].
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

export function aesKeyBytes(aesKey: string): Buffer {
  if (!/^[A-Za-z0-9]{43}$/.test(aesKey)) throw new Error('aes_key must be 43 letters or digits (900004)');
  // Node's decoder ignores non-zero trailing bits in the last character, as §7.4 requires.
  return Buffer.from(`${aesKey}=`, 'base64');
}

export function eventSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
}

export function encryptEvent(
  aesKey: string,
  message: string,
  ownerKey: string,
  random = randomBytes(16),
): string {
  const key = aesKeyBytes(aesKey);
  const msg = Buffer.from(message, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(msg.length);
  const plain = Buffer.concat([random, len, msg, Buffer.from(ownerKey, 'utf8')]);
  const n = 32 - (plain.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(n, n)])), cipher.final()]).toString(
    'base64',
  );
}

export function decryptEvent(aesKey: string, encrypted: string): { message: string; ownerKey: string } {
  const key = aesKeyBytes(aesKey);
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
  decipher.setAutoPadding(false);
  const raw = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64')), decipher.final()]);
  const pad = raw[raw.length - 1];
  const body = pad >= 1 && pad <= 32 ? raw.subarray(0, raw.length - pad) : raw;
  if (body.length < 20) throw new Error('decrypted text too short (900009)');
  const len = body.readUInt32BE(16);
  if (20 + len > body.length) throw new Error('length mismatch (900009)');
  return {
    message: body.subarray(20, 20 + len).toString('utf8'),
    ownerKey: body.subarray(20 + len).toString('utf8'),
  };
}
