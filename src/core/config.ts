/**
 * `qiao.yaml`: where Qiao keeps its data, which database it uses, how it listens, the connections and
 * the flow files. Read once at start and validated with precise messages (STYLE.md, "Policies are plain
 * data validated once"): every problem names the file, the line and the path, e.g.
 *
 *     qiao.yaml:7 connections.kingdee.type: required
 *
 * and all problems are reported together, not one per attempt. The reference is docs/operations.md.
 *
 * `${NAME}` and `${NAME:-default}` in any string value are replaced from the environment first (so
 * secrets can stay out of the file); `$${` writes a literal `${`. Connection settings other than the
 * generic `type`, `rate`, `concurrency` and `breaker` pass through untouched: each connector validates
 * its own.
 */
import { existsSync, globSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { z } from 'zod';
import type { ConnectionLimits } from './connector.ts';
import { ValidationError, type ValidationProblem } from './errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface ConnectionConfig {
  id: string;
  /** Connector type, e.g. `kingdee`, `wecom`. */
  type: string;
  /** Everything but the generic keys, after `${ENV}` substitution, for the connector to validate. */
  settings: Record<string, unknown>;
  /** Overrides of the connector's documented limits; absent keys keep the connector's defaults. */
  limits: ConnectionLimits;
  /** Line of the connection's key in the file, so a connector's own validation can point at it. */
  line?: number;
}

export interface QiaoConfig {
  /** Absolute path of the configuration file. */
  file: string;
  /** Its folder: relative paths in the file are relative to it. */
  dir: string;
  /** Absolute; holds the SQLite database, master.key and files. Default `.qiao` beside the file. */
  dataDir: string;
  /** A `postgres://` URL for scale-out; absent (or empty) means embedded SQLite in dataDir. */
  database?: string;
  server: {
    /** Default 8780. */
    port: number;
    /** Default 127.0.0.1: reachable from this machine only until someone decides otherwise. */
    host: string;
    /** Largest request body in bytes. Default 1 MiB. */
    bodyLimit: number;
  };
  connections: Record<string, ConnectionConfig>;
  /** Flow files, as absolute paths or globs; `resolveFlowFiles` expands them. */
  flows: string[];
  workers: {
    /** Steps one process runs at once. Default 32. */
    concurrency: number;
  };
  log?: { level: LogLevel };
}

export const CONFIG_DEFAULTS = {
  dataDir: '.qiao',
  port: 8780,
  host: '127.0.0.1',
  bodyLimit: 1024 * 1024,
  workerConcurrency: 32,
} as const;

const CONNECTION_ID = /^[a-z][a-z0-9-]*$/;
const GENERIC_KEYS = new Set(['type', 'rate', 'concurrency', 'breaker']);

/** Reads and validates a configuration file. Throws a ValidationError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): QiaoConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? String(err)})`;
    throw new ValidationError([{ file, path: '', message: why }]);
  }
  return parseConfig(text, file, env);
}

/** Validates configuration text; `file` names it in messages and anchors its relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): QiaoConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Only the first: after one syntax error the parser's later complaints are mostly echoes of it.
    const e = doc.errors[0];
    throw new ValidationError([
      {
        file,
        line: lineCounter.linePos(e.pos[0]).line,
        path: '',
        message: `YAML: ${e.message.split(/ at line \d+|\n/)[0]}`,
      },
    ]);
  }
  const lineAt = (path: (string | number)[]) => lineOf(doc.contents, path, lineCounter);
  const problems: ValidationProblem[] = [];
  const add = (path: (string | number)[], message: string) =>
    problems.push({ file, line: lineAt(path), path: formatPath(path), message });

  let raw: unknown = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    add([], 'the configuration must be a mapping (key: value lines)');
    throw new ValidationError(problems);
  }

  // 1. ${ENV} substitution, remembering where it failed so the schema does not report those twice.
  const failedPaths: string[] = [];
  raw = substituteEnv(raw, [], env, (path, message) => {
    failedPaths.push(formatPath(path));
    add(path, message);
  });

  // 2. The schema.
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const p of describeIssue(issue, raw)) {
        const where = formatPath(p.path);
        if (failedPaths.some((f) => where === f || where.startsWith(`${f}.`) || where.startsWith(`${f}[`)))
          continue;
        add(p.path, p.message);
      }
    }
  }
  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ValidationError(problems);
  }

  // 3. The result, with paths made absolute and connection settings split from the generic keys.
  const v = parsed.data;
  const absFile = resolve(file);
  const dir = dirname(absFile);
  const connections: Record<string, ConnectionConfig> = {};
  for (const [id, c] of Object.entries(v.connections)) {
    const settings: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(c)) if (!GENERIC_KEYS.has(k)) settings[k] = val;
    const limits: ConnectionLimits = {};
    if (c.rate) limits.rate = c.rate;
    if (c.concurrency !== undefined) limits.concurrency = c.concurrency;
    if (c.breaker) limits.breaker = c.breaker;
    connections[id] = { id, type: c.type, settings, limits, line: lineAt(['connections', id]) };
  }
  return {
    file: absFile,
    dir,
    dataDir: resolve(dir, v.dataDir),
    ...(v.database ? { database: v.database } : {}),
    server: v.server,
    connections,
    flows: v.flows.map((f) => (isAbsolute(f) ? f : resolve(dir, f))),
    workers: v.workers,
    ...(v.log ? { log: v.log } : {}),
  };
}

/**
 * The flow files a configuration names: literal paths as they are (each must exist), globs expanded
 * (a glob may match nothing), sorted, without duplicates.
 */
export function resolveFlowFiles(config: QiaoConfig): string[] {
  const files = new Set<string>();
  const problems: ValidationProblem[] = [];
  config.flows.forEach((pattern, i) => {
    if (/[*?[\]{}]/.test(pattern)) {
      for (const f of globSync(pattern)) files.add(resolve(f));
    } else if (existsSync(pattern)) {
      files.add(pattern);
    } else {
      problems.push({ file: config.file, path: `flows[${i}]`, message: `file not found: ${pattern}` });
    }
  });
  if (problems.length > 0) throw new ValidationError(problems);
  return [...files].sort();
}

// ---------------------------------------------------------------------------------------------------
// The schema.

/** Numbers, also when they arrive as text from `${ENV}` substitution (`port: ${PORT:-8780}`). */
const numeric = (inner: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), inner);
const positiveInt = () => numeric(z.number().int().positive());

const BYTE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `1048576`, `512kb`, `1 MiB`, `2mb`: a k/m/g prefix is a power of 1024, as Fastify and npm `bytes` read it. */
const bytes = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|[kmg](?:i?b)?)?\s*$/i.exec(v);
  if (!m) return v;
  return Math.floor(Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b')[0].toLowerCase()]);
}, z.number({ error: 'expected a size in bytes, like 1048576 or "1 MiB"' }).int().positive());

const connectionSchema = z.looseObject({
  type: z.string().regex(CONNECTION_ID, { error: 'a connector type is lower-case kebab-case, like kingdee' }),
  rate: z
    .strictObject({
      perSecond: numeric(z.number().positive()),
      burst: positiveInt().optional(),
    })
    .optional(),
  concurrency: positiveInt().optional(),
  breaker: z
    .strictObject({
      failures: positiveInt(),
      resetMs: positiveInt(),
    })
    .optional(),
});

const configSchema = z.strictObject({
  dataDir: z.string().min(1).default(CONFIG_DEFAULTS.dataDir),
  database: z
    .string()
    .refine((s) => s === '' || isPostgresUrl(s), { error: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  server: z
    .strictObject({
      port: numeric(z.number().int().min(0).max(65535)).default(CONFIG_DEFAULTS.port),
      host: z.string().min(1).default(CONFIG_DEFAULTS.host),
      bodyLimit: bytes.default(CONFIG_DEFAULTS.bodyLimit),
    })
    .prefault({}),
  connections: z
    .record(
      z.string().regex(CONNECTION_ID, {
        error:
          'a connection id is lower-case letters, digits and dashes, starting with a letter (like kingdee-main)',
      }),
      connectionSchema,
    )
    .default({}),
  flows: z.array(z.string().min(1)).default([]),
  workers: z
    .strictObject({ concurrency: positiveInt().default(CONFIG_DEFAULTS.workerConcurrency) })
    .prefault({}),
  log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error', 'silent']) }).optional(),
});

function isPostgresUrl(s: string): boolean {
  if (!/^postgres(ql)?:\/\//.test(s)) return false;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Messages.

type Path = (string | number)[];

/** Turns a zod issue into messages a person can act on (zod's own are written for developers). */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { path: Path; message: string }[] {
  const path = issue.path as Path;
  switch (issue.code) {
    case 'invalid_type': {
      const value = valueAt(raw, path);
      if (value === undefined) return [{ path, message: 'required' }];
      // A message the schema wrote itself (zod's own start with "Invalid input").
      if (!issue.message.startsWith('Invalid input')) return [{ path, message: issue.message }];
      return [{ path, message: `expected ${article(issue.expected)}, got ${describeValue(value)}` }];
    }
    case 'unrecognized_keys': {
      return issue.keys.map((key) => {
        const known = knownKeys(path);
        const near = known.find((k) => editDistance(k, key) <= 2);
        const hint = near
          ? ` (did you mean ${near}?)`
          : known.length
            ? ` (known keys: ${known.join(', ')})`
            : '';
        return { path: [...path, key], message: `unknown key${hint}` };
      });
    }
    case 'invalid_key':
      return [{ path, message: issue.issues[0]?.message ?? issue.message }];
    case 'invalid_value':
      return [{ path, message: `must be one of ${issue.values.map((v) => String(v)).join(', ')}` }];
    case 'too_small':
      return [
        {
          path,
          message:
            issue.minimum === 0 && !issue.inclusive ? 'must be above 0' : `must be at least ${issue.minimum}`,
        },
      ];
    case 'too_big':
      return [{ path, message: `must be at most ${issue.maximum}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** The keys a strict object at `path` accepts, for "did you mean" hints. */
function knownKeys(path: Path): string[] {
  const shapes: Record<string, string[]> = {
    '': Object.keys(configSchema.shape),
    server: ['port', 'host', 'bodyLimit'],
    workers: ['concurrency'],
    log: ['level'],
  };
  const key = path.join('.');
  if (key in shapes) return shapes[key];
  if (path[0] === 'connections' && path.length === 3 && path[2] === 'rate') return ['perSecond', 'burst'];
  if (path[0] === 'connections' && path.length === 3 && path[2] === 'breaker') return ['failures', 'resetMs'];
  return [];
}

function article(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    object: 'a mapping',
    array: 'a list',
    record: 'a mapping',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function describeValue(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function editDistance(a: string, b: string): number {
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  const d = Array.from({ length: al.length + 1 }, (_, i) => [i, ...Array(bl.length).fill(0)]);
  for (let j = 1; j <= bl.length; j++) d[0][j] = j;
  for (let i = 1; i <= al.length; i++) {
    for (let j = 1; j <= bl.length; j++) {
      d[i][j] = Math.min(
        d[i - 1][j] + 1,
        d[i][j - 1] + 1,
        d[i - 1][j - 1] + (al[i - 1] === bl[j - 1] ? 0 : 1),
      );
    }
  }
  return d[al.length][bl.length];
}

// ---------------------------------------------------------------------------------------------------
// ${ENV} substitution.

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

function substituteEnv(
  value: unknown,
  path: Path,
  env: NodeJS.ProcessEnv,
  fail: (path: Path, message: string) => void,
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${';
      if (name === undefined) {
        fail(
          path,
          `a \${ without a valid \${NAME} or \${NAME:-default} after it; write $\${ for a literal \${`,
        );
        return match;
      }
      const v = env[name];
      // Shell semantics: `:-` also applies when the variable is set but empty.
      if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
      if (v === undefined) {
        fail(path, `environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
        return match;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, [...path, i], env, fail));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, [...path, k], env, fail);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Paths and lines.

function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${seg}` : seg;
  return out;
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/**
 * The line of the deepest node along `path` that exists in the document: a missing key is reported at
 * its parent's key (`kingdee:` for `connections.kingdee.type: required`).
 */
function lineOf(root: unknown, path: Path, lc: LineCounter): number | undefined {
  let node = root as Node | null | undefined;
  const start = (n: { range?: [number, number, number] | null } | null | undefined) =>
    n?.range ? lc.linePos(n.range[0]).line : undefined;
  let line = start(node) ?? 1;
  for (const seg of path) {
    if (isAlias(node)) break;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg),
      );
      if (!pair) break;
      line = start(pair.key as Node) ?? line;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      line = start(item) ?? line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}
