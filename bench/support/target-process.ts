/** The HTTP target in its own process, so the benchmark's ceiling and the hub share no CPU with it. */
import { startHttpTarget } from '../../src/sandbox/http-target/index.ts';

const t = await startHttpTarget();
process.stdout.write(`${JSON.stringify({ url: t.baseUrl })}\n`);
process.on('SIGTERM', () => void t.close().then(() => process.exit(0)));
