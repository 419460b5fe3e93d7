/**
 * Loads the flow files a configuration names (qiao.yaml `flows: ['flows/*.yaml']`): expands the
 * patterns, reads, parses and validates every file, and reports every problem of every file at once,
 * plus flow ids used by more than one file.
 */
import { glob, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ValidationProblem } from '../core/errors.ts';
import type { FlowDef } from '../core/flow.ts';
import { byLine } from './parse.ts';
import { type FlowRegistry, validateFlowSource } from './validate.ts';

export interface LoadedFlows {
  /** Flows without problems, in file order. */
  flows: FlowDef[];
  /** Every problem of every file, by file then line. */
  problems: ValidationProblem[];
  /** Every file read, as named in problems (relative to baseDir when inside it). */
  files: string[];
}

const GLOB_CHARS = /[*?[\]{}]/;
const FLOW_FILE = /\.ya?ml$/i;

/**
 * Expands `patterns` (globs or file paths, relative to `baseDir` or absolute) and loads every match.
 * A glob picks up only `.yaml`/`.yml` files; a plain path is read whatever its name, and reported when
 * missing. With a registry the flows are also validated against the connections (validate.ts).
 */
export async function loadFlows(
  patterns: string[],
  baseDir: string,
  registry?: FlowRegistry,
): Promise<LoadedFlows> {
  const problems: ValidationProblem[] = [];
  const absolute = new Set<string>();
  for (const pattern of patterns) {
    if (!GLOB_CHARS.test(pattern)) {
      const file = path.resolve(baseDir, pattern);
      try {
        if ((await stat(file)).isFile()) absolute.add(file);
        else problems.push({ path: '', file: display(file, baseDir), message: 'is not a file' });
      } catch {
        problems.push({ path: '', file: display(file, baseDir), message: 'no such file' });
      }
      continue;
    }
    for await (const entry of glob(pattern, { cwd: baseDir, withFileTypes: true })) {
      if (!entry.isFile() || !FLOW_FILE.test(entry.name)) continue;
      absolute.add(path.join(entry.parentPath, entry.name));
    }
  }

  const files = [...absolute].sort();
  const flows: FlowDef[] = [];
  const byId = new Map<string, string>();
  const perFile: ValidationProblem[][] = [];
  for (const file of files) {
    const name = display(file, baseDir);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      perFile.push([{ path: '', file: name, message: `cannot read: ${(err as Error).message}` }]);
      continue;
    }
    const source = validateFlowSource(text, name, registry);
    const found = [...source.problems];
    if (source.flow) {
      const other = byId.get(source.flow.id);
      if (other !== undefined) {
        const line = source.lineOf('id');
        found.push({
          path: 'id',
          file: name,
          ...(line !== undefined ? { line } : {}),
          message: `duplicate flow id '${source.flow.id}' (also in ${other})`,
        });
      } else {
        byId.set(source.flow.id, name);
        flows.push(source.flow);
      }
    }
    perFile.push(byLine(found));
  }
  return { flows, problems: [...problems, ...perFile.flat()], files: files.map((f) => display(f, baseDir)) };
}

/** A path as shown in problems: relative to baseDir with '/' separators when inside it. */
function display(file: string, baseDir: string): string {
  const rel = path.relative(path.resolve(baseDir), file);
  if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  return file;
}
