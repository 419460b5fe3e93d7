/**
 * Flow files (YAML) → FlowDef (core/flow.ts), the shape the engine runs. The format is documented in
 * docs/flows.md; every rule here has a message there.
 *
 * Parsing is strict: unknown fields are errors (`unknown field 'amont'; did you mean 'amount'?`),
 * every problem carries the file, the line of the offending key and its path
 * (`steps[2].route.rows[0].when`), and malformed input never throws: it returns problems.
 *
 * Two passes: `readFlow` checks the shape and builds the FlowDef; `checkFlow` (check.ts) then compiles
 * every expression and checks what they read. `parseFlow` runs both; `validateFlowFile` (validate.ts)
 * adds the checks against the configured connections.
 */
import { CronExpressionParser } from 'cron-parser';
import type { ValidationProblem } from '../core/errors.ts';
import {
  type ActionStep,
  DEFAULT_RETRY,
  type FlowDef,
  type LookupStep,
  type NotifyStep,
  type RetryPolicy,
  type SourceDef,
  type StepDef,
  type StepKind,
  type SuppressDef,
  type TriggerDef,
  type WaitStep,
} from '../core/flow.ts';
import { checkFlow } from './check.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { isExpression } from './expr.ts';
import { didYouMean, join, type LocatedProblem, oneOf, typeOf, unknownField } from './problems.ts';
import { retryPolicyProblems } from './retry-policy.ts';
import { checkRoute } from './route.ts';
import { readYaml } from './yaml-source.ts';

export const FLOW_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
export const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const CONNECTION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
/** `<connection>.<operation>`: the connection id has no '.', the operation may (`approval.start`). */
const OPERATION_REF = /^([A-Za-z0-9][A-Za-z0-9_-]*)\.(\S+)$/;

const FLOW_FIELDS = [
  'id',
  'name',
  'description',
  'enabled',
  'trigger',
  'vars',
  'serialize',
  'retry',
  'steps',
];
export const STEP_KINDS: readonly StepKind[] = [
  'map',
  'filter',
  'lookup',
  'route',
  'action',
  'wait',
  'notify',
];
const COMMON_STEP_FIELDS = ['id', 'if', 'retry'];
/** Fields a step of each kind takes besides its kind key and the common ones. */
const STEP_FIELDS: Record<StepKind, string[]> = {
  map: ['tables'],
  filter: [],
  lookup: ['required'],
  route: [],
  action: ['input', 'suppress'],
  wait: [],
  notify: ['input', 'suppress'],
};

export const TRIGGER_TYPES: readonly TriggerDef['type'][] = [
  'poll',
  'event',
  'schedule',
  'manual',
  'webhook',
  'chat',
  'file',
];
const TRIGGER_FIELDS: Record<TriggerDef['type'], string[]> = {
  poll: ['connection', 'trigger', 'params', 'every', 'source'],
  event: ['connection', 'trigger', 'params', 'source'],
  schedule: ['cron', 'timezone'],
  manual: [],
  webhook: ['secret', 'source'],
  chat: ['connection', 'trigger', 'params'],
  file: ['connection', 'trigger', 'params'],
};
/** How often a poll trigger runs when `every` is not given. */
export const DEFAULT_POLL_INTERVAL_MS = 60_000;
/** Faster polling only burns the partner's quota (every partner limits calls per minute). */
export const MIN_POLL_INTERVAL_MS = 1_000;

const WAIT_FIELDS = ['connection', 'event', 'correlation', 'until', 'timeout', 'onTimeout', 'timers'];
const TIMER_FIELDS = ['after', 'action', 'input', 'suppress'];
const SUPPRESS_FIELDS = ['key', 'window', 'count', 'summary'];
/** A suppression window shorter than this is a typo, not a policy. */
export const MIN_SUPPRESS_WINDOW_MS = 1_000;
const LOOKUP_FIELDS = ['link', 'action', 'input'];
const LINK_FIELDS = ['connection', 'object'];
const SOURCE_FIELDS = ['object', 'id'];

/** A flow file read for its shape: the FlowDef when the shape is right, and where each path is. */
export interface FlowSource {
  flow?: FlowDef;
  /** Shape problems, each with its file and line. */
  problems: ValidationProblem[];
  /** The line of a path (or of its nearest ancestor) in the YAML text. */
  lineOf(path: string): number | undefined;
}

/**
 * Parses and fully checks a flow file (shape and expressions, not connections: see validate.ts). The
 * flow is returned only when there is no problem.
 */
export function parseFlow(text: string, file?: string): { flow?: FlowDef; problems: ValidationProblem[] } {
  const source = readFlow(text, file);
  if (!source.flow) return { problems: source.problems };
  const problems = byLine(locate(checkFlow(source.flow), source.lineOf, file));
  return problems.length > 0 ? { problems } : { flow: source.flow, problems };
}

/** Reads a flow file's YAML and checks its shape (first pass; see the module comment). */
export function readFlow(text: string, file?: string): FlowSource {
  let yaml: ReturnType<typeof readYaml>;
  try {
    yaml = readYaml(text);
  } catch (err) {
    // The YAML library reports errors as values; this is a last resort so parsing never throws.
    return {
      problems: [withFile({ path: '', message: `YAML: ${(err as Error).message}` }, file)],
      lineOf: () => undefined,
    };
  }
  const problems: LocatedProblem[] = [...yaml.problems];
  let flow: FlowDef | undefined;
  if (yaml.problems.length === 0) {
    try {
      flow = new FlowReader(problems).flow(yaml.value);
    } catch (err) {
      problems.push({ path: '', message: `cannot read this flow: ${(err as Error).message}` });
    }
  }
  if (flow && file) flow.source = file;
  const located = byLine(locate(problems, yaml.lineOf, file));
  return { flow: located.length === 0 ? flow : undefined, problems: located, lineOf: yaml.lineOf };
}

/** Attaches file and line to problems, dropping the internal `at`. */
export function locate(
  problems: LocatedProblem[],
  lineOf: (path: string) => number | undefined,
  file?: string,
): ValidationProblem[] {
  return problems.map((p) => {
    const out: ValidationProblem = { path: p.path, message: p.message };
    if (file) out.file = file;
    const line = p.line ?? lineOf(p.at ?? p.path);
    if (line !== undefined) out.line = line;
    return out;
  });
}

/** Problems in the order of their lines (stable, so one line's problems keep their order). */
export function byLine(problems: ValidationProblem[]): ValidationProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}

function withFile(p: ValidationProblem, file?: string): ValidationProblem {
  return file ? { ...p, file } : p;
}

type Mapping = Record<string, unknown>;

function isMapping(v: unknown): v is Mapping {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Optional fields may be left empty (`description:`), which YAML reads as null. */
function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** The shape checks, collecting every problem rather than stopping at the first. */
class FlowReader {
  private readonly problems: LocatedProblem[];

  constructor(problems: LocatedProblem[]) {
    this.problems = problems;
  }

  private problem(path: string, message: string, at?: string): void {
    this.problems.push(at ? { path, message, at } : { path, message });
  }

  private fields(obj: Mapping, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj))
      if (!allowed.includes(key)) this.problems.push(unknownField(path, key, allowed));
  }

  flow(raw: unknown): FlowDef | undefined {
    if (!isMapping(raw)) {
      this.problem('', `a flow file holds one mapping with id, trigger and steps; got ${typeOf(raw)}`);
      return undefined;
    }
    const before = this.problems.length;
    this.fields(raw, '', FLOW_FIELDS);
    const id = this.id(raw.id, 'id', FLOW_ID, "lower-case letters, digits and '-', e.g. contract-approval");
    const name = this.optionalString(raw.name, 'name');
    const description = this.optionalString(raw.description, 'description');
    let enabled = true;
    if (present(raw.enabled)) {
      if (typeof raw.enabled === 'boolean') enabled = raw.enabled;
      else this.problem('enabled', `must be true or false; got ${typeOf(raw.enabled)}`);
    }
    let vars: Record<string, unknown> = {};
    if (present(raw.vars)) {
      if (isMapping(raw.vars)) vars = this.literal(raw.vars, 'vars') as Record<string, unknown>;
      else this.problem('vars', `must be a mapping of names to values; got ${typeOf(raw.vars)}`);
    }
    const serialize = this.expression(raw.serialize, 'serialize', false, '=event.id');
    const flowRetry = this.retry(raw.retry, 'retry', DEFAULT_RETRY);
    const trigger =
      raw.trigger === undefined ? this.missing('trigger', 'trigger') : this.trigger(raw.trigger);
    const steps = this.steps(raw.steps, flowRetry);
    if (this.problems.length > before || !id || !trigger || !steps) return undefined;
    const flow: FlowDef = { id, name: name ?? id, enabled, trigger, vars, steps };
    if (description !== undefined) flow.description = description;
    if (serialize !== undefined) flow.serialize = serialize;
    return flow;
  }

  private missing(path: string, what: string): undefined {
    const hints: Record<string, string> = {
      trigger: 'what starts a run, e.g. { type: manual }',
      steps: 'a list of steps',
    };
    this.problem(path, `is required${hints[what] ? `: ${hints[what]}` : ''}`);
    return undefined;
  }

  private id(v: unknown, path: string, pattern: RegExp, rule: string): string | undefined {
    if (!present(v)) {
      this.problem(path, `is required (${rule})`);
      return undefined;
    }
    if (typeof v !== 'string' || !pattern.test(v)) {
      this.problem(path, `must be ${rule}; got ${typeOf(v)}`);
      return undefined;
    }
    return v;
  }

  private optionalString(v: unknown, path: string): string | undefined {
    if (!present(v)) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    this.problem(path, `must be text; got ${typeOf(v)}`);
    return undefined;
  }

  private requiredString(v: unknown, path: string, example: string): string | undefined {
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    this.problem(
      path,
      present(v) ? `must be text such as ${example}; got ${typeOf(v)}` : `is required, e.g. ${example}`,
    );
    return undefined;
  }

  private connection(v: unknown, path: string): string | undefined {
    const s = this.requiredString(v, path, "'kingdee'");
    if (s === undefined) return undefined;
    if (!CONNECTION_ID.test(s)) {
      this.problem(path, `must be a connection id from qiao.yaml (letters, digits, '-', '_'); got '${s}'`);
      return undefined;
    }
    return s;
  }

  private operation(v: unknown, path: string): { connection: string; action: string } | undefined {
    const s = this.requiredString(v, path, "'wecom.approval.start'");
    if (s === undefined) return undefined;
    const m = OPERATION_REF.exec(s);
    if (!m) {
      this.problem(path, `must be '<connection>.<operation>', e.g. 'wecom.approval.start'; got '${s}'`);
      return undefined;
    }
    return { connection: m[1], action: m[2] };
  }

  /** A field that is always an expression: the leading `=` is optional; true/false are allowed. */
  private expression(v: unknown, path: string, required: boolean, example: string): string | undefined {
    if (!present(v)) {
      if (required) this.problem(path, `is required: an expression such as '${example}'`);
      return undefined;
    }
    if (typeof v === 'boolean') return `=${v}`;
    if (typeof v !== 'string' || v.trim() === '' || v.trim() === '=') {
      this.problem(path, `must be an expression such as '${example}'; got ${typeOf(v)}`);
      return undefined;
    }
    return v.startsWith('=') ? v : `=${v}`;
  }

  private duration(v: unknown, path: string, min = 1): number | undefined {
    try {
      const ms = parseDuration(v as string | number);
      if (ms >= min) return ms;
      this.problem(path, min <= 1 ? 'must be longer than 0' : `must be at least ${formatDuration(min)}`);
    } catch (err) {
      this.problem(path, (err as Error).message);
    }
    return undefined;
  }

  private retry(v: unknown, path: string, base: RetryPolicy): RetryPolicy {
    const { policy, problems } = retryPolicyProblems(present(v) ? v : undefined, path, base);
    this.problems.push(...problems);
    return policy;
  }

  /** A template: any value; expressions inside are compiled by check.ts. */
  private template(v: unknown, path: string, what: string): Record<string, unknown> | undefined {
    if (!present(v)) return {};
    if (isMapping(v)) return v;
    this.problem(path, `must be a mapping of ${what}; got ${typeOf(v)}`);
    return undefined;
  }

  /**
   * A value taken literally (vars, trigger params, value tables): a leading `=` would silently not be
   * evaluated, so it is an error; `==` stands for a literal `=`.
   */
  private literal(v: unknown, path: string): unknown {
    if (typeof v === 'string') {
      if (v.startsWith('==')) return v.slice(1);
      if (v.startsWith('=')) {
        this.problem(path, `expressions are not evaluated here; write '=${v}' for text that starts with '='`);
      }
      return v;
    }
    if (Array.isArray(v)) return v.map((item, i) => this.literal(item, join(path, i)));
    if (isMapping(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = this.literal(item, join(path, k));
      return out;
    }
    return v;
  }

  private params(v: unknown, path: string): Record<string, unknown> {
    if (!present(v)) return {};
    if (!isMapping(v)) {
      this.problem(path, `must be a mapping of the trigger's parameters; got ${typeOf(v)}`);
      return {};
    }
    return this.literal(v, path) as Record<string, unknown>;
  }

  private trigger(raw: unknown): TriggerDef | undefined {
    const path = 'trigger';
    if (!isMapping(raw)) {
      this.problem(path, `must be a mapping with a type (${TRIGGER_TYPES.join(', ')}); got ${typeOf(raw)}`);
      return undefined;
    }
    const type = raw.type;
    if (!present(type)) {
      this.problem(join(path, 'type'), `is required: one of ${oneOf(TRIGGER_TYPES)}`);
      return undefined;
    }
    if (typeof type !== 'string' || !(TRIGGER_TYPES as readonly string[]).includes(type)) {
      const shown = typeof type === 'string' ? `'${type}'` : typeOf(type);
      const hint = typeof type === 'string' ? didYouMean(type, TRIGGER_TYPES) : '';
      this.problem(join(path, 'type'), `unknown trigger type ${shown}; use ${oneOf(TRIGGER_TYPES)}${hint}`);
      return undefined;
    }
    const t = type as TriggerDef['type'];
    const allowed = ['type', ...TRIGGER_FIELDS[t]];
    for (const key of Object.keys(raw)) {
      if (allowed.includes(key)) continue;
      const owners = TRIGGER_TYPES.filter((other) => TRIGGER_FIELDS[other].includes(key));
      if (owners.length > 0) {
        this.problem(
          path,
          `unknown field '${key}'; only ${owners.join(', ')} triggers take it`,
          join(path, key),
        );
      } else {
        this.problems.push(unknownField(path, key, allowed));
      }
    }
    const before = this.problems.length;
    const bound = () => {
      const connection = this.connection(raw.connection, join(path, 'connection'));
      const trigger = this.requiredString(raw.trigger, join(path, 'trigger'), "'opportunity.changed'");
      const params = this.params(raw.params, join(path, 'params'));
      return { connection: connection!, trigger: trigger!, params };
    };
    let out: TriggerDef;
    switch (t) {
      case 'poll': {
        const b = bound();
        const intervalMs = present(raw.every)
          ? (this.duration(raw.every, join(path, 'every'), MIN_POLL_INTERVAL_MS) ?? DEFAULT_POLL_INTERVAL_MS)
          : DEFAULT_POLL_INTERVAL_MS;
        out = { type: 'poll', ...b, intervalMs };
        const source = this.source(raw.source);
        if (source) out.source = source;
        break;
      }
      case 'event': {
        out = { type: 'event', ...bound() };
        const source = this.source(raw.source);
        if (source) out.source = source;
        break;
      }
      case 'chat':
      case 'file':
        out = { type: t, ...bound() };
        break;
      case 'schedule':
        out = this.schedule(raw);
        break;
      case 'manual':
        out = { type: 'manual' };
        break;
      case 'webhook': {
        out = { type: 'webhook' };
        if (present(raw.secret)) {
          if (typeof raw.secret === 'string' && raw.secret !== '') out.secret = raw.secret;
          else this.problem(join(path, 'secret'), `must be text; got ${typeOf(raw.secret)}`);
        }
        const source = this.source(raw.source);
        if (source) out.source = source;
        break;
      }
    }
    return this.problems.length > before ? undefined : out;
  }

  private schedule(raw: Mapping): TriggerDef {
    const cronPath = 'trigger.cron';
    const cron = this.requiredString(raw.cron, cronPath, "'0 9 * * 1-5' (09:00 on weekdays)");
    let timezone: string | undefined;
    if (present(raw.timezone)) {
      if (typeof raw.timezone === 'string' && validTimezone(raw.timezone)) timezone = raw.timezone;
      else
        this.problem(
          'trigger.timezone',
          `must be an IANA time zone such as 'Asia/Shanghai'; got ${typeOf(raw.timezone)}`,
        );
    }
    if (cron !== undefined) {
      const fields = cron.split(/\s+/).length;
      if (!cron.startsWith('@') && fields !== 5 && fields !== 6) {
        this.problem(
          cronPath,
          `must have 5 fields (minute hour day month weekday) or 6 (seconds first); got ${fields}`,
        );
      } else {
        try {
          CronExpressionParser.parse(cron, timezone ? { tz: timezone } : {});
        } catch (err) {
          this.problem(cronPath, `invalid cron expression '${cron}': ${(err as Error).message}`);
        }
      }
    }
    const out: TriggerDef = { type: 'schedule', cron: cron ?? '' };
    if (timezone) out.timezone = timezone;
    return out;
  }

  private source(v: unknown): SourceDef | undefined {
    const path = 'trigger.source';
    if (!present(v)) return undefined;
    if (!isMapping(v)) {
      this.problem(path, `must be a mapping { object, id }; got ${typeOf(v)}`);
      return undefined;
    }
    this.fields(v, path, SOURCE_FIELDS);
    const object = this.requiredString(v.object, join(path, 'object'), "'opportunity'");
    const id = this.expression(v.id, join(path, 'id'), true, '=event.id');
    return object && id ? { object, id } : undefined;
  }

  private steps(v: unknown, flowRetry: RetryPolicy): StepDef[] | undefined {
    if (!present(v)) return this.missing('steps', 'steps');
    if (!Array.isArray(v)) {
      this.problem('steps', `must be a list of steps; got ${typeOf(v)}`);
      return undefined;
    }
    if (v.length === 0) {
      this.problem('steps', 'must have at least one step');
      return undefined;
    }
    const steps = v.map((raw, i) => this.step(raw, `steps[${i}]`, flowRetry));
    return steps.every((s) => s !== undefined) ? (steps as StepDef[]) : undefined;
  }

  private step(raw: unknown, path: string, flowRetry: RetryPolicy): StepDef | undefined {
    if (!isMapping(raw)) {
      this.problem(
        path,
        `must be a mapping with an id and one of ${STEP_KINDS.join(', ')}; got ${typeOf(raw)}`,
      );
      return undefined;
    }
    const before = this.problems.length;
    const kinds = STEP_KINDS.filter((k) => k in raw);
    const kind = kinds[0];
    if (kinds.length > 1) {
      this.problem(
        path,
        `a step does one thing; this one has ${oneOf(kinds).replace(' or ', ' and ')}`,
        join(path, kinds[1]),
      );
    }
    const allowed = [...COMMON_STEP_FIELDS, ...(kind ? [kind, ...STEP_FIELDS[kind]] : [])];
    // A misspelt kind (`acton`) is already reported with its correction; no need to say it is missing.
    let misspeltKind = false;
    for (const key of Object.keys(raw)) {
      if (allowed.includes(key) || (STEP_KINDS as readonly string[]).includes(key)) continue;
      const owners = STEP_KINDS.filter((k) => STEP_FIELDS[k].includes(key));
      if (owners.length > 0) {
        this.problem(
          path,
          `unknown field '${key}'${kind ? ` in a ${kind} step` : ''}; only ${owners.join(' and ')} steps take it`,
          join(path, key),
        );
      } else {
        const p = unknownField(path, key, [...allowed, ...STEP_KINDS]);
        if (!kind && STEP_KINDS.some((k) => p.message.endsWith(`did you mean '${k}'?`))) misspeltKind = true;
        this.problems.push(p);
      }
    }
    const id = this.id(
      raw.id,
      join(path, 'id'),
      STEP_ID,
      "a letter, then letters, digits, '_' or '-', e.g. pick",
    );
    if (!kind) {
      if (!misspeltKind) this.problem(path, `a step needs one of ${STEP_KINDS.join(', ')}`);
      return undefined;
    }
    const cond = this.expression(raw.if, join(path, 'if'), false, '=amount > 0');
    const retry = this.retry(raw.retry, join(path, 'retry'), flowRetry);
    const base = { id: id!, retry, ...(cond !== undefined ? { if: cond } : {}) };
    const step = this.stepBody(kind, raw, path, base);
    return this.problems.length > before ? undefined : step;
  }

  private stepBody(
    kind: StepKind,
    raw: Mapping,
    path: string,
    base: { id: string; retry: RetryPolicy; if?: string },
  ): StepDef | undefined {
    const at = join(path, kind);
    switch (kind) {
      case 'map': {
        const map = raw.map;
        if (!isMapping(map)) {
          this.problem(at, `must be a mapping of output fields to values or expressions; got ${typeOf(map)}`);
          return undefined;
        }
        const step: StepDef = { kind, ...base, map };
        if (present(raw.tables)) {
          const tables = this.tables(raw.tables, join(path, 'tables'));
          if (tables) step.tables = tables;
        }
        return step;
      }
      case 'filter': {
        const filter = this.expression(raw.filter, at, true, '=stage = "won"');
        return filter === undefined ? undefined : { kind, ...base, filter };
      }
      case 'lookup': {
        const lookup = this.lookup(raw.lookup, at);
        let required = true;
        if (present(raw.required)) {
          if (typeof raw.required === 'boolean') required = raw.required;
          else this.problem(join(path, 'required'), `must be true or false; got ${typeOf(raw.required)}`);
        }
        return lookup ? { kind, ...base, lookup, required } : undefined;
      }
      case 'route': {
        const { route, problems } = checkRoute(raw.route, at);
        this.problems.push(...problems);
        return route ? { kind, ...base, route } : undefined;
      }
      case 'action':
      case 'notify': {
        const op = this.operation(raw[kind], at);
        const input = this.template(raw.input, join(path, 'input'), "the operation's input fields");
        const suppress = present(raw.suppress)
          ? this.suppress(raw.suppress, join(path, 'suppress'))
          : undefined;
        if (!op || !input) return undefined;
        const step: ActionStep | NotifyStep = {
          kind,
          ...base,
          connection: op.connection,
          action: op.action,
          input,
        };
        if (suppress) step.suppress = suppress;
        return step;
      }
      case 'wait': {
        const wait = this.wait(raw.wait, at);
        return wait ? { kind, ...base, wait } : undefined;
      }
    }
  }

  private tables(v: unknown, path: string): Record<string, Record<string, unknown>> | undefined {
    if (!isMapping(v)) {
      this.problem(path, `must be a mapping of table names to { value: result } mappings; got ${typeOf(v)}`);
      return undefined;
    }
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, table] of Object.entries(v)) {
      if (!isMapping(table)) {
        this.problem(
          join(path, name),
          `must be a mapping of values to results, e.g. { 制造业: HY01 }; got ${typeOf(table)}`,
        );
        continue;
      }
      out[name] = this.literal(table, join(path, name)) as Record<string, unknown>;
    }
    return out;
  }

  private lookup(v: unknown, path: string): LookupStep['lookup'] | undefined {
    if (!isMapping(v)) {
      this.problem(path, `must be { link: { connection, object } } or { action, input }; got ${typeOf(v)}`);
      return undefined;
    }
    this.fields(v, path, LOOKUP_FIELDS);
    if (present(v.link) && present(v.action)) {
      this.problem(path, 'use either link (the id map) or action (a query), not both', join(path, 'action'));
      return undefined;
    }
    if (present(v.link)) {
      if (present(v.input))
        this.problem(path, 'input belongs to an action lookup, not a link lookup', join(path, 'input'));
      const linkPath = join(path, 'link');
      if (!isMapping(v.link)) {
        this.problem(linkPath, `must be a mapping { connection, object }; got ${typeOf(v.link)}`);
        return undefined;
      }
      this.fields(v.link, linkPath, LINK_FIELDS);
      const connection = this.connection(v.link.connection, join(linkPath, 'connection'));
      const object = this.requiredString(v.link.object, join(linkPath, 'object'), "'BD_Customer'");
      return connection && object ? { link: { connection, object } } : undefined;
    }
    if (present(v.action)) {
      const op = this.operation(v.action, join(path, 'action'));
      const input = this.template(v.input, join(path, 'input'), "the query's input fields");
      return op && input ? { connection: op.connection, action: op.action, input } : undefined;
    }
    this.problem(path, 'needs link (find through the id map) or action (call a query)');
    return undefined;
  }

  /** `suppress: { key, window, count?, summary }` of an action, a notify or a wait timer. */
  private suppress(v: unknown, path: string): SuppressDef | undefined {
    if (!isMapping(v)) {
      this.problem(path, `must be a mapping { key, window, count?, summary }; got ${typeOf(v)}`);
      return undefined;
    }
    const before = this.problems.length;
    this.fields(v, path, SUPPRESS_FIELDS);
    let key: string | undefined;
    if (typeof v.key === 'number') key = String(v.key);
    else key = this.requiredString(v.key, join(path, 'key'), "'dead-letters' or '=\"stock:\" & item'");
    let windowMs: number | undefined;
    if (present(v.window)) windowMs = this.duration(v.window, join(path, 'window'), MIN_SUPPRESS_WINDOW_MS);
    else this.problem(join(path, 'window'), 'is required: how long one message stands for its key, e.g. 30m');
    let count: number | string | undefined;
    if (present(v.count)) {
      if (typeof v.count === 'number' && Number.isInteger(v.count) && v.count > 0) count = v.count;
      else if (isExpression(v.count)) count = v.count as string;
      else
        this.problem(
          join(path, 'count'),
          `must be a whole number above 0 or an expression such as '=$count(steps.found.items)'; got ${typeOf(v.count)}`,
        );
    }
    let summary: Record<string, unknown> | undefined;
    if (!present(v.summary)) {
      this.problem(
        join(path, 'summary'),
        "is required: the operation's input for the one message that sums up what was held back",
      );
    } else {
      summary = this.template(v.summary, join(path, 'summary'), "the operation's input fields");
    }
    if (this.problems.length > before || !key || windowMs === undefined || !summary) return undefined;
    const out: SuppressDef = { key, windowMs, summary };
    if (count !== undefined) out.count = count;
    return out;
  }

  private wait(v: unknown, path: string): WaitStep['wait'] | undefined {
    if (!isMapping(v)) {
      this.problem(path, `must be a mapping with connection, event and correlation; got ${typeOf(v)}`);
      return undefined;
    }
    const before = this.problems.length;
    this.fields(v, path, WAIT_FIELDS);
    const connection = this.connection(v.connection, join(path, 'connection'));
    const event = this.requiredString(v.event, join(path, 'event'), "'approval.change'");
    const correlation = this.expression(v.correlation, join(path, 'correlation'), true, '=steps.start.spNo');
    const until = this.expression(v.until, join(path, 'until'), false, '=event.status != "pending"');
    const timeoutMs = present(v.timeout) ? this.duration(v.timeout, join(path, 'timeout')) : undefined;
    let onTimeout: 'fail' | 'continue' = 'fail';
    if (present(v.onTimeout)) {
      if (v.onTimeout === 'fail' || v.onTimeout === 'continue') onTimeout = v.onTimeout;
      else this.problem(join(path, 'onTimeout'), `must be 'fail' or 'continue'; got ${typeOf(v.onTimeout)}`);
    }
    const timers: WaitStep['wait']['timers'] = [];
    if (present(v.timers)) {
      const timersPath = join(path, 'timers');
      if (!Array.isArray(v.timers)) {
        this.problem(timersPath, `must be a list of { after, action, input }; got ${typeOf(v.timers)}`);
      } else {
        v.timers.forEach((t, i) => {
          const tp = join(timersPath, i);
          if (!isMapping(t)) {
            this.problem(tp, `must be a mapping { after, action, input }; got ${typeOf(t)}`);
            return;
          }
          this.fields(t, tp, TIMER_FIELDS);
          let afterMs: number | undefined;
          if (present(t.after)) afterMs = this.duration(t.after, join(tp, 'after'));
          else this.problem(join(tp, 'after'), 'is required: how long after the wait starts, e.g. 4h');
          const op = this.operation(t.action, join(tp, 'action'));
          const input = this.template(t.input, join(tp, 'input'), "the operation's input fields");
          const suppress = present(t.suppress) ? this.suppress(t.suppress, join(tp, 'suppress')) : undefined;
          if (afterMs !== undefined && timeoutMs !== undefined && afterMs > timeoutMs) {
            this.problem(
              join(tp, 'after'),
              `fires after the wait has timed out (${formatDuration(afterMs)} > timeout ${formatDuration(timeoutMs)})`,
            );
          }
          if (afterMs !== undefined && op && input)
            timers.push({
              afterMs,
              connection: op.connection,
              action: op.action,
              input,
              ...(suppress ? { suppress } : {}),
            });
        });
      }
    }
    if (this.problems.length > before || !connection || !event || !correlation) return undefined;
    const wait: WaitStep['wait'] = { connection, event, correlation, onTimeout, timers };
    if (until !== undefined) wait.until = until;
    if (timeoutMs !== undefined) wait.timeoutMs = timeoutMs;
    return wait;
  }
}

function validTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
