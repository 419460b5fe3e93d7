import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PermanentError, QiaoError, TransientError } from '../../core/errors.ts';
import { silentLogger } from '../../core/logger.ts';
import { classifyFsError, FileClient } from './client.ts';
import { LEDGER_FILE, Ledger } from './ledger.ts';
import { fileSettings } from './settings.ts';

const errno = (code: string) => Object.assign(new Error(`${code}: something, open '/x'`), { code });

describe('file error table', () => {
  it('missing, forbidden and malformed are permanent; locked, busy and full are transient', () => {
    const table: Array<[string, string]> = [
      ['ENOENT', 'permanent'],
      ['ENOTDIR', 'permanent'],
      ['EISDIR', 'permanent'],
      ['EACCES', 'permanent'],
      ['EPERM', 'permanent'],
      ['EROFS', 'permanent'],
      ['ENAMETOOLONG', 'permanent'],
      ['EBUSY', 'transient'],
      ['EAGAIN', 'transient'],
      ['EWOULDBLOCK', 'transient'],
      ['ETXTBSY', 'transient'],
      ['EMFILE', 'transient'],
      ['ENOSPC', 'transient'],
      ['ESTALE', 'transient'],
      ['EIO', 'transient'],
      ['ESOMETHINGNEW', 'transient'],
    ];
    for (const [code, cls] of table) {
      const e = classifyFsError(errno(code), 'read', 'inbox/a.csv', 'linux');
      assert.equal(e.errorClass, cls, code);
      assert.deepEqual(e.partner, {
        system: 'file',
        code,
        message: `${code}: something, open '/x'`,
        operation: 'read',
      });
      assert.ok(e.message.startsWith('read inbox/a.csv: '), e.message);
    }
  });

  it('on Windows a file another program holds open refuses replacement with EPERM: transient there', () => {
    assert.equal(classifyFsError(errno('EPERM'), 'write', 'out/a.xlsx', 'win32').errorClass, 'transient');
    assert.equal(classifyFsError(errno('EACCES'), 'move', 'in/a.csv', 'win32').errorClass, 'transient');
    assert.equal(classifyFsError(errno('EPERM'), 'read', 'in/a.csv', 'win32').errorClass, 'permanent');
    assert.equal(classifyFsError(errno('EPERM'), 'write', 'out/a.xlsx', 'linux').errorClass, 'permanent');
  });

  it('keeps an error that is already classified', () => {
    const e = new TransientError('x');
    assert.equal(classifyFsError(e, 'read', 'a'), e);
  });
});

describe('file client', () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'qiao-file-client-'));
  });
  after(() => rm(base, { recursive: true, force: true }));

  it('check: the root exists and a file can be created in it; nothing is left behind', async () => {
    const c = new FileClient(fileSettings.parse({ root: base }));
    assert.match(await c.check(), /qiao-file-client-/);
    assert.deepEqual(await readdir(base), []);
  });

  it('check: a missing root or a file as root is permanent, with the OS message kept', async () => {
    await writeFile(path.join(base, 'plain.txt'), 'x');
    for (const [root, code] of [
      [path.join(base, 'missing'), 'ENOENT'],
      [path.join(base, 'plain.txt'), 'ENOTDIR'],
    ]) {
      const c = new FileClient(fileSettings.parse({ root }));
      await assert.rejects(c.check(), (err: unknown) => {
        assert.ok(err instanceof PermanentError, String(err));
        assert.equal(err.partner?.code, code);
        assert.ok(err.partner?.message);
        assert.match(err.message, /^the root folder .* is not usable: /);
        return true;
      });
    }
    await rm(path.join(base, 'plain.txt'));
  });

  it('settings: root is required; encoding, delimiter and timezone are checked', () => {
    assert.equal(fileSettings.safeParse({}).success, false);
    assert.deepEqual(fileSettings.parse({ root: '/data' }), {
      root: '/data',
      encoding: 'utf-8',
      delimiter: ',',
      timezone: 'Asia/Shanghai',
    });
    assert.match(
      JSON.stringify(fileSettings.safeParse({ root: '/d', encoding: 'big5' }).error?.issues),
      /gbk/,
    );
    assert.equal(fileSettings.safeParse({ root: '/d', delimiter: ';;' }).success, false);
    assert.equal(fileSettings.safeParse({ root: '/d', delimiter: '"' }).success, false);
    assert.equal(fileSettings.safeParse({ root: '/d', delimiter: '\t' }).success, true);
    assert.equal(fileSettings.safeParse({ root: '/d', timezone: 'Mars/Olympus' }).success, false);
  });
});

describe('idempotency ledger', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'qiao-file-ledger-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('records entries atomically and reads them back', async () => {
    const l = new Ledger(root, silentLogger);
    await l.with(async ({ keys, save }) => {
      keys.k1 = { path: 'a.csv', tmp: '/nowhere', at: Date.now(), output: { rows: 1 } };
      await save();
    });
    const again = await new Ledger(root, silentLogger).with(async ({ keys }) => keys.k1?.output);
    assert.deepEqual(again, { rows: 1 });
    assert.deepEqual((await readdir(root)).sort(), [LEDGER_FILE], 'no temporary or lock file left');
  });

  it('breaks a lock left by a crashed process', async () => {
    const lock = path.join(root, '.qiao-file-keys.lock');
    await writeFile(lock, '99999\n');
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(lock, old, old);
    const n = await new Ledger(root, silentLogger).with(async ({ keys }) => Object.keys(keys).length);
    assert.equal(n, 1);
  });

  it('sets an unreadable ledger aside and starts afresh', async () => {
    await writeFile(path.join(root, LEDGER_FILE), '{ not json');
    const n = await new Ledger(root, silentLogger).with(async ({ keys }) => Object.keys(keys).length);
    assert.equal(n, 0);
    const aside = (await readdir(root)).filter((f) => f.startsWith(`${LEDGER_FILE}.corrupt-`));
    assert.equal(aside.length, 1);
    assert.equal(await readFile(path.join(root, aside[0]), 'utf8'), '{ not json');
  });

  it('prunes entries older than 30 days when it saves', async () => {
    const l = new Ledger(root, silentLogger);
    await l.with(async ({ keys, save }) => {
      keys.old = { path: 'a', tmp: '/x', at: Date.now() - 31 * 86_400_000, output: null };
      keys.fresh = { path: 'b', tmp: '/x', at: Date.now(), output: null };
      await save();
    });
    const names = await l.with(async ({ keys }) => Object.keys(keys).sort());
    assert.deepEqual(names, ['fresh']);
  });

  it('QiaoError classes survive through the ledger lock', async () => {
    await assert.rejects(
      new Ledger(root, silentLogger).with(async () => {
        throw new PermanentError('boom');
      }),
      (err: unknown) => err instanceof QiaoError && err.errorClass === 'permanent',
    );
    // The lock was released: the next call gets in.
    assert.equal(await new Ledger(root, silentLogger).with(async () => 'in'), 'in');
  });
});
