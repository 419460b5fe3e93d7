/** `qiao runs` and `qiao run show ID`: the runs in the store and one run's journey, step by step. */
import { RUN_STATUSES } from '../server/api/schemas.ts';
import type { RunStatus, StepRow } from '../store/store.ts';
import { withStore } from './context.ts';
import { CliError, clip, localTime, positiveInt, say, table } from './output.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function runsCommand(opts: {
  config?: string;
  flow?: string;
  status?: string;
  limit?: string;
  json?: boolean;
}): Promise<number> {
  if (opts.status && !(RUN_STATUSES as readonly string[]).includes(opts.status)) {
    throw new CliError(`--status must be one of ${RUN_STATUSES.join(', ')}; got '${opts.status}'`);
  }
  const limit = positiveInt('--limit', opts.limit, 1000) ?? 20;
  const runs = await withStore(opts.config, (s) =>
    s.listRuns({ flowId: opts.flow, status: opts.status as RunStatus | undefined, limit }),
  );
  if (opts.json) {
    say(JSON.stringify(runs));
    return 0;
  }
  if (runs.length === 0) {
    say('no runs');
    return 0;
  }
  say(
    table([
      ['RUN', 'FLOW', 'STATUS', 'STARTED', 'MS', 'ERROR'],
      ...runs.map((r) => [
        r.id,
        r.flowId,
        r.status,
        localTime(r.startedAt),
        r.finishedAt ? String(r.finishedAt - r.startedAt) : '-',
        r.error ? clip(r.error.message, 50) : '',
      ]),
    ]),
  );
  return 0;
}

function stepLines(s: StepRow): string[] {
  const lines = [
    `  ${s.idx + 1}. ${s.name} (${s.kind}) ${s.status}, ${s.history.length} attempt${s.history.length === 1 ? '' : 's'}`,
  ];
  if (s.input !== undefined) lines.push(`     input:  ${clip(JSON.stringify(s.input), 200)}`);
  if (s.output !== undefined) lines.push(`     output: ${clip(JSON.stringify(s.output), 200)}`);
  if (s.error) lines.push(`     error:  ${s.error.errorClass}: ${clip(s.error.message, 200)}`);
  for (const h of s.history) {
    lines.push(
      `     #${h.attempt} ${localTime(h.at)} ${h.outcome} in ${h.durationMs} ms${h.error ? `: ${clip(h.error.message, 120)}` : ''}`,
    );
  }
  return lines;
}

export async function runShowCommand(id: string, opts: { config?: string; json?: boolean }): Promise<number> {
  if (!UUID.test(id)) throw new CliError(`'${id}' is not a run id (a UUID, as \`qiao runs\` lists them)`);
  const got = await withStore(opts.config, (s) => s.getRun(id));
  if (!got) throw new CliError(`run ${id} does not exist`);
  if (opts.json) {
    say(JSON.stringify(got));
    return 0;
  }
  const r = got.run;
  say(`run ${r.id}`);
  say(`  flow:     ${r.flowId} (version ${r.flowVersion})`);
  say(`  status:   ${r.status}`);
  say(
    `  started:  ${localTime(r.startedAt)}${r.finishedAt ? `, finished after ${r.finishedAt - r.startedAt} ms` : ''}`,
  );
  if (r.eventKey) say(`  event:    ${r.eventSource ?? ''} ${r.eventKey}`);
  if (r.linkKey) say(`  link:     ${r.linkKey}`);
  say(`  data:     ${clip(JSON.stringify(r.event), 200)}`);
  if (r.error) say(`  error:    ${r.error.errorClass}: ${r.error.message}`);
  say('steps:');
  for (const s of got.steps) for (const l of stepLines(s)) say(l);
  return 0;
}
