/**
 * A registry of three small connectors shaped like the real ones, with real zod schemas, for the flow
 * validation tests (validate.test.ts, load.test.ts) and for checking the examples of docs/flows.md.
 * Identities come from the sandbox company (sandbox/common/company.ts).
 */
import { z } from 'zod';
import type { ActionSpec, Connector, ConnectorSchema, TriggerSpec } from '../core/connector.ts';
import type { FlowRegistry } from './validate.ts';

type Parts = Pick<Connector, 'actions' | 'triggers' | 'schema'>;

const notRun = async (): Promise<never> => {
  throw new Error('the fake registry only describes connectors');
};

function action(input: z.ZodType, fieldsOf?: ActionSpec['fieldsOf']): ActionSpec {
  return { description: 'test action', input, run: notRun, ...(fieldsOf ? { fieldsOf } : {}) };
}

function poll(params: z.ZodType): TriggerSpec {
  return { kind: 'poll', description: 'test poll', params, poll: notRun };
}

function event(eventType: string, params: z.ZodType = z.object({}).strict()): TriggerSpec {
  return { kind: 'event', description: 'test event', eventType, params };
}

const kingdeeSchema: ConnectorSchema = {
  objects: {
    BD_Customer: {
      idField: 'FCUSTID',
      numberField: 'FNumber',
      fields: {
        FNumber: { type: 'string' },
        FName: { type: 'string', required: true },
        FShortName: { type: 'string' },
        FTAXREGISTERCODE: { type: 'string' },
        FSELLER: { type: 'ref', ref: 'BD_Empinfo' },
      },
    },
    SAL_SaleOrder: {
      idField: 'FID',
      numberField: 'FBillNo',
      fields: {
        FBillNo: { type: 'string' },
        FDate: { type: 'date', required: true },
        FCustId: { type: 'ref', ref: 'BD_Customer', required: true },
        FSaleOrderEntry: {
          type: 'array',
          fields: { FMaterialId: { type: 'ref' }, FQty: { type: 'number' } },
        },
      },
    },
  },
};

const kingdee: Parts = {
  actions: {
    save: action(
      z
        .object({
          formId: z.string(),
          model: z.record(z.string(), z.unknown()),
          submit: z.boolean().optional(),
        })
        .strict(),
      (input) =>
        typeof input.formId === 'string' && input.model && typeof input.model === 'object'
          ? { object: input.formId, fields: Object.keys(input.model) }
          : undefined,
    ),
    query: action(
      z
        .object({ formId: z.string(), fields: z.array(z.string()).min(1), filter: z.string().optional() })
        .strict(),
    ),
  },
  triggers: {
    'receipt.audited': poll(z.object({ org: z.string().optional() }).strict()),
  },
  schema: kingdeeSchema,
};

const neocrm: Parts = {
  actions: {
    'opportunity.update': action(
      z.object({ id: z.string(), fields: z.record(z.string(), z.unknown()) }).strict(),
    ),
  },
  triggers: {
    'opportunity.changed': poll(z.object({ stage: z.enum(['open', 'won', 'lost']).optional() }).strict()),
    'account.changed': poll(z.object({}).strict()),
  },
  schema: {
    objects: {
      opportunity: { idField: 'id', fields: { id: { type: 'string' }, amount: { type: 'number' } } },
      account: { idField: 'id', fields: { id: { type: 'string' }, accountName: { type: 'string' } } },
    },
  },
};

const wecom: Parts = {
  actions: {
    'approval.start': action(
      z
        .object({
          template: z.string(),
          applicant: z.string().optional(),
          approvers: z.array(z.string()).min(1),
          summary: z.string().max(40).optional(),
        })
        .strict(),
    ),
    'message.send': action(
      z.union([
        z.object({ to: z.string(), text: z.string().max(2048) }).strict(),
        z.object({ to: z.string(), card: z.object({ title: z.string() }) }).strict(),
      ]),
    ),
  },
  triggers: {
    'approval.change': event('approval.change', z.object({ template: z.string().optional() }).strict()),
    'chat.message': event('chat.message'),
  },
  schema: { objects: {} },
};

const CONNECTIONS: Record<string, { type: string; connector: Parts }> = {
  kingdee: { type: 'kingdee', connector: kingdee },
  neocrm: { type: 'neocrm', connector: neocrm },
  wecom: { type: 'wecom', connector: wecom },
};

export function fakeRegistry(): FlowRegistry {
  return {
    connection: (id) => CONNECTIONS[id],
    connections: () => Object.keys(CONNECTIONS),
  };
}
