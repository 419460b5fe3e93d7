import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPgBinDir, type PostgresHandle, pgAvailable, startPostgres } from './postgres.ts';

async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Runs `fn` with QIAO_TEST_PG_URL set to `value` (or unset), restoring it afterwards. */
async function withPgUrl<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.QIAO_TEST_PG_URL;
  if (value === undefined) delete process.env.QIAO_TEST_PG_URL;
  else process.env.QIAO_TEST_PG_URL = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.QIAO_TEST_PG_URL;
    else process.env.QIAO_TEST_PG_URL = saved;
  }
}

describe('findPgBinDir', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'qiao-pgfind-'));
    const fake = (dir: string, names = ['initdb', 'pg_ctl', 'postgres']) => {
      mkdirSync(dir, { recursive: true });
      for (const n of names) writeFileSync(join(dir, n), '');
    };
    fake(join(root, 'lib', '9.6', 'bin'));
    fake(join(root, 'lib', '15', 'bin'));
    fake(join(root, 'lib', '16', 'bin'));
    fake(join(root, 'lib', '17', 'bin'), ['initdb']); // incomplete: skipped
    fake(join(root, 'onpath'));
    fake(join(root, 'partial'), ['initdb', 'postgres']);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('picks the highest complete version under the roots', () => {
    assert.equal(findPgBinDir('', [join(root, 'lib')]), join(root, 'lib', '16', 'bin'));
  });

  test('a PATH folder holding all three binaries comes first', () => {
    const path = [join(root, 'partial'), join(root, 'onpath')].join(':');
    assert.equal(findPgBinDir(path, [join(root, 'lib')]), join(root, 'onpath'));
  });

  test('nothing found: undefined, and startPostgres says what to install', async () => {
    assert.equal(findPgBinDir(join(root, 'partial'), [join(root, 'missing')]), undefined);
    await withPgUrl(undefined, async () => {
      await assert.rejects(
        startPostgres({ searchPath: '', searchRoots: [join(root, 'missing')] }),
        (err: Error) => {
          assert.match(err.message, /apt-get install -y postgresql/);
          assert.doesNotMatch(err.message, /\n/);
          return true;
        },
      );
    });
  });
});

describe('startPostgres', { skip: !pgAvailable() && 'PostgreSQL is not installed' }, () => {
  test('starts a private cluster that answers queries, then stops and goes away', async () => {
    const pgdb = await withPgUrl(undefined, () => startPostgres());
    let stopped = false;
    try {
      assert.match(pgdb.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/qiao_test$/);
      await query(pgdb.url, 'create table t (id serial primary key, name text not null)');
      await query(pgdb.url, 'insert into t (name) values ($1), ($2)', ['华东贸易', 'ok']);
      const rows = await query<{ name: string }>(pgdb.url, 'select name from t order by id');
      assert.deepEqual(
        rows.map((r) => r.name),
        ['华东贸易', 'ok'],
      );

      const settings = await query<{ name: string; setting: string }>(
        pgdb.url,
        `select name, setting from pg_settings where name in
           ('fsync', 'synchronous_commit', 'full_page_writes', 'max_connections', 'listen_addresses',
            'server_encoding', 'lc_collate')`,
      );
      assert.deepEqual(Object.fromEntries(settings.map((s) => [s.name, s.setting])), {
        fsync: 'off',
        full_page_writes: 'off',
        lc_collate: 'C',
        listen_addresses: '127.0.0.1',
        max_connections: '100',
        server_encoding: 'UTF8',
        synchronous_commit: 'off',
      });
      const [{ current_user }] = await query<{ current_user: string }>(pgdb.url, 'select current_user');
      assert.equal(current_user, 'postgres');

      await pgdb.stop();
      stopped = true;
      await assert.rejects(query(pgdb.url, 'select 1'), /ECONNREFUSED|connect/);
      await pgdb.stop(); // a second stop is harmless
    } finally {
      if (!stopped) await pgdb.stop();
    }
  });

  test('two clusters started at once get different ports and separate data', async () => {
    const [a, b] = await withPgUrl(undefined, () => Promise.all([startPostgres(), startPostgres()]));
    try {
      assert.notEqual(new URL(a.url).port, new URL(b.url).port);
      await query(a.url, 'create table only_in_a (x int)');
      const inB = await query(b.url, `select 1 from pg_tables where tablename = 'only_in_a'`);
      assert.equal(inB.length, 0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('with QIAO_TEST_PG_URL, each call gets its own database on that server, dropped on stop', async () => {
    const server = await withPgUrl(undefined, () => startPostgres());
    const serverUrl = server.url.replace(/\/qiao_test$/, '/postgres');
    try {
      let a: PostgresHandle | undefined;
      let b: PostgresHandle | undefined;
      await withPgUrl(serverUrl, async () => {
        a = await startPostgres();
        b = await startPostgres();
      });
      assert.ok(a && b);
      const nameA = new URL(a.url).pathname.slice(1);
      const nameB = new URL(b.url).pathname.slice(1);
      assert.match(nameA, /^qiao_test_[0-9a-f]{12}$/);
      assert.notEqual(nameA, nameB);
      assert.equal(new URL(a.url).port, new URL(server.url).port);

      await query(a.url, 'create table mine (x int)');
      assert.equal((await query(b.url, `select 1 from pg_tables where tablename = 'mine'`)).length, 0);

      // An open session does not stop the drop.
      const lingering = new pg.Client({ connectionString: a.url });
      lingering.on('error', () => {});
      await lingering.connect();
      await a.stop();
      await b.stop();
      await lingering.end().catch(() => {});
      const left = await query(serverUrl, 'select datname from pg_database where datname = any($1)', [
        [nameA, nameB],
      ]);
      assert.deepEqual(left, []);
      // The shared server itself is still up.
      assert.equal((await query(serverUrl, 'select 1 as one'))[0].one, 1);
    } finally {
      await server.stop();
    }
  });

  for (const ending of ['exits without stop()', 'is killed with SIGKILL'] as const) {
    test(`a test process that ${ending} leaves no server or folder behind`, async () => {
      const harness = new URL('./postgres.ts', import.meta.url).pathname;
      const script = [
        `import { startPostgres } from ${JSON.stringify(harness)};`,
        `import pg from 'pg';`,
        'const h = await startPostgres();',
        'const c = new pg.Client(h.url);',
        'await c.connect();',
        `const { rows } = await c.query('show data_directory');`,
        'await c.end();',
        'console.log(JSON.stringify({ url: h.url, dataDir: rows[0].data_directory }));',
        ending === 'exits without stop()' ? 'process.exit(0);' : 'setInterval(() => {}, 1000);',
      ].join('\n');
      const env = { ...process.env };
      delete env.QIAO_TEST_PG_URL;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: new URL('../..', import.meta.url).pathname,
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let line = '';
      for await (const l of createInterface({ input: child.stdout })) {
        line = l;
        break;
      }
      const { url, dataDir } = JSON.parse(line) as { url: string; dataDir: string };
      assert.ok(dataDir.endsWith('/data'));

      if (ending === 'is killed with SIGKILL') {
        child.kill('SIGKILL');
        await exited;
        // The watchdog cleans up once it sees the pipe close: wait for it (bounded by the test timeout).
        while (existsSync(dataDir)) await sleep(20);
      } else {
        await exited;
        // The exit hook runs synchronously before the process ends.
        assert.equal(existsSync(dataDir), false);
      }
      assert.equal(existsSync(join(dataDir, '..')), false, 'the whole cluster folder is gone');
      await assert.rejects(query(url, 'select 1'), /ECONNREFUSED|connect/);
    });
  }
});
