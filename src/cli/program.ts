/**
 * The `qiao` command (commander). Each subcommand lives in its own file, loaded only when it runs (so
 * `qiao runs` does not load the HTTP server and the sandboxes), and returns its exit code. `runCli`
 * turns anything thrown into one clear line on stderr (the stack only with QIAO_DEBUG=1) and a
 * non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { formatProblems } from '../flow/format.ts';
import { CliError } from './output.ts';
import { registerReviewCommands } from './review-commands.ts';

const CONFIG_HELP = 'qiao.yaml to use (default: ./qiao.yaml if present, else the .qiao/ data folder)';

export function buildProgram(setCode: (code: number) => void): Command {
  const program = new Command('qiao')
    .description('Qiao (桥): an integration hub for Kingdee K/3 Cloud, Neocrm, WeCom and DingTalk')
    .version('0.1.0')
    .showHelpAfterError('(qiao --help lists the commands)')
    .exitOverride();
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) =>
      setCode(await fn(...args));

  program
    .command('start')
    .description('run the hub: HTTP server (API, callbacks, metrics) and workers, until Ctrl-C')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('-p, --port <port>', 'listen on this port (default: server.port of qiao.yaml, else 8780)')
    .action(act(async (o) => (await import('./start.ts')).startCommand(o)));

  program
    .command('worker')
    .description('run workers only, no HTTP server (scale-out on PostgreSQL)')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(act(async (o) => (await import('./start.ts')).workerCommand(o)));

  const flow = program.command('flow').description('flow files');
  flow
    .command('validate')
    .description('check flow files; every problem as file:line path: message')
    .argument('[files...]', 'flow files or globs (default with --config: the flows it names)')
    .option('-c, --config <file>', 'also check against the connections of this qiao.yaml')
    .action(
      act(async (files: string[], o) => (await import('./flow-validate.ts')).flowValidateCommand(files, o)),
    );

  program
    .command('runs')
    .description('list runs, newest first')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--flow <id>', 'only runs of this flow')
    .option(
      '--status <status>',
      'only runs in this status (running, waiting, completed, failed, filtered, cancelled)',
    )
    .option('--limit <n>', 'at most this many (default 20)')
    .option('--json', 'print JSON')
    .action(act(async (o) => (await import('./runs.ts')).runsCommand(o)));

  const run = program.command('run').description('one run');
  run
    .command('show')
    .description('a run and its steps: input, output, error and every attempt')
    .argument('<id>', 'run id')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON')
    .action(act(async (id: string, o) => (await import('./runs.ts')).runShowCommand(id, o)));

  const dlq = program.command('dlq').description('dead letters: steps that failed for good');
  dlq
    .command('list')
    .description('list dead letters (default: the open ones)')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--status <status>', 'open, replayed, discarded or all (default open)')
    .option('--flow <id>', 'only this flow')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'print JSON')
    .action(act(async (o) => (await import('./dlq.ts')).dlqListCommand(o)));
  dlq
    .command('show')
    .description('one dead letter as JSON')
    .argument('<id>', 'dead letter id')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(act(async (id: string, o) => (await import('./dlq.ts')).dlqShowCommand(id, o)));
  dlq
    .command('edit')
    .description("replace a dead letter's input (checked against its action's input schema)")
    .argument('<id>', 'dead letter id')
    .requiredOption('--input <json>', 'the new input, as JSON')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--actor <name>', 'who makes the change, for the audit log (default cli:<login>)')
    .action(act(async (id: string, o) => (await import('./dlq.ts')).dlqEditCommand(id, o)));
  dlq
    .command('replay')
    .description('run the step again, with the same idempotency key')
    .argument('<id>', 'dead letter id')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--actor <name>', 'who makes the change, for the audit log (default cli:<login>)')
    .action(act(async (id: string, o) => (await import('./dlq.ts')).dlqReplayCommand(id, o)));
  dlq
    .command('discard')
    .description('close a dead letter without running it (its run stays failed)')
    .argument('<id>', 'dead letter id')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--actor <name>', 'who makes the change, for the audit log (default cli:<login>)')
    .action(act(async (id: string, o) => (await import('./dlq.ts')).dlqDiscardCommand(id, o)));

  const audit = program.command('audit').description('the hash-chained audit log');
  audit
    .command('verify')
    .description('check the hash chain; exit 1 names the first bad row')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(act(async (o) => (await import('./audit.ts')).auditVerifyCommand(o)));

  registerReviewCommands(program, act, CONFIG_HELP);

  program
    .command('sandbox')
    .description('start every sandbox; print one JSON line with their URLs and credentials; run until Ctrl-C')
    .option('--port-base <n>', 'consecutive ports from here (default: free ports)')
    .option('--host <host>', 'listen address (default 127.0.0.1)')
    .action(act(async (o) => (await import('./sandbox.ts')).sandboxCommand(o)));

  program
    .command('demo')
    .description('the engine end to end against the sandboxes, no configuration needed')
    .option('--once', 'stop after the summary; exit 0 only when everything went as expected')
    .option('--json', 'print the summary as JSON')
    .option('--data-dir <dir>', 'data folder (default .qiao-demo)')
    .option('--port <port>', 'hub port (default 8780, or a free one when taken)')
    .action(act(async (o) => (await import('./demo.ts')).demoCommand(o)));

  return program;
}

/** One line (or one line per problem) for an error; the stack only when it helps. */
export function describeError(err: unknown): string {
  if (err instanceof ValidationError && err.problems.length) return formatProblems(err.problems);
  return (err as Error)?.message ?? String(err);
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`qiao: ${describeError(err)}\n`);
    if (process.env.QIAO_DEBUG === '1' && (err as Error)?.stack)
      process.stderr.write(`${(err as Error).stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
