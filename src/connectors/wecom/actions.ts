/**
 * The WeCom actions: approval.start / approval.get (spec §3), message.send and card.update
 * (§6.1–6.2), robot.send (§6.3) and user.lookup (§7). Inputs are validated before any call; each
 * action is idempotent under the engine's retries as far as WeCom allows (see docs/connectors/wecom.md).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ActionContext, ActionSpec } from '../../core/connector.ts';
import { QiaoError, ValidationError } from '../../core/errors.ts';
import { buildContents, type Template } from './approval-form.ts';
import type { WecomContext } from './context.ts';
import { NOT_FOUND } from './error-table.ts';
import { stateFromDetail } from './events.ts';

type Json = Record<string, any>;
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------------------------
// approval.start

const approverNode = z.object({
  userids: z.array(z.string().min(1)).min(1),
  /** any = 或签, all = 会签, sequential = 依次审批 (current dialect only). */
  mode: z.enum(['any', 'all', 'sequential']).default('any'),
  /** handler = 办理人 (current dialect only). */
  type: z.enum(['approver', 'handler']).default('approver'),
});

export const approvalStartInput = z
  .object({
    templateId: z.string().min(1),
    /** The applicant's userid. */
    creator: z.string().min(1),
    /** Values by control title (合同金额) or control id (Money-…). */
    fields: z.record(z.string(), z.unknown()),
    /** The approval chain; without it the flow configured on the template is used. */
    approvers: z.array(approverNode).optional(),
    /** CC (抄送) userids. */
    cc: z.array(z.string().min(1)).optional(),
    /** Use the template's configured (possibly conditional) flow. Default: when no `approvers`. */
    useTemplateApprover: z.boolean().optional(),
    /** Department the applicant files under (default: main department). */
    department: z.number().int().positive().optional(),
    /** Up to 3 summary lines of ≤ 20 characters (spec §3.2). */
    summary: z.array(z.string().min(1)).max(3).optional(),
    /** Request dialect: `process` (current, default) or `classic` (approver/notifyer). */
    dialect: z.enum(['process', 'classic']).default('process'),
  })
  .superRefine((v, ctx) => {
    for (const [i, s] of (v.summary ?? []).entries()) {
      if ([...s].length > 20)
        ctx.addIssue({
          code: 'custom',
          path: ['summary', i],
          message: 'summary lines are at most 20 characters',
        });
    }
    if (v.useTemplateApprover === false && !v.approvers?.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvers'],
        message: 'approvers are required when useTemplateApprover is false',
      });
    }
    if (v.dialect === 'classic') {
      for (const [i, a] of (v.approvers ?? []).entries()) {
        if (a.mode === 'sequential' || a.type === 'handler') {
          ctx.addIssue({
            code: 'custom',
            path: ['approvers', i],
            message: 'the classic dialect has no sequential or handler nodes; use dialect "process"',
          });
        }
      }
    }
  });
export type ApprovalStartInput = z.infer<typeof approvalStartInput>;

/** The applyevent body (spec §3.2), in the dialect asked for. */
export function applyBody(input: ApprovalStartInput, contents: Json[]): Json {
  const useTemplate = input.useTemplateApprover ?? !input.approvers?.length;
  const body: Json = {
    creator_userid: input.creator,
    template_id: input.templateId,
    use_template_approver: useTemplate ? 1 : 0,
    apply_data: { contents },
  };
  if (input.department !== undefined) body.choose_department = input.department;
  if (input.summary?.length)
    body.summary_list = input.summary.map((text) => ({ summary_info: [{ text, lang: 'zh_CN' }] }));
  if (useTemplate) return body;
  const nodes = input.approvers ?? [];
  if (input.dialect === 'classic') {
    // Classic attr: 1 = 或签, 2 = 会签 (inverse of apv_rel, spec §3.2).
    body.approver = nodes.map((n) => ({ attr: n.mode === 'all' ? 2 : 1, userid: n.userids }));
    if (input.cc?.length) {
      body.notifyer = input.cc;
      body.notify_type = 1; // never 0: that is refused with 301025
    }
    return body;
  }
  const APV_REL = { all: 1, any: 2, sequential: 3 } as const;
  body.process = {
    node_list: [
      ...nodes.map((n) => ({
        type: n.type === 'handler' ? 3 : 1,
        apv_rel: APV_REL[n.mode],
        userid: n.userids,
      })),
      ...(input.cc?.length ? [{ type: 2, userid: input.cc }] : []),
    ],
  };
  return body;
}

/** The value of a control, reduced to what identifies it, for comparing a submission with a stored one. */
function essence(control: string, v: Json): unknown {
  switch (control) {
    case 'Text':
    case 'Textarea':
      return v.text ?? '';
    case 'Number':
      return Number(v.new_number ?? Number.NaN);
    case 'Money':
      return Number(v.new_money ?? Number.NaN);
    case 'Date':
      return String(v.date?.s_timestamp ?? '');
    case 'Selector':
      return ((v.selector?.options as Json[]) ?? []).map((o) => o.key).sort();
    case 'Contact':
      return [
        ...((v.members as Json[]) ?? []).map((m) => String(m.userid).toLowerCase()),
        ...((v.departments as Json[]) ?? []).map((d) => String(d.openapi_id)),
      ].sort();
    case 'File':
      return ((v.files as Json[]) ?? []).map((f) => f.file_id).sort();
    case 'Table':
      return ((v.children as Json[]) ?? []).map((r) => contentsEssence(r.list));
    default:
      return v;
  }
}

function contentsEssence(contents: unknown): string {
  const list = Array.isArray(contents) ? (contents as Json[]) : [];
  const entries = list
    .filter((c) => c.control !== 'Tips')
    .map((c) => [String(c.id), essence(String(c.control), c.value ?? {})] as const);
  return JSON.stringify(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * applyevent is not idempotent (no client request id, spec §3.2): before resubmitting, look for an
 * application by the same creator on the same template with the same form in the last 24 h.
 */
async function findSubmitted(
  ctx: WecomContext,
  body: Json,
  contents: Json[],
  signal: AbortSignal,
): Promise<string | undefined> {
  const end = Math.floor(Date.now() / 1000) + 60;
  const start = end - 24 * 3600;
  const spNos: string[] = [];
  let cursor = '';
  for (let page = 0; page < 10; page++) {
    const res = await ctx.client.call('getapprovalinfo', '/cgi-bin/oa/getapprovalinfo', {
      body: {
        starttime: String(start),
        endtime: String(end),
        new_cursor: cursor,
        size: 100,
        filters: [
          { key: 'creator', value: body.creator_userid },
          { key: 'template_id', value: body.template_id },
        ],
      },
      signal,
    });
    spNos.push(...((res.sp_no_list as string[]) ?? []));
    if (!res.new_next_cursor) break;
    cursor = res.new_next_cursor;
  }
  const want = contentsEssence(contents);
  for (const spNo of spNos.reverse().slice(0, 20)) {
    const d = await ctx.client.call('getapprovaldetail', '/cgi-bin/oa/getapprovaldetail', {
      body: { sp_no: spNo },
      signal,
    });
    if (contentsEssence(d.info?.apply_data?.contents) === want) return spNo;
  }
  return undefined;
}

function approvalStart(ctx: WecomContext): ActionSpec<ApprovalStartInput> {
  return {
    description: 'Start a WeCom approval (审批) from mapped fields, validated against the template',
    input: approvalStartInput,
    async run(input, ac: ActionContext) {
      const done = ctx.startedFor(ac.idempotencyKey);
      if (done) return startResult(input, done, true);
      let template: Template;
      try {
        template = await ctx.template(input.templateId, ac.signal);
      } catch (err) {
        if (err instanceof QiaoError && err.partner?.code === 301025) {
          throw new ValidationError([
            { path: 'templateId', message: `WeCom does not know template ${input.templateId}` },
          ]);
        }
        throw err;
      }
      const contents = buildContents(template, input.fields);
      const body = applyBody(input, contents);
      if (ac.attempt > 1) {
        const found = await findSubmitted(ctx, body, contents, ac.signal);
        if (found) {
          ac.log.info('wecom approval already submitted by an earlier attempt', { spNo: found });
          ctx.rememberStart(ac.idempotencyKey, found);
          return startResult(input, found, true);
        }
      }
      const res = await ctx.client.call('applyevent', '/cgi-bin/oa/applyevent', { body, signal: ac.signal });
      const spNo = String(res.sp_no);
      ctx.rememberStart(ac.idempotencyKey, spNo);
      return startResult(input, spNo, false);
    },
  };
}

function startResult(input: ApprovalStartInput, spNo: string, duplicate: boolean) {
  return {
    output: { spNo, templateId: input.templateId, creator: input.creator, duplicate },
    links: [{ object: 'approval', id: spNo }],
  };
}

// ---------------------------------------------------------------------------------------------
// approval.get

const approvalGetInput = z.object({
  spNo: z.union([z.string().regex(/^\d+$/), z.number().int().positive()]).transform(String),
});

function approvalGet(ctx: WecomContext): ActionSpec<z.infer<typeof approvalGetInput>> {
  return {
    description: 'Read an approval: status, approvers, comments and the form (getapprovaldetail)',
    input: approvalGetInput,
    async run(input, ac) {
      const res = await ctx.client.call('getapprovaldetail', '/cgi-bin/oa/getapprovaldetail', {
        body: { sp_no: input.spNo },
        signal: ac.signal,
      });
      return { output: stateFromDetail(res.info ?? {}), links: [{ object: 'approval', id: input.spNo }] };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// message.send

const recipients = z
  .object({
    users: z.array(z.string().min(1)).max(1000).optional(),
    departments: z
      .array(z.union([z.string(), z.number()]))
      .max(100)
      .optional(),
    tags: z
      .array(z.union([z.string(), z.number()]))
      .max(100)
      .optional(),
    all: z.boolean().optional(),
  })
  .refine(
    (r) => r.all || r.users?.length || r.departments?.length || r.tags?.length,
    'at least one recipient',
  );

const button = z.object({
  text: z.string().min(1),
  key: z.string().min(1).max(1024).optional(),
  style: z.number().int().min(1).max(4).optional(),
  type: z.union([z.literal(0), z.literal(1)]).optional(),
  url: z.string().optional(),
});

export const messageSendInput = z
  .object({
    to: recipients,
    type: z.enum(['text', 'markdown', 'textcard', 'template_card']),
    /** text / markdown. */
    content: z.string().optional(),
    /** textcard. */
    title: z.string().optional(),
    description: z.string().optional(),
    url: z.string().optional(),
    buttonText: z.string().optional(),
    /** template_card: the card object as WeCom takes it (spec §6.1); task_id is derived if missing. */
    card: z.record(z.string(), z.unknown()).optional(),
    /** Buttons for a button_interaction card, appended to `card.button_list`. */
    buttons: z.array(button).max(6).optional(),
    safe: z.boolean().optional(),
    /** WeCom's duplicate check: the same message within the interval is not sent again (spec §6.1). */
    dedupe: z.boolean().default(true),
    dedupeIntervalSeconds: z
      .number()
      .int()
      .positive()
      .max(4 * 3600)
      .default(1800),
  })
  .superRefine((v, ctx) => {
    const need = (k: keyof typeof v, why: string) => {
      if (v[k] === undefined || v[k] === '') ctx.addIssue({ code: 'custom', path: [k], message: why });
    };
    if (v.type === 'text' || v.type === 'markdown') {
      need('content', `${v.type} needs content`);
      // markdown over 2048 bytes is refused (45002); text is truncated by WeCom, so refuse it here too.
      if (v.content && bytes(v.content) > 2048)
        ctx.addIssue({
          code: 'custom',
          path: ['content'],
          message: `content is ${bytes(v.content)} bytes; WeCom takes 2048`,
        });
    }
    if (v.type === 'textcard') {
      need('title', 'textcard needs a title');
      need('description', 'textcard needs a description (41033)');
      need('url', 'textcard needs a url');
      if (v.title && bytes(v.title) > 128)
        ctx.addIssue({ code: 'custom', path: ['title'], message: 'title is at most 128 bytes' });
      if (v.description && bytes(v.description) > 512)
        ctx.addIssue({ code: 'custom', path: ['description'], message: 'description is at most 512 bytes' });
      if (v.buttonText && [...v.buttonText].length > 4)
        ctx.addIssue({
          code: 'custom',
          path: ['buttonText'],
          message: 'button text is at most 4 characters',
        });
    }
    if (v.type === 'template_card') need('card', 'template_card needs card');
  });
export type MessageSendInput = z.infer<typeof messageSendInput>;

const INTERACTIVE = new Set(['button_interaction', 'vote_interaction', 'multiple_interaction']);

/** A task_id WeCom accepts (≤ 128 of [A-Za-z0-9_-@]) derived from the step, so a retry reuses it. */
export function taskIdFor(idempotencyKey: string): string {
  return `qiao-${createHash('sha256')
    .update(idempotencyKey)
    .digest('base64url')
    .slice(0, 32)
    .replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function messageSend(ctx: WecomContext): ActionSpec<MessageSendInput> {
  return {
    description: 'Send an application message: text, markdown, textcard or an interactive template card',
    input: messageSendInput,
    async run(input, ac) {
      const body: Json = { msgtype: input.type, agentid: ctx.settings.agentId };
      if (input.to.all) body.touser = '@all';
      else {
        if (input.to.users?.length) body.touser = input.to.users.join('|');
        if (input.to.departments?.length) body.toparty = input.to.departments.join('|');
        if (input.to.tags?.length) body.totag = input.to.tags.join('|');
      }
      let taskId: string | undefined;
      if (input.type === 'text' || input.type === 'markdown') body[input.type] = { content: input.content };
      if (input.type === 'textcard') {
        body.textcard = {
          title: input.title,
          description: input.description,
          url: input.url,
          ...(input.buttonText ? { btntxt: input.buttonText } : {}),
        };
      }
      if (input.type === 'template_card') {
        const card: Json = { ...input.card };
        if (input.buttons?.length)
          card.button_list = [...((card.button_list as Json[]) ?? []), ...input.buttons];
        if (INTERACTIVE.has(String(card.card_type)) || card.task_id !== undefined) {
          card.task_id ??= taskIdFor(ac.idempotencyKey);
          taskId = String(card.task_id);
        }
        body.template_card = card;
      }
      if (input.safe) body.safe = 1;
      if (input.dedupe && input.type !== 'template_card') {
        body.enable_duplicate_check = 1;
        body.duplicate_check_interval = input.dedupeIntervalSeconds;
      }
      let res: Json;
      try {
        res = await ctx.client.call('message/send', '/cgi-bin/message/send', { body, signal: ac.signal });
      } catch (err) {
        // A card's task_id is unique per app: on a retry, 42014 means the first attempt got through.
        if (taskId && ac.attempt > 1 && err instanceof QiaoError && err.partner?.code === 42014) {
          return {
            output: {
              msgid: null,
              taskId,
              duplicate: true,
              invalidUsers: [],
              invalidParties: [],
              invalidTags: [],
            },
          };
        }
        throw err;
      }
      const split = (s: unknown) => (typeof s === 'string' && s ? s.split('|') : []);
      return {
        output: {
          msgid: res.msgid ?? null,
          taskId: taskId ?? null,
          responseCode: res.response_code ?? null,
          duplicate: false,
          invalidUsers: split(res.invaliduser),
          invalidParties: split(res.invalidparty),
          invalidTags: split(res.invalidtag),
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// card.update

export const cardUpdateInput = z
  .object({
    /** From the send's `responseCode` or a card.click event; usable once, 72 h (spec §6.2). */
    responseCode: z.string().min(1),
    users: z.array(z.string()).max(1000).optional(),
    departments: z.array(z.number().int()).max(100).optional(),
    all: z.boolean().optional(),
    /** Replace the clicked button's label, e.g. 已处理. */
    replaceName: z.string().min(1).optional(),
    /** Or replace the whole card. */
    card: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((v) => !!v.replaceName !== !!v.card, 'give exactly one of replaceName or card');

function cardUpdate(ctx: WecomContext): ActionSpec<z.infer<typeof cardUpdateInput>> {
  return {
    description: 'Update a template card after a click: relabel the button or replace the card',
    input: cardUpdateInput,
    async run(input, ac) {
      if (ctx.usedResponseCodes.has(input.responseCode))
        return { output: { updated: true, duplicate: true, invalidUsers: [] } };
      const body: Json = { agentid: ctx.settings.agentId, response_code: input.responseCode };
      if (input.all) body.atall = 1;
      if (input.users) body.userids = input.users;
      if (input.departments) body.partyids = input.departments;
      if (input.replaceName) body.button = { replace_name: input.replaceName };
      else body.template_card = input.card;
      const res = await ctx.client.call('update_template_card', '/cgi-bin/message/update_template_card', {
        body,
        signal: ac.signal,
      });
      ctx.usedResponseCodes.add(input.responseCode);
      return { output: { updated: true, duplicate: false, invalidUsers: res.invaliduser ?? [] } };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// robot.send

export const robotSendInput = z
  .object({
    /** A name from the connection's `robots`. */
    robot: z.string().min(1),
    type: z.enum(['text', 'markdown', 'markdown_v2']).default('text'),
    content: z.string().min(1),
    /** text only: userids to @, or "@all". */
    mentionedList: z.array(z.string()).optional(),
    mentionedMobileList: z.array(z.string()).optional(),
  })
  .superRefine((v, ctx) => {
    const max = v.type === 'text' ? 2048 : 4096;
    if (bytes(v.content) > max)
      ctx.addIssue({
        code: 'custom',
        path: ['content'],
        message: `${v.type} content is at most ${max} bytes (spec §6.3)`,
      });
  });

function robotSend(ctx: WecomContext): ActionSpec<z.infer<typeof robotSendInput>> {
  return {
    description: 'Post to a group through its robot webhook (20 messages a minute per robot)',
    input: robotSendInput,
    async run(input, ac) {
      if (!ctx.settings.robots[input.robot]) {
        throw new ValidationError([
          {
            path: 'robot',
            message: `no robot "${input.robot}" (configured: ${Object.keys(ctx.settings.robots).join(', ') || 'none'})`,
          },
        ]);
      }
      const body: Json = { msgtype: input.type, [input.type]: { content: input.content } };
      if (input.type === 'text') {
        if (input.mentionedList) body.text.mentioned_list = input.mentionedList;
        if (input.mentionedMobileList) body.text.mentioned_mobile_list = input.mentionedMobileList;
      }
      await ctx.client.robot(input.robot, body, ac.signal);
      return { output: { sent: true, robot: input.robot } };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// user.lookup

export const userLookupInput = z
  .object({
    userid: z.string().min(1).optional(),
    /** A Kingdee employee's mobile or email finds the same person here (company identity mapping). */
    mobile: z.string().min(5).max(32).optional(),
    email: z.string().email().optional(),
  })
  .refine(
    (v) => [v.userid, v.mobile, v.email].filter(Boolean).length === 1,
    'give exactly one of userid, mobile, email',
  );

function userLookup(ctx: WecomContext): ActionSpec<z.infer<typeof userLookupInput>> {
  return {
    description: 'Find a member by userid, mobile or email; returns the 工号 (Kingdee staff number) when set',
    input: userLookupInput,
    async run(input, ac) {
      try {
        let userid = input.userid;
        if (!userid && input.mobile) {
          userid = String(
            (
              await ctx.client.call('user/getuserid', '/cgi-bin/user/getuserid', {
                body: { mobile: input.mobile },
                signal: ac.signal,
              })
            ).userid,
          );
        }
        if (!userid && input.email) {
          userid = String(
            (
              await ctx.client.call('user/get_userid_by_email', '/cgi-bin/user/get_userid_by_email', {
                body: { email: input.email, email_type: 1 },
                signal: ac.signal,
              })
            ).userid,
          );
        }
        const u = await ctx.client.call('user/get', '/cgi-bin/user/get', {
          method: 'GET',
          query: { userid: userid! },
          signal: ac.signal,
        });
        const attrs = (u.extattr?.attrs as Json[]) ?? [];
        const staff = attrs.find((a) => a.name === '工号' || a.name === 'staffNumber');
        return {
          output: {
            found: true,
            userid: u.userid,
            name: u.name,
            departments: u.department ?? [],
            mainDepartment: u.main_department ?? null,
            position: u.position ?? '',
            status: u.status ?? null,
            staffNumber: staff?.text?.value ?? staff?.value ?? null,
            directLeader: u.direct_leader ?? [],
            // Apps created after 2022-06-20 do not receive these (spec §7): null, never guessed.
            mobile: u.mobile ?? input.mobile ?? null,
            email: u.email ?? input.email ?? null,
          },
        };
      } catch (err) {
        if (err instanceof QiaoError && NOT_FOUND.has(Number(err.partner?.code)))
          return { output: { found: false } };
        throw err;
      }
    },
  };
}

export function makeActions(ctx: WecomContext): Record<string, ActionSpec> {
  return {
    'approval.start': approvalStart(ctx),
    'approval.get': approvalGet(ctx),
    'message.send': messageSend(ctx),
    'card.update': cardUpdate(ctx),
    'robot.send': robotSend(ctx),
    'user.lookup': userLookup(ctx),
  };
}
