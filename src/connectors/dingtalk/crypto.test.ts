/**
 * Robot signatures and event crypto round-trip with independent implementations: the
 * `dingtalk-encrypt` package (a port of DingTalk's DingTalkEncryptor), WebCrypto for the HMAC, and a
 * helper written from the spec text alone (§7.4, §7.5) — plus the sandbox's own implementation.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as sandboxCrypto from '../../sandbox/dingtalk/event-crypto.ts';
import { cardSignature, EventCipher, eventSignature, robotSignature } from './crypto.ts';

const DingTalkEncryptor = createRequire(import.meta.url)('dingtalk-encrypt') as new (
  token: string,
  aesKey: string,
  ownerKey: string,
) => {
  encrypt(random: string, text: string): string;
  decrypt(encrypted: string): string;
  getSignature(token: string, ts: string, nonce: string, encrypt: string): string;
  getEncryptedMap(
    text: string,
    ts: string,
    nonce: string,
  ): { msg_signature: string; encrypt: string; timeStamp: string; nonce: string };
};

// The key of the library's own test; its last character has non-zero trailing bits (spec §7.4 step 1 asks tolerance).
const TOKEN = '666666';
const AES_KEY = 'TXpRMU5qYzRPVEF4TWpNME5UWTNPRGt3TVRJek5EVTI';
const OWNER = 'dingqinghe00000001appkey';

/** §7.5, read literally: random16 ‖ uint32_be(len) ‖ msg ‖ owner, padded to 32 with n bytes of value n. */
function specEncrypt(aesKey: string, msg: string, owner: string, random = randomBytes(16)): string {
  const key = Buffer.from(`${aesKey}=`, 'base64');
  const m = Buffer.from(msg, 'utf8');
  const len = Buffer.from([
    (m.length >>> 24) & 255,
    (m.length >>> 16) & 255,
    (m.length >>> 8) & 255,
    m.length & 255,
  ]);
  const plain = Buffer.concat([random, len, m, Buffer.from(owner, 'utf8')]);
  const n = 32 - (plain.length % 32);
  const padded = Buffer.concat([plain, Buffer.from(new Array(n).fill(n))]);
  const out: Buffer[] = [];
  // CBC by hand over ECB blocks, so this helper shares no mode code with the implementations.
  const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  let prev = key.subarray(0, 16);
  for (let i = 0; i < padded.length; i += 16) {
    const block = Buffer.from(padded.subarray(i, i + 16).map((b, j) => b ^ prev[j]));
    prev = ecb.update(block);
    out.push(prev);
  }
  return Buffer.concat(out).toString('base64');
}

/** §7.4, read literally. */
function specDecrypt(aesKey: string, encrypted: string): { msg: string; owner: string } {
  const key = Buffer.from(`${aesKey}=`, 'base64');
  const data = Buffer.from(encrypted, 'base64');
  const ecb = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  const raw: number[] = [];
  let prev = key.subarray(0, 16);
  for (let i = 0; i < data.length; i += 16) {
    const block = data.subarray(i, i + 16);
    const d = ecb.update(block);
    raw.push(...d.map((b, j) => b ^ prev[j]));
    prev = block;
  }
  const pad = raw[raw.length - 1];
  const body = Buffer.from(pad >= 1 && pad <= 32 ? raw.slice(0, raw.length - pad) : raw);
  const len = (body[16] << 24) | (body[17] << 16) | (body[18] << 8) | body[19];
  return {
    msg: body.subarray(20, 20 + len).toString('utf8'),
    owner: body.subarray(20 + len).toString('utf8'),
  };
}

function specSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  const sorted = [token, timestamp, nonce, encrypt].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha1').update(sorted.join('')).digest('hex');
}

describe('dingtalk event crypto (spec §7)', () => {
  const cipher = new EventCipher(AES_KEY, OWNER);
  const lib = new DingTalkEncryptor(TOKEN, AES_KEY, OWNER);

  it("our encrypted `success` reply decrypts with dingtalk-encrypt, and the library's with ours", () => {
    assert.equal(lib.decrypt(cipher.encrypt('success')), 'success');
    const map = lib.getEncryptedMap('success', '1561081681688', '88888888');
    assert.equal(eventSignature(TOKEN, map.timeStamp, map.nonce, map.encrypt), map.msg_signature);
    assert.equal(cipher.decrypt(map.encrypt), 'success');
  });

  it('our JSON event plaintext decrypts with dingtalk-encrypt (ASCII; the library URI-encodes what it encrypts)', () => {
    const json = JSON.stringify({
      EventType: 'bpms_instance_change',
      processInstanceId: 'ad253df6-e175caf',
      type: 'finish',
      result: 'agree',
    });
    assert.equal(lib.decrypt(cipher.encrypt(json)), json);
  });

  it('the signature matches the library for the same inputs', () => {
    const enc = cipher.encrypt('success');
    assert.equal(
      eventSignature(TOKEN, '1561081681688', '88888888', enc),
      lib.getSignature(TOKEN, '1561081681688', '88888888', enc),
    );
  });

  it("the library refuses our ciphertext for another owner key (900010), as we refuse the library's", () => {
    const other = new EventCipher(AES_KEY, 'dingsomeoneelse');
    assert.throws(() => lib.decrypt(other.encrypt('success')), /900010|corpid|owner/i);
    const otherLib = new DingTalkEncryptor(TOKEN, AES_KEY, 'dingsomeoneelse');
    assert.throws(() => cipher.decrypt(otherLib.encrypt('aaaabbbbccccdddd', 'success')), /900010/);
  });

  for (const [name, msg] of [
    [
      'Chinese JSON',
      JSON.stringify({
        EventType: 'bpms_task_change',
        title: '赵敏提交的付款申请',
        remark: '同意，尽快付款',
      }),
    ],
    ['a plaintext that fills whole blocks', 'x'.repeat(32 * 3 - 20 - OWNER.length)],
    ['an empty message', ''],
  ] as const) {
    it(`round-trips ${name} with the spec-only helper, both ways`, () => {
      assert.deepEqual(specDecrypt(AES_KEY, cipher.encrypt(msg)), { msg, owner: OWNER });
      assert.equal(cipher.decrypt(specEncrypt(AES_KEY, msg, OWNER)), msg);
    });
  }

  it('pads an aligned plaintext with a whole extra block of 0x20 (spec §7.5)', () => {
    const msg = 'x'.repeat(32 * 3 - 20 - OWNER.length);
    assert.equal(Buffer.from(cipher.encrypt(msg), 'base64').length, 32 * 4);
  });

  it('is the same construction as the sandbox uses, both ways, and the same as the helper byte for byte', () => {
    const random = randomBytes(16);
    const msg = JSON.stringify({ EventType: 'check_url' });
    const ours = cipher.encrypt(msg, random);
    assert.equal(ours, specEncrypt(AES_KEY, msg, OWNER, random));
    assert.equal(ours, sandboxCrypto.encryptEvent(AES_KEY, msg, OWNER, random));
    assert.deepEqual(sandboxCrypto.decryptEvent(AES_KEY, ours), { message: msg, ownerKey: OWNER });
    assert.equal(
      specSignature(TOKEN, '1700000000', 'abc', ours),
      eventSignature(TOKEN, '1700000000', 'abc', ours),
    );
    assert.equal(
      sandboxCrypto.eventSignature(TOKEN, '1700000000', 'abc', ours),
      eventSignature(TOKEN, '1700000000', 'abc', ours),
    );
  });

  it('refuses a tampered ciphertext', () => {
    const enc = Buffer.from(cipher.encrypt('success'), 'base64');
    enc[enc.length - 1] ^= 1;
    assert.throws(() => cipher.decrypt(enc.subarray(0, enc.length - 3).toString('base64')), /900008/);
  });
});

describe('dingtalk robot and card signatures (spec §5.2, §6.1, §11)', () => {
  const webcrypto = async (key: string, message: string) => {
    const k = await crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(key),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    return Buffer.from(await crypto.subtle.sign('HMAC', k, new TextEncoder().encode(message))).toString(
      'base64',
    );
  };

  it('robot sign = Base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)), as WebCrypto computes it', async () => {
    const secret = 'SEC5d0c1b3e8f0a4a6b9c2d7e1f3a5b8c0d2e4f6a8b1c3d5e7f9a0b2c4d6e8f0a1b2';
    const ts = '1700000000000';
    assert.equal(robotSignature(ts, secret), await webcrypto(secret, `${ts}\n${secret}`));
  });

  it('card sign = Base64(HMAC-SHA256(apiSecret, timestamp)), with no secret suffix', async () => {
    assert.equal(
      cardSignature('1700000000000', 'card-secret'),
      await webcrypto('card-secret', '1700000000000'),
    );
    assert.notEqual(
      cardSignature('1700000000000', 'card-secret'),
      robotSignature('1700000000000', 'card-secret'),
    );
  });
});
