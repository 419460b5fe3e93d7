/**
 * The connector contract: what every system Qiao talks to (Kingdee, Neocrm, WeCom, DingTalk, http,
 * file) provides. The engine only ever sees this interface; `src/connectors/conformance.ts` is the
 * one test suite every connector passes against its sandbox.
 *
 * A connector folder always has the same files (STYLE.md): `client.ts` (auth, calls, the partner's
 * error table), `actions.ts`, `triggers.ts`, `schema.ts`, `index.ts` (the descriptor below).
 */
import type { z } from 'zod';
import type { Logger } from './logger.ts';

/** Documented partner limits, as data. The engine enforces them per connection. */
export interface ConnectionLimits {
  /** Token bucket: sustained calls per second and the burst allowed. */
  rate?: { perSecond: number; burst?: number };
  /** At most this many calls in flight on one connection. */
  concurrency?: number;
  /** Circuit breaker: open after `failures` consecutive transient failures, probe after `resetMs`. */
  breaker?: { failures: number; resetMs: number };
}

export interface ConnectorDescriptor<S = any> {
  /** Connection `type` in qiao.yaml, e.g. `kingdee`. Lower-case, kebab-case. */
  type: string;
  title: { 'zh-CN': string; en: string };
  /** Validates a connection's settings (after `${ENV}` substitution and secret decryption). */
  settings: z.ZodType<S>;
  /** Setting keys holding secrets: encrypted at rest, masked in the API, scrubbed from errors. */
  secretFields: readonly string[];
  /** Default limits from the partner's documentation; a connection may override them. */
  limits: ConnectionLimits;
  create(ctx: ConnectorContext<S>): Connector;
}

export interface ConnectorContext<S = any> {
  connectionId: string;
  settings: S;
  log: Logger;
}

export interface Connector {
  /** "Test connection": authenticate and make one cheap read. Throws a QiaoError on failure. */
  check(): Promise<CheckResult>;
  actions: Record<string, ActionSpec>;
  triggers: Record<string, TriggerSpec>;
  /** Objects and fields known statically, for flow validation and the console's field picker. */
  schema: ConnectorSchema;
  /** Refreshes the schema from the partner (e.g. Neocrm `describe`), where it has one. */
  describe?(): Promise<ConnectorSchema>;
  /**
   * HTTP callbacks the partner sends, mounted at `/hooks/{type}/{connectionId}{path}`. The server
   * stores the returned events in the inbox *before* it answers, so an acknowledged event is never lost.
   */
  hooks?: HookSpec[];
  /**
   * The reconciler's question for waits whose callback never came: "what is the state of these?"
   * The engine passes the correlation keys (e.g. WeCom `SpNo`, DingTalk `processInstanceId`) of runs
   * still waiting for `eventType` on this connection, and stores the returned events like callbacks
   * (same keys, so a late callback and a reconciled event dedupe). Return final states only.
   */
  reconcile?(eventType: string, correlations: string[], signal?: AbortSignal): Promise<InboundEvent[]>;
  /** Long-lived ingress the connector opens itself (DingTalk Stream mode). */
  ingress?: IngressSpec;
  close?(): Promise<void>;
}

export interface CheckResult {
  ok: true;
  /** Human-readable detail, e.g. the data centre name or the corp name. */
  detail?: string;
}

export interface ActionSpec<I = any> {
  description: string;
  /** Validates the step's input after mapping; flow validation also uses it for static inputs. */
  input: z.ZodType<I>;
  /**
   * For flow validation: which object and field names a (static) input writes, so `qiao flow validate`
   * can reject a field the connector's schema does not know.
   */
  fieldsOf?(input: Record<string, unknown>): { object: string; fields: string[] } | undefined;
  run(input: I, ctx: ActionContext): Promise<ActionResult>;
}

export interface ActionContext {
  /** Stable across retries and replays of the same step: use it to make effects idempotent. */
  idempotencyKey: string;
  attempt: number;
  /**
   * The link of the record this run is about (the id map's group id), when the flow declares its
   * trigger's source record. `links.find(object, linkKey)` answers "do we already have this record
   * over here?", which is how an upsert finds before it creates.
   */
  linkKey?: string;
  /** Id links already known, for "find by id link, else create". */
  links: LinkReader;
  signal: AbortSignal;
  log: Logger;
}

export interface LinkReader {
  /** The id this connection has for the given link key (e.g. the source record's link), if any. */
  find(object: string, linkKey: string): Promise<string | undefined>;
}

export interface ActionResult {
  output: unknown;
  /** Ids this action created or touched; written to the id map in the step's commit. */
  links?: Array<{ object: string; id: string }>;
}

export type TriggerSpec = PollTriggerSpec | EventTriggerSpec;

/**
 * A cursor for incremental reads: (modified time, id), compared in that order. `time` must sort as a
 * string: ISO 8601 UTC (`2026-03-10T08:00:00.000Z`) or epoch milliseconds zero-padded to 13 digits.
 */
export interface Cursor {
  time: string;
  id: string;
}

export interface PolledRecord {
  /** Stable inbox key for this version of the record, e.g. `${id}@${modifiedTime}`. */
  key: string;
  data: unknown;
  cursor: Cursor;
}

export interface PollPage {
  records: PolledRecord[];
  /** Where the next call starts; the engine stores it only after the records are in the inbox. */
  cursor: Cursor | null;
  /** True when another page is ready now (no need to wait for the next interval). */
  more: boolean;
}

export interface PollTriggerSpec<P = any> {
  kind: 'poll';
  description: string;
  params: z.ZodType<P>;
  poll(params: P, cursor: Cursor | null, ctx: { signal: AbortSignal; log: Logger }): Promise<PollPage>;
}

/** An event that arrives by callback, Stream or chat, matched to flows by `type` and params. */
export interface EventTriggerSpec<P = any> {
  kind: 'event';
  description: string;
  /** Event type this trigger listens to, as set on InboundEvent.type. */
  eventType: string;
  params: z.ZodType<P>;
  /** Whether an event of this type starts a run of a flow with these params. */
  matches?(event: InboundEvent, params: P): boolean;
  /**
   * Other event types of the connector whose waits hear this trigger's events too (same correlation;
   * the wait's `until` decides). For ends a partner reports only one level up: a DingTalk approval
   * revoked or deleted ends its open tasks with an instance event and no task event (spec §9).
   */
  alsoResumes?: readonly string[];
}

/** The event types whose waits an event of `type` can resume: its own, and its trigger's `alsoResumes`. */
export function typesResumedBy(connector: Connector | undefined, type: string): string[] {
  const out = new Set([type]);
  for (const t of Object.values(connector?.triggers ?? {}))
    if (t.kind === 'event' && t.eventType === type) for (const r of t.alsoResumes ?? []) out.add(r);
  return [...out];
}

/** The event types a wait on `type` hears: its own, and those whose triggers say they also resume it. */
export function typesHeardBy(connector: Connector | undefined, type: string): string[] {
  const out = new Set([type]);
  for (const t of Object.values(connector?.triggers ?? {}))
    if (t.kind === 'event' && t.alsoResumes?.includes(type)) out.add(t.eventType);
  return [...out];
}

export interface InboundEvent {
  /** Stable dedupe key: the partner's event id, or a hash of what identifies this change. */
  key: string;
  /** e.g. `approval.change`, `chat.message`, `card.click`. */
  type: string;
  /** Correlation key that may resume a waiting run, e.g. WeCom `SpNo`. */
  correlation?: string;
  data: unknown;
}

export interface HookRequest {
  method: string;
  /** Path after `/hooks/{type}/{connectionId}`, '' for the root. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}

export interface HookResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Events to store in the inbox before the response is sent. */
  events?: InboundEvent[];
}

export interface HookSpec {
  method: 'GET' | 'POST';
  /** '' or a sub-path such as '/robot'. */
  path: string;
  handle(req: HookRequest): Promise<HookResponse>;
}

export interface IngressSpec {
  /**
   * Opens the long-lived connection. `deliver` resolves once the events are durably in the inbox;
   * only then may the connector acknowledge them to the partner.
   */
  start(deliver: (events: InboundEvent[]) => Promise<void>): Promise<{ stop(): Promise<void> }>;
}

export type FieldType =
  | 'string'
  | 'number'
  | 'integer'
  | 'boolean'
  | 'date'
  | 'datetime'
  | 'ref'
  | 'object'
  | 'array';

export interface FieldSchema {
  type: FieldType;
  label?: string;
  required?: boolean;
  /** For `ref`: the object referenced, e.g. Kingdee base data `BD_Customer` (sent as `{"FNumber": …}`). */
  ref?: string;
  /** Allowed values for picklists. */
  options?: Array<{ value: string | number; label?: string }>;
  /** For `array` of objects (e.g. order entries): the entry's fields. */
  fields?: Record<string, FieldSchema>;
}

export interface ObjectSchema {
  label?: string;
  /** The field holding the partner's id (e.g. `FID`, `id`). */
  idField?: string;
  /** A unique business key (e.g. `FNumber`, `FBillNo`), used to find before create. */
  numberField?: string;
  fields: Record<string, FieldSchema>;
}

export interface ConnectorSchema {
  objects: Record<string, ObjectSchema>;
}
