/** The client side of spec 3.5 against the spec's worked example. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signatureHeaders } from './signature.ts';

describe('kingdee signature headers', () => {
  it('builds the worked example byte for byte', () => {
    const h = signatureHeaders({
      appId: '200001_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
      appSecret: '0123456789abcdef0123456789abcdef',
      acctId: '65a1b2c3d4e5f6',
      userName: 'apiuser',
      lcid: 2052,
      orgNum: 100,
      url: 'http://erp.example.com/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc',
      timestamp: '1700000000',
    });
    assert.deepEqual(h, {
      'X-Kd-Appkey': '200001_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
      'X-Kd-Appdata': 'NjVhMWIyYzNkNGU1ZjYsYXBpdXNlciwyMDUyLDEwMA==',
      'X-Kd-Signature':
        'YWUwYTA1ODI0OGQ1ZWNjY2JiOWYwZWZhNjhmMTYxNmNhMDRmMjIxMDQ0ZGQzN2NiNWM4ZThlODdjZGJjNWMzOA==',
      'X-Api-ClientID': '200001',
      'X-Api-Auth-Version': '2.0',
      'x-api-timestamp': '1700000000',
      'x-api-nonce': '1700000000',
      'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
      'X-Api-Signature':
        'N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==',
    });
  });

  it('omits the gateway headers for an appId without `_`, and signs the path only', () => {
    const base = {
      appSecret: 's'.repeat(32),
      acctId: 'a',
      userName: 'u',
      lcid: 2052,
      orgNum: 0,
      timestamp: '1',
    };
    assert.equal(
      signatureHeaders({ ...base, appId: 'plain', url: 'http://h/k3cloud/x' })['X-Api-Signature'],
      undefined,
    );
    const a = signatureHeaders({
      ...base,
      appId: '1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
      url: 'http://h/k3cloud/x',
    });
    const b = signatureHeaders({
      ...base,
      appId: '1_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
      url: 'http://other:81/k3cloud/x?q=1',
    });
    assert.equal(a['X-Api-Signature'], b['X-Api-Signature']);
  });
});
