/**
 * `qiao dlq list|show|edit|replay|discard`: dead letters from the command line, on the store directly.
 * A replay queues the step again with its idempotency key; the hub (`qiao start`) runs it.
 */
import type { ActionSpec } from '../core/connector.ts';
import { formatProblem } from '../core/errors.ts';
import { DEAD_LETTER_STATUSES } from '../server/api/schemas.ts';
import type { DeadLetterRow, Store } from '../store/store.ts';
import { cliActor, withStore } from './context.ts';
import { CliError, clip, localTime, positiveInt, say, table } from './output.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(id: string): void {
  if (!UUID.test(id))
    throw new CliError(`'${id}' is not a dead letter id (a UUID, as \`qiao dlq list\` shows them)`);
}

async function requireOpen(store: Store, id: string): Promise<DeadLetterRow> {
  checkId(id);
  const dl = await store.getDeadLetter(id);
  if (!dl) throw new CliError(`dead letter ${id} does not exist`);
  if (dl.status !== 'open') throw new CliError(`dead letter ${id} is already ${dl.status}`);
  return dl;
}

/** The input schema of the action a dead letter failed in (connectors are made to be read, not called). */
async function actionOf(store: Store, dl: DeadLetterRow): Promise<ActionSpec | undefined> {
  if (!dl.connection || !dl.action) return undefined;
  const row = await store.getConnection(dl.connection);
  // Loaded here: only `dlq edit` needs the connectors.
  const { builtinConnectors } = await import('../connectors/index.ts');
  const { readingInstance } = await import('../server/api/connector-types.ts');
  const d = row && builtinConnectors().find((x) => x.type === row.type);
  if (!d) return undefined;
  try {
    const c = readingInstance(d);
    const spec = c.actions[dl.action];
    await c.close?.();
    return spec;
  } catch {
    return undefined;
  }
}

export async function dlqListCommand(opts: {
  config?: string;
  status?: string;
  flow?: string;
  limit?: string;
  json?: boolean;
}): Promise<number> {
  const status = opts.status ?? 'open';
  if (status !== 'all' && !(DEAD_LETTER_STATUSES as readonly string[]).includes(status)) {
    throw new CliError(`--status must be one of ${DEAD_LETTER_STATUSES.join(', ')}, all; got '${status}'`);
  }
  const limit = positiveInt('--limit', opts.limit, 1000) ?? 50;
  const rows = await withStore(opts.config, (s) =>
    s.listDeadLetters({
      status: status === 'all' ? undefined : (status as DeadLetterRow['status']),
      flowId: opts.flow,
      limit,
    }),
  );
  if (opts.json) {
    say(JSON.stringify(rows));
    return 0;
  }
  if (rows.length === 0) {
    say(status === 'all' ? 'no dead letters' : `no ${status} dead letters`);
    return 0;
  }
  say(
    table([
      ['ID', 'FLOW', 'STEP', 'STATUS', 'CREATED', 'ERROR'],
      ...rows.map((d) => [
        d.id,
        d.flowId,
        d.stepName,
        d.status,
        localTime(d.createdAt),
        clip(d.error.partner?.message ?? d.error.message, 50),
      ]),
    ]),
  );
  return 0;
}

export async function dlqShowCommand(id: string, opts: { config?: string }): Promise<number> {
  checkId(id);
  const dl = await withStore(opts.config, (s) => s.getDeadLetter(id));
  if (!dl) throw new CliError(`dead letter ${id} does not exist`);
  say(JSON.stringify(dl, null, 2));
  return 0;
}

export async function dlqEditCommand(
  id: string,
  opts: { config?: string; input?: string; actor?: string },
): Promise<number> {
  if (opts.input === undefined) throw new CliError('give the new input with --input JSON');
  let input: unknown;
  try {
    input = JSON.parse(opts.input);
  } catch (err) {
    throw new CliError(`--input is not JSON: ${(err as Error).message}`);
  }
  await withStore(opts.config, async (s) => {
    const dl = await requireOpen(s, id);
    const spec = await actionOf(s, dl);
    if (spec) {
      const r = spec.input.safeParse(input);
      if (!r.success) {
        const lines = r.error.issues.map((i) =>
          formatProblem({ path: ['input', ...i.path.map(String)].join('.'), message: i.message }),
        );
        throw new CliError(`the input does not fit ${dl.connection}.${dl.action}: ${lines.join('; ')}`);
      }
    }
    await s.editDeadLetter(id, input, {
      actor: cliActor(opts.actor),
      action: 'dead-letter.edit',
      target: `dead-letter:${id}`,
    });
  });
  say(`edited dead letter ${id}; \`qiao dlq replay ${id}\` runs its step again`);
  return 0;
}

export async function dlqReplayCommand(
  id: string,
  opts: { config?: string; actor?: string },
): Promise<number> {
  await withStore(opts.config, async (s) => {
    await requireOpen(s, id);
    await s.replayDeadLetter(id, {
      actor: cliActor(opts.actor),
      action: 'dead-letter.replay',
      target: `dead-letter:${id}`,
    });
  });
  say(`replayed dead letter ${id}: its step is queued again (a running hub takes it within a second)`);
  return 0;
}

export async function dlqDiscardCommand(
  id: string,
  opts: { config?: string; actor?: string },
): Promise<number> {
  await withStore(opts.config, async (s) => {
    await requireOpen(s, id);
    await s.discardDeadLetter(id, {
      actor: cliActor(opts.actor),
      action: 'dead-letter.discard',
      target: `dead-letter:${id}`,
    });
  });
  say(`discarded dead letter ${id}`);
  return 0;
}
