/**
 * The `qiao` command as a user runs it: `node bin/qiao.js …` in its own process (process.execPath is
 * the Node that runs the tests), with real files, a real store and real signals.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../src/core/logger.ts';
import { SecretBox } from '../src/core/secret-box.ts';
import { type Hub, startHub } from '../src/hub.ts';
import { type HttpTargetHandle, startHttpTarget } from '../src/sandbox/http-target/index.ts';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'qiao.js');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

function start(args: string[], cwd: string, env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, QIAO_LOG: 'error', QIAO_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function qiao(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  const child = start(args, cwd, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

/** The first stdout line of a long-running command. */
function firstLine(child: ChildProcess): Promise<string> {
  const rl = createInterface({ input: child.stdout! });
  return new Promise((res, rej) => {
    rl.once('line', (l) => res(l));
    child.once('exit', (code) => rej(new Error(`exited with ${code} before printing`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((res) => {
    if (child.exitCode !== null) res(child.exitCode);
    else child.once('exit', (code) => res(code));
  });

after(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('qiao flow validate', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-cli-flows-'));
    mkdirSync(join(dir, 'flows'));
    writeFileSync(
      join(dir, 'flows', 'good.yaml'),
      `id: good-one
name: 好的
trigger: { type: webhook }
steps:
  - id: pick
    map: { name: '=event.name' }
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: '=steps.pick' }
`,
    );
    writeFileSync(
      join(dir, 'flows', 'bad.yaml'),
      `id: bad-one
name: 坏的
trigger: { type: webhook }
steps:
  - id: pick
    map: { name: '=event.name +' }
  - id: send
    action: target.request
    input: { method: FETCH, path: /items, body: '=steps.pikc' }
`,
    );
    writeFileSync(
      join(dir, 'flows', 'shape.yaml'),
      'id: shape-one\nname: s\ntrigger: { type: webhook }\nsteps:\n  - id: a\n    map: { x: 1 }\n    colour: red\n',
    );
    writeFileSync(
      join(dir, 'flows', 'wrong-op.yaml'),
      "id: wrong-op\nname: w\ntrigger: { type: manual }\nsteps:\n  - id: send\n    action: target.send\n    input: { path: '/x' }\n",
    );
    writeFileSync(
      join(dir, 'qiao.yaml'),
      'connections:\n  target:\n    type: http\n    baseUrl: http://127.0.0.1:9\nflows: [flows/good.yaml]\n',
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('good files: exit 0 and `ok: N flows`', async () => {
    const r = await qiao(['flow', 'validate', 'flows/good.yaml', 'flows/wrong-op.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ok: 2 flows\n');
  });

  it('bad files: every problem as `file:line path: message`, exit 1', async () => {
    const r = await qiao(['flow', 'validate', 'flows/good.yaml', 'flows/bad.yaml', 'flows/shape.yaml'], dir);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'flows/bad.yaml:6 steps[0].map.name: invalid expression: Unexpected end of expression (position 12)',
      "flows/bad.yaml:9 steps[1].input.body: reads steps.pikc, but there is no step 'pikc'; did you mean 'pick'?",
      "flows/shape.yaml:7 steps[0]: unknown field 'colour'",
    ]);
    assert.equal(r.stderr, '3 problems in 2 files\n');
  });

  it('with --config, also against its connections; with no files, the flows it names', async () => {
    const r = await qiao(
      ['flow', 'validate', '--config', 'qiao.yaml', 'flows/wrong-op.yaml', 'flows/bad.yaml'],
      dir,
    );
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'flows/bad.yaml:6 steps[0].map.name: invalid expression: Unexpected end of expression (position 12)',
      "flows/bad.yaml:9 steps[1].input.body: reads steps.pikc, but there is no step 'pikc'; did you mean 'pick'?",
      'flows/bad.yaml:9 steps[1].input.method: Invalid option: expected one of "GET"|"POST"|"PUT"|"PATCH"|"DELETE"',
      "flows/wrong-op.yaml:6 steps[0].action: unknown operation 'send' on connection 'target' (http). Known: request",
    ]);
    const named = await qiao(['flow', 'validate', '--config', 'qiao.yaml'], dir);
    assert.equal(named.code, 0, named.stdout + named.stderr);
    assert.equal(named.stdout, 'ok: 1 flow\n');
  });

  it('a missing file is a problem; a bad config is one clear error', async () => {
    const missing = await qiao(['flow', 'validate', 'flows/none.yaml'], dir);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, 'flows/none.yaml no such file\n');
    const noConfig = await qiao(['flow', 'validate', '--config', 'absent.yaml', 'flows/good.yaml'], dir);
    assert.equal(noConfig.code, 1);
    assert.equal(noConfig.stdout, '');
    assert.equal(noConfig.stderr, 'qiao: absent.yaml file not found\n');
  });
});

describe('qiao dlq, runs, run show and audit verify on a store', () => {
  let dir: string;
  let target: HttpTargetHandle;
  const box = new SecretBox([randomBytes(32)]);
  let runId: string;

  const openHub = (): Promise<Hub> =>
    startHub({ dataDir: join(dir, '.qiao'), serve: false, log: silentLogger, box });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-cli-data-'));
    target = await startHttpTarget();
    const hub = await openHub();
    try {
      await hub.connections.save(
        {
          id: 'target',
          type: 'http',
          settings: { baseUrl: target.baseUrl, auth: { type: 'bearer', token: 'qiao-target-token' } },
          origin: 'api',
        },
        'test',
      );
      await hub.saveFlow(
        "id: strict\nname: strict\ntrigger: { type: webhook }\nsteps:\n  - id: send\n    action: target.request\n    input: { method: POST, path: /items, body: { name: '=event.name' } }\n",
        'strict.yaml',
        'api',
        'test',
      );
      runId = (await hub.engine.startFlow('strict', { name: 42 })).runIds[0];
      await hub.engine.drain();
    } finally {
      await hub.close();
    }
  });
  after(async () => {
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs and run show read the store of the folder', async () => {
    const list = await qiao(['runs', '--json'], dir);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout);
    assert.deepEqual(
      runs.map((r: any) => [r.id, r.status]),
      [[runId, 'failed']],
    );
    const table = await qiao(['runs', '--status', 'failed'], dir);
    assert.match(table.stdout, /^RUN +FLOW +STATUS +STARTED +MS +ERROR\n/);
    assert.match(table.stdout, new RegExp(`${runId} +strict +failed`));
    const show = await qiao(['run', 'show', runId], dir);
    assert.equal(show.code, 0);
    assert.match(show.stdout, /status: +failed/);
    assert.match(show.stdout, /1\. send \(action\) dead, 1 attempt/);
    const bad = await qiao(['runs', '--status', 'lost'], dir);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      "qiao: --status must be one of running, waiting, completed, failed, filtered, cancelled; got 'lost'\n",
    );
  });

  it('dlq list, show, edit (checked) and replay; the next hub completes the run once', async () => {
    const list = await qiao(['dlq', 'list', '--json'], dir);
    assert.equal(list.code, 0, list.stderr);
    const [dl] = JSON.parse(list.stdout);
    assert.equal(dl.runId, runId);
    const table = await qiao(['dlq', 'list'], dir);
    assert.match(table.stdout, new RegExp(`${dl.id} +strict +send +open .* name must be a string`));

    const show = await qiao(['dlq', 'show', dl.id], dir);
    assert.equal(JSON.parse(show.stdout).error.partner.message, 'name must be a string');

    const notJson = await qiao(['dlq', 'edit', dl.id, '--input', '{oops'], dir);
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /^qiao: --input is not JSON: .*\n$/);
    const wrong = await qiao(['dlq', 'edit', dl.id, '--input', '{"method":"FETCH","path":"/items"}'], dir);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^qiao: the input does not fit target\.request: input\.method: /);

    const input = JSON.stringify({ method: 'POST', path: '/items', body: { name: '四十二' } });
    const edit = await qiao(['dlq', 'edit', dl.id, '--input', input, '--actor', 'ops'], dir);
    assert.equal(edit.code, 0, edit.stderr);
    const replay = await qiao(['dlq', 'replay', dl.id, '--actor', 'ops'], dir);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /replayed dead letter/);
    const twice = await qiao(['dlq', 'replay', dl.id], dir);
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr, `qiao: dead letter ${dl.id} is already replayed\n`);
    const unknown = await qiao(['dlq', 'discard', '00000000-0000-4000-8000-000000000000'], dir);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'qiao: dead letter 00000000-0000-4000-8000-000000000000 does not exist\n');
    const malformed = await qiao(['dlq', 'show', '42'], dir);
    assert.equal(malformed.code, 1);

    const hub = await openHub();
    try {
      await hub.engine.drain();
      const got = await hub.store.getRun(runId);
      assert.equal(got?.run.status, 'completed');
      assert.equal(target.effects.get(got!.steps[0].idempotencyKey), 1);
      const audit = await hub.store.listAudit({ limit: 1000 });
      assert.deepEqual(
        audit.filter((a) => a.target === `dead-letter:${dl.id}`).map((a) => [a.actor, a.action]),
        [
          ['ops', 'dead-letter.edit'],
          ['ops', 'dead-letter.replay'],
        ],
      );
    } finally {
      await hub.close();
    }
    const open = await qiao(['dlq', 'list'], dir);
    assert.equal(open.stdout, 'no open dead letters\n');
  });

  it('audit verify: exit 0 while intact; exit 1 and the bad seq after a row is altered', async () => {
    writeFileSync(join(dir, 'qiao.yaml'), 'dataDir: .qiao\n');
    const ok = await qiao(['audit', 'verify', '--config', 'qiao.yaml'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: the audit chain is intact \(\d+ entries\)\n$/);

    const db = new DatabaseSync(join(dir, '.qiao', 'qiao.db'));
    try {
      db.prepare("UPDATE audit SET detail = '{}' WHERE seq = 3").run();
    } finally {
      db.close();
    }
    const broken = await qiao(['audit', 'verify'], dir);
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /^broken: audit seq 3: .+\n$/);
  });

  it('errors are one line without a stack; QIAO_DEBUG=1 adds it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'qiao-cli-empty-'));
    try {
      const r = await qiao(['runs'], empty);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        'qiao: no qiao.yaml and no .qiao/ data folder here; run this where Qiao runs, or give --config\n',
      );
      const unknown = await qiao(['nope'], empty);
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /unknown command 'nope'/);
      writeFileSync(join(empty, 'qiao.yaml'), 'server:\n  port: lots\n');
      const cfg = await qiao(['runs'], empty);
      assert.equal(cfg.code, 1);
      assert.equal(cfg.stderr, 'qiao: qiao.yaml:2 server.port: expected a number, got the text "lots"\n');
      const debug = await qiao(['runs'], empty, { QIAO_DEBUG: '1' });
      assert.match(debug.stderr, /^qiao: qiao\.yaml:2 .*\n.*ValidationError/s);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('qiao start and qiao sandbox', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'qiao-cli-start-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('start serves until SIGTERM, then stops cleanly', async () => {
    const child = start(['start', '--port', '0'], dir);
    const line = await firstLine(child);
    const m = /^Qiao is running at (http:\/\/127\.0\.0\.1:\d+) \(store: SQLite in .*\.qiao\)$/.exec(line);
    assert.ok(m, line);
    const health = await fetch(`${m[1]}/healthz`);
    assert.equal(health.status, 200);
    const api = await fetch(`${m[1]}/api/flows`);
    assert.deepEqual(await api.json(), { items: [] });
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
  });

  it('worker refuses the embedded store', async () => {
    const r = await qiao(['worker'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^qiao: qiao worker needs a PostgreSQL database/);
  });

  it('sandbox prints one JSON line, serves each system, and stops on SIGTERM', async () => {
    const child = start(['sandbox'], dir);
    const info = JSON.parse(await firstLine(child));
    assert.deepEqual(Object.keys(info), ['http-target', 'kingdee', 'neocrm', 'wecom', 'dingtalk']);
    for (const s of Object.values(info) as any[]) {
      assert.match(s.baseUrl, /^http:\/\/127\.0\.0\.1:\d+/);
      assert.equal(typeof s.urls, 'object');
      assert.equal(typeof s.credentials, 'object');
    }
    const t = info['http-target'];
    const created = await fetch(`${t.baseUrl}/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.credentials.auth.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: '沙箱' }),
    });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { name: string }).name, '沙箱');
    child.kill('SIGTERM');
    assert.equal(await exited(child), 0);
    await assert.rejects(fetch(`${t.baseUrl}/items`), 'the sandboxes are closed');
  });
});

// `qiao demo --once [--json]` as a process: test/cli-demo.test.ts.

describe('README.md', () => {
  const readme = readFileSync(resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

  it('the quick start is exactly the two commands', () => {
    const block = /## Quick start\n\n```sh\n([\s\S]*?)```/.exec(readme);
    assert.ok(block);
    assert.deepEqual(block[1].trimEnd().split('\n'), ['npm ci && npm run demo', 'npm ci && npm test']);
  });

  it('the qiao.yaml example is valid, and `qiao flow validate --config` checks flows against it', async () => {
    const yaml = /## Configuration\n[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme);
    assert.ok(yaml);
    const dir = mkdtempSync(join(tmpdir(), 'qiao-cli-readme-'));
    try {
      writeFileSync(join(dir, 'qiao.yaml'), yaml[1]);
      mkdirSync(join(dir, 'flows'));
      writeFileSync(
        join(dir, 'flows', 'orders.yaml'),
        "id: orders\nname: orders\ntrigger: { type: webhook }\nsteps:\n  - id: send\n    action: erp.request\n    input: { method: POST, path: /orders, body: '=event' }\n",
      );
      const r = await qiao(['flow', 'validate', '--config', 'qiao.yaml'], dir, {
        ERP_TOKEN: 'token-from-env',
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stdout, 'ok: 1 flow\n');
      const noEnv = await qiao(['flow', 'validate', '--config', 'qiao.yaml'], dir);
      assert.equal(noEnv.code, 1);
      assert.match(
        noEnv.stderr,
        /^qiao: qiao\.yaml:\d+ connections\.erp\.auth\.token: environment variable ERP_TOKEN is not set/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
