/**
 * The poll trigger's file patterns: `inbox/*.csv`, `exports/**\/客户*.{csv,xlsx}`. A small glob of our
 * own rather than `fs.glob`, so the walk never leaves the root, never follows symbolic links and
 * never sees dot-files (our temporary files and the idempotency ledger start with a dot).
 *
 * Syntax: `*` any characters but `/`; `?` one character but `/`; `**` as a whole segment, any
 * number of folders; `{a,b}` alternatives; `[abc]`, `[a-z]`, `[!abc]` character classes.
 */
import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { normaliseRelative, pathError } from './paths.ts';

export interface GlobMatcher {
  /** The pattern, normalised. */
  pattern: string;
  /** The folder (root-relative, '' for the root) before the first wildcard: the walk starts there. */
  base: string;
  /** Whether matches may lie in sub-folders of `base`. */
  deep: boolean;
  test(rel: string): boolean;
}

const SPECIAL = /[*?[{]/;

export function compileGlob(pattern: string): GlobMatcher {
  const clean = normaliseRelative(pattern);
  const segments = clean.split('/');
  const firstWild = segments.findIndex((s) => SPECIAL.test(s));
  const baseSegs = firstWild === -1 ? segments.slice(0, -1) : segments.slice(0, firstWild);
  const rest = segments.slice(baseSegs.length);
  let src = '';
  rest.forEach((seg, i) => {
    const last = i === rest.length - 1;
    if (seg === '**') {
      // Zero or more whole folders; a `**` at the end matches any file below.
      src += last ? '(?:[^/.][^/]*/)*[^/.][^/]*' : '(?:[^/.][^/]*/)*';
      return;
    }
    src += segmentSource(seg, pattern) + (last ? '' : '/');
  });
  const re = new RegExp(`^${src}$`, 'u');
  const base = baseSegs.join('/');
  const prefix = base ? `${base}/` : '';
  return {
    pattern: clean,
    base,
    deep: rest.length > 1 || rest.includes('**'),
    test: (rel) => rel.startsWith(prefix) && re.test(rel.slice(prefix.length)),
  };
}

function segmentSource(seg: string, pattern: string): string {
  // A segment's wildcard never matches a leading dot: dot-files are hidden unless named.
  let out = seg.startsWith('.') ? '' : '(?!\\.)';
  let braces = 0;
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end === -1) throw pathError(pattern, "has a '[' without its ']'");
      let body = seg.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      out += `[${negate ? '^/' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.+^$()|\\\]}]/g, '\\$&');
  }
  if (braces > 0) throw pathError(pattern, "has a '{' without its '}'");
  return out;
}

/**
 * Files under `rootReal` matching the pattern, as root-relative paths with `/`. Skips dot-entries,
 * symbolic links and the folders in `exclude` (root-relative, e.g. the `moveTo` folder).
 */
export async function listMatches(
  rootReal: string,
  m: GlobMatcher,
  exclude: string[] = [],
): Promise<string[]> {
  const out: string[] = [];
  const excluded = new Set(exclude.map((e) => e.replace(/\/+$/, '')));
  const walk = async (relDir: string, depth: number): Promise<void> => {
    if (excluded.has(relDir)) return;
    let entries: Dirent[];
    try {
      entries = await readdir(relDir ? path.join(rootReal, ...relDir.split('/')) : rootReal, {
        withFileTypes: true,
      });
    } catch (err) {
      // A base folder that does not exist yet simply holds no files.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && depth === 0) return;
      throw err;
    }
    for (const e of entries) {
      if (e.name.startsWith('.') || e.isSymbolicLink()) continue;
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (m.deep) await walk(rel, depth + 1);
      } else if (e.isFile() && m.test(rel)) out.push(rel);
    }
  };
  await walk(m.base, 0);
  return out;
}
