/**
 * `/api/dead-letters`: steps that failed for good, with the partner's own message. A person edits the
 * input the step sent, then replays it: the replay runs the same step with the same idempotency key,
 * so a partner that already applied it does not apply it twice, and the run carries on from there.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { Hub } from '../../hub.ts';
import type { DeadLetterRow } from '../../store/store.ts';
import { ConflictError } from './errors.ts';
import type { ApiRoutes } from './route.ts';
import { DEAD_LETTER_STATUSES, deadLetter, flowId, idParams, items, limitParam, uuid } from './schemas.ts';

const listQuery = z.strictObject({
  status: z.enum(DEAD_LETTER_STATUSES).optional().describe('Default: every status.'),
  flowId: flowId.optional(),
  limit: limitParam(1000),
});

const patchBody = z.strictObject({
  input: z.unknown().describe("The step's new input, checked against the action's input schema."),
});

const params = idParams(uuid('dead letter'));

export function registerDeadLetters(api: ApiRoutes, hub: Hub): void {
  /** The dead letter, which must still be open to be changed. */
  const requireOpen = async (id: string): Promise<DeadLetterRow> => {
    const dl = await hub.store.getDeadLetter(id);
    if (!dl) throw new NotFoundError(`dead letter ${id} does not exist`);
    if (dl.status !== 'open') throw new ConflictError(`dead letter ${id} is already ${dl.status}`);
    return dl;
  };

  api.add({
    method: 'GET',
    url: '/dead-letters',
    operationId: 'listDeadLetters',
    tag: 'dead-letters',
    summary: 'List dead letters, newest first',
    query: listQuery,
    responses: { 200: { description: 'Dead letters.', schema: items(deadLetter) } },
    async handler({ query }) {
      return { items: await hub.store.listDeadLetters(query) };
    },
  });

  api.add({
    method: 'GET',
    url: '/dead-letters/:id',
    operationId: 'getDeadLetter',
    tag: 'dead-letters',
    summary: 'One dead letter',
    params,
    responses: { 200: { description: 'The dead letter.', schema: deadLetter } },
    async handler({ params: p }) {
      const dl = await hub.store.getDeadLetter(p.id);
      if (!dl) throw new NotFoundError(`dead letter ${p.id} does not exist`);
      return dl;
    },
  });

  api.add({
    method: 'PATCH',
    url: '/dead-letters/:id',
    operationId: 'editDeadLetter',
    tag: 'dead-letters',
    summary: "Edit a dead letter's input before replaying it",
    description:
      "For an action step the new input must pass the action's input schema (422 otherwise); the old " +
      'and new inputs are kept on the audit row. Only open dead letters can change (409).',
    params,
    body: patchBody,
    mutates: true,
    responses: {
      200: { description: 'The edited dead letter.', schema: deadLetter },
      409: { description: 'Already replayed or discarded.' },
      422: { description: "The input does not fit the action's schema." },
    },
    async handler({ params: p, body, actor }) {
      const dl = await requireOpen(p.id);
      if (body.input === undefined) throw new ValidationError([{ path: 'input', message: 'required' }]);
      const action =
        dl.connection && dl.action
          ? hub.connections.get(dl.connection)?.connector.actions[dl.action]
          : undefined;
      if (action) {
        const r = action.input.safeParse(body.input);
        if (!r.success) {
          throw new ValidationError(
            r.error.issues.map((i) => ({
              path: ['input', ...i.path.map(String)].join('.'),
              message: i.message,
            })),
          );
        }
      }
      return hub.store.editDeadLetter(p.id, body.input, {
        actor,
        action: 'dead-letter.edit',
        target: `dead-letter:${p.id}`,
      });
    },
  });

  api.add({
    method: 'POST',
    url: '/dead-letters/:id/replay',
    operationId: 'replayDeadLetter',
    tag: 'dead-letters',
    summary: 'Replay a dead letter: its step runs again with the same idempotency key',
    params,
    mutates: true,
    responses: {
      200: { description: 'Queued again; the dead letter is now `replayed`.', schema: deadLetter },
      409: { description: 'Already replayed or discarded.' },
    },
    async handler({ params: p, actor }) {
      await requireOpen(p.id);
      await hub.engine.replay(p.id, actor);
      return (await hub.store.getDeadLetter(p.id))!;
    },
  });

  api.add({
    method: 'POST',
    url: '/dead-letters/:id/discard',
    operationId: 'discardDeadLetter',
    tag: 'dead-letters',
    summary: 'Discard a dead letter (the run stays failed)',
    params,
    mutates: true,
    responses: {
      200: { description: 'The dead letter, now `discarded`.', schema: deadLetter },
      409: { description: 'Already replayed or discarded.' },
    },
    async handler({ params: p, actor }) {
      await requireOpen(p.id);
      return hub.store.discardDeadLetter(p.id, {
        actor,
        action: 'dead-letter.discard',
        target: `dead-letter:${p.id}`,
      });
    },
  });
}
