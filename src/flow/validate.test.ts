import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { formatProblem } from '../core/errors.ts';
import { fakeRegistry } from './fake-registry.ts';
import { parseFlow } from './parse.ts';
import { staticProblems, validateFlowFile, validateFlowRefs } from './validate.ts';

const registry = fakeRegistry();

function problems(yaml: string): string[] {
  const r = validateFlowFile(yaml, 'flows/v.yaml', registry);
  assert.equal(r.flow, undefined);
  return r.problems.map(formatProblem);
}

const GOOD = `id: contract
trigger:
  type: poll
  connection: neocrm
  trigger: opportunity.changed
  params: { stage: won }
  source: { object: opportunity, id: '=event.id' }
steps:
  - id: customer
    lookup: { link: { connection: kingdee, object: BD_Customer } }
    required: false
  - id: start
    action: wecom.approval.start
    input: { template: contract, approvers: '=["LiNa", "YangFan"]', summary: '=customer.name' }
  - id: decision
    wait:
      connection: wecom
      event: approval.change
      correlation: '=steps.start.spNo'
      timeout: 7d
      timers: [{ after: 1d, action: wecom.message.send, input: { to: LiNa, text: 请尽快审批 } }]
  - id: order
    action: kingdee.save
    input:
      formId: SAL_SaleOrder
      model:
        FDate: '=$cnDate(event.closeDate)'
        FCustId: { FNumber: '=steps.customer' }
        FSaleOrderEntry: '=event.items.{ "FMaterialId": { "FNumber": product }, "FQty": qty }'
`;

describe('validateFlowFile', () => {
  it('accepts a flow whose every reference exists', () => {
    const r = validateFlowFile(GOOD, 'flows/v.yaml', registry);
    assert.deepEqual(r.problems, []);
    assert.equal(r.flow?.id, 'contract');
  });

  it('catches unknown connections, operations, triggers, events and objects, listing what exists', () => {
    assert.deepEqual(
      problems(`id: t
trigger: { type: poll, connection: crm, trigger: opportunity.changed }
steps:
  - id: a
    action: wecom.approval.strat
  - id: b
    lookup: { link: { connection: kingdee, object: BD_Custmer } }
  - id: c
    wait: { connection: wecom, event: approval.chnage, correlation: '=steps.a.spNo' }
  - id: d
    notify: dingtalk.robot.send
`),
      [
        "flows/v.yaml:2 trigger.connection: unknown connection 'crm' (configured: kingdee, neocrm, wecom)",
        "flows/v.yaml:5 steps[0].action: unknown operation 'approval.strat' on connection 'wecom'; did you mean 'approval.start'? Known: approval.start, message.send",
        "flows/v.yaml:7 steps[1].lookup.link.object: unknown object 'BD_Custmer' on connection 'kingdee'; did you mean 'BD_Customer'? Known: BD_Customer, SAL_SaleOrder",
        "flows/v.yaml:9 steps[2].wait.event: unknown event 'approval.chnage' on connection 'wecom'; did you mean 'approval.change'? Known: approval.change, chat.message",
        "flows/v.yaml:11 steps[3].notify: unknown connection 'dingtalk' (configured: kingdee, neocrm, wecom)",
      ],
    );
    assert.deepEqual(
      problems(
        'id: t\ntrigger: { type: poll, connection: neocrm, trigger: deal.changed }\nsteps: [{ id: a, filter: "=true" }]\n',
      ),
      [
        "flows/v.yaml:2 trigger.trigger: unknown trigger 'deal.changed' on connection 'neocrm'. Known: opportunity.changed, account.changed",
      ],
    );
  });

  it('catches a trigger used with the wrong type', () => {
    assert.deepEqual(
      problems(
        'id: t\ntrigger: { type: event, connection: neocrm, trigger: opportunity.changed }\nsteps: [{ id: a, filter: "=true" }]\n',
      ),
      ["flows/v.yaml:2 trigger.type: 'opportunity.changed' of neocrm is a poll trigger; write type: poll"],
    );
  });

  it('checks static inputs and params with the connector’s zod schemas, skipping expressions', () => {
    assert.deepEqual(
      problems(`id: t
trigger:
  type: poll
  connection: neocrm
  trigger: opportunity.changed
  params: { stage: win, owner: E0003 }
steps:
  - id: start
    action: wecom.approval.start
    input:
      template: 5
      approverz: [LiNa]
      summary: 这是一个超过四十个字的摘要这是一个超过四十个字的摘要这是一个超过四十个字的摘要这是一个超过四十个字的摘要
  - id: tell
    notify: wecom.message.send
    input: { to: '=steps.start.applicant', text: '=steps.start.spNo' }
  - id: again
    action: wecom.approval.start
    input: { template: '=vars.t', approvers: '=steps.start.approvers', summary: '=$substring(vars.s, 0, 99)' }
`),
      [
        'flows/v.yaml:6 trigger.params.stage: Invalid option: expected one of "open"|"won"|"lost"',
        "flows/v.yaml:6 trigger.params: unknown field 'owner'",
        'flows/v.yaml:11 steps[0].input.template: Invalid input: expected string, received number',
        "flows/v.yaml:12 steps[0].input: unknown field 'approverz'; did you mean 'approvers'?",
        'flows/v.yaml:13 steps[0].input.summary: Too big: expected string to have <=40 characters',
        'flows/v.yaml:10 steps[0].input.approvers: is required',
      ].sort(byLine),
    );
  });

  it('checks a suppression summary as an input of the same operation', () => {
    assert.deepEqual(
      problems(`id: t
trigger: { type: manual }
steps:
  - id: start
    action: wecom.approval.start
    input: { template: contract, approvers: [LiNa] }
    suppress:
      key: k
      window: 10m
      summary: { template: contract, approverz: [LiNa], summary: '=$string(suppressed.count)' }
  - id: wait
    wait:
      connection: wecom
      event: approval.change
      correlation: '=1'
      timers:
        - after: 1h
          action: wecom.approval.start
          input: { template: contract, approvers: [LiNa] }
          suppress: { key: k, window: 1h, summary: { template: 5, approvers: [LiNa] } }
`),
      [
        'flows/v.yaml:10 steps[0].suppress.summary.approvers: is required',
        "flows/v.yaml:10 steps[0].suppress.summary: unknown field 'approverz'; did you mean 'approvers'?",
        'flows/v.yaml:20 steps[1].wait.timers[0].suppress.summary.template: Invalid input: expected string, received number',
      ],
    );
  });

  it('catches fields the connector’s schema does not know, at the key', () => {
    assert.deepEqual(
      problems(`id: t
trigger: { type: manual }
steps:
  - id: save
    action: kingdee.save
    input:
      formId: BD_Customer
      model:
        FNumber: C0011
        FNmae: 杭州新客户有限公司
        FSELLER: { FNumber: E0003 }
  - id: bad-form
    action: kingdee.save
    input: { formId: BD_Supplier, model: { FName: x } }
`),
      [
        "flows/v.yaml:10 steps[0].input.model: unknown field 'FNmae' of kingdee BD_Customer; did you mean 'FName'?",
        "flows/v.yaml:14 steps[1].input: writes object 'BD_Supplier', which connection 'kingdee' (kingdee) does not describe",
      ],
    );
  });

  it('reports expression problems and registry problems together, by line', () => {
    assert.deepEqual(
      problems(`id: t
trigger: { type: manual }
steps:
  - id: a
    action: wecom.nope
  - id: b
    filter: '=steps.c.x'
`),
      [
        "flows/v.yaml:5 steps[0].action: unknown operation 'nope' on connection 'wecom'. Known: approval.start, message.send",
        "flows/v.yaml:7 steps[1].filter: reads steps.c, but there is no step 'c'",
      ],
    );
  });

  it('stops at shape problems, before the registry', () => {
    assert.deepEqual(problems('id: t\ntrigger: { type: manual }\nsteps: [{ id: a, action: nodot }]\n'), [
      "flows/v.yaml:3 steps[0].action: must be '<connection>.<operation>', e.g. 'wecom.approval.start'; got 'nodot'",
    ]);
  });
});

describe('validateFlowRefs', () => {
  it('checks a FlowDef without YAML, naming its source file', () => {
    const { flow } = parseFlow(
      'id: t\ntrigger: { type: manual }\nsteps: [{ id: a, action: wecom.message.send, input: { to: LiNa, text: 你好 } }]\n',
      'flows/r.yaml',
    );
    assert.ok(flow);
    assert.deepEqual(validateFlowRefs(flow, registry), []);
    const broken = { ...flow.steps[0], action: 'nope' };
    assert.deepEqual(validateFlowRefs({ ...flow, steps: [broken, broken] }, registry), [
      { path: 'steps[1].id', message: "duplicate step id 'a' (also steps[0])", file: 'flows/r.yaml' },
      {
        path: 'steps[0].action',
        message: "unknown operation 'nope' on connection 'wecom'. Known: approval.start, message.send",
        file: 'flows/r.yaml',
      },
      {
        path: 'steps[1].action',
        message: "unknown operation 'nope' on connection 'wecom'. Known: approval.start, message.send",
        file: 'flows/r.yaml',
      },
    ]);
  });
});

describe('staticProblems', () => {
  const schema = z
    .object({
      to: z.string(),
      amount: z.number().positive(),
      lines: z.array(z.object({ sku: z.string(), qty: z.number().int() }).strict()).min(1),
    })
    .strict()
    .refine((v) => v.amount < 1_000_000, 'amount too large');

  it('drops issues on expressions and keeps those of the static parts', () => {
    const issues = (v: Record<string, unknown>) =>
      staticProblems(schema, v, 'input').map((p) => `${p.path}: ${p.message}`);
    assert.deepEqual(issues({ to: '=vars.to', amount: '=amount', lines: '=items' }), []);
    assert.deepEqual(issues({ to: '=x', amount: '=x', lines: [{ sku: '=x', qty: 1.5 }] }), [
      'input.lines[0].qty: Invalid input: expected int, received number',
    ]);
    assert.deepEqual(issues({ to: 'LiNa', amount: -1, lines: [{ sku: 'M0001', qty: 1, price: 3 }] }), [
      'input.amount: Too small: expected number to be >0',
      "input.lines[0]: unknown field 'price'",
    ]);
    assert.deepEqual(issues({ to: 'LiNa', lines: [] }), [
      'input.amount: is required',
      'input.lines: Too small: expected array to have >=1 items',
    ]);
  });

  it('does not throw when a schema cannot cope with placeholders', () => {
    const throwing = z.object({
      n: z.string().transform((s) => {
        if (s.startsWith('=')) throw new Error('boom');
        return s;
      }),
    });
    assert.deepEqual(staticProblems(throwing, { n: '=x' }, 'input'), []);
  });
});

function byLine(a: string, b: string): number {
  const line = (s: string) => Number(/:(\d+) /.exec(s)?.[1]);
  return line(a) - line(b);
}
