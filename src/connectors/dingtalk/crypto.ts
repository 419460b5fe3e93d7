/**
 * The two signatures and the one cipher Qiao checks or makes for DingTalk:
 * - robot signatures (spec §5.2, §6.1): Base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`));
 * - card callback signatures (spec §11): Base64(HMAC-SHA256(apiSecret, timestamp));
 * - event-subscription crypto (spec §7): SHA-1 over the sorted [token, timestamp, nonce, encrypt],
 *   AES-256-CBC with IV = key[0..16] and PKCS#7 padding to a 32-byte block around
 *   random16 ‖ uint32_be(len) ‖ msg ‖ ownerKey.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

export function robotSignature(timestamp: string, secret: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

export function cardSignature(timestamp: string, apiSecret: string): string {
  return createHmac('sha256', apiSecret).update(timestamp, 'utf8').digest('base64');
}

/** Constant-time string comparison. */
export function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function eventSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  const parts = [token, timestamp, nonce, encrypt];
  parts.sort();
  return createHash('sha1').update(parts.join(''), 'utf8').digest('hex');
}

export class EventCipher {
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private readonly ownerKey: string;

  constructor(aesKey: string, ownerKey: string) {
    this.ownerKey = ownerKey;
    if (aesKey.length !== 43) throw new Error('aesKey must be 43 characters');
    // base64(aesKey + "="); Node tolerates non-zero trailing bits (spec §7.4 step 1).
    this.key = Buffer.from(aesKey + '=', 'base64');
    if (this.key.length !== 32) throw new Error('aesKey does not decode to 32 bytes');
    this.iv = this.key.subarray(0, 16);
  }

  encrypt(message: string, random: Buffer = randomBytes(16)): string {
    const msg = Buffer.from(message, 'utf8');
    const owner = Buffer.from(this.ownerKey, 'utf8');
    const head = Buffer.alloc(20);
    random.copy(head, 0, 0, 16);
    head.writeUInt32BE(msg.length, 16);
    const unpadded = 20 + msg.length + owner.length;
    const padLen = 32 - (unpadded % 32);
    const cipher = createCipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    const plain = Buffer.concat([head, msg, owner, Buffer.alloc(padLen, padLen)]);
    return Buffer.concat([cipher.update(plain), cipher.final()]).toString('base64');
  }

  /** Decrypts and checks the owner key; throws with the library's error code in the message (spec §7.9). */
  decrypt(encrypted: string): string {
    const data = Buffer.from(encrypted, 'base64');
    if (data.length === 0 || data.length % 16 !== 0)
      throw new Error('900008: ciphertext length is not a multiple of 16');
    const decipher = createDecipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    const raw = Buffer.concat([decipher.update(data), decipher.final()]);
    const pad = raw[raw.length - 1];
    const end = pad >= 1 && pad <= 32 ? raw.length - pad : raw.length;
    if (end < 20) throw new Error('900009: plaintext too short');
    const len = raw.readUInt32BE(16);
    if (20 + len > end) throw new Error('900009: length mismatch');
    const owner = raw.subarray(20 + len, end).toString('utf8');
    if (owner !== this.ownerKey) throw new Error('900010: owner key mismatch');
    return raw.subarray(20, 20 + len).toString('utf8');
  }
}
