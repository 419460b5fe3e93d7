/**
 * The `dingtalk` triggers. Events arrive by Stream or HTTP (hooks.ts, stream-client.ts); each carries
 * a correlation key that resumes a waiting run (inbound.ts). `approval.instances` polls the approval
 * API, for instances started outside Qiao and as the reconciler's safety net when an event never came.
 */
import { z } from 'zod';
import type {
  Cursor,
  EventTriggerSpec,
  InboundEvent,
  PollPage,
  PollTriggerSpec,
  TriggerSpec,
} from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import { getApproval, listInstanceIds } from './actions.ts';
import type { DingtalkClient } from './client.ts';
import { approvalKey } from './inbound.ts';

const pad = (ms: number) => String(ms).padStart(13, '0');

/** `2022-08-31T11:52Z` (spec §10.2: UTC, minute precision) to epoch ms. */
export function parseMinute(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z$/.exec(s);
  if (!m) {
    const t = Date.parse(s);
    return Number.isFinite(t) ? t : undefined;
  }
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0);
}

const approvalParams = z.object({
  processCode: z.string().optional(),
  /** Only these instance event types (start, finish, terminate, delete). */
  types: z.array(z.enum(['start', 'finish', 'terminate', 'delete'])).optional(),
  result: z.enum(['agree', 'refuse']).optional(),
});

const taskParams = z.object({
  processCode: z.string().optional(),
  types: z.array(z.enum(['start', 'finish', 'cancel'])).optional(),
  result: z.enum(['agree', 'refuse', 'redirect']).optional(),
});

const chatParams = z.object({
  /** The whole message, after trimming, e.g. "确认付款". */
  text: z.string().optional(),
  /** A substring the message must contain. */
  contains: z.string().optional(),
  /** A regular expression the message must match. */
  pattern: z.string().optional(),
  conversationType: z.enum(['single', 'group']).optional(),
  conversationId: z.string().optional(),
  /** Only messages from members of the organisation (default true): guests have no staff id. */
  employeesOnly: z.boolean().default(true),
});

const cardParams = z.object({ outTrackId: z.string().optional(), action: z.string().optional() });

const eventParams = z.object({ eventType: z.string().optional() });

const pollParams = z.object({
  processCode: z.string().min(1),
  /** Where a first poll starts (default one day back; DingTalk allows at most 120 days). */
  lookbackMs: z
    .number()
    .int()
    .positive()
    .max(120 * 86_400_000)
    .default(86_400_000),
  /** Re-read this much before the cursor, for instances that became visible late. */
  overlapMs: z.number().int().nonnegative().default(60_000),
  pageSize: z.number().int().positive().max(500).default(100),
  userIds: z.array(z.string()).max(10).optional(),
});

type D = Record<string, any>;

export function dingtalkTriggers(client: DingtalkClient): Record<string, TriggerSpec> {
  const approval: EventTriggerSpec<z.infer<typeof approvalParams>> = {
    kind: 'event',
    description:
      'An approval instance started, finished (agree/refuse), was revoked or deleted (bpms_instance_change).',
    eventType: 'approval.instance',
    // A revoked (撤销, terminate) or deleted instance ends its open tasks, but DingTalk sends only the
    // instance event (spec §9): a wait on a task hears its instance's events too.
    alsoResumes: ['approval.task'],
    params: approvalParams,
    matches: (e, p) => {
      const d = e.data as D;
      return (
        (!p.processCode || d.processCode === p.processCode) &&
        (!p.types || p.types.includes(d.type)) &&
        (!p.result || d.result === p.result)
      );
    },
  };
  const approvalTask: EventTriggerSpec<z.infer<typeof taskParams>> = {
    kind: 'event',
    description: 'An approval task started, finished or was canceled (bpms_task_change).',
    eventType: 'approval.task',
    params: taskParams,
    matches: (e, p) => {
      const d = e.data as D;
      return (
        (!p.processCode || d.processCode === p.processCode) &&
        (!p.types || p.types.includes(d.type)) &&
        (!p.result || d.result === p.result)
      );
    },
  };
  const chat: EventTriggerSpec<z.infer<typeof chatParams>> = {
    kind: 'event',
    description:
      'Someone wrote to the robot (1:1, or @robot in a group); the sender is mapped to an employee.',
    eventType: 'chat.message',
    params: chatParams,
    matches: (e, p) => chatMatches(e, p),
  };
  const card: EventTriggerSpec<z.infer<typeof cardParams>> = {
    kind: 'event',
    description: 'Someone pressed a button on an interactive card (correlation = outTrackId).',
    eventType: 'card.click',
    params: cardParams,
    matches: (e, p) => {
      const d = e.data as D;
      return (
        (!p.outTrackId || d.outTrackId === p.outTrackId) &&
        (!p.action || d.params?.action === p.action || d.actionIds?.includes(p.action))
      );
    },
  };
  const event: EventTriggerSpec<z.infer<typeof eventParams>> = {
    kind: 'event',
    description: 'Any other DingTalk event subscribed in the developer console.',
    eventType: 'dingtalk.event',
    params: eventParams,
    matches: (e, p) => !p.eventType || (e.data as D).eventType === p.eventType,
  };

  // createTime never changes: cached so a poll re-reads only instances it has not seen.
  const createTimes = new Map<string, number>();
  const instances: PollTriggerSpec<z.infer<typeof pollParams>> = {
    kind: 'poll',
    description:
      'Approval instances started for a template (also the reconciler of approvals whose event never came).',
    params: pollParams,
    async poll(p, cursor, ctx): Promise<PollPage> {
      const now = Date.now();
      const from = cursor ? Math.max(0, Number(cursor.time) - p.overlapMs) : now - p.lookbackMs;
      const ids = await listInstanceIds(
        client,
        {
          processCode: p.processCode,
          startTime: Math.max(from, now - 120 * 86_400_000 + 60_000),
          endTime: now,
          userIds: p.userIds,
        },
        ctx.signal,
      );
      const views = new Map<string, Awaited<ReturnType<typeof getApproval>>>();
      const rows: Array<{ id: string; time: number }> = [];
      for (const id of ids) {
        let time = createTimes.get(id);
        if (time === undefined) {
          const v = await getApproval(client, id, 'new', ctx.signal);
          views.set(id, v);
          time = parseMinute(v.createTime) ?? now;
          if (createTimes.size > 100_000) createTimes.delete(createTimes.keys().next().value as string);
          createTimes.set(id, time);
        }
        rows.push({ id, time });
      }
      rows.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      // createTime has minute precision (§10.2): a minute is complete only once it is over (plus 5 s
      // of clock skew). The cursor advances over complete minutes only, by (time, id); instances of
      // the current minute are returned without moving the cursor, so a later one with a smaller id
      // in the same minute is never skipped (the inbox drops the repeats by key).
      const settled = (t: number) => t + 65_000 <= now;
      const after = (r: { id: string; time: number }) =>
        !cursor || pad(r.time) > cursor.time || (pad(r.time) === cursor.time && r.id > cursor.id);
      const done = rows.filter((r) => settled(r.time) && after(r));
      const open = rows.filter((r) => !settled(r.time));
      const page = done.slice(0, p.pageSize);
      const more = done.length > page.length;
      const extra = more ? [] : open.slice(0, Math.max(0, p.pageSize - page.length));
      const records = [];
      let next: Cursor | null = cursor;
      for (const r of [...page, ...extra]) {
        const view = views.get(r.id) ?? (await getApproval(client, r.id, 'new', ctx.signal));
        const c = { time: pad(r.time), id: r.id };
        records.push({ key: r.id, data: view, cursor: c });
        if (settled(r.time)) next = c;
      }
      return { records, cursor: next, more };
    },
  };

  return {
    approval,
    'approval.task': approvalTask,
    chat,
    card,
    event,
    'approval.instances': instances,
  };
}

export function chatMatches(e: InboundEvent, p: z.infer<typeof chatParams>): boolean {
  const d = e.data as D;
  const text = String(d.text ?? '');
  if (p.employeesOnly && !d.internal) return false;
  if (p.text !== undefined && text !== p.text.trim()) return false;
  if (p.contains !== undefined && !text.includes(p.contains)) return false;
  if (p.pattern !== undefined && !new RegExp(p.pattern).test(text)) return false;
  if (p.conversationType && d.conversationType !== p.conversationType) return false;
  if (p.conversationId && d.conversationId !== p.conversationId) return false;
  return true;
}

/**
 * For waits whose event never came: reads each instance and returns, for those that ended, the
 * `approval.instance` event their callback would have carried (same type, correlation and key as
 * the callback's, so a late callback and this event dedupe in the inbox). Final states only. An
 * instance DingTalk no longer knows (`processInstanceNotExist`) was deleted: its `delete` event, so
 * one deleted instance neither fails the others' answers nor leaves its waits asking forever.
 */
export async function reconcileApprovals(
  client: DingtalkClient,
  ids: string[],
  signal?: AbortSignal,
): Promise<InboundEvent[]> {
  const out: InboundEvent[] = [];
  for (const id of ids) {
    const v = await getApproval(client, id, 'new', signal).catch((err: unknown) => {
      if (err instanceof QiaoError && err.partner?.code === 'processInstanceNotExist') return undefined;
      throw err;
    });
    if (!v) {
      out.push({
        key: approvalKey(true, id, 'delete'),
        type: 'approval.instance',
        correlation: id,
        data: {
          eventType: 'bpms_instance_change',
          processInstanceId: id,
          type: 'delete',
          finished: true,
          reconciled: true,
        },
      });
      continue;
    }
    if (!v.finished) continue;
    const type = v.status === 'TERMINATED' ? 'terminate' : 'finish';
    out.push({
      key: approvalKey(true, id, type),
      type: 'approval.instance',
      correlation: id,
      data: {
        eventType: 'bpms_instance_change',
        processInstanceId: id,
        type,
        ...(type === 'finish' ? { result: v.result } : {}),
        staffId: v.originatorUserId,
        title: v.title,
        businessId: v.businessId,
        finishTime: parseMinute(v.finishTime),
        finished: true,
        approved: v.approved,
        reconciled: true,
      },
    });
  }
  return out;
}
