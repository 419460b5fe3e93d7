/**
 * Paths inside the connection's root. Every path a flow gives is relative to the root and must stay
 * inside it: a flow author (or a value mapped from a partner's record) must never make Qiao read
 * `/etc/passwd` or overwrite a file next to the hub's database.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { PermanentError } from '../../core/errors.ts';

/** The refusal of a path that leaves the root or cannot name a file. */
export function pathError(rel: string, why: string): PermanentError {
  return new PermanentError(`path '${rel}' ${why}`, {
    fault: 'user',
    partner: { system: 'file', code: 'PATH_REFUSED', message: `path '${rel}' ${why}` },
  });
}

/**
 * Checks a root-relative path and returns it normalised with `/` separators. Refuses absolute paths
 * (POSIX, Windows drive and UNC forms), any `..` segment, empty paths and NUL bytes.
 */
export function normaliseRelative(rel: string): string {
  if (typeof rel !== 'string' || rel.trim() === '') throw pathError(String(rel), 'is empty');
  if (rel.includes('\0')) throw pathError(rel.replace(/\0/g, '\\0'), 'contains a NUL byte');
  if (path.posix.isAbsolute(rel) || path.win32.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) {
    throw pathError(rel, 'is absolute; paths are relative to the connection root');
  }
  const segments = rel.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..'))
    throw pathError(rel, "contains '..'; paths must stay inside the connection root");
  if (segments.length === 0) throw pathError(rel, 'names the root itself, not a file');
  return segments.join('/');
}

/** True when `child` is `parent` or inside it (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const r = path.relative(parent, child);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

/**
 * The absolute path of a root-relative path, after checking that what exists of it does not lead out
 * of the root through a symbolic link. `rootReal` is the root's own real path.
 */
export async function resolveInside(rootReal: string, rel: string): Promise<{ rel: string; abs: string }> {
  const clean = normaliseRelative(rel);
  const abs = path.join(rootReal, ...clean.split('/'));
  // The deepest existing ancestor (or the file itself) must really be inside the root.
  let probe = abs;
  for (;;) {
    try {
      const real = await realpath(probe);
      if (!isInside(rootReal, real))
        throw pathError(clean, 'leads out of the connection root (a symbolic link)');
      break;
    } catch (err) {
      if (
        (err as NodeJS.ErrnoException).code !== 'ENOENT' &&
        (err as NodeJS.ErrnoException).code !== 'ENOTDIR'
      )
        throw err;
      const up = path.dirname(probe);
      if (up === probe || !isInside(rootReal, up)) break;
      probe = up;
    }
  }
  return { rel: clean, abs };
}
