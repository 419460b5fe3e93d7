/**
 * `qiao start`: the whole hub in one process (HTTP server, workers, scheduler). `qiao worker`: workers
 * and scheduler only, for scale-out on PostgreSQL, where any number of them share one database.
 */
import { CONFIG_DEFAULTS } from '../core/config.ts';
import { startHub } from '../hub.ts';
import { dataOf, resolveConfig } from './context.ts';
import { CliError, positiveInt, say } from './output.ts';
import { untilSignal } from './signals.ts';

export async function startCommand(opts: { config?: string; port?: string }): Promise<number> {
  const cfg = resolveConfig(opts.config);
  // 0 asks for any free port (tests, several hubs on one machine); the URL printed says which.
  const port = opts.port === '0' ? 0 : positiveInt('--port', opts.port, 65535);
  const hub = await startHub(
    cfg
      ? { config: cfg, ...(port !== undefined ? { port } : {}) }
      : { ...dataOf(undefined), port: port ?? CONFIG_DEFAULTS.port, host: CONFIG_DEFAULTS.host },
  );
  const where = hub.store.kind === 'sqlite' ? `SQLite in ${dataOf(cfg).dataDir}` : 'PostgreSQL';
  say(`Qiao is running at ${hub.url} (store: ${where}${cfg ? `, config: ${cfg.file}` : ''})`);
  say(`API: ${hub.url}/api/openapi.json · health: ${hub.url}/healthz · metrics: ${hub.url}/metrics`);
  say('Ctrl-C stops it.');
  const sig = await untilSignal();
  say(`${sig}: stopping (steps in flight finish first)…`);
  await hub.close();
  say('stopped');
  return 0;
}

export async function workerCommand(opts: { config?: string }): Promise<number> {
  const cfg = resolveConfig(opts.config);
  if (!cfg?.database) {
    // An embedded hub takes back every running step at start (it assumes it is alone), so a second
    // process on one SQLite file would steal the first one's work.
    throw new CliError(
      'qiao worker needs a PostgreSQL database (database: postgres://… in qiao.yaml); with the embedded SQLite store, `qiao start` runs the workers itself',
    );
  }
  const hub = await startHub({ config: cfg, serve: false });
  say(`Qiao worker ${hub.engine.workerId} is running (PostgreSQL, config: ${cfg.file}). Ctrl-C stops it.`);
  const sig = await untilSignal();
  say(`${sig}: stopping (steps in flight finish first)…`);
  await hub.close();
  say('stopped');
  return 0;
}
