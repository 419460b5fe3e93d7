/**
 * A flow (集成方案) once parsed and validated: the shape `src/flow/` produces from YAML and the engine
 * runs. Documented for users in docs/flows.md.
 *
 * Expressions: any string value that starts with `=` is a JSONata expression (`=amount * 1.13`);
 * `==` at the start escapes a literal `=`. Expressions see the run's context:
 *   { event, steps: { <stepId>: output }, last, vars, run: { id, flowId, linkKey } }
 * where `event` is the trigger's record or event data and `last` the previous step's output.
 */
export interface FlowDef {
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  trigger: TriggerDef;
  /** Values any expression can read as `vars.x`. */
  vars: Record<string, unknown>;
  /**
   * Expression over the trigger event giving the run's serial key: runs of this flow with the same key
   * run one at a time, in the order their events arrived (docs/flows.md, "Serial runs").
   */
  serialize?: string;
  steps: StepDef[];
  /** Where the definition came from (file path), for error messages. */
  source?: string;
}

export type TriggerDef =
  | {
      type: 'poll';
      connection: string;
      trigger: string;
      params: Record<string, unknown>;
      intervalMs: number;
      source?: SourceDef;
    }
  | {
      type: 'event';
      connection: string;
      trigger: string;
      params: Record<string, unknown>;
      source?: SourceDef;
    }
  | { type: 'schedule'; cron: string; timezone?: string }
  | { type: 'manual' }
  | { type: 'webhook'; secret?: string; source?: SourceDef }
  | { type: 'chat'; connection: string; trigger: string; params: Record<string, unknown> }
  | { type: 'file'; connection: string; trigger: string; params: Record<string, unknown> };

/**
 * Which record a run is about: the id map links it (`(connection, object, id) ↔ link`) so later
 * writes find before they create. `id` is an expression over `event`.
 */
export interface SourceDef {
  object: string;
  id: string;
}

export interface RetryPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  maximumAttempts: number;
  /** Error classes never retried (permanent always is). */
  nonRetryable: Array<'transient' | 'rate_limited' | 'auth_expired'>;
}

export const DEFAULT_RETRY: RetryPolicy = {
  initialIntervalMs: 1_000,
  backoffCoefficient: 2,
  maximumIntervalMs: 5 * 60_000,
  maximumAttempts: 8,
  nonRetryable: [],
};

interface StepBase {
  id: string;
  /** Expression; when false the step is skipped (its output is null). */
  if?: string;
  retry: RetryPolicy;
}

/** Builds an object from expressions; value tables are readable as `$table('name', value)`. */
export interface MapStep extends StepBase {
  kind: 'map';
  map: Record<string, unknown>;
  tables?: Record<string, Record<string, unknown>>;
}

/** Ends the run as `filtered` when the expression is false. */
export interface FilterStep extends StepBase {
  kind: 'filter';
  filter: string;
}

/** Finds an id through the id map, or by calling a connector query action. */
export interface LookupStep extends StepBase {
  kind: 'lookup';
  lookup:
    | { link: { connection: string; object: string } }
    | { connection: string; action: string; input: Record<string, unknown> };
  /** When nothing is found: fail the step (default) or output null. */
  required: boolean;
}

/**
 * A rule table: the first row whose every condition holds wins; its `then` is the output.
 * A condition is a literal (equality), a list (one of), a comparison string (`>= 100000`,
 * `< 5`, `between 1 and 9`) or an expression (`=…`) evaluated with `value` bound.
 */
export interface RouteStep extends StepBase {
  kind: 'route';
  route: {
    input: Record<string, string>;
    rows: Array<{ when: Record<string, unknown>; then: Record<string, unknown> }>;
    default?: Record<string, unknown>;
  };
}

/**
 * Alert suppression (docs/flows.md, "Suppression"): the first message of a key is sent and opens a
 * window; the others of that key are held back until it ends, then `summary` (an input of the same
 * operation, which also reads `suppressed`) is sent once for them. Windows live in the store.
 */
export interface SuppressDef {
  /** Text or expression: what makes messages "the same". */
  key: string;
  windowMs: number;
  /** Number or expression: how many alerts this message stands for. Default 1. */
  count?: number | string;
  /** The input of the same operation for the summary: a template that also sees `suppressed`. */
  summary: Record<string, unknown>;
}

/** Calls a connector action: `connection.operation`. */
export interface ActionStep extends StepBase {
  kind: 'action';
  connection: string;
  action: string;
  input: Record<string, unknown>;
  suppress?: SuppressDef;
}

/** Waits for an external event with a correlation key, with a timeout and timers. */
export interface WaitStep extends StepBase {
  kind: 'wait';
  wait: {
    connection: string;
    /** Event type, e.g. `approval.change`. */
    event: string;
    /** Expression giving the correlation key, e.g. `=steps.start.spNo`. */
    correlation: string;
    /** Expression over `event`: resume only when true (e.g. a final status); otherwise keep waiting. */
    until?: string;
    timeoutMs?: number;
    onTimeout: 'fail' | 'continue';
    /** Actions fired once each while still waiting (reminders, escalations). */
    timers: WaitTimer[];
  };
}

/** An action a wait fires once, `afterMs` after it started, if still waiting. */
export interface WaitTimer {
  afterMs: number;
  connection: string;
  action: string;
  input: Record<string, unknown>;
  suppress?: SuppressDef;
}

/** A best-effort message: a failure is dead-lettered but never fails the run. */
export interface NotifyStep extends StepBase {
  kind: 'notify';
  connection: string;
  action: string;
  input: Record<string, unknown>;
  suppress?: SuppressDef;
}

export type StepDef = MapStep | FilterStep | LookupStep | RouteStep | ActionStep | WaitStep | NotifyStep;
export type StepKind = StepDef['kind'];
