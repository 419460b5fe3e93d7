/**
 * WeCom triggers: approval changes, card clicks and members' messages arrive by callback (event
 * triggers, fed by callback.ts); new approvals can also be polled (getapprovalinfo + detail, spec
 * §3.3); and `reconcile` re-reads the approvals runs are waiting on, so a callback that never came
 * delays a result but never loses it (DESIGN.md "Durable waits").
 */
import { z } from 'zod';
import type {
  Cursor,
  InboundEvent,
  PolledRecord,
  PollPage,
  PollTriggerSpec,
  TriggerSpec,
} from '../../core/connector.ts';
import type { WecomContext } from './context.ts';
import { type ApprovalState, reconciledEvent, stateFromDetail, TERMINAL_STATUSES } from './events.ts';

const DAY = 86_400;
/** getapprovalinfo spans at most 31 days (spec §3.3). */
const MAX_SPAN = 31 * DAY;

/** sp_no order: YYYYMMDD + daily sequence; a longer number is later (the sequence may pass 9999). */
export function compareSpNo(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
const padId = (spNo: string) => spNo.padStart(16, '0');
const unpadId = (id: string) => id.replace(/^0+(?=\d)/, '');
const padTime = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(13, '0');

// ---------------------------------------------------------------------------------------------
// Event triggers

const approvalChangedParams = z.object({
  /** Only these templates. */
  templateIds: z.array(z.string()).optional(),
  /** Only when the application reaches one of these sp_status values (2 approved, 3 rejected…). */
  statuses: z.array(z.number().int()).optional(),
  /** Only these StatuChangeEvent values (1 submitted, 2 agreed, 3 rejected, 10 commented…). */
  changes: z.array(z.number().int()).optional(),
  /** Only final states (2, 3, 4, 6, 7, 10). */
  terminalOnly: z.boolean().default(false),
});

const cardClickedParams = z.object({
  /** Only cards whose task_id starts with this. */
  taskIdPrefix: z.string().optional(),
  /** Only these button keys. */
  keys: z.array(z.string()).optional(),
});

const messageReceivedParams = z.object({
  /** Only messages containing this text. */
  contains: z.string().optional(),
});

// ---------------------------------------------------------------------------------------------
// Poll trigger: approvals submitted

const submittedParams = z.object({
  templateId: z.string().optional(),
  creator: z.string().optional(),
  /** Where the first poll starts, in days back (≤ 31, spec §3.3). */
  lookbackDays: z.number().int().min(1).max(31).default(1),
  pageSize: z.number().int().min(1).max(100).default(50),
  /** Re-list this much before the cursor, for applications that show up late in the listing. */
  overlapSeconds: z.number().int().min(0).max(3600).default(60),
});
type SubmittedParams = z.infer<typeof submittedParams>;

async function listSpNos(
  ctx: WecomContext,
  start: number,
  end: number,
  filters: Array<{ key: string; value: string }>,
  signal: AbortSignal,
): Promise<string[]> {
  const out: string[] = [];
  let cursor = '';
  // Pages of 100; a page can hold fewer (visible range), so only the cursor ends the listing (§3.3).
  for (let page = 0; page < 1000; page++) {
    const res = await ctx.client.call('getapprovalinfo', '/cgi-bin/oa/getapprovalinfo', {
      body: { starttime: String(start), endtime: String(end), new_cursor: cursor, size: 100, filters },
      signal,
    });
    out.push(...((res.sp_no_list as unknown[]) ?? []).map(String));
    if (!res.new_next_cursor) break;
    cursor = String(res.new_next_cursor);
  }
  return out;
}

function submittedTrigger(ctx: WecomContext) {
  /** Approvals this connection already emitted, so the overlap window does not re-read them. */
  const emitted = new Map<string, true>();
  const remember = (spNo: string) => {
    emitted.set(spNo, true);
    if (emitted.size > 20_000) emitted.delete(emitted.keys().next().value as string);
  };
  const spec: PollTriggerSpec<SubmittedParams> = {
    kind: 'poll',
    description: 'New approvals submitted (getapprovalinfo by submission time, then getapprovaldetail)',
    params: submittedParams,
    async poll(params, cursor, pc): Promise<PollPage> {
      const nowS = Math.floor(Date.now() / 1000);
      const from = cursor
        ? Math.floor(Number(cursor.time) / 1000) - params.overlapSeconds
        : nowS - params.lookbackDays * DAY;
      const start = Math.max(from, nowS - MAX_SPAN + 60);
      const end = Math.min(start + MAX_SPAN - 60, nowS + 60);
      const filters: Array<{ key: string; value: string }> = [];
      if (params.templateId) filters.push({ key: 'template_id', value: params.templateId });
      if (params.creator) filters.push({ key: 'creator', value: params.creator });
      const listed = (await listSpNos(ctx, start, end, filters, pc.signal)).sort(compareSpNo);
      const after = cursor?.id ? unpadId(cursor.id) : '';
      // Strictly after the cursor by sp_no — ties on the submission second never lose or repeat one —
      // plus late arrivals inside the overlap window this connection has not emitted yet.
      const fresh = listed.filter((s) => (after !== '' && compareSpNo(s, after) > 0) || !emitted.has(s));
      const page = fresh.slice(0, params.pageSize);
      const records: PolledRecord[] = [];
      let next: Cursor | null = cursor;
      for (const spNo of page) {
        const res = await ctx.client.call('getapprovaldetail', '/cgi-bin/oa/getapprovaldetail', {
          body: { sp_no: spNo },
          signal: pc.signal,
        });
        const s: ApprovalState = stateFromDetail(res.info ?? {});
        const c: Cursor = { time: padTime(Date.parse(s.applyTime ?? '') || 0), id: padId(spNo) };
        records.push({ key: `wecom:${ctx.settings.corpId}:approval-submitted:${spNo}`, data: s, cursor: c });
        remember(spNo);
        if (!next || c.time > next.time || (c.time === next.time && c.id > next.id)) next = c;
      }
      const windowCut = end < nowS;
      if (records.length === 0 && windowCut) {
        // Nothing in a whole 31-day window: move on to the next one.
        const c: Cursor = { time: padTime((end - 60) * 1000), id: '' };
        if (!next || c.time > next.time) next = c;
      }
      return { records, cursor: next, more: fresh.length > page.length || windowCut };
    },
  };
  return spec;
}

// ---------------------------------------------------------------------------------------------
// Reconciler

/** Below this many waits, each is read directly; above, terminal ones are found by listing first. */
const DIRECT_READS = 10;

/** Days (China time) encoded in the sp_no's first 8 digits, as Unix seconds of that midnight. */
function dayOf(spNo: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})\d+$/.exec(spNo);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00+08:00`);
  return Number.isNaN(t) ? undefined : t / 1000;
}

/**
 * The final state of each approval a run waits on that has reached one, as `approval.change` events
 * (the same type and correlation as the callback's; pending approvals give none). Many waits: getapprovalinfo with an `sp_status` filter per final
 * status over the days the sp_nos were submitted, then getapprovaldetail only for those that moved.
 */
export async function reconcileApprovals(
  ctx: WecomContext,
  spNos: string[],
  signal: AbortSignal,
): Promise<InboundEvent[]> {
  const unique = [...new Set(spNos.map(String))];
  let toRead = unique;
  if (unique.length > DIRECT_READS) {
    const days = unique.map(dayOf).filter((d): d is number => d !== undefined);
    const nowS = Math.floor(Date.now() / 1000);
    const first = Math.max(Math.min(...days, nowS) - DAY, nowS - 12 * MAX_SPAN);
    const closed = new Set<string>();
    for (let start = first; start < nowS + 60; start += MAX_SPAN - 60) {
      const end = Math.min(start + MAX_SPAN - 60, nowS + 60);
      for (const status of TERMINAL_STATUSES) {
        for (const s of await listSpNos(
          ctx,
          start,
          end,
          [{ key: 'sp_status', value: String(status) }],
          signal,
        ))
          closed.add(s);
      }
    }
    toRead = unique.filter((s) => closed.has(s));
  }
  const events: InboundEvent[] = [];
  for (const spNo of toRead) {
    const res = await ctx.client.call('getapprovaldetail', '/cgi-bin/oa/getapprovaldetail', {
      body: { sp_no: spNo },
      signal,
    });
    const state = stateFromDetail(res.info ?? {});
    // Only final states: a pending approval has nothing a waiting run could resume on yet.
    if (state.terminal) events.push(reconciledEvent(ctx.settings.corpId, state));
  }
  return events;
}

export function makeTriggers(ctx: WecomContext): Record<string, TriggerSpec> {
  return {
    'approval.changed': {
      kind: 'event',
      description:
        'An approval changed: submitted, agreed, rejected, withdrawn, commented… (sys_approval_change callback)',
      eventType: 'approval.change',
      params: approvalChangedParams,
      matches(event, p: z.infer<typeof approvalChangedParams>) {
        const s = event.data as ApprovalState;
        if (p.templateIds?.length && !p.templateIds.includes(s.templateId)) return false;
        if (p.statuses?.length && !p.statuses.includes(s.spStatus)) return false;
        if (p.changes?.length && (!s.change || !p.changes.includes(s.change.event))) return false;
        if (p.terminalOnly && !s.terminal) return false;
        return true;
      },
    },
    'card.clicked': {
      kind: 'event',
      description: 'A member clicked a button of an interactive template card (template_card_event)',
      eventType: 'card.click',
      params: cardClickedParams,
      matches(event, p: z.infer<typeof cardClickedParams>) {
        const d = event.data as { taskId: string; key: string };
        if (p.taskIdPrefix && !d.taskId.startsWith(p.taskIdPrefix)) return false;
        if (p.keys?.length && !p.keys.includes(d.key)) return false;
        return true;
      },
    },
    'message.received': {
      kind: 'event',
      description: 'A member wrote to the application (message callback)',
      eventType: 'chat.message',
      params: messageReceivedParams,
      matches(event, p: z.infer<typeof messageReceivedParams>) {
        const d = event.data as { content: string };
        return !p.contains || d.content.includes(p.contains);
      },
    },
    'approval.submitted': submittedTrigger(ctx),
  };
}
