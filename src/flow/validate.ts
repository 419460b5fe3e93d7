/**
 * Checks a flow against the configured connections (docs/flows.md, "Validation"): every connection
 * exists; every operation, trigger, wait event and object is one its connector declares; the static
 * parts of inputs and trigger params pass the connector's own zod schemas; fields an input writes
 * exist in the connector's schema. Expressions are skipped in static inputs: their values are only
 * known at run time.
 */
import type { Connector } from '../core/connector.ts';
import type { ValidationProblem } from '../core/errors.ts';
import type { FlowDef, SuppressDef } from '../core/flow.ts';
import { checkFlow } from './check.ts';
import { isExpression } from './expr.ts';
import { byLine, type FlowSource, locate, readFlow } from './parse.ts';
import { closest, didYouMean, join, type LocatedProblem } from './problems.ts';

/** What validation needs to know about the connections configured in qiao.yaml. */
export interface FlowRegistry {
  connection(
    id: string,
  ): { type: string; connector: Pick<Connector, 'actions' | 'triggers' | 'schema'> } | undefined;
  /** All connection ids, for "did you mean" hints. Optional. */
  connections?(): string[];
}

/**
 * Everything wrong with a flow that needs no YAML: the checks of check.ts (expressions, step ids and
 * references) and those against the registry. Problems carry paths but no lines; `validateFlowFile`
 * adds lines.
 */
export function validateFlowRefs(flow: FlowDef, registry: FlowRegistry): ValidationProblem[] {
  return [...checkFlow(flow), ...registryProblems(flow, registry)].map(({ path, message }) => ({
    path,
    message,
    ...(flow.source ? { file: flow.source } : {}),
  }));
}

/**
 * Parses, checks and validates one flow file against the registry; every problem has its file and line.
 * The flow is returned only when there is no problem at all.
 */
export function validateFlowFile(
  text: string,
  file: string,
  registry?: FlowRegistry,
): { flow?: FlowDef; problems: ValidationProblem[] } {
  const { flow, problems } = validateFlowSource(text, file, registry);
  return flow ? { flow, problems } : { problems };
}

/** `validateFlowFile`, also giving the flow's line lookup (for problems found later, as by load.ts). */
export function validateFlowSource(text: string, file: string, registry?: FlowRegistry): FlowSource {
  const source = readFlow(text, file);
  if (!source.flow) return source;
  const found = checkFlow(source.flow);
  if (registry) found.push(...registryProblems(source.flow, registry));
  const problems = byLine(locate(found, source.lineOf, file));
  return problems.length > 0
    ? { problems, lineOf: source.lineOf }
    : { flow: source.flow, problems, lineOf: source.lineOf };
}

type Resolved = { id: string; type: string; connector: Pick<Connector, 'actions' | 'triggers' | 'schema'> };

/** The checks against the registry, with YAML-surface paths. */
export function registryProblems(flow: FlowDef, registry: FlowRegistry): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  const push = (path: string, message: string, at?: string) => {
    problems.push(at ? { path, message, at } : { path, message });
  };

  const connection = (id: string, path: string): Resolved | undefined => {
    let found: ReturnType<FlowRegistry['connection']>;
    try {
      found = registry.connection(id);
    } catch (err) {
      push(path, `connection '${id}' cannot be loaded: ${(err as Error).message}`);
      return undefined;
    }
    if (!found) {
      const ids = registry.connections?.() ?? [];
      push(
        path,
        `unknown connection '${id}'${didYouMean(id, ids)}${ids.length ? ` (configured: ${ids.join(', ')})` : ''}`,
      );
      return undefined;
    }
    return { id, ...found };
  };

  const unknownName = (what: string, name: string, conn: Resolved, known: Iterable<string>): string => {
    const list = [...known];
    const on = conn.type === conn.id ? `connection '${conn.id}'` : `connection '${conn.id}' (${conn.type})`;
    const hint = didYouMean(name, list);
    return `unknown ${what} '${name}' on ${on}${hint || '.'}${list.length ? ` Known: ${list.join(', ')}` : ` It has no ${what}s.`}`;
  };

  const operation = (
    connId: string,
    action: string,
    input: Record<string, unknown>,
    path: string,
    inputPath: string,
  ) => {
    const conn = connection(connId, path);
    if (!conn) return;
    const spec = conn.connector.actions[action];
    if (!spec) {
      push(path, unknownName('operation', action, conn, Object.keys(conn.connector.actions)));
      return;
    }
    problems.push(...staticProblems(spec.input, input, inputPath));
    if (spec.fieldsOf) {
      let written: ReturnType<NonNullable<typeof spec.fieldsOf>>;
      try {
        written = spec.fieldsOf(input);
      } catch {
        written = undefined; // fieldsOf may not cope with expressions in place of values: nothing to check.
      }
      if (written) problems.push(...fieldProblems(conn, written, input, inputPath));
    }
  };

  /** The summary's static parts, when the operation exists (an unknown one is reported once, above). */
  const summary = (connId: string, action: string, s: SuppressDef, path: string) => {
    let spec: ReturnType<FlowRegistry['connection']>;
    try {
      spec = registry.connection(connId);
    } catch {
      return;
    }
    const input = spec?.connector.actions[action]?.input;
    if (input) problems.push(...staticProblems(input, s.summary, path));
  };

  const object = (conn: Resolved, name: string, path: string) => {
    const objects = Object.keys(conn.connector.schema.objects);
    // A connector without a static schema (e.g. plain HTTP) cannot say which objects exist.
    if (objects.length > 0 && !objects.includes(name)) push(path, unknownName('object', name, conn, objects));
  };

  const t = flow.trigger;
  if (t.type === 'poll' || t.type === 'event' || t.type === 'chat' || t.type === 'file') {
    const conn = connection(t.connection, 'trigger.connection');
    if (conn) {
      const spec = conn.connector.triggers[t.trigger];
      if (!spec) {
        push(
          'trigger.trigger',
          unknownName('trigger', t.trigger, conn, Object.keys(conn.connector.triggers)),
        );
      } else {
        if ((t.type === 'poll' || t.type === 'event') && spec.kind !== t.type) {
          push(
            'trigger.type',
            `'${t.trigger}' of ${conn.id} is a ${spec.kind} trigger; write type: ${spec.kind}`,
          );
        }
        problems.push(...staticProblems(spec.params, t.params, 'trigger.params'));
      }
      if ((t.type === 'poll' || t.type === 'event') && t.source)
        object(conn, t.source.object, 'trigger.source.object');
    }
  }

  flow.steps.forEach((step, i) => {
    const path = `steps[${i}]`;
    switch (step.kind) {
      case 'action':
      case 'notify':
        operation(step.connection, step.action, step.input, join(path, step.kind), join(path, 'input'));
        // A suppression's summary is an input of the same operation.
        if (step.suppress)
          summary(step.connection, step.action, step.suppress, join(path, 'suppress.summary'));
        break;
      case 'lookup':
        if ('link' in step.lookup) {
          const conn = connection(step.lookup.link.connection, join(path, 'lookup.link.connection'));
          if (conn) object(conn, step.lookup.link.object, join(path, 'lookup.link.object'));
        } else {
          const l = step.lookup;
          operation(l.connection, l.action, l.input, join(path, 'lookup.action'), join(path, 'lookup.input'));
        }
        break;
      case 'wait': {
        const conn = connection(step.wait.connection, join(path, 'wait.connection'));
        if (conn) {
          const events = new Set<string>();
          for (const spec of Object.values(conn.connector.triggers))
            if (spec.kind === 'event') events.add(spec.eventType);
          // Only a connector that declares event triggers can be told it lacks one.
          if (events.size > 0 && !events.has(step.wait.event)) {
            push(join(path, 'wait.event'), unknownName('event', step.wait.event, conn, events));
          }
        }
        step.wait.timers.forEach((timer, k) => {
          const tp = join(path, `wait.timers[${k}]`);
          operation(timer.connection, timer.action, timer.input, join(tp, 'action'), join(tp, 'input'));
          if (timer.suppress)
            summary(timer.connection, timer.action, timer.suppress, join(tp, 'suppress.summary'));
        });
        break;
      }
      default:
        break;
    }
  });
  return problems;
}

/**
 * Runs a zod schema over a value whose leaves may be expressions, keeping only the issues that the
 * static parts cause: an issue on (or under) an expression is dropped, since its value is only known
 * at run time.
 */
export function staticProblems(
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: ZodIssueLike[] } } },
  value: Record<string, unknown>,
  path: string,
): LocatedProblem[] {
  let result: ReturnType<typeof schema.safeParse>;
  try {
    result = schema.safeParse(value);
  } catch {
    // Transforms or async refinements that throw on placeholder strings: nothing can be said statically.
    return [];
  }
  if (result.success || !result.error) return [];
  const problems: LocatedProblem[] = [];
  for (const issue of flattenIssues(result.error.issues)) {
    const keys = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
    if (dependsOnExpression(value, keys, issue.code)) continue;
    const at = keys.reduce<string>((p, k) => join(p, k as string | number), path);
    if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) {
      for (const key of issue.keys) {
        const known = knownKeys(schema, keys);
        problems.push({
          path: at,
          message: `unknown field '${key}'${didYouMean(key, known)}`,
          at: join(at, key),
        });
      }
      continue;
    }
    const v = valueAt(value, keys);
    const message = v.found === false && issue.code === 'invalid_type' ? 'is required' : issue.message;
    problems.push({ path: at, message });
  }
  return problems;
}

interface ZodIssueLike {
  code: string;
  path: PropertyKey[];
  message: string;
  keys?: string[];
  errors?: ZodIssueLike[][];
}

/** A union's issue says only "Invalid input"; when exactly one branch failed on its own, use its issues. */
function flattenIssues(issues: ZodIssueLike[]): ZodIssueLike[] {
  const out: ZodIssueLike[] = [];
  for (const issue of issues) {
    if (issue.code === 'invalid_union' && issue.errors?.length === 1) {
      out.push(...flattenIssues(issue.errors[0].map((e) => ({ ...e, path: [...issue.path, ...e.path] }))));
    } else {
      out.push(issue);
    }
  }
  return out;
}

/** True when the issue is about a value computed at run time (an expression at or above its path). */
function dependsOnExpression(value: unknown, keys: PropertyKey[], code: string): boolean {
  let cur: unknown = value;
  for (const k of keys) {
    if (isExpression(cur)) return true;
    if (cur === null || typeof cur !== 'object') return false;
    cur = (cur as Record<PropertyKey, unknown>)[k as string];
  }
  if (isExpression(cur)) return true;
  // A refinement over a whole object or list cannot be judged while parts of it are unknown.
  return (code === 'custom' || code === 'invalid_union') && containsExpression(cur);
}

function containsExpression(v: unknown): boolean {
  if (isExpression(v)) return true;
  if (v === null || typeof v !== 'object') return false;
  return Object.values(v as object).some(containsExpression);
}

function valueAt(value: unknown, keys: PropertyKey[]): { found: boolean; value?: unknown } {
  let cur: unknown = value;
  for (const k of keys) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return { found: false };
    cur = (cur as Record<PropertyKey, unknown>)[k as string];
  }
  return { found: cur !== undefined, value: cur };
}

/** The keys a zod object schema (possibly nested under `keys`) declares, for hints. */
function knownKeys(schema: unknown, keys: PropertyKey[]): string[] {
  let s = schema as { shape?: Record<string, unknown>; unwrap?: () => unknown } | undefined;
  for (const k of keys) {
    if (typeof k !== 'string') return [];
    s = s?.shape?.[k] as typeof s;
  }
  return s?.shape ? Object.keys(s.shape) : [];
}

/** Fields a static input writes (`fieldsOf`) that the connector's schema does not know. */
function fieldProblems(
  conn: Resolved,
  written: { object: string; fields: string[] },
  input: Record<string, unknown>,
  inputPath: string,
): LocatedProblem[] {
  const schema = conn.connector.schema.objects[written.object];
  if (!schema) {
    return [
      {
        path: inputPath,
        message: `writes object '${written.object}', which connection '${conn.id}' (${conn.type}) does not describe`,
      },
    ];
  }
  const known = Object.keys(schema.fields);
  const problems: LocatedProblem[] = [];
  for (const field of written.fields) {
    if (Object.hasOwn(schema.fields, field)) continue;
    const keyPath = findKey(input, field);
    const at = keyPath === undefined ? inputPath : join(inputPath, keyPath);
    const holder = keyPath === undefined ? inputPath : at.slice(0, at.length - field.length - 1);
    const hint = closest(field, known);
    problems.push({
      path: holder,
      message: `unknown field '${field}' of ${conn.type} ${written.object}${hint ? `; did you mean '${hint}'?` : ''}`,
      at,
    });
  }
  return problems;
}

/** The dotted path of the first key named `key` in a value (depth first), e.g. `Model.FName`. */
function findKey(value: unknown, key: string, path = ''): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findKey(value[i], key, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.hasOwn(value, key)) return path ? `${path}.${key}` : key;
  for (const [k, v] of Object.entries(value)) {
    const found = findKey(v, key, path ? `${path}.${k}` : k);
    if (found !== undefined) return found;
  }
  return undefined;
}
