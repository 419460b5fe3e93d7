/**
 * Test support: a temporary root folder with a `file` connector on it, and shortcuts to run its
 * actions and its poll trigger the way the engine does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ActionResult, Connector, Cursor, PollPage } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import { testActionContext } from '../conformance.ts';
import { fileConnector } from './index.ts';

export interface FileFixture {
  root: string;
  connector: Connector;
  /** Absolute path of a root-relative one. */
  at(rel: string): string;
  /** Runs an action; each call gets a fresh idempotency key unless one is given. */
  run(action: string, input: Record<string, unknown>, key?: string): Promise<ActionResult>;
  /** One call of the poll trigger. */
  poll(params: Record<string, unknown>, cursor: Cursor | null): Promise<PollPage>;
  /** Polls until `more` is false; the records of every page and the final cursor. */
  drain(
    params: Record<string, unknown>,
    cursor: Cursor | null,
  ): Promise<{ pages: PollPage[]; cursor: Cursor | null }>;
  close(): Promise<void>;
}

let keys = 0;

export async function fileFixture(settings: Record<string, unknown> = {}): Promise<FileFixture> {
  const root = await mkdtemp(path.join(tmpdir(), 'qiao-file-'));
  const connector = fileConnector.create({
    connectionId: 'files',
    settings: fileConnector.settings.parse({ root, ...settings }),
    log: silentLogger,
  });
  const poll: FileFixture['poll'] = async (params, cursor) => {
    const t = connector.triggers.poll;
    if (t.kind !== 'poll') throw new Error('poll is a poll trigger');
    return t.poll(t.params.parse(params), cursor, { signal: AbortSignal.timeout(30_000), log: silentLogger });
  };
  return {
    root,
    connector,
    at: (rel) => path.join(root, ...rel.split('/')),
    async run(action, input, key) {
      const a = connector.actions[action];
      return a.run(a.input.parse(input), testActionContext(key ?? `k${++keys}-${Date.now()}`));
    },
    poll,
    async drain(params, cursor) {
      const pages: PollPage[] = [];
      for (let i = 0; i < 10_000; i++) {
        const page = await poll(params, cursor);
        pages.push(page);
        cursor = page.cursor ?? cursor;
        if (!page.more) break;
      }
      return { pages, cursor };
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}
