/**
 * The API's shared schemas: identifiers as they appear in paths, and the shapes of what the API answers
 * (rows of the store as JSON). Answers are strict objects, so with response checking on (route.ts) an
 * undocumented field is caught by the tests rather than shipped silently.
 */
import { z } from 'zod';
import { ERROR_CLASSES } from '../../core/errors.ts';
import { FLOW_ID } from '../../flow/parse.ts';

/** Connection ids, as qiao.yaml accepts them (core/config.ts): lower-case kebab-case. */
export const CONNECTION_ID = /^[a-z][a-z0-9-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const connectionId = z.string().regex(CONNECTION_ID, {
  error: 'a connection id is lower-case letters, digits and dashes, starting with a letter',
});
export const flowId = z
  .string()
  .regex(FLOW_ID, { error: 'a flow id is lower-case letters, digits and dashes (at most 64)' });
export const uuid = (what: string) => z.string().regex(UUID, { error: `a ${what} id is a UUID` });

export const idParams = <T extends z.ZodType>(id: T) => z.strictObject({ id });

/** Query numbers arrive as text. */
export const limitParam = (max: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .optional()
    .describe(`At most this many rows (1–${max}, default 100).`);

export const errorBody = z.strictObject({
  error: z.string().describe('A stable code: invalid_request, not_found, conflict, validation_failed, …'),
  message: z.string(),
  problems: z
    .array(
      z.strictObject({
        path: z.string(),
        message: z.string(),
        file: z.string().optional(),
        line: z.number().int().optional(),
      }),
    )
    .optional(),
});

export const serializedError = z.strictObject({
  name: z.string(),
  message: z.string(),
  errorClass: z.enum(ERROR_CLASSES as [string, ...string[]]),
  fault: z.enum(['operational', 'user', 'bug']),
  partner: z
    .strictObject({
      system: z.string(),
      code: z.union([z.string(), z.number()]).optional(),
      message: z.string().optional(),
      field: z.string().optional(),
      httpStatus: z.number().optional(),
      operation: z.string().optional(),
    })
    .optional(),
  retryAfterMs: z.number().optional(),
});

export const limits = z.strictObject({
  rate: z
    .strictObject({ perSecond: z.number().positive(), burst: z.number().int().positive().optional() })
    .optional(),
  concurrency: z.number().int().positive().optional(),
  breaker: z
    .strictObject({ failures: z.number().int().positive(), resetMs: z.number().int().positive() })
    .optional(),
});

const origin = z
  .enum(['config', 'api'])
  .describe('`config`: from qiao.yaml (change it there); `api`: made here.');

export const connection = z.strictObject({
  id: z.string(),
  type: z.string(),
  settings: z.record(z.string(), z.unknown()).describe('Secret fields are masked as `******`.'),
  limits: limits.optional(),
  origin,
  version: z.number().int(),
  updatedAt: z.number().describe('Epoch milliseconds.'),
});

export const flowSummary = z.strictObject({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  enabled: z.boolean(),
  trigger: z.strictObject({
    type: z.string(),
    connection: z.string().optional(),
    trigger: z.string().optional(),
  }),
  steps: z.number().int().describe('How many steps the flow has.'),
  origin,
  version: z.number().int(),
  updatedAt: z.number(),
});

export const flowDetail = flowSummary.extend({
  yaml: z.string().optional().describe('The flow file as it was saved.'),
  definition: z.record(z.string(), z.unknown()).describe('The parsed flow (core/flow.ts FlowDef).'),
});

const runStatus = z.enum(['running', 'waiting', 'completed', 'failed', 'filtered', 'cancelled']);
export const RUN_STATUSES = runStatus.options;

export const run = z.strictObject({
  id: z.string(),
  flowId: z.string(),
  flowVersion: z.number().int(),
  status: runStatus,
  eventSource: z.string().optional(),
  eventKey: z.string().optional(),
  linkKey: z.string().optional().describe('The id-map link of the record the run is about.'),
  serialKey: z.string().optional().describe("The flow's serial key: runs with the same key take turns."),
  event: z.unknown(),
  startedAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().optional(),
  error: serializedError.optional(),
});

const attempt = z.strictObject({
  attempt: z.number().int(),
  at: z.number(),
  durationMs: z.number(),
  outcome: z.enum(['completed', 'retry', 'dead', 'waiting', 'skipped']),
  error: serializedError.optional(),
});

export const step = z.strictObject({
  id: z.string(),
  runId: z.string(),
  idx: z.number().int(),
  name: z.string(),
  kind: z.enum(['map', 'filter', 'lookup', 'route', 'action', 'wait', 'notify']),
  status: z.enum(['queued', 'blocked', 'running', 'waiting', 'completed', 'skipped', 'dead']),
  attempt: z.number().int(),
  availableAt: z.number(),
  leaseOwner: z.string().optional(),
  leaseUntil: z.number().optional(),
  idempotencyKey: z
    .string()
    .describe('Stable across retries and replays: a partner applies the effect once.'),
  input: z.unknown().optional(),
  output: z.unknown().optional(),
  error: serializedError.optional(),
  history: z.array(attempt).describe('Every attempt, with its outcome and error.'),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
});

export const DEAD_LETTER_STATUSES = ['open', 'replayed', 'discarded'] as const;

export const deadLetter = z.strictObject({
  id: z.string(),
  runId: z.string(),
  stepId: z.string(),
  flowId: z.string(),
  stepName: z.string(),
  connection: z.string().optional(),
  action: z.string().optional(),
  input: z.unknown().optional().describe('What the step sent; edit it, then replay.'),
  error: serializedError,
  history: z.array(attempt),
  status: z.enum(DEAD_LETTER_STATUSES),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export const link = z.strictObject({
  connection: z.string(),
  object: z.string(),
  externalId: z.string(),
  linkId: z.string().describe('Records with the same linkId are the same record in different systems.'),
  flowId: z.string().optional(),
  runId: z.string().optional(),
  contentHash: z.string().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

export const auditRow = z.strictObject({
  seq: z.number().int(),
  at: z.number(),
  actor: z.string(),
  action: z.string(),
  target: z.string(),
  detail: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});

export const items = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item) });
