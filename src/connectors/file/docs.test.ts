/**
 * docs/connectors/file.md is tested like code (STYLE.md, "Examples in docs are runnable and
 * tested"): its configuration block parses as `file` settings, and every flow example validates
 * against the real `file`, `kingdee` and `neocrm` connectors (actions, inputs, trigger params).
 * Trigger-only snippets are completed with an id and a trivial step first.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import type { ConnectorDescriptor } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import { validateFlowFile } from '../../flow/validate.ts';
import { kingdeeConnector } from '../kingdee/index.ts';
import { neocrmConnector } from '../neocrm/index.ts';
import { fileConnector } from './index.ts';

const DOC = fileURLToPath(new URL('../../../docs/connectors/file.md', import.meta.url));
const text = readFileSync(DOC, 'utf8');

const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => ({
  body: m[1],
  line: text.slice(0, m.index).split('\n').length + 1,
}));

const make = (d: ConnectorDescriptor, settings: Record<string, unknown>) => ({
  type: d.type,
  connector: d.create({ connectionId: d.type, settings: d.settings.parse(settings), log: silentLogger }),
});

const connections = {
  files: make(fileConnector, { root: '/srv/qiao/exchange' }),
  kingdee: make(kingdeeConnector, {
    baseUrl: 'https://erp.example.com/k3cloud/',
    acctId: '62f1c3a5e1b2d4',
    username: 'qiao',
    password: 'x',
  }),
  crm: make(neocrmConnector, {
    baseUrl: 'https://api.xiaoshouyi.com',
    clientId: 'c',
    clientSecret: 's',
    redirectUri: 'https://api.xiaoshouyi.com',
    username: 'qiao@example.com',
    password: 'x',
  }),
};
const registry = {
  connection: (id: string) => connections[id as keyof typeof connections],
  connections: () => Object.keys(connections),
};

describe('docs/connectors/file.md', () => {
  it('has examples', () => assert.ok(blocks.length >= 5));

  for (const b of blocks) {
    it(`the yaml block at line ${b.line}`, () => {
      if (b.body.startsWith('connections:')) {
        const { type, ...settings } = YAML.parse(b.body).connections.files;
        assert.equal(type, 'file');
        assert.ok(fileConnector.settings.safeParse(settings).success);
        return;
      }
      let flow = b.body;
      if (!/^id:/m.test(flow)) flow = `id: doc-snippet\n${flow}`;
      if (!/^steps:/m.test(flow)) flow += 'steps:\n  - id: noop\n    filter: "=true"\n';
      const { problems } = validateFlowFile(flow, `docs/connectors/file.md:${b.line}`, registry);
      assert.deepEqual(problems, []);
    });
  }
});
