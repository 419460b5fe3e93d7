import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonata from 'jsonata';
import {
  compileExpression,
  compileTemplate,
  EXPRESSION_LIMITS,
  type ExprContext,
  ExpressionError,
  ExpressionSyntaxError,
  evaluateExpression,
  evaluateTemplate,
  isExpression,
} from './expr.ts';

/** A won Neocrm opportunity for 华锐精密 (company.ts C0001), two steps into a run. */
function context(): ExprContext {
  return {
    event: {
      id: '9007199254741993',
      opportunityName: '华锐产线自动化改造',
      amount: 1_280_000,
      stage: 'won',
      industry: '制造业',
      customer: { number: 'C0001', name: '苏州华锐精密机械有限公司', creditRating: 'AAA' },
      items: [
        { product: 'M0001', qty: 6, price: 168_000 },
        { product: 'M0007', qty: 20, price: 2_000 },
      ],
      last: 'an event field shadowed by the context',
    },
    steps: { pick: { amount: 1_280_000, industry: 'HY01' }, approvers: { chain: ['LiNa', 'YangFan'] } },
    last: { chain: ['LiNa', 'YangFan'] },
    vars: { financeUser: 'YangFan', taxRate: 0.13 },
    run: { id: 'run-1', flowId: 'contract-approval', linkKey: 'lk-1' },
  };
}

describe('isExpression', () => {
  it('is true only for a string starting with one =', () => {
    assert.equal(isExpression('=amount'), true);
    assert.equal(isExpression('==amount'), false);
    assert.equal(isExpression('amount'), false);
    assert.equal(isExpression(''), false);
    assert.equal(isExpression(5), false);
    assert.equal(isExpression(null), false);
  });
});

describe('evaluateExpression', () => {
  it('reads the context and, for bare names, the event', async () => {
    const ctx = context();
    assert.equal(await evaluateExpression('=event.amount', ctx), 1_280_000);
    assert.equal(await evaluateExpression('=amount', ctx), 1_280_000);
    assert.equal(await evaluateExpression('=customer.name', ctx), '苏州华锐精密机械有限公司');
    assert.deepEqual(await evaluateExpression('=steps.approvers.chain', ctx), ['LiNa', 'YangFan']);
    assert.equal(await evaluateExpression('=vars.financeUser', ctx), 'YangFan');
    assert.equal(await evaluateExpression('=run.flowId', ctx), 'contract-approval');
    // The context's own keys win over event fields of the same name.
    assert.deepEqual(await evaluateExpression('=last.chain', ctx), ['LiNa', 'YangFan']);
    assert.equal(await evaluateExpression('=event.last', ctx), 'an event field shadowed by the context');
    assert.equal(await evaluateExpression('=nothing.here', ctx), undefined);
    assert.equal(await evaluateExpression('=amount.deeper', ctx), undefined);
  });

  it('computes amounts and Chinese strings', async () => {
    const ctx = context();
    assert.equal(await evaluateExpression('=$round(amount * (1 + vars.taxRate), 2)', ctx), 1_446_400);
    assert.equal(await evaluateExpression('=$sum(items.(qty * price))', ctx), 1_048_000);
    assert.equal(await evaluateExpression('=stage = "won" and amount >= 1000000', ctx), true);
    assert.equal(
      await evaluateExpression('=customer.name & "（" & industry & "）"', ctx),
      '苏州华锐精密机械有限公司（制造业）',
    );
    assert.equal(await evaluateExpression('=$substring(customer.name, 2, 4)', ctx), '华锐精密');
    assert.equal(await evaluateExpression('=$cnyWords(amount)', ctx), '壹佰贰拾捌万元整');
    assert.equal(await evaluateExpression('=$fen(amount)', ctx), 128_000_000);
    assert.equal(await evaluateExpression('=$contains(opportunityName, "自动化")', ctx), true);
  });

  it('answers plain paths and comparisons exactly as JSONata does', async () => {
    const values: unknown[] = [
      3,
      0,
      -2.5,
      'won',
      '3',
      '',
      null,
      true,
      false,
      undefined,
      { a: 1 },
      [1, 2],
      [3],
    ];
    const sources = [
      'v',
      'event.v',
      'v = 3',
      'v != 3',
      'v = "won"',
      "v != 'won'",
      'v = null',
      'v != null',
      'v = true',
      'v < 5',
      'v >= -2.5',
      'v > "a"',
      'v <= 0',
      'event.v = 3',
      'steps.s.v >= 3',
    ];
    for (const v of values) {
      const ctx: ExprContext = {
        event: v === undefined ? {} : { v },
        steps: { s: v === undefined ? {} : { v } },
      };
      const input = { ...(ctx.event as object), ...ctx };
      for (const src of sources) {
        const expected = await jsonata(src)
          .evaluate(input)
          .then(
            (r) => ({ ok: JSON.stringify(r) }),
            (e: { code: string }) => ({ err: e.code }),
          );
        const actual = await evaluateExpression(src, ctx).then(
          (r) => ({ ok: JSON.stringify(r) }),
          (e: { code: string }) => ({ err: e.code }),
        );
        assert.deepEqual(actual, expected, `${src} with v = ${JSON.stringify(v)}`);
      }
    }
  });

  it('accepts a source without the leading =', async () => {
    assert.equal(await evaluateExpression('amount + 1', context()), 1_280_001);
  });

  it('returns plain arrays, never JSONata sequences', async () => {
    const products = await evaluateExpression('=items.product', context());
    assert.deepEqual(products, ['M0001', 'M0007']);
    assert.equal(Object.keys(products as object).length, 2);
    const nested = await evaluateExpression('={"codes": items.product, "first": items[0]}', context());
    assert.deepEqual(nested, {
      codes: ['M0001', 'M0007'],
      first: { product: 'M0001', qty: 6, price: 168_000 },
    });
  });

  it('walks arrays the JSONata way even on a plain path', async () => {
    // `items.qty` crosses an array: the direct path reader must hand over to JSONata.
    assert.deepEqual(await evaluateExpression('=items.qty', context()), [6, 20]);
    assert.deepEqual(await evaluateExpression('=event.items.qty', context()), [6, 20]);
  });

  it('reports a syntax error with JSONata message and position', () => {
    assert.throws(
      () => compileExpression('=amount +'),
      (err: unknown) => {
        assert.ok(err instanceof ExpressionSyntaxError);
        assert.equal(
          err.message,
          "invalid expression '=amount +': Unexpected end of expression (position 8)",
        );
        assert.equal(err.detail, 'Unexpected end of expression');
        assert.equal(err.position, 8);
        assert.equal(err.code, 'S0207');
        return true;
      },
    );
    return assert.rejects(evaluateExpression('=(1', {}), ExpressionSyntaxError);
  });

  it('rejects a failing evaluation with a permanent ExpressionError', async () => {
    await assert.rejects(evaluateExpression('=stage + 1', context()), (err: unknown) => {
      assert.ok(err instanceof ExpressionError);
      assert.equal(err.errorClass, 'permanent');
      assert.equal(err.fault, 'user');
      assert.equal(
        err.message,
        `expression '=stage + 1' failed: The left side of the "+" operator must evaluate to a number (position 7)`,
      );
      return true;
    });
    await assert.rejects(evaluateExpression('=$fen("十万")', {}), {
      name: 'ExpressionError',
      message: `expression '=$fen("十万")' failed: $fen: expected a number, got '十万' (position 5)`,
    });
    await assert.rejects(evaluateExpression('=$error("金额不能为空")', {}), /failed: 金额不能为空/);
  });

  it('stops a runaway recursion instead of hanging', async () => {
    const saved = EXPRESSION_LIMITS.timeout;
    EXPRESSION_LIMITS.timeout = 50;
    try {
      await assert.rejects(
        evaluateExpression('=($loop := function($n) { $n < 0 ? $n : $loop($n + 1) }; $loop(0))', {}),
        { name: 'ExpressionError', message: /Evaluation timeout after 50 milliseconds/ },
      );
    } finally {
      EXPRESSION_LIMITS.timeout = saved;
    }
  });

  it('compiles a source once', () => {
    assert.equal(compileExpression('=amount * 2'), compileExpression('amount * 2'));
  });

  it('lists the steps, tables and functions an expression reads', () => {
    const e = compileExpression(
      "=$table('industry', steps.pick.industry) & steps.`only-won`.x & $$.steps.root.y & $fen(1) & ($f := function($v) { $v }; $f(1)) & $nope()",
    );
    assert.deepEqual(e.refs.steps.sort(), ['only-won', 'pick', 'root']);
    assert.deepEqual(e.refs.tables, ['industry']);
    assert.deepEqual(e.refs.functions.sort(), ['fen', 'nope', 'table']);
  });
});

describe('evaluateTemplate', () => {
  const tables = { industry: { 制造业: 'HY01', 能源: 'HY02' }, rating: { '1': 'A', '2': 'B' } };

  it('evaluates expressions deep inside objects and arrays and keeps the rest', async () => {
    const template = {
      FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
      FCustId: { FNumber: '=customer.number' },
      FNote: '=opportunityName & " / " & run.id',
      FSaleOrderEntry: ['=items[0].product', { FQty: '=items[1].qty', FTaxPrice: 2260, FEntryTaxRate: 13 }],
      flags: [true, null, 3],
      escaped: '==not an expression',
      plain: 'text = fine',
    };
    assert.deepEqual(await evaluateTemplate(template, context()), {
      FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
      FCustId: { FNumber: 'C0001' },
      FNote: '华锐产线自动化改造 / run-1',
      FSaleOrderEntry: ['M0001', { FQty: 20, FTaxPrice: 2260, FEntryTaxRate: 13 }],
      flags: [true, null, 3],
      escaped: '=not an expression',
      plain: 'text = fine',
    });
  });

  it('reads value tables with $table; an unknown value gives null', async () => {
    const out = await evaluateTemplate(
      {
        industry: "=$table('industry', industry)",
        unknown: "=$table('industry', '农业')",
        numeric: "=$table('rating', 2)",
        many: "=$table('industry', ['能源', '制造业'])",
        missing: "=$table('industry', nothing)",
      },
      context(),
      tables,
    );
    assert.deepEqual(out, { industry: 'HY01', unknown: null, numeric: 'B', many: ['HY02', 'HY01'] });
  });

  it('fails on a table the step does not have', async () => {
    await assert.rejects(evaluateTemplate("=$table('industy', industry)", context(), tables), {
      message: /\$table: unknown table "industy" \(this step has: industry, rating\)/,
    });
  });

  it('leaves out keys whose expression gives nothing, and nulls such array items', async () => {
    assert.deepEqual(await evaluateTemplate({ a: '=nothing', b: 1, c: ['=nothing', 2] }, context()), {
      b: 1,
      c: [null, 2],
    });
  });

  it('passes scalars and plain strings through, unescaping ==', async () => {
    assert.equal(await evaluateTemplate('plain', {}), 'plain');
    assert.equal(await evaluateTemplate('==1+1', {}), '=1+1');
    assert.equal(await evaluateTemplate(42, {}), 42);
    assert.equal(await evaluateTemplate(null, {}), null);
    assert.equal(await evaluateTemplate('=1+1', {}), 2);
  });

  it('gives fresh copies of literal parts, so callers may mutate them', async () => {
    const template = { fixed: { org: '100', tags: ['a'] }, amount: '=amount' };
    const first = (await evaluateTemplate(template, context())) as { fixed: { org: string; tags: string[] } };
    first.fixed.org = 'changed';
    first.fixed.tags.push('b');
    assert.deepEqual(await evaluateTemplate(template, context()), {
      fixed: { org: '100', tags: ['a'] },
      amount: 1_280_000,
    });
    assert.deepEqual(template.fixed, { org: '100', tags: ['a'] });
  });

  it('compiles once into a reusable closure', async () => {
    const t = compileTemplate({ who: '=vars.financeUser', n: '=amount / 10000 & "万"' });
    assert.deepEqual(await t(context()), { who: 'YangFan', n: '128万' });
    assert.deepEqual(await t({ event: { amount: 50_000 }, vars: { financeUser: 'HuangLei' } }), {
      who: 'HuangLei',
      n: '5万',
    });
  });

  it('reports a syntax error when compiled', async () => {
    assert.throws(() => compileTemplate({ a: { b: '=amount +' } }), ExpressionSyntaxError);
    await assert.rejects(evaluateTemplate({ a: ['=)'] }, {}), ExpressionSyntaxError);
  });
});
