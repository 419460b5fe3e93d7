/**
 * Where the CLI's data is: the configuration named by `--config`, else `qiao.yaml` in the current
 * folder when there is one, else the embedded store in `.qiao/`. Commands that only read or change
 * data open that store directly, without starting a hub or serving anything.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { CONFIG_DEFAULTS, loadConfig, type QiaoConfig } from '../core/config.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { CliError } from './output.ts';

export const DEFAULT_CONFIG = 'qiao.yaml';

/** The configuration to use: `--config`, else ./qiao.yaml if present, else none. */
export function resolveConfig(file?: string): QiaoConfig | undefined {
  if (file) return loadConfig(file);
  if (existsSync(DEFAULT_CONFIG)) return loadConfig(DEFAULT_CONFIG);
  return undefined;
}

/** The data folder and database of a configuration (or the defaults). */
export function dataOf(cfg: QiaoConfig | undefined): { dataDir: string; database?: string } {
  return {
    dataDir: cfg?.dataDir ?? resolve(CONFIG_DEFAULTS.dataDir),
    ...(cfg?.database ? { database: cfg.database } : {}),
  };
}

/**
 * Opens the store of `--config` for a command that reads or changes data. An embedded store that does
 * not exist yet is an error, not a new empty database: the user is most likely in the wrong folder.
 */
export async function openDataStore(configFile?: string): Promise<Store> {
  const cfg = resolveConfig(configFile);
  const { dataDir, database } = dataOf(cfg);
  if (!database && !existsSync(join(dataDir, 'qiao.db'))) {
    throw new CliError(
      cfg
        ? `no Qiao data in ${dataDir} yet (dataDir of ${cfg.file}); run \`qiao start\` first`
        : `no qiao.yaml and no .qiao/ data folder here; run this where Qiao runs, or give --config`,
    );
  }
  return openStore({ dataDir, database });
}

/** Runs `fn` with the store, closing it afterwards. */
export async function withStore<T>(
  configFile: string | undefined,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openDataStore(configFile);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Who changes things from the CLI: `--actor`, else `cli:<login name>`. */
export function cliActor(given?: string): string {
  if (given) return given;
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}
