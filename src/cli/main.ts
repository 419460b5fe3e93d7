/**
 * Entry of `bin/qiao.js`: runs the command line, waits for stdout and stderr to drain (a pipe may
 * still hold output), then exits with the command's code.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
const drained = (s: NodeJS.WriteStream) => new Promise<void>((r) => s.write('', () => r()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
