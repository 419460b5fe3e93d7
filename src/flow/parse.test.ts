import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProblem } from '../core/errors.ts';
import { DEFAULT_RETRY, type FlowDef, type StepDef } from '../core/flow.ts';
import { parseFlow } from './parse.ts';

/** Parses and returns the problems as `file:line path: message` lines. */
function problems(yaml: string): string[] {
  const r = parseFlow(yaml, 'flows/t.yaml');
  assert.equal(r.flow, undefined, 'a flow with problems must not be returned');
  return r.problems.map(formatProblem);
}

function parse(yaml: string): FlowDef {
  const r = parseFlow(yaml, 'flows/t.yaml');
  assert.deepEqual(r.problems.map(formatProblem), []);
  assert.ok(r.flow);
  return r.flow;
}

/** A minimal flow around some steps. */
function withSteps(steps: string, trigger = '{ type: manual }'): string {
  return `id: t\ntrigger: ${trigger}\nsteps:\n${steps}`;
}

const CONTRACT = `id: contract-approval
name: 合同审批 / Contract approval
description: A won Neocrm opportunity starts a WeCom approval.
trigger:
  type: poll
  connection: neocrm
  trigger: opportunity.changed
  params: { stage: won }
  every: 30s
  source: { object: opportunity, id: '=event.id' }
vars: { financeUser: YangFan }
steps:
  - id: pick
    map: { amount: '=amount', industry: "=$table('industry', event.industry)" }
    tables: { industry: { 制造业: HY01, 能源: HY02 } }
  - id: only-won
    filter: '=stage = "won"'
  - id: customer
    lookup: { link: { connection: kingdee, object: BD_Customer } }
    required: false
  - id: approvers
    route:
      input: { amount: '=steps.pick.amount', rating: '=event.creditRating' }
      rows:
        - when: { amount: '>= 1000000', rating: [B, C] }
          then: { chain: [LiNa, YangFan, WangJianGuo] }
      default: { chain: [LiNa] }
  - id: start
    action: wecom.approval.start
    input: { template: contract, approvers: '=steps.approvers.chain' }
    retry: { initialInterval: 2s, backoffCoefficient: 2, maximumInterval: 10m, maximumAttempts: 5, nonRetryable: [auth_expired] }
  - id: decision
    wait:
      connection: wecom
      event: approval.change
      correlation: '=steps.start.spNo'
      until: '=event.status != "pending"'
      timeout: 7d
      onTimeout: fail
      timers: [{ after: 4h, action: wecom.message.send, input: { to: '=vars.financeUser', text: 合同审批已等待4小时 } }]
  - id: tell
    if: '=steps.decision.status = "approved"'
    notify: wecom.message.send
    input: { to: '=vars.financeUser', text: '=event.name & " 已批准"' }
`;

describe('parseFlow: the reference example', () => {
  it('turns every part into the FlowDef the engine runs', () => {
    const flow = parse(CONTRACT);
    const retry = DEFAULT_RETRY;
    const expected: FlowDef = {
      id: 'contract-approval',
      name: '合同审批 / Contract approval',
      description: 'A won Neocrm opportunity starts a WeCom approval.',
      enabled: true,
      source: 'flows/t.yaml',
      trigger: {
        type: 'poll',
        connection: 'neocrm',
        trigger: 'opportunity.changed',
        params: { stage: 'won' },
        intervalMs: 30_000,
        source: { object: 'opportunity', id: '=event.id' },
      },
      vars: { financeUser: 'YangFan' },
      steps: [
        {
          kind: 'map',
          id: 'pick',
          retry,
          map: { amount: '=amount', industry: "=$table('industry', event.industry)" },
          tables: { industry: { 制造业: 'HY01', 能源: 'HY02' } },
        },
        { kind: 'filter', id: 'only-won', retry, filter: '=stage = "won"' },
        {
          kind: 'lookup',
          id: 'customer',
          retry,
          lookup: { link: { connection: 'kingdee', object: 'BD_Customer' } },
          required: false,
        },
        {
          kind: 'route',
          id: 'approvers',
          retry,
          route: {
            input: { amount: '=steps.pick.amount', rating: '=event.creditRating' },
            rows: [
              Object.fromEntries([
                ['when', { amount: '>= 1000000', rating: ['B', 'C'] }],
                ['then', { chain: ['LiNa', 'YangFan', 'WangJianGuo'] }],
              ]) as never,
            ],
            default: { chain: ['LiNa'] },
          },
        },
        {
          kind: 'action',
          id: 'start',
          retry: {
            initialIntervalMs: 2_000,
            backoffCoefficient: 2,
            maximumIntervalMs: 600_000,
            maximumAttempts: 5,
            nonRetryable: ['auth_expired'],
          },
          connection: 'wecom',
          action: 'approval.start',
          input: { template: 'contract', approvers: '=steps.approvers.chain' },
        },
        {
          kind: 'wait',
          id: 'decision',
          retry,
          wait: {
            connection: 'wecom',
            event: 'approval.change',
            correlation: '=steps.start.spNo',
            until: '=event.status != "pending"',
            timeoutMs: 7 * 86_400_000,
            onTimeout: 'fail',
            timers: [
              {
                afterMs: 4 * 3_600_000,
                connection: 'wecom',
                action: 'message.send',
                input: { to: '=vars.financeUser', text: '合同审批已等待4小时' },
              },
            ],
          },
        },
        {
          kind: 'notify',
          id: 'tell',
          retry,
          if: '=steps.decision.status = "approved"',
          connection: 'wecom',
          action: 'message.send',
          input: { to: '=vars.financeUser', text: '=event.name & " 已批准"' },
        },
      ],
    };
    assert.deepEqual(flow, expected);
  });
});

describe('parseFlow: triggers', () => {
  const trigger = (t: string) => parse(withSteps('  - { id: a, filter: "=true" }', t)).trigger;

  it('reads every type', () => {
    assert.deepEqual(trigger('{ type: poll, connection: kingdee, trigger: receipt.audited }'), {
      type: 'poll',
      connection: 'kingdee',
      trigger: 'receipt.audited',
      params: {},
      intervalMs: 60_000,
    });
    assert.deepEqual(
      trigger('{ type: event, connection: wecom, trigger: approval.change, params: { template: 报销 } }'),
      {
        type: 'event',
        connection: 'wecom',
        trigger: 'approval.change',
        params: { template: '报销' },
      },
    );
    assert.deepEqual(trigger("{ type: schedule, cron: '0 9 * * 1-5', timezone: Asia/Shanghai }"), {
      type: 'schedule',
      cron: '0 9 * * 1-5',
      timezone: 'Asia/Shanghai',
    });
    assert.deepEqual(trigger("{ type: schedule, cron: '@daily' }"), { type: 'schedule', cron: '@daily' });
    assert.deepEqual(trigger('{ type: manual }'), { type: 'manual' });
    assert.deepEqual(trigger("{ type: webhook, secret: s3cret, source: { object: order, id: 'orderNo' } }"), {
      type: 'webhook',
      secret: 's3cret',
      source: { object: 'order', id: '=orderNo' },
    });
    assert.deepEqual(
      trigger('{ type: chat, connection: dingtalk, trigger: robot.message, params: { keyword: 确认付款 } }'),
      {
        type: 'chat',
        connection: 'dingtalk',
        trigger: 'robot.message',
        params: { keyword: '确认付款' },
      },
    );
    assert.deepEqual(
      trigger('{ type: file, connection: files, trigger: csv.arrived, params: { dir: inbox } }'),
      {
        type: 'file',
        connection: 'files',
        trigger: 'csv.arrived',
        params: { dir: 'inbox' },
      },
    );
  });

  it('reads poll intervals as durations', () => {
    const every = (e: string) =>
      (trigger(`{ type: poll, connection: c, trigger: t, every: ${e} }`) as { intervalMs: number })
        .intervalMs;
    assert.equal(every('5m'), 300_000);
    assert.equal(every('1500'), 1_500);
    assert.equal(every('1h30m'), 5_400_000);
  });

  it('reports bad triggers precisely', () => {
    const bad = (t: string) => problems(withSteps('  - { id: a, filter: "=true" }', t));
    assert.deepEqual(bad('{ type: pol }'), [
      "flows/t.yaml:2 trigger.type: unknown trigger type 'pol'; use 'poll', 'event', 'schedule', 'manual', 'webhook', 'chat' or 'file'; did you mean 'poll'?",
    ]);
    assert.deepEqual(bad('{ connection: x }'), [
      "flows/t.yaml:2 trigger.type: is required: one of 'poll', 'event', 'schedule', 'manual', 'webhook', 'chat' or 'file'",
    ]);
    assert.deepEqual(bad('{ type: event, connection: neocrm, trigger: t, every: 5m }'), [
      "flows/t.yaml:2 trigger: unknown field 'every'; only poll triggers take it",
    ]);
    assert.deepEqual(bad('{ type: poll, connection: neocrm, trigger: t, every: 100ms }'), [
      'flows/t.yaml:2 trigger.every: must be at least 1s',
    ]);
    assert.deepEqual(bad('{ type: poll, connection: neocrm, trigger: t, every: often }'), [
      "flows/t.yaml:2 trigger.every: invalid duration 'often': write a number of milliseconds or a number with a unit (500ms, 30s, 5m, 2h, 3d, 1h30m)",
    ]);
    assert.deepEqual(bad('{ type: poll, trigger: t }'), [
      "flows/t.yaml:2 trigger.connection: is required, e.g. 'kingdee'",
    ]);
    assert.deepEqual(bad("{ type: schedule, cron: '0 25 * * *' }"), [
      "flows/t.yaml:2 trigger.cron: invalid cron expression '0 25 * * *': Constraint error, got value 25 expected range 0-23",
    ]);
    assert.deepEqual(bad("{ type: schedule, cron: '0 9 * *' }"), [
      'flows/t.yaml:2 trigger.cron: must have 5 fields (minute hour day month weekday) or 6 (seconds first); got 4',
    ]);
    assert.deepEqual(bad("{ type: schedule, cron: '0 9 * * *', timezone: Beijing }"), [
      "flows/t.yaml:2 trigger.timezone: must be an IANA time zone such as 'Asia/Shanghai'; got the string 'Beijing'",
    ]);
    assert.deepEqual(bad('{ type: manual, params: {} }'), [
      "flows/t.yaml:2 trigger: unknown field 'params'; only poll, event, chat, file triggers take it",
    ]);
    assert.deepEqual(bad("{ type: poll, connection: c, trigger: t, params: { since: '=vars.start' } }"), [
      "flows/t.yaml:2 trigger.params.since: expressions are not evaluated here; write '==vars.start' for text that starts with '='",
    ]);
    assert.deepEqual(bad('{ type: event, connection: c, trigger: t, source: { object: o } }'), [
      "flows/t.yaml:2 trigger.source.id: is required: an expression such as '=event.id'",
    ]);
    assert.deepEqual(bad('[manual]'), [
      'flows/t.yaml:2 trigger: must be a mapping with a type (poll, event, schedule, manual, webhook, chat, file); got a list',
    ]);
  });
});

describe('parseFlow: steps', () => {
  it('reads a lookup through an action, and takes expression fields with or without =', () => {
    const [lookup, filter] = parse(
      withSteps(`  - id: find
    lookup:
      action: kingdee.query
      input: { formId: BD_Customer, fields: [FNumber], filter: '="FName = ''" & customer.name & "''"' }
  - id: check
    filter: steps.find.FNumber != null
    if: true
`),
    ).steps as [StepDef, StepDef];
    assert.deepEqual(lookup, {
      kind: 'lookup',
      id: 'find',
      retry: DEFAULT_RETRY,
      required: true,
      lookup: {
        connection: 'kingdee',
        action: 'query',
        input: { formId: 'BD_Customer', fields: ['FNumber'], filter: `="FName = '" & customer.name & "'"` },
      },
    });
    assert.deepEqual(filter, {
      kind: 'filter',
      id: 'check',
      retry: DEFAULT_RETRY,
      filter: '=steps.find.FNumber != null',
      if: '=true',
    });
  });

  it('applies a flow-wide retry policy under each step’s own', () => {
    const flow = parse(`id: t
trigger: { type: manual }
retry: { maximumAttempts: 3, initialInterval: 5s }
steps:
  - { id: a, action: wecom.message.send }
  - { id: b, action: wecom.message.send, retry: { maximumAttempts: 10 } }
`);
    assert.deepEqual(flow.steps[0].retry, { ...DEFAULT_RETRY, maximumAttempts: 3, initialIntervalMs: 5_000 });
    assert.deepEqual(flow.steps[1].retry, {
      ...DEFAULT_RETRY,
      maximumAttempts: 10,
      initialIntervalMs: 5_000,
    });
  });

  it('fills defaults: name, enabled, vars, input, params, onTimeout, timers', () => {
    const flow = parse(`id: t
trigger: { type: manual }
steps:
  - { id: a, action: wecom.message.send }
  - { id: b, wait: { connection: wecom, event: approval.change, correlation: steps.a.spNo } }
`);
    assert.equal(flow.name, 't');
    assert.equal(flow.enabled, true);
    assert.deepEqual(flow.vars, {});
    assert.deepEqual((flow.steps[0] as { input: unknown }).input, {});
    assert.deepEqual((flow.steps[1] as { wait: unknown }).wait, {
      connection: 'wecom',
      event: 'approval.change',
      correlation: '=steps.a.spNo',
      onTimeout: 'fail',
      timers: [],
    });
  });

  it('unescapes == in values taken literally', () => {
    const flow = parse(`id: t
enabled: false
trigger: { type: manual }
vars: { formula: '==A1+B1', list: ['==x', plain] }
steps:
  - id: m
    map: { code: '=$table("t", 1)' }
    tables: { t: { '1': '==1' } }
`);
    assert.equal(flow.enabled, false);
    assert.deepEqual(flow.vars, { formula: '=A1+B1', list: ['=x', 'plain'] });
    assert.deepEqual((flow.steps[0] as { tables: unknown }).tables, { t: { '1': '=1' } });
  });

  it('reports bad steps precisely', () => {
    assert.deepEqual(problems(withSteps('  - { id: a, acton: wecom.message.send }')), [
      "flows/t.yaml:4 steps[0]: unknown field 'acton'; did you mean 'action'?",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a }')), [
      'flows/t.yaml:4 steps[0]: a step needs one of map, filter, lookup, route, action, wait, notify',
    ]);
    assert.deepEqual(problems(withSteps("  - { id: a, map: { x: 1 }, filter: '=true' }")), [
      "flows/t.yaml:4 steps[0]: a step does one thing; this one has 'map' and 'filter'",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, map: { x: 1 }, input: {} }')), [
      "flows/t.yaml:4 steps[0]: unknown field 'input' in a map step; only action and notify steps take it",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: 1st, action: wecom.message.send }')), [
      "flows/t.yaml:4 steps[0].id: must be a letter, then letters, digits, '_' or '-', e.g. pick; got the string '1st'",
    ]);
    assert.deepEqual(problems(withSteps('  - { action: wecom.message.send }')), [
      "flows/t.yaml:4 steps[0].id: is required (a letter, then letters, digits, '_' or '-', e.g. pick)",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, action: sendMessage }')), [
      "flows/t.yaml:4 steps[0].action: must be '<connection>.<operation>', e.g. 'wecom.approval.start'; got 'sendMessage'",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, notify: wecom.message.send, input: hello }')), [
      "flows/t.yaml:4 steps[0].input: must be a mapping of the operation's input fields; got the string 'hello'",
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, filter: 42 }')), [
      `flows/t.yaml:4 steps[0].filter: must be an expression such as '=stage = "won"'; got the number 42`,
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, map: [x] }')), [
      'flows/t.yaml:4 steps[0].map: must be a mapping of output fields to values or expressions; got a list',
    ]);
    assert.deepEqual(problems(withSteps('  - { id: a, map: { x: 1 }, tables: { t: [a] } }')), [
      'flows/t.yaml:4 steps[0].tables.t: must be a mapping of values to results, e.g. { 制造业: HY01 }; got a list',
    ]);
    assert.deepEqual(
      problems(
        withSteps(
          '  - { id: a, lookup: { link: { connection: kingdee, object: BD_Customer }, action: kingdee.query } }',
        ),
      ),
      ['flows/t.yaml:4 steps[0].lookup: use either link (the id map) or action (a query), not both'],
    );
    assert.deepEqual(problems(withSteps('  - { id: a, lookup: {} }')), [
      'flows/t.yaml:4 steps[0].lookup: needs link (find through the id map) or action (call a query)',
    ]);
    assert.deepEqual(
      problems(withSteps('  - { id: a, lookup: { link: { connection: kingdee } }, required: maybe }')),
      [
        "flows/t.yaml:4 steps[0].lookup.link.object: is required, e.g. 'BD_Customer'",
        "flows/t.yaml:4 steps[0].required: must be true or false; got the string 'maybe'",
      ],
    );
    assert.deepEqual(problems(withSteps('  - { id: a, action: wecom.x, retry: { maximumAttempts: 0 } }')), [
      'flows/t.yaml:4 steps[0].retry.maximumAttempts: must be a whole number from 1 to 1000 (attempts include the first); got the number 0',
    ]);
  });

  it('reports bad waits precisely', () => {
    const wait = (w: string) => problems(withSteps(`  - id: w\n    wait: ${w}`));
    assert.deepEqual(wait('{ connection: wecom }'), [
      "flows/t.yaml:5 steps[0].wait.event: is required, e.g. 'approval.change'",
      "flows/t.yaml:5 steps[0].wait.correlation: is required: an expression such as '=steps.start.spNo'",
    ]);
    assert.deepEqual(
      wait("{ connection: wecom, event: e, correlation: '=1', onTimeout: retry, timeout: 0 }"),
      [
        'flows/t.yaml:5 steps[0].wait.timeout: must be longer than 0',
        "flows/t.yaml:5 steps[0].wait.onTimeout: must be 'fail' or 'continue'; got the string 'retry'",
      ],
    );
    assert.deepEqual(
      wait(
        "{ connection: wecom, event: e, correlation: '=1', timeout: 1d, timers: [{ after: 2d, action: wecom.x }, { action: y }] }",
      ),
      [
        'flows/t.yaml:5 steps[0].wait.timers[0].after: fires after the wait has timed out (2d > timeout 1d)',
        'flows/t.yaml:5 steps[0].wait.timers[1].after: is required: how long after the wait starts, e.g. 4h',
        "flows/t.yaml:5 steps[0].wait.timers[1].action: must be '<connection>.<operation>', e.g. 'wecom.approval.start'; got 'y'",
      ],
    );
  });
});

describe('parseFlow: suppression and serial keys', () => {
  it('reads suppress on actions, notifies and wait timers, and serialize on the flow', () => {
    const flow = parse(`id: t
trigger: { type: webhook }
serialize: event.customer.id
steps:
  - id: alert
    notify: dingtalk.robot.send
    input: { robot: alerts, text: '=event.text' }
    suppress:
      key: '="stock:" & event.item'
      window: 30m
      count: '=$count(event.items)'
      summary: { robot: alerts, text: '="另有 " & $string(suppressed.count) & " 条"' }
  - id: save
    action: kingdee.save
    input: {}
    suppress: { key: dead-letters, window: 1h, count: 3, summary: {} }
  - id: wait
    wait:
      connection: dingtalk
      event: approval.task
      correlation: '=event.id'
      timers:
        - after: 8h
          action: dingtalk.robot.send
          input: { robot: alerts, text: late }
          suppress: { key: approval-sla, window: 1h, summary: { robot: alerts, text: summary } }
`);
    assert.equal(flow.serialize, '=event.customer.id');
    const [alert, save, wait] = flow.steps;
    assert.deepEqual(alert.kind === 'notify' && alert.suppress, {
      key: '="stock:" & event.item',
      windowMs: 1_800_000,
      count: '=$count(event.items)',
      summary: { robot: 'alerts', text: '="另有 " & $string(suppressed.count) & " 条"' },
    });
    assert.deepEqual(save.kind === 'action' && save.suppress, {
      key: 'dead-letters',
      windowMs: 3_600_000,
      count: 3,
      summary: {},
    });
    assert.deepEqual(wait.kind === 'wait' && wait.wait.timers[0].suppress, {
      key: 'approval-sla',
      windowMs: 3_600_000,
      summary: { robot: 'alerts', text: 'summary' },
    });
  });

  it('reports bad suppressions and serial keys precisely', () => {
    assert.deepEqual(
      problems(`id: t
trigger: { type: manual }
serialize: 42
steps:
  - id: a
    notify: dingtalk.robot.send
    suppress: { key: '', window: 500ms, count: 0, sumary: {} }
  - id: b
    action: dingtalk.robot.send
    suppress: 1
  - id: c
    map: { x: 1 }
    suppress: { key: k, window: 1m, summary: {} }
  - id: d
    notify: dingtalk.robot.send
    suppress: { key: k, window: 1m, summary: { text: '=steps.nope.x' } }
`),
      [
        "flows/t.yaml:3 serialize: must be an expression such as '=event.id'; got the number 42",
        "flows/t.yaml:7 steps[0].suppress: unknown field 'sumary'; did you mean 'summary'?",
        "flows/t.yaml:7 steps[0].suppress.key: must be text such as 'dead-letters' or '=\"stock:\" & item'; got the string ''",
        'flows/t.yaml:7 steps[0].suppress.window: must be at least 1s',
        "flows/t.yaml:7 steps[0].suppress.count: must be a whole number above 0 or an expression such as '=$count(steps.found.items)'; got the number 0",
        "flows/t.yaml:7 steps[0].suppress.summary: is required: the operation's input for the one message that sums up what was held back",
        'flows/t.yaml:10 steps[1].suppress: must be a mapping { key, window, count?, summary }; got the number 1',
        "flows/t.yaml:13 steps[2]: unknown field 'suppress' in a map step; only action and notify steps take it",
      ],
    );
    assert.deepEqual(
      problems(
        withSteps(
          "  - { id: d, notify: dingtalk.robot.send, suppress: { key: '=steps.d.x', window: 1m, summary: { text: '=steps.nope.x' } } }",
        ),
      ),
      [
        "flows/t.yaml:4 steps[0].suppress.key: reads steps.d, but that is this step's own output, which does not exist yet",
        "flows/t.yaml:4 steps[0].suppress.summary.text: reads steps.nope, but there is no step 'nope'",
      ],
    );
  });
});

describe('parseFlow: line numbers', () => {
  it('points at the offending key, however deep', () => {
    const yaml = `id: contract
trigger:
  type: manual
steps:
  - id: pick
    map:
      amount: '=amount'
  - id: only-big
    filter: '=steps.pick.amount > 0'
  - id: approvers
    route:
      input:
        amount: '=steps.pick.amount'
        rating: '=customer.creditRating'
      rows:
        - when:
            amount: '>= 1000000'
            amont: '>= 5'
          then: { chain: [LiNa] }
        - when: { rating: [B, C] }
          then:
            chain: [LiNa, YangFan]
          else: {}
    retry:
      maximumInterval: 2h
      backoffCoefficent: 3
`;
    assert.deepEqual(problems(yaml), [
      "flows/t.yaml:18 steps[2].route.rows[0].when: unknown field 'amont'; did you mean 'amount'? (route.input has amount, rating)",
      "flows/t.yaml:23 steps[2].route.rows[1]: unknown field 'else'",
      "flows/t.yaml:26 steps[2].retry: unknown field 'backoffCoefficent'; did you mean 'backoffCoefficient'?",
    ]);
  });

  it('gives expression problems the line of their value', () => {
    const yaml = `id: t
trigger: { type: manual }
steps:
  - id: a
    map:
      ok: '=amount'
      broken: '=amount *'
      later: '=steps.b.x'
  - id: b
    notify: wecom.message.send
    input:
      to: LiNa
      text: '=$uppercase(steps.a.ok'
`;
    assert.deepEqual(problems(yaml), [
      'flows/t.yaml:7 steps[0].map.broken: invalid expression: Unexpected end of expression (position 8)',
      "flows/t.yaml:8 steps[0].map.later: reads steps.b, but step 'b' runs later (steps[1])",
      'flows/t.yaml:13 steps[1].input.text: invalid expression: Expected ")" before end of expression (position 21)',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    assert.deepEqual(problems('id: t\ntrigger: { type: manual\nsteps: []\n'), [
      'flows/t.yaml:3 YAML: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
    assert.deepEqual(problems('id: t\nid: u\n'), ['flows/t.yaml:2 YAML: Map keys must be unique']);
    assert.deepEqual(problems("id: t\nname: 'unterminated\n"), [
      "flows/t.yaml:3 YAML: Missing closing 'quote",
    ]);
  });

  it('asks for quotes on 64-bit ids that would lose digits', () => {
    assert.deepEqual(
      problems(
        withSteps(
          '  - id: a\n    action: neocrm.opportunity.update\n    input: { id: 9007199254741993, fields: {} }',
        ),
      ),
      [
        "flows/t.yaml:6 steps[0].input.id: the number 9007199254741993 is too large to keep exactly; quote it: '9007199254741993'",
      ],
    );
  });

  it('follows anchors and merge keys', () => {
    const flow = parse(`id: t
trigger: { type: manual }
vars:
  common: &notice { to: LiNa, text: 审批提醒 }
steps:
  - id: a
    notify: wecom.message.send
    input: { <<: *notice, text: 已批准 }
  - id: b
    notify: wecom.message.send
    input: *notice
`);
    assert.deepEqual((flow.steps[0] as { input: unknown }).input, { to: 'LiNa', text: '已批准' });
    assert.deepEqual((flow.steps[1] as { input: unknown }).input, { to: 'LiNa', text: '审批提醒' });
  });
});

describe('parseFlow: the whole document', () => {
  it('reports top-level problems', () => {
    assert.deepEqual(
      problems(
        'id: Contract_Approval\nnaem: x\nenabled: yes\nvars: [a]\ntrigger: { type: manual }\nsteps: []\n',
      ),
      [
        "flows/t.yaml:1 id: must be lower-case letters, digits and '-', e.g. contract-approval; got the string 'Contract_Approval'",
        "flows/t.yaml:2 unknown field 'naem'; did you mean 'name'?",
        "flows/t.yaml:3 enabled: must be true or false; got the string 'yes'",
        'flows/t.yaml:4 vars: must be a mapping of names to values; got a list',
        'flows/t.yaml:6 steps: must have at least one step',
      ],
    );
    assert.deepEqual(problems('id: t\n'), [
      'flows/t.yaml:1 trigger: is required: what starts a run, e.g. { type: manual }',
      'flows/t.yaml:1 steps: is required: a list of steps',
    ]);
    assert.deepEqual(
      problems("id: t\ntrigger: { type: manual }\nvars: { x: '=1' }\nsteps: [{ id: a, filter: 'true' }]\n"),
      [
        "flows/t.yaml:3 vars.x: expressions are not evaluated here; write '==1' for text that starts with '='",
      ],
    );
  });

  it('never throws on malformed input', () => {
    const inputs = [
      '',
      '~',
      '42',
      '- a\n- b',
      'just text',
      '{',
      ':::',
      '\t\tid: x',
      'id: t\ntrigger: 5\nsteps: {}',
      'id: t\ntrigger: { type: [poll] }\nsteps: [null, 1, [], { id: null, map: null }]',
      'id: t\ntrigger: { type: poll, connection: [], trigger: {}, params: [], every: {} }\nsteps: [{ id: a, route: [] }]',
      'id: t\ntrigger: { type: manual }\nsteps: [{ id: a, wait: { timers: [1, { after: [] }] } }, { id: b, route: { input: [], rows: {} } }]',
      'id: t\ntrigger: { type: manual }\nsteps: [{ id: a, lookup: { link: 1, action: 2 } }, { id: b, lookup: { link: [] } }]',
      'a: &a [*a]',
      'a: &a\n  b: *a',
      `${'- '.repeat(500)}x`,
      '\u0000\u0001',
    ];
    for (const text of inputs) {
      const r = parseFlow(text, 'f.yaml');
      assert.equal(r.flow, undefined, JSON.stringify(text));
      assert.ok(r.problems.length > 0, JSON.stringify(text));
      for (const p of r.problems) assert.equal(typeof p.message, 'string');
    }
    assert.deepEqual(problems(''), [
      'flows/t.yaml a flow file holds one mapping with id, trigger and steps; got nothing',
    ]);
  });

  it('leaves file out of problems when none is given', () => {
    const r = parseFlow('id: t\n');
    assert.deepEqual(r.problems[0], {
      path: 'trigger',
      message: 'is required: what starts a run, e.g. { type: manual }',
      line: 1,
    });
  });
});
