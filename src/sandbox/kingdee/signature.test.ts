/** The server side of spec 3.3 / 3.5 against the spec's worked example. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientSecrets, encodePath, hmacB64, loginSign, stringToSign } from './signature.ts';

describe('kingdee sandbox signature', () => {
  const appId = '200001_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX';
  const appSecret = '0123456789abcdef0123456789abcdef';
  const path = '/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc';

  it('derives clientSec, encodes the path and signs as the worked example', () => {
    const [sec] = clientSecrets('AAECAwQFBgcICQoLDA0ODxAREhMUFRYX');
    assert.equal(sec, 'MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk');
    assert.equal(
      encodePath(path),
      '%2Fk3cloud%2FKingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc',
    );
    assert.equal(
      hmacB64(stringToSign(encodePath(path), '1700000000', '1700000000'), sec),
      'N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==',
    );
    assert.equal(
      hmacB64(`${appId}65a1b2c3d4e5f6,apiuser,2052,100`, appSecret),
      'YWUwYTA1ODI0OGQ1ZWNjY2JiOWYwZWZhNjhmMTYxNmNhMDRmMjIxMDQ0ZGQzN2NiNWM4ZThlODdjZGJjNWMzOA==',
    );
  });

  it('accepts every documented variant for a part that is not 32 characters', () => {
    assert.deepEqual(clientSecrets('abc'), ['abc', '', 'nop']);
  });

  it('computes the LoginBySign digest of the example (SHA-256) and its SHA-1 twin', () => {
    const parts = ['65a1b2c3d4e5f6', 'apiuser', appId, appSecret, '1700000000'];
    assert.equal(
      loginSign(parts, 'sha256'),
      'c8462dcc84d2c530525c787efb2399308d752d3e233b4c853e521e7ff57613bd',
    );
    assert.equal(loginSign(parts, 'sha1').length, 40);
  });
});
