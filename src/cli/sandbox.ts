/**
 * `qiao sandbox`: every simulator on loopback, described on ONE JSON line
 * (`{ "<system>": { baseUrl, urls, credentials } }`) so a script can read it, then running until
 * SIGINT/SIGTERM. Progress and errors go to stderr; stdout holds only that line.
 */
import { startSandboxes } from '../sandbox/index.ts';
import { CliError, positiveInt } from './output.ts';
import { untilSignal } from './signals.ts';

export async function sandboxCommand(opts: { portBase?: string; host?: string }): Promise<number> {
  const portBase = positiveInt('--port-base', opts.portBase, 65535 - 8);
  let sandboxes: Awaited<ReturnType<typeof startSandboxes>>;
  try {
    sandboxes = await startSandboxes({ portBase, host: opts.host });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  process.stdout.write(`${JSON.stringify(sandboxes.describe())}\n`);
  process.stderr.write('sandboxes are running; Ctrl-C stops them\n');
  await untilSignal();
  await sandboxes.close();
  return 0;
}
