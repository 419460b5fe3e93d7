/**
 * The Store: everything Qiao keeps, behind one interface with two implementations over the same SQL
 * (`sql-store.ts` on `node:sqlite` or PostgreSQL). Every method that changes more than one row is one
 * transaction, so the engine's guarantees (DESIGN.md, "Effectively once") hold on both databases.
 */
import type { ConnectionLimits, Cursor } from '../core/connector.ts';
import type { SerializedError } from '../core/errors.ts';
import type { FlowDef, StepKind } from '../core/flow.ts';

export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'filtered' | 'cancelled';
/** `blocked`: the first step of a run waiting its turn for its serial key (see `NewRun.serialKey`). */
export type StepStatus = 'queued' | 'blocked' | 'running' | 'waiting' | 'completed' | 'skipped' | 'dead';

export interface ConnectionRow {
  id: string;
  type: string;
  /** Settings with secret fields sealed (see secret-box.ts). */
  settings: Record<string, unknown>;
  limits?: ConnectionLimits;
  /** `config` when it comes from qiao.yaml (re-applied at start), `api` when created through the API. */
  origin: 'config' | 'api';
  version: number;
  updatedAt: number;
}

export interface FlowRow {
  id: string;
  definition: FlowDef;
  yaml?: string;
  origin: 'config' | 'api';
  enabled: boolean;
  version: number;
  updatedAt: number;
}

export interface RunRow {
  id: string;
  flowId: string;
  flowVersion: number;
  status: RunStatus;
  eventSource?: string;
  eventKey?: string;
  linkKey?: string;
  /** The flow's serial key for this run (runs with the same key take turns). */
  serialKey?: string;
  event: unknown;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  error?: SerializedError;
}

export interface AttemptRecord {
  attempt: number;
  at: number;
  durationMs: number;
  outcome: 'completed' | 'retry' | 'dead' | 'waiting' | 'skipped';
  error?: SerializedError;
}

export interface StepRow {
  id: string;
  runId: string;
  idx: number;
  name: string;
  kind: StepKind;
  status: StepStatus;
  attempt: number;
  availableAt: number;
  leaseOwner?: string;
  leaseUntil?: number;
  idempotencyKey: string;
  input?: unknown;
  output?: unknown;
  error?: SerializedError;
  history: AttemptRecord[];
  startedAt?: number;
  finishedAt?: number;
}

export interface NewStep {
  idx: number;
  name: string;
  kind: StepKind;
  /** Default now. */
  availableAt?: number;
}

/** What follows a finished step: the next step, or the end of the run. */
export type NextAction = { step: NewStep } | { finish: RunStatus; error?: SerializedError };

export interface AuditInput {
  actor: string;
  action: string;
  target: string;
  detail?: Record<string, unknown>;
}

export interface AuditRow extends Required<AuditInput> {
  seq: number;
  at: number;
  prevHash: string;
  hash: string;
}

export interface NewRun {
  id: string;
  flowId: string;
  flowVersion: number;
  /** The record the run is about: its link is found or created in the same transaction. */
  source?: { connection: string; object: string; externalId: string };
  /**
   * Runs of a flow with the same serial key run one at a time, in the order they were stored. The run
   * holding the key has it until it ends or waits; a run that resumes takes its turn again.
   */
  serialKey?: string;
  first: NextAction;
}

export interface ResumeWait {
  stepId: string;
  runId: string;
  output: unknown;
  next: NextAction;
}

export interface IngestEvent {
  key: string;
  type: string;
  correlation?: string;
  data: unknown;
  /** Runs this event starts, if it is new. */
  runs: NewRun[];
  /** Waiting steps this event resumes, if it is new. */
  resumes: ResumeWait[];
}

export interface IngestBatch {
  /** Connection id, or `flow:<id>` for webhooks, schedules and manual starts. */
  source: string;
  events: IngestEvent[];
  /** A poll cursor stored in the same transaction as the page's events. */
  cursor?: { flowId: string; cursor: Cursor };
  /** Insert the new runs' first steps already leased to this worker (see `StepCompletion.claimNextFor`). */
  claimFor?: { owner: string; leaseMs: number };
}

export interface IngestOutcome {
  key: string;
  duplicate: boolean;
  runIds: string[];
  resumed: string[];
  /** First steps leased to `claimFor`, for that worker to run now. */
  claimed?: StepRow[];
}

export interface TimerInput {
  id: string;
  dueAt: number;
  kind: 'timeout' | 'timer' | 'schedule' | 'suppress';
  runId?: string;
  stepId?: string;
  payload: unknown;
}

export interface TimerRow extends TimerInput {
  status: 'pending' | 'firing' | 'fired' | 'cancelled';
  attempt: number;
}

export interface LinkInput {
  connection: string;
  object: string;
  externalId: string;
}

export interface StepCompletion {
  stepId: string;
  runId: string;
  owner: string;
  status: 'completed' | 'skipped' | 'waiting';
  input?: unknown;
  output?: unknown;
  attempt: AttemptRecord;
  /** Ids written by the step, joined to the run's link. */
  links?: LinkInput[];
  /** Content hash of what Qiao wrote (echo suppression), stored on the links. */
  contentHash?: string;
  audit?: AuditInput;
  /** For `waiting`: what resumes it. */
  wait?: { connection: string; eventType: string; correlation: string; timers: TimerInput[] };
  /** For completed/skipped: what follows. */
  next?: NextAction;
  /** Insert the next step already leased to this worker, which runs it at once. */
  claimNextFor?: { owner: string; leaseMs: number };
}

export interface StepRetry {
  stepId: string;
  owner: string;
  input?: unknown;
  availableAt: number;
  attempt: AttemptRecord;
  error: SerializedError;
  /** Rate-limit waits do not use up attempts. */
  countAttempt: boolean;
}

export interface StepDeadLetter {
  stepId: string;
  runId: string;
  owner: string;
  flowId: string;
  stepName: string;
  connection?: string;
  action?: string;
  input?: unknown;
  error: SerializedError;
  attempt: AttemptRecord;
  deadLetterId: string;
  /** Notify steps continue the run; others fail it. */
  next: NextAction;
  audit?: AuditInput;
}

export interface DeadLetterRow {
  id: string;
  runId: string;
  stepId: string;
  flowId: string;
  stepName: string;
  connection?: string;
  action?: string;
  input?: unknown;
  error: SerializedError;
  history: AttemptRecord[];
  status: 'open' | 'replayed' | 'discarded';
  createdAt: number;
  updatedAt: number;
}

export interface LinkRow {
  connection: string;
  object: string;
  externalId: string;
  linkId: string;
  flowId?: string;
  runId?: string;
  contentHash?: string;
  createdAt: number;
  updatedAt: number;
}

export interface WaitRow {
  stepId: string;
  runId: string;
  connection: string;
  eventType: string;
  correlation: string;
  createdAt: number;
}

export interface InboxRow {
  source: string;
  key: string;
  type: string;
  correlation?: string;
  data: unknown;
  receivedAt: number;
  duplicates: number;
}

export type AuditVerdict = { ok: true; count: number } | { ok: false; seq: number; reason: string };

/** Where a suppression window's summary is defined: the step (or wait timer) that opened it. */
export interface SuppressOrigin {
  flowId: string;
  flowVersion: number;
  runId: string;
  stepIdx: number;
  /** The wait timer's index, when a wait timer opened it. */
  timer?: number;
}

export interface SuppressRequest {
  /** The connection (and robot) the messages go to: windows of different scopes never meet. */
  scope: string;
  key: string;
  windowMs: number;
  /** Alerts this message stands for (≥ 1). */
  count: number;
  /** The step's (or timer's) idempotency key: asked again, it gets the same decision. */
  idempotencyKey: string;
  /** The message; kept as the window's last when held back, for the summary. */
  message: unknown;
  origin: SuppressOrigin;
}

export interface SuppressDecision {
  /** True: send it (it opened the window); false: held back. */
  send: boolean;
  windowId: string;
  endsAt: number;
  /** Alerts held back in the window so far, this one included. */
  heldBack: number;
}

/** One suppression window: figures of what it held back, for its summary. */
export interface SuppressWindowRow {
  id: string;
  scope: string;
  key: string;
  /** `open` until it ends or its summary is taken; a closed window's figures are final. */
  status: 'open' | 'closed';
  windowMs: number;
  openedAt: number;
  endsAt: number;
  /** Alerts held back (the sum of their counts). */
  suppressed: number;
  /** Messages held back. */
  messages: number;
  firstAt?: number;
  lastAt?: number;
  /** The last message held back. */
  last?: unknown;
  origin: SuppressOrigin;
}

/** Thrown when a step's lease was lost (another worker reclaimed it): the result is discarded. */
export class LeaseLostError extends Error {
  constructor(stepId: string) {
    super(`lease on step ${stepId} was lost`);
    this.name = 'LeaseLostError';
  }
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Calls `fn` when steps or timers may be ready (after this process's commits, or NOTIFY). */
  onWork(fn: () => void): Promise<() => Promise<void>>;

  saveConnection(
    row: Omit<ConnectionRow, 'version' | 'updatedAt'>,
    audit: AuditInput,
  ): Promise<ConnectionRow>;
  getConnection(id: string): Promise<ConnectionRow | undefined>;
  listConnections(): Promise<ConnectionRow[]>;
  deleteConnection(id: string, audit: AuditInput): Promise<boolean>;
  saveFlow(row: Omit<FlowRow, 'version' | 'updatedAt'>, audit: AuditInput): Promise<FlowRow>;
  getFlow(id: string): Promise<FlowRow | undefined>;
  /** The definition a run started with (every saved version is kept). */
  getFlowVersion(id: string, version: number): Promise<FlowDef | undefined>;
  listFlows(): Promise<FlowRow[]>;
  deleteFlow(id: string, audit: AuditInput): Promise<boolean>;

  ingest(batch: IngestBatch): Promise<IngestOutcome[]>;
  getInbox(source: string, key: string): Promise<InboxRow | undefined>;
  /** Events stored for a correlation key, oldest first; with `since`, only those received since then. */
  findInboxByCorrelation(
    source: string,
    type: string,
    correlation: string,
    since?: number,
  ): Promise<InboxRow[]>;
  findWaits(connection: string, eventType: string, correlation: string): Promise<WaitRow[]>;
  /** Waits stored before `createdBefore`, oldest first: what the reconciler asks partners about. */
  listWaits(q: { connection?: string; createdBefore?: number; limit?: number }): Promise<WaitRow[]>;

  claimSteps(owner: string, limit: number, leaseMs: number): Promise<StepRow[]>;
  extendLeases(owner: string, stepIds: string[], leaseMs: number): Promise<void>;
  /** Steps whose lease ran out (a crashed worker) go back to the queue; returns how many. */
  recoverLeases(): Promise<number>;
  /** At start of an embedded (single-process) hub: every running step was this process's, now dead. */
  releaseAllLeases(): Promise<number>;
  /** Returns the next step when it was leased to `claimNextFor`. */
  completeStep(c: StepCompletion): Promise<StepRow | undefined>;
  retryStep(r: StepRetry): Promise<void>;
  deadLetterStep(d: StepDeadLetter): Promise<void>;
  resumeWait(r: ResumeWait): Promise<boolean>;

  /**
   * Alert suppression, atomically (one open window per scope and key, on every worker): the first
   * message of a key opens a window and is sent, with a `suppress` timer due when it ends; the others
   * until then are held back and counted. An idempotency key asked again gets its first decision.
   */
  decideSuppression(r: SuppressRequest): Promise<SuppressDecision>;
  /** Closes a window (its summary is being sent): later messages open a new one. Its final figures. */
  closeSuppressWindow(id: string): Promise<SuppressWindowRow | undefined>;
  /** A window as it stands (diagnostics, tests). */
  getSuppressWindow(id: string): Promise<SuppressWindowRow | undefined>;

  claimTimers(owner: string, limit: number): Promise<TimerRow[]>;
  finishTimer(id: string): Promise<void>;
  rescheduleTimer(id: string, dueAt: number): Promise<void>;
  nextWakeAt(): Promise<number | undefined>;

  getRun(id: string): Promise<{ run: RunRow; steps: StepRow[] } | undefined>;
  listRuns(q: { flowId?: string; status?: RunStatus; limit?: number; before?: number }): Promise<RunRow[]>;

  getDeadLetter(id: string): Promise<DeadLetterRow | undefined>;
  listDeadLetters(q: {
    status?: DeadLetterRow['status'];
    flowId?: string;
    limit?: number;
  }): Promise<DeadLetterRow[]>;
  editDeadLetter(id: string, input: unknown, audit: AuditInput): Promise<DeadLetterRow>;
  replayDeadLetter(id: string, audit: AuditInput): Promise<DeadLetterRow>;
  discardDeadLetter(id: string, audit: AuditInput): Promise<DeadLetterRow>;

  findLinkId(connection: string, object: string, externalId: string): Promise<string | undefined>;
  findExternalId(linkId: string, connection: string, object: string): Promise<string | undefined>;
  findLinks(q: {
    linkId?: string;
    connection?: string;
    object?: string;
    externalId?: string;
    limit?: number;
  }): Promise<LinkRow[]>;

  getCursor(flowId: string): Promise<Cursor | undefined>;

  appendAudit(entries: AuditInput[]): Promise<void>;
  listAudit(q: { afterSeq?: number; limit?: number }): Promise<AuditRow[]>;
  verifyAudit(): Promise<AuditVerdict>;

  addCounter(name: string, by: number): Promise<void>;
  counters(): Promise<Record<string, number>>;
  /** Steps by status, and open dead letters: for /metrics and the console. */
  depth(): Promise<{ steps: Record<string, number>; deadLetters: number; waits: number }>;

  /** Leader election for the scheduler: true while this holder leads. */
  tryLead(name: string, holder: string, ttlMs: number): Promise<boolean>;

  // Two-way sync (src/engine/sync): agreed values per record pair, and the review queue.

  getSyncState(pair: string, key: string): Promise<SyncStateRow | undefined>;
  /** Stores the values a pair agreed on (a new version). */
  saveSyncState(s: Omit<SyncStateRow, 'version' | 'updatedAt'>): Promise<SyncStateRow>;
  /**
   * Opens a review for a pair, unless one is open already: then that one comes back with
   * `created: false` (both directions of a sync meet in one review).
   */
  openReview(
    r: Omit<ReviewRow, 'status' | 'createdAt' | 'updatedAt' | 'resolution' | 'resolvedBy' | 'resolvedAt'>,
    audit?: AuditInput,
  ): Promise<{ review: ReviewRow; created: boolean }>;
  /** Replaces an open review's detail (a later change joined it); false when it is not open. */
  updateReview(id: string, detail: Record<string, unknown>): Promise<boolean>;
  getReview(id: string): Promise<ReviewRow | undefined>;
  /** Reviews, newest first. */
  listReviews(q: {
    status?: ReviewStatus;
    pair?: string;
    key?: string;
    ids?: string[];
    limit?: number;
  }): Promise<ReviewRow[]>;
  /**
   * Resolves an open review, once: NotFoundError when it does not exist, ValidationError when it is
   * not open any more. The resolution and the audit row commit together.
   */
  resolveReview(
    id: string,
    r: { resolution: Record<string, unknown>; by: string },
    audit: AuditInput,
  ): Promise<ReviewRow>;
}

/** The values both systems of a synced record pair held after the last sync (src/engine/sync). */
export interface SyncStateRow {
  /** The sync pair, e.g. `customer` (Neocrm account ⇄ Kingdee BD_Customer). */
  pair: string;
  /** The record's key within the pair, e.g. the customer number. */
  key: string;
  /** Canonical field values agreed at the last sync. */
  base: Record<string, unknown>;
  /** Hash of `base`: a record arriving with exactly these values is Qiao's own write coming back. */
  hash: string;
  /** Each side's id of the record, e.g. `{ crm: '9007…', erp: '100012' }`. */
  ids: Record<string, string>;
  runId?: string;
  version: number;
  updatedAt: number;
}

export type ReviewStatus = 'open' | 'resolved';

/** A change made on both sides of a sync pair between two syncs, waiting for a person. */
export interface ReviewRow {
  id: string;
  pair: string;
  key: string;
  status: ReviewStatus;
  /** The connection (type `qiao`) that opened it: its `review.resolved` event resumes the run. */
  connection: string;
  flowId?: string;
  runId?: string;
  /** What the sync saw (ownership, agreed values, each side's values, the conflicting fields). */
  detail: Record<string, unknown>;
  /** The person's decision and what it makes of the record. */
  resolution?: Record<string, unknown>;
  resolvedBy?: string;
  createdAt: number;
  updatedAt: number;
  resolvedAt?: number;
}
