import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ValidationError } from './errors.ts';
import {
  generateMasterKey,
  isEncrypted,
  maskSettings,
  parseMasterKey,
  SecretBox,
  SecretBoxError,
  secretValues,
} from './secret-box.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'qiao-secret-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A `${NAME}` reference as stored in settings (spelled out so it is not read as a template). */
const ENV_REF = '$' + '{KINGDEE_PASSWORD}';

const box = () => new SecretBox([randomBytes(32)]);

function rejectsWith(fn: () => unknown, code: string, message?: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SecretBoxError, `expected SecretBoxError, got ${err}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('SecretBox encrypt / decrypt', () => {
  test('round trip, versioned format with the key id', () => {
    const b = box();
    const token = b.encrypt('s3cret-app-key');
    assert.match(token, /^qiao:v1:[0-9a-f]{8}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    assert.equal(token.split(':')[2], b.keyId);
    assert.doesNotMatch(token, /s3cret/);
    assert.equal(b.decrypt(token), 's3cret-app-key');
    assert.equal(isEncrypted(token), true);
    assert.equal(b.isEncrypted(token), true);
    assert.equal(isEncrypted('s3cret-app-key'), false);
    assert.equal(isEncrypted(42), false);
  });

  test('Chinese text, emoji and the empty string survive', () => {
    const b = box();
    for (const s of ['华东精密机械有限公司的密钥', '报销差旅费1280元 🚄', '', 'a:b:c']) {
      assert.equal(b.decrypt(b.encrypt(s)), s);
    }
  });

  test('equal plaintexts seal differently (fresh IV)', () => {
    const b = box();
    assert.notEqual(b.encrypt('same'), b.encrypt('same'));
  });

  test('a changed ciphertext, IV or tag is refused as tampered', () => {
    const b = box();
    const token = b.encrypt('appSecret-value');
    const parts = token.split(':');
    const flip = (s: string, i: number) => {
      const buf = Buffer.from(s, 'base64url');
      buf[i] ^= 1;
      return buf.toString('base64url');
    };
    const body = parts[4];
    const bodyLen = Buffer.from(body, 'base64url').length;
    for (const bad of [
      [...parts.slice(0, 4), flip(body, 0)], // ciphertext
      [...parts.slice(0, 4), flip(body, bodyLen - 1)], // tag
      [...parts.slice(0, 3), flip(parts[3], 0), body], // IV
    ]) {
      rejectsWith(() => b.decrypt(bad.join(':')), 'tampered', /altered/);
    }
  });

  test('a wrong key is named as such, not as tampering', () => {
    const a = box();
    const other = box();
    rejectsWith(() => other.decrypt(a.encrypt('x')), 'wrong_key', new RegExp(`key ${a.keyId}.*not loaded`));
  });

  test('an unknown version and malformed tokens give clear errors that never echo the token', () => {
    const b = box();
    const token = b.encrypt('topsecret');
    rejectsWith(
      () => b.decrypt(token.replace('qiao:v1:', 'qiao:v9:')),
      'unknown_version',
      /"v9" is unknown.*reads v1/,
    );
    rejectsWith(() => b.decrypt('plain text'), 'malformed');
    rejectsWith(() => b.decrypt(token.split(':').slice(0, 4).join(':')), 'malformed');
    rejectsWith(
      () => b.decrypt(`${token.split(':').slice(0, 3).join(':')}:AAAA:${token.split(':')[4]}`),
      'malformed',
    );
    try {
      b.decrypt(token.replace('qiao:v1:', 'qiao:v9:'));
    } catch (err) {
      assert.ok(!(err as Error).message.includes(token.split(':')[4]));
    }
  });

  test('several keys: the first seals, all open (rotation)', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = new SecretBox([oldKey]);
    const sealedOld = before.encrypt('rotate me');
    const during = new SecretBox([newKey, oldKey]);
    assert.equal(during.decrypt(sealedOld), 'rotate me');
    assert.equal(during.needsReseal(sealedOld), true);
    const sealedNew = during.encrypt('rotate me');
    assert.equal(during.needsReseal(sealedNew), false);
    assert.deepEqual(during.keyIds, [new SecretBox([newKey]).keyId, before.keyId]);
    rejectsWith(() => before.decrypt(sealedNew), 'wrong_key');
  });
});

describe('master key sources', () => {
  test('parseMasterKey takes base64, base64url and hex of 32 bytes', () => {
    const raw = randomBytes(32);
    assert.deepEqual(parseMasterKey(raw.toString('base64'), 'k'), raw);
    assert.deepEqual(parseMasterKey(raw.toString('base64url'), 'k'), raw);
    assert.deepEqual(parseMasterKey(raw.toString('hex'), 'k'), raw);
    assert.deepEqual(parseMasterKey(` ${raw.toString('hex').toUpperCase()}\n`, 'k'), raw);
  });

  test('a key of any other length is refused, naming the source and length but not the key', () => {
    const short = randomBytes(16).toString('base64');
    rejectsWith(
      () => parseMasterKey(short, 'QIAO_MASTER_KEY'),
      'bad_key',
      /^QIAO_MASTER_KEY: .*32 bytes.*16 bytes$/,
    );
    rejectsWith(() => parseMasterKey('not a key!', 'QIAO_MASTER_KEY'), 'bad_key', /neither/);
    try {
      parseMasterKey(short, 'QIAO_MASTER_KEY');
    } catch (err) {
      assert.ok(!(err as Error).message.includes(short));
    }
  });

  test('with no env key, master.key is generated once with mode 0600 and reused', () => {
    const dataDir = join(tempDir(), 'nested', '.qiao');
    const a = SecretBox.fromEnvOrFile(dataDir, {});
    const file = join(dataDir, 'master.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const b = SecretBox.fromEnvOrFile(dataDir, {});
    assert.equal(b.keyId, a.keyId);
    assert.equal(b.decrypt(a.encrypt('persisted')), 'persisted');
    assert.match(readFileSync(file, 'utf8'), /^# Qiao master key.*\n[A-Za-z0-9+/]{43}=\n$/);
  });

  test('a master.key readable by group or others is refused with the fix', () => {
    const dataDir = tempDir();
    SecretBox.fromEnvOrFile(dataDir, {});
    const file = join(dataDir, 'master.key');
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(file, mode);
      rejectsWith(
        () => SecretBox.fromEnvOrFile(dataDir, {}),
        'key_file_mode',
        new RegExp(`mode 0${mode.toString(8)}.*chmod 600`),
      );
    }
  });

  test('a master.key holding a bad key says which file and line', () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'master.key'), `# comment\n${randomBytes(24).toString('base64')}\n`, {
      mode: 0o600,
    });
    rejectsWith(() => SecretBox.fromEnvOrFile(dataDir, {}), 'bad_key', /master\.key \(line 1\).*24 bytes/);
  });

  test('QIAO_MASTER_KEY takes precedence: the key file is neither read nor created', () => {
    const dataDir = tempDir();
    const envKey = generateMasterKey();
    const fromEnv = SecretBox.fromEnvOrFile(dataDir, { QIAO_MASTER_KEY: envKey });
    assert.equal(existsSync(join(dataDir, 'master.key')), false);
    assert.equal(fromEnv.keyId, new SecretBox([Buffer.from(envKey, 'base64')]).keyId);

    // With a key file present (even one that would be refused), the env key still wins.
    const fromFile = SecretBox.fromEnvOrFile(dataDir, {});
    chmodSync(join(dataDir, 'master.key'), 0o644);
    const again = SecretBox.fromEnvOrFile(dataDir, { QIAO_MASTER_KEY: envKey });
    assert.equal(again.keyId, fromEnv.keyId);
    assert.notEqual(again.keyId, fromFile.keyId);
  });

  test('QIAO_MASTER_KEY may list an old key after the new one', () => {
    const oldKey = generateMasterKey();
    const newKey = randomBytes(32).toString('hex');
    const oldBox = SecretBox.fromEnvOrFile(tempDir(), { QIAO_MASTER_KEY: oldKey });
    const both = SecretBox.fromEnvOrFile(tempDir(), { QIAO_MASTER_KEY: `${newKey}, ${oldKey}` });
    assert.equal(both.decrypt(oldBox.encrypt('still opens')), 'still opens');
    assert.notEqual(both.keyId, oldBox.keyId);
    rejectsWith(
      () => SecretBox.fromEnvOrFile(tempDir(), { QIAO_MASTER_KEY: `${newKey},short` }),
      'bad_key',
      /QIAO_MASTER_KEY \(key 2\)/,
    );
  });
});

describe('sealSettings / openSettings', () => {
  const settings = () => ({
    baseUrl: 'http://127.0.0.1:9000/k3cloud/',
    acctId: '6123abc',
    appId: '123456_abc',
    appSecret: '金蝶-app-secret',
    empty: '',
    fromEnv: ENV_REF,
    robots: {
      ops: { webhook: 'https://robot/ops', secret: 'SEC-ops' },
      finance: { webhook: 'https://robot/fin', secret: 'SEC-fin' },
      nosecret: { webhook: 'https://robot/x' },
    },
    agents: [{ corpSecret: 'a-1' }, { corpSecret: 'a-2' }],
  });
  const fields = [
    'appSecret',
    'empty',
    'fromEnv',
    'missing',
    'robots.*.secret',
    'agents.*.corpSecret',
    'nope.*.x',
  ];

  test('seals exactly the secret fields, wildcards included, and opens them back', () => {
    const b = box();
    const input = settings();
    const sealed = b.sealSettings(input, fields);
    assert.deepEqual(input, settings(), 'the input is not changed');
    assert.ok(isEncrypted(sealed.appSecret));
    assert.ok(isEncrypted(sealed.robots.ops.secret));
    assert.ok(isEncrypted(sealed.robots.finance.secret));
    assert.ok(isEncrypted(sealed.agents[0].corpSecret));
    assert.ok(isEncrypted(sealed.agents[1].corpSecret));
    assert.equal(sealed.acctId, '6123abc');
    assert.equal(sealed.robots.ops.webhook, 'https://robot/ops');
    assert.deepEqual(sealed.robots.nosecret, { webhook: 'https://robot/x' });
    assert.equal(sealed.empty, '');
    assert.equal(sealed.fromEnv, ENV_REF, 'an env reference is not a secret');
    assert.ok(!('missing' in sealed));
    assert.doesNotMatch(JSON.stringify(sealed), /SEC-|app-secret|"a-1"/);

    assert.deepEqual(b.openSettings(sealed, fields), settings());
  });

  test('sealing twice is a no-op; an old key is re-sealed under the current one', () => {
    const oldKey = randomBytes(32);
    const oldBox = new SecretBox([oldKey]);
    const sealed = oldBox.sealSettings(settings(), fields);
    assert.deepEqual(oldBox.sealSettings(sealed, fields), sealed);

    const rotated = new SecretBox([randomBytes(32), oldKey]);
    const resealed = rotated.sealSettings(sealed, fields);
    assert.equal(resealed.appSecret.split(':')[2], rotated.keyId);
    assert.equal(resealed.robots.ops.secret.split(':')[2], rotated.keyId);
    assert.throws(() => oldBox.openSettings(resealed, fields), SecretBoxError);
    assert.deepEqual(rotated.openSettings(resealed, fields), settings());
  });

  test('open passes plain values through and fails loudly on a foreign token', () => {
    const b = box();
    assert.deepEqual(b.openSettings(settings(), fields), settings());
    const foreign = box().sealSettings(settings(), fields);
    assert.throws(() => b.openSettings(foreign, fields), SecretBoxError);
  });

  test('a non-string secret is a validation problem with its path', () => {
    assert.throws(
      () => box().sealSettings({ robots: { ops: { secret: 42 } } }, ['robots.*.secret']),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(err.problems, [{ path: 'robots.ops.secret', message: 'a secret must be a string' }]);
        return true;
      },
    );
  });

  test('maskSettings and secretValues follow the same paths', () => {
    const masked = maskSettings(settings(), fields);
    assert.equal(masked.appSecret, '******');
    assert.equal(masked.robots.finance.secret, '******');
    assert.equal(masked.empty, '');
    assert.equal(masked.acctId, '6123abc');
    assert.deepEqual(secretValues(settings(), fields).sort(), [
      ENV_REF,
      'SEC-fin',
      'SEC-ops',
      'a-1',
      'a-2',
      '金蝶-app-secret',
    ]);
  });
});
