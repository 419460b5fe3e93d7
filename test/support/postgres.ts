/**
 * A real, throwaway PostgreSQL for tests: the store suite runs on SQLite and PostgreSQL alike
 * (DESIGN.md, "Scale"), so every test that needs PostgreSQL gets its own cluster (or, with
 * QIAO_TEST_PG_URL, its own database on a shared server) and throws it away afterwards.
 *
 * How a cluster is made, and why:
 * - The binaries come from PATH, else the highest `/usr/lib/postgresql/<version>/bin` (Debian's layout,
 *   which does not put `initdb` on PATH).
 * - `initdb` runs once per machine and PostgreSQL version into a cached template in the temp folder (with
 *   the `qiao_test` database already made); each cluster is a copy of it. A copy takes ~0.1 s where
 *   `initdb` takes ~1 s, and the suite starts many clusters.
 * - Durability is switched off (fsync, synchronous_commit, full_page_writes): a test cluster never
 *   outlives a crash, and these make writes several times faster.
 * - initdb and postgres refuse to run as root, so under root (CI containers) they run as the `postgres`
 *   user through `runuser`, and that user is created when missing.
 * - Clusters live in /dev/shm when it is a roomy tmpfs: on a disk, copying the ~1,300 small files of a
 *   cluster costs ~1 s of kernel time, in memory ~0.1 s.
 * - The server listens on a free loopback port only, its unix socket inside its own temp folder, so
 *   clusters never meet each other or a system server.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statfsSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

export interface PostgresHandle {
  /** `postgres://postgres@127.0.0.1:<port>/qiao_test`, or a fresh database on QIAO_TEST_PG_URL's server. */
  url: string;
  /** Stops the cluster and removes its folder (or drops the fresh database). Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Where to look for the binaries; defaults to `process.env.PATH` (tests of the finder only). */
  searchPath?: string;
  /** Folders holding `<version>/bin`; defaults to `/usr/lib/postgresql`. */
  searchRoots?: string[];
}

const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin: ' +
  'install them with `apt-get install -y postgresql`, or set QIAO_TEST_PG_URL to a server tests may use';

const DATABASE = 'qiao_test';
const READY_TIMEOUT_MS = 20_000;
const BINARIES = ['initdb', 'pg_ctl', 'postgres'];

/** True when tests can get a PostgreSQL: QIAO_TEST_PG_URL is set or the server binaries are installed. */
export function pgAvailable(): boolean {
  return Boolean(process.env.QIAO_TEST_PG_URL) || findPgBinDir() !== undefined;
}

/**
 * The folder holding initdb, pg_ctl and postgres: the first PATH folder with all three, else the highest
 * version under the roots (`/usr/lib/postgresql/16/bin` before `.../15/bin`).
 */
export function findPgBinDir(
  searchPath: string = process.env.PATH ?? '',
  searchRoots: string[] = ['/usr/lib/postgresql'],
): string | undefined {
  const hasAll = (dir: string) => BINARIES.every((b) => existsSync(join(dir, b)));
  for (const dir of searchPath.split(delimiter)) {
    if (dir && hasAll(dir)) return dir;
  }
  for (const root of searchRoots) {
    let versions: string[];
    try {
      versions = readdirSync(root);
    } catch {
      continue;
    }
    versions.sort(compareVersionsDesc);
    for (const v of versions) {
      const dir = join(root, v, 'bin');
      if (hasAll(dir)) return dir;
    }
  }
  return undefined;
}

function compareVersionsDesc(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Starts a throwaway PostgreSQL and returns its URL. With QIAO_TEST_PG_URL set, no cluster is started:
 * a database with a random name is created on that server instead (and dropped by `stop`), so two
 * callers never share tables either way.
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const external = process.env.QIAO_TEST_PG_URL;
  if (external) return createScratchDatabase(external);

  const binDir = findPgBinDir(options.searchPath, options.searchRoots);
  if (!binDir) throw new Error(INSTALL_HINT);
  const runAs = process.getuid?.() === 0 ? ensurePostgresUser() : undefined;
  const template = await ensureTemplate(binDir, runAs);

  const dir = makeOwnedTempDir('qiao-pg-', runAs);
  try {
    await run(runAs, 'cp', ['-a', join(template, 'data'), join(dir, 'data')]);
    const cluster = await launch(binDir, dir, runAs);
    await checkDatabase(cluster.port, DATABASE);
    return {
      url: `postgres://postgres@127.0.0.1:${cluster.port}/${DATABASE}`,
      stop: once(() => cluster.stop('immediate', true)),
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------
// A scratch database on an existing server (QIAO_TEST_PG_URL).

async function createScratchDatabase(serverUrl: string): Promise<PostgresHandle> {
  const name = `qiao_test_${randomBytes(6).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`create database "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    stop: once(async () => {
      await withClient(serverUrl, async (c) => {
        try {
          // WITH (FORCE) (PostgreSQL 13+) ends sessions a test forgot to close.
          await c.query(`drop database if exists "${name}" with (force)`);
        } catch {
          await c.query(`drop database if exists "${name}"`);
        }
      });
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// The cached template cluster.

const templates = new Map<string, Promise<string>>();
const versions = new Map<string, string>();

/**
 * Returns a folder holding `data/`, an initdb'd and cleanly stopped cluster with the `qiao_test`
 * database. Built once per PostgreSQL version and user; a build goes to a private folder that is
 * renamed into place, so concurrent test processes never see half a template.
 */
function ensureTemplate(binDir: string, runAs: string | undefined): Promise<string> {
  let version = versions.get(binDir);
  if (version === undefined) {
    version = spawnSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    versions.set(binDir, version);
  }
  const tag = `${version} ${binDir} ${runAs ?? process.getuid?.() ?? ''}`;
  const hash = createHash('sha256').update(tag).digest('hex').slice(0, 12);
  const key = join(scratchRoot(), `qiao-pg-template-${hash}`);
  let p = templates.get(key);
  if (!p) {
    p = buildTemplate(binDir, runAs, key);
    templates.set(key, p);
    p.catch(() => templates.delete(key));
  }
  return p;
}

async function buildTemplate(binDir: string, runAs: string | undefined, target: string): Promise<string> {
  if (templateReady(target)) return target;
  const build = makeOwnedTempDir('qiao-pg-build-', runAs);
  try {
    await run(runAs, join(binDir, 'initdb'), [
      '-D',
      join(build, 'data'),
      '--auth=trust',
      '--username=postgres',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    const cluster = await launch(binDir, build, runAs);
    try {
      await withClient(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`, (c) =>
        c.query(`create database ${DATABASE}`),
      );
    } finally {
      // A clean (fast) shutdown, so copies start without crash recovery.
      await cluster.stop('fast', false);
    }
    rmSync(join(build, 'server.log'), { force: true });
    await writeFile(join(build, 'ready'), `${new Date().toISOString()}\n`);
    // `ready` is written before the rename, so a target without it is the remains of a broken run.
    if (existsSync(target) && !templateReady(target)) rmSync(target, { recursive: true, force: true });
    try {
      renameSync(build, target);
    } catch (err) {
      // Another process renamed its build first: use theirs.
      if (!templateReady(target)) throw err;
      rmSync(build, { recursive: true, force: true });
    }
    return target;
  } catch (err) {
    rmSync(build, { recursive: true, force: true });
    throw err;
  }
}

function templateReady(dir: string): boolean {
  return ['ready', 'data/PG_VERSION', 'data/global/pg_control'].every((f) => existsSync(join(dir, f)));
}

// ---------------------------------------------------------------------------------------------------
// Running one cluster.

interface Cluster {
  port: number;
  stop(mode: 'immediate' | 'fast', removeDir: boolean): Promise<void>;
}

/** Clusters still running, stopped synchronously if the process exits without stopping them. */
const live = new Map<string, () => void>();
let exitHookInstalled = false;

/** Ports handed out by this process and not yet released, so two clusters started at once differ. */
const claimedPorts = new Set<number>();

async function launch(binDir: string, dir: string, runAs: string | undefined): Promise<Cluster> {
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  let lastError = '';
  // A free port can be taken by someone else between our probe and the server's bind: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = [
      '-D',
      dataDir,
      '-c',
      `port=${port}`,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=100',
    ];
    const child = spawnAs(runAs, join(binDir, 'postgres'), args, logFile);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.unref();

    const pgCtlStop = (mode: string) =>
      asUser(runAs, join(binDir, 'pg_ctl'), ['stop', '-D', dataDir, '-m', mode, '-s']);
    const syncKill = () => {
      const [cmd, cmdArgs] = pgCtlStop('immediate');
      spawnSync(cmd, cmdArgs, { stdio: 'ignore', env: childEnv() });
      rmSync(dir, { recursive: true, force: true });
      watchdog.kill('SIGKILL');
    };
    // Two nets for a test process that ends without stop(): an exit hook for a normal exit, and a
    // watchdog for a kill (a test timeout, Ctrl-C): it waits on a pipe from this process, and when the
    // pipe closes, whatever the cause, it stops the server and removes the folder.
    const watchdog = startWatchdog(pgCtlStop('immediate'), dir);
    live.set(dir, syncKill);
    installExitHook();

    const started = await waitUntilAccepting(port, exited);
    if (started === true) {
      return {
        port,
        stop: async (mode, removeDir) => {
          const [cmd, cmdArgs] = pgCtlStop(mode);
          // pg_ctl fails only when the server is gone already (it crashed, or was killed).
          await runCommand(cmd, cmdArgs).catch(() => {});
          // Stopped by hand: the watchdog must not remove a template folder about to be renamed.
          watchdog.kill('SIGKILL');
          live.delete(dir);
          claimedPorts.delete(port);
          if (removeDir) rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    live.delete(dir);
    claimedPorts.delete(port);
    watchdog.kill('SIGKILL');
    const log = readLog(logFile);
    lastError = started === 'exited' ? `postgres exited during start-up:\n${log}` : `${started}\n${log}`;
    if (started === 'exited' && /could not bind|address already in use/i.test(log)) continue;
    if (started !== 'exited') syncKill();
    break;
  }
  throw new Error(lastError);
}

/** Waits until `select 1` succeeds: true, 'exited' when the server died, or a timeout message. */
async function waitUntilAccepting(
  port: number,
  exited: Promise<number | null>,
): Promise<true | 'exited' | string> {
  let dead = false;
  exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (dead) return 'exited';
    try {
      await withClient(`postgres://postgres@127.0.0.1:${port}/postgres`, (c) => c.query('select 1'));
      return true;
    } catch (err) {
      last = err;
    }
    await Promise.race([sleep(50), exited]);
  }
  return `postgres did not accept connections on 127.0.0.1:${port} within ${READY_TIMEOUT_MS / 1000} s: ${String(last)}`;
}

/** One round trip to the named database (`qiao_test` comes with the template). */
async function checkDatabase(port: number, database: string): Promise<void> {
  await withClient(`postgres://postgres@127.0.0.1:${port}/${database}`, (c) => c.query('select 1'));
}

/**
 * A detached `sh` that blocks reading a pipe from this process. The pipe closes when this process ends,
 * however it ends (even SIGKILL); `read` then returns and the shell runs the stop command and removes the
 * folder. Detached, so a Ctrl-C sent to the terminal's process group does not stop it from cleaning up.
 */
function startWatchdog([cmd, args]: [string, string[]], dir: string): ChildProcess {
  const script = 'read _ ; "$@" >/dev/null 2>&1 ; rm -rf "$QIAO_PG_DIR"';
  const child = spawn('sh', ['-c', script, 'sh', cmd, ...args], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: { ...childEnv(), QIAO_PG_DIR: dir },
    detached: true,
  });
  child.unref();
  // The pipe must not keep this process alive either.
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  child.on('error', () => {});
  return child;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that forgets stop() (or fails before it) must not leave a server behind.
  process.on('exit', () => {
    for (const kill of live.values()) kill();
    live.clear();
  });
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
      });
    });
    if (port && !claimedPorts.has(port)) {
      claimedPorts.add(port);
      return port;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Users, processes and folders.

let postgresUserChecked = false;

/** Under root: makes sure the `postgres` system user exists and returns its name. */
function ensurePostgresUser(): string {
  if (!postgresUserChecked) {
    if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) {
      const r = spawnSync('useradd', ['-r', 'postgres'], { encoding: 'utf8' });
      if (r.status !== 0 && spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status !== 0) {
        throw new Error(`running as root and cannot create the postgres user: ${r.stderr || r.error}`);
      }
    }
    postgresUserChecked = true;
  }
  return 'postgres';
}

let scratch: string | undefined;

/** /dev/shm when it is a tmpfs with at least 2 GiB free (Docker's default is 64 MiB: too small), else tmp. */
function scratchRoot(): string {
  if (scratch) return scratch;
  scratch = tmpdir();
  try {
    const fs = statfsSync('/dev/shm');
    const TMPFS_MAGIC = 0x01021994;
    if (fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= 2 * 1024 ** 3) scratch = '/dev/shm';
  } catch {
    // No /dev/shm: the temp folder it is.
  }
  return scratch;
}

function makeOwnedTempDir(prefix: string, runAs: string | undefined): string {
  const root = scratchRoot();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, prefix));
  if (runAs) {
    const r = spawnSync('chown', [runAs, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chown ${runAs} ${dir} failed: ${r.stderr}`);
  }
  return dir;
}

function asUser(runAs: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return runAs ? ['runuser', ['-u', runAs, '--', cmd, ...args]] : [cmd, args];
}

/** A clean environment: the C locale, and no PG* variables that would steer initdb or pg_ctl. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('PG') && !k.startsWith('LC_')) env[k] = v;
  env.LANG = 'C';
  env.LC_ALL = 'C';
  return env;
}

function spawnAs(runAs: string | undefined, cmd: string, args: string[], logFile: string): ChildProcess {
  const [c, a] = asUser(runAs, cmd, args);
  // The log is written through a file opened here, so the server needs no rights on it.
  const fd = openSync(logFile, 'a');
  try {
    return spawn(c, a, { stdio: ['ignore', fd, fd], env: childEnv(), detached: false });
  } finally {
    closeSync(fd);
  }
}

function run(runAs: string | undefined, cmd: string, args: string[]): Promise<void> {
  const [c, a] = asUser(runAs, cmd, args);
  return runCommand(c, a);
}

function runCommand(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${out.trim()}`));
    });
  });
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no server log)';
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
