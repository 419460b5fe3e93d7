import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as official from '@wecom/crypto';
import { aesKeyOf, decrypt, encrypt, signature, WxCryptError } from './crypto.ts';

/** The official WXBizMsgCrypt sample vectors (weworkapi_python callback/Sample.py). */
const VECTORS = {
  token: 'hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo',
  key: '6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt',
  corpId: 'ww1436e0e65a779aee',
  verify: {
    signature: '012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb',
    timestamp: '1476416373',
    nonce: '47744683',
    echostr: 'fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==',
    plaintext: '1288432023552776189',
  },
  message: {
    signature: '0c3914025cb4b4d68103f6bfc8db550f79dcf48e',
    timestamp: '1476422779',
    nonce: '1597212914',
    encrypt:
      'Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+',
    plaintext:
      '<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>',
  },
};

describe('sandbox WXBizMsgCrypt', () => {
  it('reproduces the official URL-verification vector', () => {
    const v = VECTORS.verify;
    assert.equal(signature(VECTORS.token, v.timestamp, v.nonce, v.echostr), v.signature);
    const d = decrypt(VECTORS.key, v.echostr);
    assert.equal(d.message, v.plaintext);
    assert.equal(d.receiveId, VECTORS.corpId);
    assert.equal(
      encrypt(VECTORS.key, d.message, d.receiveId, d.random),
      v.echostr,
      're-encryption is byte-exact',
    );
  });

  it('reproduces the official message vector, Chinese text included', () => {
    const v = VECTORS.message;
    assert.equal(signature(VECTORS.token, v.timestamp, v.nonce, v.encrypt), v.signature);
    const d = decrypt(VECTORS.key, v.encrypt);
    assert.equal(d.message, v.plaintext);
    assert.equal(d.receiveId, VECTORS.corpId);
    assert.equal(encrypt(VECTORS.key, d.message, d.receiveId, d.random), v.encrypt);
  });

  it('what it encrypts @wecom/crypto decrypts, and the other way round (every pad length 1..32)', () => {
    const key = 'qiaoSandboxEncodingAesKey0123456789abcdefgh';
    for (let n = 0; n < 40; n++) {
      // 16 + 4 + msg + id: vary the message so the padding takes every value from 1 to 32.
      const msg = `审批${'a'.repeat(n)}通过`;
      const ours = encrypt(key, msg, 'wwqinghe0000000001');
      const theirs = official.decrypt(key, ours);
      assert.equal(theirs.message, msg);
      assert.equal(theirs.id, 'wwqinghe0000000001');
      const back = decrypt(key, official.encrypt(key, msg, 'wwqinghe0000000001'));
      assert.equal(back.message, msg);
      assert.equal(back.receiveId, 'wwqinghe0000000001');
      const random = Buffer.from('0123456789abcdef');
      assert.equal(encrypt(key, msg, 'x', random), official.encrypt(key, msg, 'x', random));
    }
    assert.equal(signature('t', '1', '2', 'abc'), official.getSignature('t', '1', '2', 'abc'));
  });

  it('pads to 32-byte blocks: a full block of 32 when already aligned', () => {
    const key = 'qiaoSandboxEncodingAesKey0123456789abcdefgh';
    // 16 + 4 + 12 = 32 bytes of plaintext: aligned, so a whole 32-byte pad block is added.
    const enc = encrypt(key, 'x'.repeat(12), '');
    assert.equal(Buffer.from(enc, 'base64').length, 64);
    // One byte more: 33 bytes → padded with 31 to 64.
    assert.equal(Buffer.from(encrypt(key, 'x'.repeat(13), ''), 'base64').length, 64);
    assert.equal(decrypt(key, enc).message, 'x'.repeat(12));
  });

  it('refuses illegal keys and bad padding with the library codes', () => {
    assert.throws(
      () => aesKeyOf('short'),
      (e: unknown) => e instanceof WxCryptError && e.code === -40004,
    );
    const key = 'qiaoSandboxEncodingAesKey0123456789abcdefgh';
    const other = 'otherSandboxEncodingAesKey123456789abcdefgh';
    const enc = encrypt(key, 'hello', 'corp', Buffer.from('0123456789abcdef'));
    assert.throws(
      () => decrypt(other, enc),
      (e: unknown) => e instanceof WxCryptError && [-40007, -40008].includes(e.code),
    );
  });
});
