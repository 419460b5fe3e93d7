import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as official from '@wecom/crypto';
import { CallbackCryptoError, decryptMessage, encryptMessage, sign, signatureMatches } from './crypto.ts';

const KEY = 'qiaoSandboxEncodingAesKey0123456789abcdefgh';
const CORP = 'wwqinghe0000000001';

describe('connector WXBizMsgCrypt against @wecom/crypto', () => {
  it('decrypts what the official library encrypts, for every pad length 1..32 and Chinese text', () => {
    const pads = new Set<number>();
    for (let n = 0; n < 64; n++) {
      const msg = `<xml><Content><![CDATA[报销差旅费${'元'.repeat(n % 7)}${'x'.repeat(n)}]]></Content></xml>`;
      const enc = official.encrypt(KEY, msg, CORP);
      const d = decryptMessage(KEY, enc);
      assert.equal(d.message, msg);
      assert.equal(d.receiveId, CORP);
      pads.add(32 - ((20 + Buffer.byteLength(msg) + CORP.length) % 32));
    }
    assert.equal(pads.size, 32, 'all 32 pad values exercised');
  });

  it('encrypts what the official library decrypts, byte-identical for the same random prefix', () => {
    const random = Buffer.from('qiaoqiaoqiaoqiao');
    for (const msg of ['', 'ok', '审批通过', 'x'.repeat(12), 'y'.repeat(44)]) {
      const ours = encryptMessage(KEY, msg, CORP, random);
      assert.equal(ours, official.encrypt(KEY, msg, CORP, random));
      assert.deepEqual(official.decrypt(KEY, ours).message, msg);
    }
  });

  it('signs like the official library and compares in constant time', () => {
    const s = official.getSignature('QiaoCallbackToken2026', '1773100800', '123456', 'abc+/=');
    assert.equal(sign('QiaoCallbackToken2026', '1773100800', '123456', 'abc+/='), s);
    assert.equal(signatureMatches('QiaoCallbackToken2026', '1773100800', '123456', 'abc+/=', s), true);
    assert.equal(
      signatureMatches('QiaoCallbackToken2026', '1773100800', '123456', 'abc+/=', s.replace(/.$/, '0')),
      s.endsWith('0'),
    );
    assert.equal(signatureMatches('QiaoCallbackToken2026', '1773100800', '123456', 'abc+/=', 'short'), false);
  });

  it('reproduces the official WXBizMsgCrypt sample', () => {
    const key = '6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt';
    const echostr =
      'fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==';
    assert.equal(
      signatureMatches(
        'hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo',
        '1476416373',
        '47744683',
        echostr,
        '012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb',
      ),
      true,
    );
    const d = decryptMessage(key, echostr);
    assert.equal(d.message, '1288432023552776189');
    assert.equal(d.receiveId, 'ww1436e0e65a779aee');
    assert.equal(encryptMessage(key, d.message, d.receiveId, d.random), echostr);
  });

  it('rejects bad padding, truncated ciphertext and illegal keys', () => {
    const enc = encryptMessage(KEY, 'hello', CORP, Buffer.alloc(16, 65));
    const raw = Buffer.from(enc, 'base64');
    // Flip the last byte of the second-to-last block: the last block's plaintext (the pad) changes.
    raw[raw.length - 17] ^= 0x01;
    assert.throws(
      () => decryptMessage(KEY, raw.toString('base64')),
      (e: unknown) => e instanceof CallbackCryptoError && e.code === -40007,
    );
    assert.throws(
      () => decryptMessage(KEY, enc.slice(0, 24)),
      (e: unknown) => e instanceof CallbackCryptoError && e.code === -40010,
    );
    assert.throws(
      () => decryptMessage('nope', enc),
      (e: unknown) => e instanceof CallbackCryptoError && e.code === -40004,
    );
  });
});
