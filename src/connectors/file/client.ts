/**
 * The file system as the `file` connector's "partner": the root folder, safe paths inside it, atomic
 * writes, moves, and the error table that turns an operating-system error into a classified one.
 *
 * | condition                                            | class     | code            |
 * |------------------------------------------------------|-----------|-----------------|
 * | ENOENT, ENOTDIR (missing file or folder)             | permanent | the errno       |
 * | EISDIR, EACCES, EPERM, EROFS, ENAMETOOLONG, ELOOP…   | permanent | the errno       |
 * | EBUSY, EAGAIN/EWOULDBLOCK, ETXTBSY (file locked)     | transient | the errno       |
 * | EMFILE, ENFILE, EINTR, ETIMEDOUT, ESTALE, EIO        | transient | the errno       |
 * | ENOSPC, EDQUOT (disk full: someone can make room)    | transient | the errno       |
 * | EPERM/EACCES replacing a file on Windows (Excel has   | transient | the errno       |
 * |   it open; virus scanners hold new files briefly)    |           |                 |
 * | path with `..`, absolute, or a link out of the root  | permanent | PATH_REFUSED    |
 * | malformed CSV (with its line)                        | permanent | MALFORMED_CSV   |
 * | bytes not valid in the encoding (with its line)      | permanent | BAD_ENCODING    |
 * | sheet not in the workbook (names the sheets)         | permanent | UNKNOWN_SHEET   |
 * | not an XLSX zip                                      | permanent | BAD_XLSX        |
 * | any other errno                                      | transient | the errno       |
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import {
  access,
  constants,
  copyFile,
  lstat,
  mkdir,
  open,
  realpath,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { PermanentError, QiaoError, TransientError } from '../../core/errors.ts';
import { takeFault } from './fault-hook.ts';
import { resolveInside } from './paths.ts';
import type { FileSettings } from './settings.ts';

const PERMANENT = new Set([
  'ENOENT',
  'ENOTDIR',
  'EISDIR',
  'EACCES',
  'EPERM',
  'EROFS',
  'ENAMETOOLONG',
  'ELOOP',
  'EINVAL',
  'EEXIST',
  'ENOTEMPTY',
  'EXDEV',
  'EFBIG',
]);

const EXPLAIN: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EEXIST: 'already exists',
  EBUSY: 'the file is busy (locked by another program); will retry',
  EAGAIN: 'the file is temporarily unavailable; will retry',
  EWOULDBLOCK: 'the file is temporarily unavailable; will retry',
  ETXTBSY: 'the file is busy; will retry',
  EMFILE: 'too many open files; will retry',
  ENFILE: 'too many open files; will retry',
  ENOSPC: 'no space left on the disk; will retry',
  EDQUOT: 'disk quota exceeded; will retry',
  ESTALE: 'stale network file handle; will retry',
  EIO: 'input/output error; will retry',
};

export type FileOperation = 'check' | 'read' | 'write' | 'list' | 'move' | 'stat';

/** The error table: an operating-system error during `op` on `rel`, classified. */
export function classifyFsError(
  err: unknown,
  op: FileOperation,
  rel: string,
  platform = process.platform,
): QiaoError {
  if (err instanceof QiaoError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const partner = {
    system: 'file',
    code: code ?? 'ERROR',
    message: e?.message ?? String(err),
    operation: op,
  };
  const what = `${op} ${rel || '(root)'}: ${(code && EXPLAIN[code]) ?? e?.message ?? String(err)}`;
  // Windows refuses to replace or delete a file another program has open with EPERM/EACCES/EBUSY.
  const windowsLock =
    platform === 'win32' && (code === 'EPERM' || code === 'EACCES') && (op === 'write' || op === 'move');
  if (code && PERMANENT.has(code) && !windowsLock)
    return new PermanentError(what, { fault: 'user', partner, cause: err });
  return new TransientError(what, { partner, cause: err });
}

export interface Stat {
  /** max(mtime, ctime) in ms: a file moved or copied in keeps its mtime but gets a new ctime. */
  changedMs: number;
  size: number;
}

export class FileClient {
  readonly settings: FileSettings;
  /** The root as configured, made absolute against the working directory. */
  readonly root: string;
  private rootReal: string | undefined;

  constructor(settings: FileSettings) {
    this.settings = settings;
    this.root = path.resolve(settings.root);
  }

  /** The root's real path (links resolved), checked to be a folder. */
  async rootDir(): Promise<string> {
    if (this.rootReal) return this.rootReal;
    try {
      const real = await realpath(this.root);
      const s = await stat(real);
      if (!s.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, '${this.root}'`), { code: 'ENOTDIR' });
      this.rootReal = real;
      return real;
    } catch (err) {
      const e = classifyFsError(err, 'check', '');
      throw new (e instanceof PermanentError ? PermanentError : TransientError)(
        `the root folder ${this.root} is not usable: ${e.message.replace(/^check \(root\): /, '')}`,
        { fault: e.fault, partner: e.partner, cause: err },
      );
    }
  }

  /** A checked path inside the root. */
  async resolve(rel: string): Promise<{ rel: string; abs: string }> {
    return resolveInside(await this.rootDir(), rel);
  }

  /** Throws an injected fault (tests), classified like a real one. */
  private fault(op: FileOperation, rel: string): void {
    const code = takeFault(this.root);
    if (code)
      throw classifyFsError(
        Object.assign(new Error(`${code}: injected fault, ${op} '${rel}'`), { code }),
        op,
        rel,
      );
  }

  /** Runs a file-system call, classifying what it throws. */
  async call<T>(op: FileOperation, rel: string, fn: () => Promise<T>): Promise<T> {
    this.fault(op, rel);
    try {
      return await fn();
    } catch (err) {
      throw classifyFsError(err, op, rel);
    }
  }

  async stat(rel: string, op: FileOperation = 'stat'): Promise<Stat & { abs: string; rel: string }> {
    const p = await this.resolve(rel);
    const s: Stats = await this.call(op, p.rel, () => lstat(p.abs));
    return { ...p, changedMs: Math.floor(Math.max(s.mtimeMs, s.ctimeMs)), size: s.size };
  }

  /**
   * Opens a file for reading. The open happens here, so a missing or locked file fails with its
   * class before any parsing starts.
   */
  async openRead(rel: string): Promise<{ rel: string; abs: string; stream: Readable }> {
    const p = await this.resolve(rel);
    const fh = await this.call('read', p.rel, async () => {
      const h = await open(p.abs, 'r');
      try {
        const s = await h.stat();
        if (s.isDirectory())
          throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${p.abs}'`), {
            code: 'EISDIR',
          });
      } catch (err) {
        await h.close();
        throw err;
      }
      return h;
    });
    return { ...p, stream: fh.createReadStream({ highWaterMark: 64 * 1024 }) };
  }

  /**
   * A temporary file beside `abs` (same folder, so the final rename is atomic). Its name starts with
   * a dot, so poll patterns never see it half-written.
   */
  tempPathFor(abs: string): string {
    return path.join(path.dirname(abs), `.${path.basename(abs)}.qiao-${randomBytes(6).toString('hex')}.tmp`);
  }

  /** Creates the folders of `abs` inside the root. */
  async ensureDir(rel: string, abs: string): Promise<void> {
    await this.call('write', rel, () => mkdir(path.dirname(abs), { recursive: true }));
  }

  /** Flushes a finished temporary file to disk, so a crash never leaves a renamed, empty file. */
  async fsync(rel: string, abs: string): Promise<number> {
    return this.call('write', rel, async () => {
      const h = await open(abs, 'r+');
      try {
        await h.sync();
        return (await h.stat()).size;
      } finally {
        await h.close();
      }
    });
  }

  /** Atomically replaces `abs` with the temporary file. */
  async replace(rel: string, tmp: string, abs: string): Promise<void> {
    await this.call('write', rel, () => rename(tmp, abs));
  }

  async exists(abs: string): Promise<boolean> {
    try {
      await lstat(abs);
      return true;
    } catch {
      return false;
    }
  }

  async removeQuietly(abs: string): Promise<void> {
    await unlink(abs).catch(() => {});
  }

  /**
   * Moves a file into a folder (both root-relative). An existing file of that name is kept: the
   * moved one gets the change time before its extension (`a.csv` → `a.1773129600000.csv`).
   */
  async moveInto(rel: string, folder: string, stamp: string): Promise<string> {
    const from = await this.resolve(rel);
    const base = path.posix.basename(from.rel);
    const ext = path.posix.extname(base);
    const stem = base.slice(0, base.length - ext.length);
    for (let i = 0; ; i++) {
      const name = i === 0 ? base : i === 1 ? `${stem}.${stamp}${ext}` : `${stem}.${stamp}-${i}${ext}`;
      const to = await this.resolve(`${folder}/${name}`);
      if (await this.exists(to.abs)) continue;
      await this.call('move', from.rel, async () => {
        await mkdir(path.dirname(to.abs), { recursive: true });
        try {
          await rename(from.abs, to.abs);
        } catch (err) {
          // Another file system (a mounted share): copy, then remove.
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          await copyFile(from.abs, to.abs, constants.COPYFILE_EXCL);
          await unlink(from.abs);
        }
      });
      return to.rel;
    }
  }

  /** "Test connection": the root exists, is a folder, and a file can be created and removed in it. */
  async check(): Promise<string> {
    const root = await this.rootDir();
    const probe = path.join(root, `.qiao-check-${randomBytes(6).toString('hex')}`);
    try {
      await this.call('check', '', async () => {
        await access(root, constants.R_OK | constants.W_OK);
        const h = await open(probe, 'wx');
        await h.close();
        await unlink(probe);
      });
    } catch (err) {
      const e = err as QiaoError;
      throw new (e instanceof PermanentError ? PermanentError : TransientError)(
        `the root folder ${this.root} is not writable: ${e.message.replace(/^check \(root\): /, '')}`,
        { fault: e.fault, partner: e.partner, cause: err },
      );
    }
    return root;
  }
}
