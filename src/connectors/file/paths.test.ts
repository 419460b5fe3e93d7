import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QiaoError } from '../../core/errors.ts';
import { compileGlob, listMatches } from './glob.ts';
import { normaliseRelative, resolveInside } from './paths.ts';

const refused = (re: RegExp) => (err: unknown) => {
  assert.ok(err instanceof QiaoError, String(err));
  assert.equal(err.errorClass, 'permanent');
  assert.equal(err.partner?.code, 'PATH_REFUSED');
  assert.match(err.message, re);
  return true;
};

describe('paths inside the root', () => {
  it('normalises separators and dots', () => {
    assert.equal(normaliseRelative('inbox/a.csv'), 'inbox/a.csv');
    assert.equal(normaliseRelative('./inbox//sub\\a.csv'), 'inbox/sub/a.csv');
  });

  it('refuses .., absolute paths (POSIX, Windows, UNC) and empty paths with a clear message', () => {
    assert.throws(
      () => normaliseRelative('../etc/passwd'),
      refused(/contains '\.\.'; paths must stay inside/),
    );
    assert.throws(() => normaliseRelative('inbox/../../x.csv'), refused(/contains '\.\.'/));
    assert.throws(() => normaliseRelative('inbox\\..\\..\\x.csv'), refused(/contains '\.\.'/));
    assert.throws(
      () => normaliseRelative('/etc/passwd'),
      refused(/is absolute; paths are relative to the connection root/),
    );
    assert.throws(() => normaliseRelative('C:\\Windows\\win.ini'), refused(/is absolute/));
    assert.throws(() => normaliseRelative('c:x.csv'), refused(/is absolute/));
    assert.throws(() => normaliseRelative('\\\\server\\share\\x.csv'), refused(/is absolute/));
    assert.throws(() => normaliseRelative(''), refused(/is empty/));
    assert.throws(() => normaliseRelative('./'), refused(/names the root itself/));
    assert.throws(() => normaliseRelative('a\0b'), refused(/NUL/));
  });

  describe('symbolic links', () => {
    let base: string;
    let root: string;
    before(async () => {
      base = await realpath(await mkdtemp(path.join(tmpdir(), 'qiao-paths-')));
      root = path.join(base, 'root');
      await mkdir(path.join(root, 'inbox'), { recursive: true });
      await mkdir(path.join(base, 'outside'));
      await writeFile(path.join(base, 'outside', 'secret.csv'), 'x\n1\n');
      await symlink(path.join(base, 'outside'), path.join(root, 'escape'));
      await symlink(path.join(base, 'outside', 'secret.csv'), path.join(root, 'inbox', 'link.csv'));
    });
    after(() => rm(base, { recursive: true, force: true }));

    it('refuses a path that leads out of the root through a link (file or folder)', async () => {
      await assert.rejects(
        resolveInside(root, 'escape/secret.csv'),
        refused(/leads out of the connection root/),
      );
      await assert.rejects(resolveInside(root, 'inbox/link.csv'), refused(/leads out/));
      // Not yet existing below a link out: still refused.
      await assert.rejects(resolveInside(root, 'escape/new/file.csv'), refused(/leads out/));
    });

    it('accepts paths inside, existing or not', async () => {
      assert.deepEqual(await resolveInside(root, 'inbox/new.csv'), {
        rel: 'inbox/new.csv',
        abs: path.join(root, 'inbox', 'new.csv'),
      });
      assert.equal((await resolveInside(root, 'new/deep/x.csv')).rel, 'new/deep/x.csv');
    });

    it('the folder walk skips links and dot-files', async () => {
      await writeFile(path.join(root, 'inbox', 'a.csv'), 'x\n');
      await writeFile(path.join(root, 'inbox', '.a.csv.qiao-1.tmp'), 'x\n');
      assert.deepEqual(await listMatches(root, compileGlob('inbox/*.csv')), ['inbox/a.csv']);
      assert.deepEqual(await listMatches(root, compileGlob('**/*.csv')), ['inbox/a.csv']);
    });
  });
});

describe('glob patterns', () => {
  const m = (pattern: string, rel: string) => compileGlob(pattern).test(rel);

  it('* and ? stay within one folder and skip dot-files', () => {
    assert.ok(m('inbox/*.csv', 'inbox/客户.csv'));
    assert.ok(!m('inbox/*.csv', 'inbox/done/a.csv'));
    assert.ok(!m('inbox/*.csv', 'inbox/.a.csv'));
    assert.ok(!m('inbox/*.csv', 'inbox/a.csvx'));
    assert.ok(m('inbox/a?.csv', 'inbox/a1.csv'));
    assert.ok(!m('inbox/a?.csv', 'inbox/a12.csv'));
  });

  it('** spans folders, {a,b} alternates, [..] classes', () => {
    assert.ok(m('exports/**/*.xlsx', 'exports/a.xlsx'));
    assert.ok(m('exports/**/*.xlsx', 'exports/2026/03/a.xlsx'));
    assert.ok(!m('exports/**/*.xlsx', 'other/a.xlsx'));
    assert.ok(m('inbox/客户*.{csv,xlsx}', 'inbox/客户202603.xlsx'));
    assert.ok(m('inbox/客户*.{csv,xlsx}', 'inbox/客户.csv'));
    assert.ok(!m('inbox/客户*.{csv,xlsx}', 'inbox/订单.csv'));
    assert.ok(m('inbox/[ab]*.csv', 'inbox/b1.csv'));
    assert.ok(!m('inbox/[!ab]*.csv', 'inbox/b1.csv'));
    assert.ok(m('inbox/a(1)+.csv', 'inbox/a(1)+.csv'), 'regex characters are literal');
  });

  it('knows where to start walking and whether to go deep', () => {
    assert.deepEqual((({ base, deep }) => ({ base, deep }))(compileGlob('inbox/*.csv')), {
      base: 'inbox',
      deep: false,
    });
    assert.deepEqual((({ base, deep }) => ({ base, deep }))(compileGlob('a/**/x.csv')), {
      base: 'a',
      deep: true,
    });
    assert.deepEqual((({ base, deep }) => ({ base, deep }))(compileGlob('*.csv')), { base: '', deep: false });
  });

  it('refuses patterns that leave the root', () => {
    assert.throws(() => compileGlob('../*.csv'), refused(/contains '\.\.'/));
    assert.throws(() => compileGlob('/data/*.csv'), refused(/is absolute/));
  });
});
