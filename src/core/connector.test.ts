import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { type Connector, type TriggerSpec, typesHeardBy, typesResumedBy } from './connector.ts';

const event = (eventType: string, alsoResumes?: string[]): TriggerSpec => ({
  kind: 'event',
  description: eventType,
  eventType,
  params: z.object({}),
  ...(alsoResumes ? { alsoResumes } : {}),
});

/** DingTalk's shape: an instance's end also ends its tasks' waits (spec §9). */
const connector = {
  triggers: {
    approval: event('approval.instance', ['approval.task']),
    'approval.task': event('approval.task'),
    chat: event('chat.message'),
  },
} as unknown as Connector;

describe('alsoResumes: which waits an event reaches', () => {
  it('an event resumes waits on its own type and on those its trigger names', () => {
    assert.deepEqual(typesResumedBy(connector, 'approval.instance'), ['approval.instance', 'approval.task']);
    assert.deepEqual(typesResumedBy(connector, 'approval.task'), ['approval.task'], 'not the other way');
    assert.deepEqual(typesResumedBy(connector, 'chat.message'), ['chat.message']);
    assert.deepEqual(typesResumedBy(undefined, 'x'), ['x'], 'a connection gone: its own type only');
  });

  it('a wait hears its own type and the types whose triggers name it', () => {
    assert.deepEqual(typesHeardBy(connector, 'approval.task'), ['approval.task', 'approval.instance']);
    assert.deepEqual(typesHeardBy(connector, 'approval.instance'), ['approval.instance']);
    assert.deepEqual(typesHeardBy(connector, 'chat.message'), ['chat.message']);
  });
});
