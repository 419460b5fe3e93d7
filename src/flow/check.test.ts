import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY, type FlowDef } from '../core/flow.ts';
import { checkFlow } from './check.ts';

/** A flow built in code, as the API or a test might: checkFlow must not need YAML. */
function flow(steps: FlowDef['steps'], trigger: FlowDef['trigger'] = { type: 'manual' }): FlowDef {
  return { id: 't', name: 't', enabled: true, trigger, vars: {}, steps };
}
const retry = DEFAULT_RETRY;
const messages = (f: FlowDef) => checkFlow(f).map((p) => `${p.path}: ${p.message}`);

describe('checkFlow', () => {
  it('accepts reads of earlier steps, the event, vars and run', () => {
    assert.deepEqual(
      messages(
        flow([
          { kind: 'map', id: 'pick', retry, map: { amount: '=amount', who: '=vars.x & run.id' } },
          { kind: 'filter', id: 'big', retry, filter: '=steps.pick.amount > 100' },
          {
            kind: 'action',
            id: 'go',
            retry,
            connection: 'c',
            action: 'a',
            input: { a: ['=steps.pick.who', '==literal'] },
          },
        ]),
      ),
      [],
    );
  });

  it('finds duplicate ids and reads of own, later and unknown steps', () => {
    assert.deepEqual(
      messages(
        flow(
          [
            {
              kind: 'map',
              id: 'pick',
              retry,
              map: { a: '=steps.pick.x', b: '=steps.send.x', c: '=steps.pik.x' },
            },
            { kind: 'notify', id: 'send', retry, connection: 'c', action: 'a', input: {} },
            { kind: 'filter', id: 'pick', retry, filter: '=true' },
          ],
          { type: 'webhook', source: { object: 'o', id: '=steps.pick.id' } },
        ),
      ),
      [
        "steps[2].id: duplicate step id 'pick' (also steps[0])",
        'trigger.source.id: reads steps.pick, but no step has run when the trigger fires',
        "steps[0].map.a: reads steps.pick, but that is this step's own output, which does not exist yet",
        "steps[0].map.b: reads steps.send, but step 'send' runs later (steps[1])",
        "steps[0].map.c: reads steps.pik, but there is no step 'pik'",
      ],
    );
  });

  it('checks functions and tables', () => {
    assert.deepEqual(
      messages(
        flow([
          {
            kind: 'map',
            id: 'm',
            retry,
            map: {
              a: '=$fen(amount)',
              b: '=$sumx(1)',
              c: "=$table('industy', x)",
              d: '=($f := function($v) { $v }; $f(1))',
            },
            tables: { industry: {} },
          },
          {
            kind: 'notify',
            id: 'n',
            retry,
            connection: 'c',
            action: 'a',
            input: { t: "=$table('industry', 1)" },
          },
        ]),
      ),
      [
        "steps[0].map.b: unknown function '$sumx'; did you mean '$sum'?",
        "steps[0].map.c: unknown table 'industy'; did you mean 'industry'? (this step has industry)",
        'steps[1].input.t: $table works only in a map step, which holds the tables',
      ],
    );
  });

  it('checks every expression site: if, lookup input, route, wait', () => {
    assert.deepEqual(
      messages(
        flow([
          {
            kind: 'lookup',
            id: 'l',
            retry,
            if: '=amount >',
            required: true,
            lookup: { connection: 'k', action: 'q', input: { f: '=(' } },
          },
          {
            kind: 'route',
            id: 'r',
            retry,
            route: {
              input: { a: '=steps.zz' },
              rows: [
                Object.fromEntries([
                  ['when', { a: 'between 5 and 1' }],
                  ['then', { x: '=1 +' }],
                ]) as never,
              ],
              default: { y: '=steps.r.y' },
            },
          },
          {
            kind: 'wait',
            id: 'w',
            retry,
            wait: {
              connection: 'c',
              event: 'e',
              correlation: '=steps.w.id',
              until: '=status =',
              onTimeout: 'fail',
              timers: [{ afterMs: 1, connection: 'c', action: 'a', input: { t: '=steps.later.x' } }],
            },
          },
        ]),
      ),
      [
        'steps[0].if: invalid expression: Unexpected end of expression (position 8)',
        'steps[0].lookup.input.f: invalid expression: Expected ")" before end of expression (position 1)',
        "steps[1].route.input.a: reads steps.zz, but there is no step 'zz'",
        "steps[1].route.rows[0].when.a: 'between 5 and 1' can never hold: 5 is more than 1",
        'steps[1].route.rows[0].then.x: invalid expression: Unexpected end of expression (position 3)',
        "steps[1].route.default.y: reads steps.r, but that is this step's own output, which does not exist yet",
        "steps[2].wait.correlation: reads steps.w, but that is this step's own output, which does not exist yet",
        'steps[2].wait.until: invalid expression: Unexpected end of expression (position 8)',
        "steps[2].wait.timers[0].input.t: reads steps.later, but there is no step 'later'",
      ],
    );
  });
});
