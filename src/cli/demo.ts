/**
 * `qiao demo` (`npm run demo`): every shipped scenario end to end on a fresh machine, with no network and
 * no configuration. It starts every sandbox and a hub with an embedded store in `.qiao-demo/`, points the
 * connections of flows/qiao.example.yaml (kingdee, neocrm, wecom, dingtalk, hub, files — the exchange
 * folder `.qiao-demo/exchange/`) at the sandboxes, loads the shipped flows and plays the people at work
 * (src/cli/demo/): each step is printed as it happens, then a summary table and where to look; it keeps
 * running until Ctrl-C.
 *
 * `--once` stops after the summary and exits 0 only when every scenario left the sandboxes' records as
 * expected; `--json` prints the summary as one JSON object. A second run on the same folder creates
 * nothing twice: every scenario's events are already in the store's inbox (and its files in the
 * exchange folder).
 */
import { join, resolve } from 'node:path';
import { createLogger } from '../core/logger.ts';
import { runScenarioDemo, SCENES, type ScenarioDemo, type ScenarioDemoSummary } from './demo/run.ts';
import { CliError, positiveInt, say, table } from './output.ts';
import { untilSignal } from './signals.ts';

export const DEMO_PORT = 8780;
export const DEMO_DATA_DIR = '.qiao-demo';

interface DemoOptions {
  once?: boolean;
  json?: boolean;
  dataDir?: string;
  port?: string;
}

/** Records written per system, as `kingdee 1 · wecom 2`. */
function written(w: Record<string, number>): string {
  const parts = Object.entries(w).map(([system, n]) => `${system} ${n}`);
  return parts.length ? parts.join(' · ') : '-';
}

export function summaryTable(s: ScenarioDemoSummary): string {
  return table([
    ['SCENARIO', 'STATUS', 'RUNS', 'WRITTEN', 'DUPLICATES', 'MS'],
    ...s.scenarios.map((x) => [
      x.scenario,
      x.status,
      String(x.runs),
      written(x.written),
      String(x.duplicates),
      String(x.elapsedMs),
    ]),
  ]);
}

export async function demoCommand(opts: DemoOptions): Promise<number> {
  const dataDir = resolve(opts.dataDir ?? DEMO_DATA_DIR);
  const port = opts.port === '0' ? 0 : (positiveInt('--port', opts.port, 65535) ?? DEMO_PORT);
  const quiet = Boolean(opts.json);
  const log = createLogger({}, { level: (process.env.QIAO_LOG as 'warn' | undefined) ?? 'error' });
  const note = (line: string) => {
    if (!quiet) say(line);
  };

  let demo: ScenarioDemo | undefined;
  try {
    note(`Qiao demo: ${SCENES.length} scenarios against the sandboxes, data in ${dataDir}`);
    let last = '';
    try {
      demo = await runScenarioDemo({
        dataDir,
        port,
        log,
        step: (scene, line) => {
          if (scene !== last) {
            last = scene;
            note('');
            note(`▶ ${SCENES.find((s) => s.id === scene)?.title ?? scene}`);
          }
          note(`  · ${line}`);
        },
      });
    } catch (err) {
      throw new CliError(`the demo cannot start: ${(err as Error).message}`);
    }
    const summary = demo.summary;

    if (opts.json) say(JSON.stringify(summary));
    else {
      say();
      say(summaryTable(summary));
      if (summary.scenarios.every((s) => s.runs === 0 && s.duplicates > 0)) {
        say();
        say(`Every scenario was already played on ${dataDir}: nothing was created twice.`);
        say(`(Remove ${dataDir} to play them afresh.)`);
      }
    }
    for (const s of summary.scenarios) {
      for (const p of s.problems) process.stderr.write(`demo: ${s.scenario}: ${p}\n`);
    }
    if (opts.once) return summary.status === 'ok' ? 0 : 1;

    const u = summary.hub;
    say();
    say('Look at:');
    say(`  runs          ${u}/api/runs`);
    say(`  flows         ${u}/api/flows`);
    say(`  reviews       ${u}/api/reviews`);
    say(`  dead letters  ${u}/api/dead-letters`);
    say(`  metrics       ${u}/metrics`);
    say(`  the API       ${u}/api/openapi.json`);
    say(`  files         ${join(dataDir, 'exchange')} (outbox/, inbox/, results/)`);
    say();
    say('The partner sandboxes are running too (base URLs and credentials: `qiao sandbox` prints them):');
    for (const [system, d] of Object.entries(demo.sandboxes.describe())) {
      if (system !== 'http-target') say(`  ${system.padEnd(9)} ${d.baseUrl}`);
    }
    say();
    say('Ctrl-C stops the demo.');
    await untilSignal();
    say('stopping…');
    return 0;
  } finally {
    await demo?.close();
  }
}
