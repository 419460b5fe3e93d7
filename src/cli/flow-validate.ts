/**
 * `qiao flow validate FILE…`: every problem of every file, one a line as `file:line path: message`,
 * and exit 1; or `ok: N flows` and exit 0. With `--config`, flows are also checked against the
 * connections qiao.yaml declares (operations, triggers, objects, fields); without it, their syntax and
 * structure only. With `--config` and no files, the flow files qiao.yaml names are checked.
 */

import { builtinConnectors } from '../connectors/index.ts';
import { loadConfig, type QiaoConfig } from '../core/config.ts';
import type { Connector } from '../core/connector.ts';
import { silentLogger } from '../core/logger.ts';
import { formatProblems, summarizeProblems } from '../flow/format.ts';
import { loadFlows } from '../flow/load.ts';
import type { FlowRegistry } from '../flow/validate.ts';
import { CliError, say } from './output.ts';

/** The connections of a configuration, as flow validation sees them (connectors made, never called). */
export function configRegistry(cfg: QiaoConfig): FlowRegistry {
  const descriptors = new Map(builtinConnectors().map((d) => [d.type, d]));
  const made = new Map<string, { type: string; connector: Connector }>();
  return {
    connections: () => Object.keys(cfg.connections).sort(),
    connection(id) {
      const c = cfg.connections[id];
      if (!c) return undefined;
      let got = made.get(id);
      if (!got) {
        const d = descriptors.get(c.type);
        if (!d)
          throw new Error(
            `its type '${c.type}' is not a connector type (known: ${[...descriptors.keys()].join(', ')})`,
          );
        const parsed = d.settings.safeParse(c.settings);
        if (!parsed.success) {
          throw new Error(
            `its settings are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`).join('; ')}`,
          );
        }
        got = {
          type: c.type,
          connector: d.create({ connectionId: id, settings: parsed.data, log: silentLogger }),
        };
        made.set(id, got);
      }
      return got;
    },
  };
}

export async function flowValidateCommand(files: string[], opts: { config?: string }): Promise<number> {
  const cfg = opts.config ? loadConfig(opts.config) : undefined;
  const patterns = files.length ? files : (cfg?.flows ?? []);
  if (patterns.length === 0)
    throw new CliError('name the flow files to check (or give --config to check its flows)');
  const { flows, problems } = await loadFlows(patterns, process.cwd(), cfg ? configRegistry(cfg) : undefined);
  if (problems.length) {
    say(formatProblems(problems));
    process.stderr.write(`${summarizeProblems(problems)}\n`);
    return 1;
  }
  if (flows.length === 0) throw new CliError(`no flow files match ${patterns.join(' ')}`);
  say(`ok: ${flows.length} flow${flows.length === 1 ? '' : 's'}`);
  return 0;
}
