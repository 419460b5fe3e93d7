import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig, parseConfig, type QiaoConfig, resolveFlowFiles } from './config.ts';
import { ValidationError, type ValidationProblem } from './errors.ts';

const $ = '$'; // so `${NAME}` in fixtures is not read as a template placeholder
const FILE = '/srv/qiao/qiao.yaml';

function parse(text: string, env: NodeJS.ProcessEnv = {}): QiaoConfig {
  return parseConfig(text, FILE, env);
}

/** The problems a text produces, as `line path: message` strings. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parse(text, env);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${err}`);
    for (const p of err.problems) assert.equal(p.file, FILE);
    return err.problems.map((p: ValidationProblem) => `${p.line} ${p.path}: ${p.message}`);
  }
  assert.fail('expected a ValidationError');
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'qiao-config-'));
  dirs.push(d);
  return d;
}

describe('parseConfig: defaults and shape', () => {
  test('an empty file gives every default, paths relative to the file', () => {
    const c = parse('');
    assert.deepEqual(c, {
      file: FILE,
      dir: '/srv/qiao',
      dataDir: '/srv/qiao/.qiao',
      server: { port: 8780, host: '127.0.0.1', bodyLimit: 1024 * 1024 },
      connections: {},
      flows: [],
      workers: { concurrency: 32 },
    });
  });

  test('a full file: connections split into settings and limits, flows resolved', () => {
    const c = parse(
      [
        'dataDir: /var/lib/qiao',
        'database: postgresql://qiao:pw@db.internal:5432/qiao',
        'server:',
        '  port: 9000',
        '  host: 0.0.0.0',
        '  bodyLimit: 2 MiB',
        'connections:',
        '  kingdee-main:',
        '    type: kingdee',
        '    baseUrl: http://erp.local/k3cloud/',
        '    acctId: "6123"',
        '    rate: { perSecond: 10, burst: 20 }',
        '    concurrency: 4',
        '    breaker: { failures: 5, resetMs: 30000 }',
        '  ding:',
        '    type: dingtalk',
        '    robots:',
        '      ops: { secret: SEC1 }',
        'flows:',
        '  - flows/*.yaml',
        '  - /etc/qiao/extra.yaml',
        'workers: { concurrency: 8 }',
        'log: { level: info }',
      ].join('\n'),
    );
    assert.equal(c.dataDir, '/var/lib/qiao');
    assert.equal(c.database, 'postgresql://qiao:pw@db.internal:5432/qiao');
    assert.deepEqual(c.server, { port: 9000, host: '0.0.0.0', bodyLimit: 2 * 1024 * 1024 });
    assert.deepEqual(c.connections['kingdee-main'], {
      id: 'kingdee-main',
      type: 'kingdee',
      settings: { baseUrl: 'http://erp.local/k3cloud/', acctId: '6123' },
      limits: {
        rate: { perSecond: 10, burst: 20 },
        concurrency: 4,
        breaker: { failures: 5, resetMs: 30000 },
      },
      line: 8,
    });
    assert.deepEqual(c.connections.ding.settings, { robots: { ops: { secret: 'SEC1' } } });
    assert.deepEqual(c.connections.ding.limits, {});
    assert.deepEqual(c.flows, ['/srv/qiao/flows/*.yaml', '/etc/qiao/extra.yaml']);
    assert.deepEqual(c.workers, { concurrency: 8 });
    assert.deepEqual(c.log, { level: 'info' });
  });

  test('dataDir is relative to the config file, not the working directory', () => {
    assert.equal(parse('dataDir: ../data').dataDir, '/srv/data');
    assert.equal(parseConfig('', 'conf/qiao.yaml', {}).dataDir, join(process.cwd(), 'conf', '.qiao'));
  });

  test('bodyLimit takes bytes or a size with a unit', () => {
    const limit = (v: string) => parse(`server: { bodyLimit: ${v} }`).server.bodyLimit;
    assert.equal(limit('4096'), 4096);
    assert.equal(limit('512kb'), 512 * 1024);
    assert.equal(limit('"1 MiB"'), 1024 * 1024);
    assert.equal(limit('1.5mb'), 1.5 * 1024 * 1024);
    assert.deepEqual(problems('server:\n  bodyLimit: lots'), [
      `2 server.bodyLimit: expected a size in bytes, like 1048576 or "1 MiB"`,
    ]);
  });

  test('an empty database means embedded SQLite', () => {
    assert.equal(parse(`database: "${$}{QIAO_DATABASE:-}"`).database, undefined);
    assert.equal(
      parse(`database: ${$}{QIAO_DATABASE:-}`, { QIAO_DATABASE: 'postgres://h/q' }).database,
      'postgres://h/q',
    );
  });
});

describe('parseConfig: environment substitution', () => {
  test('replaces NAME references, with or without default, in any string however deep', () => {
    const c = parse(
      [
        'server:',
        `  port: ${$}{PORT:-8780}`,
        `  host: ${$}{HOST}`,
        'connections:',
        '  wecom:',
        '    type: wecom',
        `    corpId: ${$}{CORP_ID}`,
        `    agents: [{ secret: "${$}{AGENT_SECRET}" }, { secret: "pre-${$}{EMPTY:-fallback}-post" }]`,
        `    literal: "$${$}{NOT_A_VAR}"`,
        'flows:',
        `  - ${$}{FLOW_DIR:-flows}/*.yaml`,
      ].join('\n'),
      { HOST: '10.0.0.5', CORP_ID: 'ww123', AGENT_SECRET: '秘密', EMPTY: '', PORT: '9100' },
    );
    assert.equal(c.server.port, 9100, 'a number field takes the substituted text as a number');
    assert.equal(c.server.host, '10.0.0.5');
    assert.deepEqual(c.connections.wecom.settings, {
      corpId: 'ww123',
      agents: [{ secret: '秘密' }, { secret: 'pre-fallback-post' }],
      literal: `${$}{NOT_A_VAR}`,
    });
    assert.deepEqual(c.flows, ['/srv/qiao/flows/*.yaml']);
  });

  test('a default applies when the variable is unset; a set-but-empty variable without default stays empty', () => {
    assert.equal(parse(`server: { host: "${$}{H:-localhost}" }`).server.host, 'localhost');
    assert.deepEqual(
      parse(`connections: { a: { type: http, token: "${$}{T}" } }`, { T: '' }).connections.a.settings,
      {
        token: '',
      },
    );
  });

  test('a missing variable without default is an error naming it, the path and the line', () => {
    assert.deepEqual(
      problems(
        ['connections:', '  kingdee:', '    type: kingdee', `    appSecret: ${$}{KINGDEE_APP_SECRET}`].join(
          '\n',
        ),
      ),
      [
        `4 connections.kingdee.appSecret: environment variable KINGDEE_APP_SECRET is not set (write ${$}{KINGDEE_APP_SECRET:-default} to give a default)`,
      ],
    );
  });

  test('a missing variable in a typed field is reported once, not again as a bad type', () => {
    assert.deepEqual(problems(`server:\n  port: ${$}{PORT}`), [
      `2 server.port: environment variable PORT is not set (write ${$}{PORT:-default} to give a default)`,
    ]);
  });

  test('a malformed reference is an error', () => {
    assert.deepEqual(problems(`connections: { a: { type: http, url: "x${$}{bad name}" } }`), [
      `1 connections.a.url: a ${$}{ without a valid ${$}{NAME} or ${$}{NAME:-default} after it; write $${$}{ for a literal ${$}{`,
    ]);
  });
});

describe('parseConfig: problems with file, line and path', () => {
  test('a connection without type', () => {
    const text = [
      '# Qiao',
      'dataDir: .qiao',
      'server:',
      '  port: 8780',
      '',
      'connections:',
      '  kingdee:',
      '    baseUrl: http://erp/k3cloud/',
    ].join('\n');
    assert.deepEqual(problems(text), ['7 connections.kingdee.type: required']);
    try {
      parse(text);
    } catch (err) {
      assert.equal((err as Error).message, '/srv/qiao/qiao.yaml:7 connections.kingdee.type: required');
    }
  });

  test('connection ids are lower-case kebab-case without dots', () => {
    assert.deepEqual(problems('connections:\n  ok-1: { type: http }\n  Kingdee.Main: { type: kingdee }'), [
      '3 connections.Kingdee.Main: a connection id is lower-case letters, digits and dashes, starting with a letter (like kingdee-main)',
    ]);
    assert.equal(problems('connections:\n  1st: { type: http }').length, 1);
    assert.equal(problems('connections:\n  a.b: { type: http }').length, 1);
  });

  test('database must be a PostgreSQL URL, without echoing it', () => {
    assert.deepEqual(problems('\ndatabase: mysql://root:hunter2@db/qiao'), [
      '2 database: must be a postgres:// or postgresql:// URL',
    ]);
    assert.deepEqual(problems('database: localhost:5432'), [
      '1 database: must be a postgres:// or postgresql:// URL',
    ]);
  });

  test('unknown keys are refused, with a hint when one is close', () => {
    assert.deepEqual(problems('server:\n  prot: 80\nworker: {}\nsurprise: 1'), [
      '2 server.prot: unknown key (did you mean port?)',
      '3 worker: unknown key (did you mean workers?)',
      '4 surprise: unknown key (known keys: dataDir, database, server, connections, flows, workers, log)',
    ]);
    assert.deepEqual(problems('connections:\n  a:\n    type: http\n    rate: { perSecnd: 5 }'), [
      '4 connections.a.rate.perSecond: required',
      '4 connections.a.rate.perSecnd: unknown key (did you mean perSecond?)',
    ]);
  });

  test('but a connection passes unknown keys through to its connector', () => {
    assert.deepEqual(
      parse('connections:\n  a:\n    type: http\n    anything: { goes: [1] }').connections.a.settings,
      {
        anything: { goes: [1] },
      },
    );
  });

  test('types and ranges', () => {
    assert.deepEqual(
      problems(
        [
          'server:',
          '  port: 70000',
          '  host: [a]',
          'connections:',
          '  a:',
          '    type: Kingdee',
          '    concurrency: 0',
          '    rate: { perSecond: -1 }',
          '    breaker: { failures: 3 }',
          'flows: flows/a.yaml',
          'workers: { concurrency: many }',
          'log: { level: loud }',
        ].join('\n'),
      ),
      [
        '2 server.port: must be at most 65535',
        '3 server.host: expected a string, got a list',
        '6 connections.a.type: a connector type is lower-case kebab-case, like kingdee',
        '7 connections.a.concurrency: must be above 0',
        '8 connections.a.rate.perSecond: must be above 0',
        '9 connections.a.breaker.resetMs: required',
        '10 flows: expected a list, got the text "flows/a.yaml"',
        '11 workers.concurrency: expected a number, got the text "many"',
        '12 log.level: must be one of debug, info, warn, error, silent',
      ],
    );
  });

  test('a list item is located by its own line', () => {
    assert.deepEqual(problems('flows:\n  - a.yaml\n  - 42\n  - ""'), [
      '3 flows[1]: expected a string, got number 42',
      '4 flows[2]: must be at least 1',
    ]);
  });

  test('YAML syntax errors carry their line', () => {
    assert.deepEqual(problems('server:\n  port: 1\nserver:\n  port: 2'), [
      '3 : YAML: Map keys must be unique',
    ]);
    const ps = problems('connections:\n  a: { type: http\n');
    assert.equal(ps.length, 1, 'one syntax error, not its echoes');
    assert.match(ps[0], /^\d+ : YAML: /);
  });

  test('the file must hold a mapping', () => {
    assert.deepEqual(problems('- a\n- b'), ['1 : the configuration must be a mapping (key: value lines)']);
  });

  test('all problems are reported together, in line order', () => {
    const ps = problems(`log: { level: x }\nserver: { port: "${$}{NOPE}" }\nconnections: { a: {} }`);
    assert.equal(ps.length, 3);
    assert.deepEqual(
      ps.map((p) => Number(p.split(' ')[0])),
      [1, 2, 3],
    );
  });
});

describe('loadConfig and resolveFlowFiles', () => {
  test('reads the file; relative paths anchor at its folder', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'flows'));
    writeFileSync(join(dir, 'flows', 'b.yaml'), 'id: b');
    writeFileSync(join(dir, 'flows', 'a.yaml'), 'id: a');
    writeFileSync(join(dir, 'flows', 'notes.txt'), '');
    writeFileSync(join(dir, 'single.yaml'), 'id: s');
    writeFileSync(join(dir, 'qiao.yaml'), 'flows:\n  - flows/*.yaml\n  - single.yaml\n  - flows/a.yaml\n');
    const c = loadConfig(join(dir, 'qiao.yaml'), {});
    assert.equal(c.dataDir, join(dir, '.qiao'));
    assert.deepEqual(resolveFlowFiles(c), [
      join(dir, 'flows', 'a.yaml'),
      join(dir, 'flows', 'b.yaml'),
      join(dir, 'single.yaml'),
    ]);
  });

  test('a literal flow path that does not exist is a problem; an empty glob is not', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'qiao.yaml'), 'flows: [nothing/*.yaml, missing.yaml]');
    const c = loadConfig(join(dir, 'qiao.yaml'), {});
    assert.throws(
      () => resolveFlowFiles(c),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.deepEqual(
          err.problems.map((p) => `${p.path}: ${p.message}`),
          [`flows[1]: file not found: ${join(dir, 'missing.yaml')}`],
        );
        return true;
      },
    );
  });

  test('a missing file is a clear ValidationError', () => {
    const file = join(tempDir(), 'qiao.yaml');
    assert.throws(
      () => loadConfig(file, {}),
      (err: unknown) => err instanceof ValidationError && err.message === `${file} file not found`,
    );
  });
});

describe('docs/operations.md', () => {
  test('the qiao.yaml example in the reference is valid', () => {
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'the reference has a yaml example');
    const c = parse(example, { KINGDEE_APP_SECRET: 'kd-secret', DING_OPS_SECRET: 'SECabc' });
    assert.equal(c.database, undefined);
    assert.equal(c.server.bodyLimit, 1024 * 1024);
    assert.deepEqual(Object.keys(c.connections), ['kingdee', 'ops-robot']);
    assert.equal(c.connections.kingdee.settings.appSecret, 'kd-secret');
    assert.deepEqual(c.connections.kingdee.limits, {
      rate: { perSecond: 10, burst: 20 },
      concurrency: 4,
      breaker: { failures: 5, resetMs: 30000 },
    });
    assert.deepEqual(c.log, { level: 'info' });
  });
});
