/**
 * The second pass over a flow (parse.ts reads the shape first): checks that need no connection —
 * unique step ids, expressions that compile, route conditions that make sense, and that every
 * expression reads only what exists where it runs (`steps.X` of an earlier step, a known function,
 * a table of its own map step). Works on any FlowDef, so flows built in code get the same checks.
 * Paths are those of the YAML surface (docs/flows.md), e.g. `steps[3].route.rows[0].when.amount`.
 */
import type { FlowDef, StepDef, SuppressDef } from '../core/flow.ts';
import { compileExpression, type ExpressionRefs, isExpression, KNOWN_FUNCTIONS } from './expr.ts';
import { closest, didYouMean, join, type LocatedProblem } from './problems.ts';
import { compileCondition, conditionMessage } from './route.ts';

/** Where an expression sits and what it may read there. */
interface Site {
  path: string;
  /** Index of the step the expression belongs to; -1 for the trigger. */
  step: number;
}

export function checkFlow(flow: FlowDef): LocatedProblem[] {
  const problems: LocatedProblem[] = [];
  const ids = flow.steps.map((s) => s.id);

  const firstIndex = new Map<string, number>();
  flow.steps.forEach((s, i) => {
    const first = firstIndex.get(s.id);
    if (first === undefined) firstIndex.set(s.id, i);
    else
      problems.push({
        path: `steps[${i}].id`,
        message: `duplicate step id '${s.id}' (also steps[${first}])`,
      });
  });

  const checkRefs = (refs: ExpressionRefs, site: Site): void => {
    const step: StepDef | undefined = flow.steps[site.step];
    for (const x of refs.steps) {
      const j = ids.indexOf(x);
      let why: string | undefined;
      if (site.step < 0) why = 'no step has run when the trigger fires';
      else if (j === site.step) why = "that is this step's own output, which does not exist yet";
      else if (j > site.step) why = `step '${x}' runs later (steps[${j}])`;
      else if (j < 0) why = `there is no step '${x}'${didYouMean(x, ids.slice(0, site.step))}`;
      if (why) problems.push({ path: site.path, message: `reads steps.${x}, but ${why}` });
    }
    for (const f of refs.functions) {
      if (!KNOWN_FUNCTIONS.has(f)) {
        const c = closest(f, KNOWN_FUNCTIONS);
        problems.push({
          path: site.path,
          message: `unknown function '$${f}'${c ? `; did you mean '$${c}'?` : ''}`,
        });
      }
    }
    if (refs.functions.includes('table')) {
      if (step?.kind !== 'map') {
        problems.push({
          path: site.path,
          message: '$table works only in a map step, which holds the tables',
        });
      } else {
        const names = Object.keys(step.tables ?? {});
        for (const t of refs.tables) {
          if (!names.includes(t)) {
            problems.push({
              path: site.path,
              message: `unknown table '${t}'${didYouMean(t, names)}${names.length ? ` (this step has ${names.join(', ')})` : ' (this step has no tables)'}`,
            });
          }
        }
      }
    }
  };

  const expression = (src: string, site: Site): void => {
    let refs: ExpressionRefs;
    try {
      refs = compileExpression(src).refs;
    } catch (err) {
      problems.push({ path: site.path, message: conditionMessage(err) });
      return;
    }
    checkRefs(refs, site);
  };

  /** Every `=…` string inside a template. */
  const template = (value: unknown, site: Site): void => {
    if (typeof value === 'string') {
      if (isExpression(value)) expression(value, site);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        template(v, { ...site, path: join(site.path, i) });
      });
      return;
    }
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) template(v, { ...site, path: join(site.path, k) });
    }
  };

  if ('source' in flow.trigger && flow.trigger.source) {
    expression(flow.trigger.source.id, { path: 'trigger.source.id', step: -1 });
  }
  if (flow.serialize !== undefined) expression(flow.serialize, { path: 'serialize', step: -1 });

  /** A suppression's key, count and summary see what its action's input sees. */
  const suppress = (s: SuppressDef, site: Site): void => {
    const at = (p: string): Site => ({ ...site, path: join(site.path, p) });
    if (isExpression(s.key)) expression(s.key, at('key'));
    if (typeof s.count === 'string') expression(s.count, at('count'));
    template(s.summary, at('summary'));
  };

  flow.steps.forEach((step, i) => {
    const path = `steps[${i}]`;
    const at = (p: string): Site => ({ path: join(path, p), step: i });
    if (step.if !== undefined) expression(step.if, at('if'));
    switch (step.kind) {
      case 'map':
        template(step.map, at('map'));
        break;
      case 'filter':
        expression(step.filter, at('filter'));
        break;
      case 'lookup':
        if ('input' in step.lookup) template(step.lookup.input, at('lookup.input'));
        break;
      case 'route': {
        for (const [k, src] of Object.entries(step.route.input)) expression(src, at(`route.input.${k}`));
        step.route.rows.forEach((row, r) => {
          for (const [k, cond] of Object.entries(row.when)) {
            const site = at(`route.rows[${r}].when.${k}`);
            try {
              compileCondition(cond);
            } catch (err) {
              problems.push({ path: site.path, message: conditionMessage(err) });
              continue;
            }
            if (isExpression(cond)) expression(cond as string, site);
          }
          template(row.then, at(`route.rows[${r}].then`));
        });
        if (step.route.default !== undefined) template(step.route.default, at('route.default'));
        break;
      }
      case 'action':
      case 'notify':
        template(step.input, at('input'));
        if (step.suppress) suppress(step.suppress, at('suppress'));
        break;
      case 'wait':
        expression(step.wait.correlation, at('wait.correlation'));
        if (step.wait.until !== undefined) expression(step.wait.until, at('wait.until'));
        step.wait.timers.forEach((t, k) => {
          template(t.input, at(`wait.timers[${k}].input`));
          if (t.suppress) suppress(t.suppress, at(`wait.timers[${k}].suppress`));
        });
        break;
    }
  });
  return problems;
}
