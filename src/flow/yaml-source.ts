/**
 * Reads a YAML flow file into plain values while remembering where each value came from, so every
 * validation problem can name its line (docs/flows.md, "Validation"). Anchors, aliases and `<<` merge
 * keys work as in YAML; a path inside aliased content reports the line of the alias's key.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { LocatedProblem } from './problems.ts';
import { join } from './problems.ts';

export interface YamlSource {
  /** The document as plain values (undefined when it could not be read at all). */
  value: unknown;
  /** YAML syntax errors and values that would not survive as JavaScript numbers. */
  problems: LocatedProblem[];
  /** The line of `path` (a key's own line for mapping entries), or of its nearest ancestor. */
  lineOf(path: string): number | undefined;
}

/** Splits `steps[2].route.rows[0]` into its parents: `steps[2].route`, `steps[2]`, `steps`, ``. */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const bracket = path.endsWith(']') ? path.lastIndexOf('[') : -1;
  const dot = path.lastIndexOf('.');
  const cut = Math.max(bracket, dot);
  return cut <= 0 ? '' : path.slice(0, cut);
}

export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  const problems: LocatedProblem[] = [];
  const lines = new Map<string, number>();
  const lineOf = (path: string): number | undefined => {
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const line = lines.get(p);
      if (line !== undefined) return line;
    }
    return undefined;
  };

  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  for (const err of doc.errors) {
    problems.push({
      path: '',
      message: `YAML: ${err.message.split('\n')[0]}`,
      line: err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line,
    });
  }
  if (problems.length > 0) return { value: undefined, problems, lineOf };

  const lineAt = (
    node: { range?: [number, number, number] | null } | null | undefined,
  ): number | undefined => (node?.range ? lineCounter.linePos(node.range[0]).line : undefined);

  const seen = new Set<unknown>();
  const walk = (node: unknown, path: string): void => {
    if (!node || seen.has(node)) return;
    if (isAlias(node)) {
      // Record the anchored content's inner lines under this path, once (aliases may nest).
      const target = node.resolve(doc);
      seen.add(node);
      walk(target, path);
      seen.delete(node);
      return;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        if (!isScalar(pair.key)) continue;
        // With `merge: true` the `<<` key's value is a symbol; its source text is still `<<`.
        if (typeof pair.key.value === 'symbol' || pair.key.source === '<<') {
          walk(pair.value, path);
          continue;
        }
        const p = join(path, String(pair.key.value));
        const line = lineAt(pair.key as Node) ?? lineAt(pair.value as Node);
        if (line !== undefined && !lines.has(p)) lines.set(p, line);
        walk(pair.value, p);
      }
      return;
    }
    if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const p = join(path, i);
        const line = lineAt(item as Node);
        if (line !== undefined && !lines.has(p)) lines.set(p, line);
        walk(item, p);
      });
      return;
    }
    if (isScalar(node) && typeof node.value === 'number' && Number.isInteger(node.value)) {
      // 64-bit ids (Neocrm) lose digits as JavaScript numbers: ask for quotes instead of a silent change.
      if (!Number.isSafeInteger(node.value) && /^[-+]?\d+$/.test(node.source ?? '')) {
        problems.push({
          path,
          message: `the number ${node.source} is too large to keep exactly; quote it: '${node.source}'`,
        });
      }
    }
  };
  const rootLine = lineAt(doc.contents as Node | null);
  if (rootLine !== undefined) lines.set('', rootLine);
  walk(doc.contents, '');

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1_000 });
  } catch (err) {
    problems.push({ path: '', message: `YAML: ${(err as Error).message}`, line: 1 });
    return { value: undefined, problems, lineOf };
  }
  return { value, problems, lineOf };
}
