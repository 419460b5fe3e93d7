/**
 * `npm run bench`: runs every `bench/*.bench.ts` in its own process, one after another (figures
 * measured side by side on a busy machine mean little), and prints their figure lines.
 * `npm run bench -- engine kingdee` runs only those.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const dir = new URL('.', import.meta.url).pathname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.includes(f.replace('.bench.ts', '')))
  .sort((a, b) => (a === 'engine.bench.ts' ? -1 : b === 'engine.bench.ts' ? 1 : a.localeCompare(b)));
let failed = 0;
for (const f of files) {
  console.log(`── ${f}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [`${dir}${f}`], { stdio: 'inherit' });
  if (r.status !== 0) failed += 1;
  console.log(`   (${((Date.now() - t0) / 1000).toFixed(1)} s${r.status !== 0 ? `, exit ${r.status}` : ''})`);
}
process.exit(failed ? 1 : 0);
