/**
 * Partner sandboxes in their own process (argv: the systems, e.g. `neocrm kingdee`), so the hub a
 * benchmark measures shares no event loop with the partners it calls, as it shares no machine with the
 * real ones. Prints what `qiao sandbox` prints (`{ "<system>": { baseUrl, urls, credentials } }`) on one
 * line once they listen; SIGTERM stops them.
 */
import { SANDBOX_SYSTEMS, type SandboxSystem, startSandboxes } from '../../src/sandbox/index.ts';

const only = process.argv.slice(2) as SandboxSystem[];
const unknown = only.filter((s) => !SANDBOX_SYSTEMS.includes(s));
if (unknown.length)
  throw new Error(`unknown sandbox ${unknown.join(', ')}; known: ${SANDBOX_SYSTEMS.join(', ')}`);
const sandboxes = await startSandboxes({ only: only.length ? only : undefined });
process.stdout.write(`${JSON.stringify(sandboxes.describe())}\n`);
process.on('SIGTERM', () => void sandboxes.close().then(() => process.exit(0)));
