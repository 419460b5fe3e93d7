/**
 * The `kingdee` actions. Writes are idempotent: `upsert`, `batch-upsert` and `save-submit-audit` find
 * the document (id link, number, or another key field) before creating it, status operations look at
 * `FDocumentStatus` first and treat "already done" as done, and `push` looks for targets already
 * pushed from the same source. A retry or replay therefore never makes a second document (spec 7).
 */
import { z } from 'zod';
import type { ActionContext, ActionResult, ActionSpec } from '../../core/connector.ts';
import { PermanentError } from '../../core/errors.ts';
import type { KingdeeClient, SaveResult } from './client.ts';
import { isAlreadyAudited, isDuplicateNumber, isFailure, type KdResponseStatus } from './error-table.ts';
import { type DocRef, findDocument, findMany, type Locator } from './lookup.ts';
import { canonicalField, canonicalForm, formKeys, formSchema } from './schema.ts';
import type { KingdeeSettings } from './settings.ts';

type Model = Record<string, unknown>;

const formId = z.string().min(1, { error: 'formId is required, e.g. SAL_SaleOrder' });
const model = z.record(z.string(), z.unknown());
const keyList = {
  numbers: z.array(z.string().min(1)).optional(),
  ids: z.array(z.union([z.string().min(1), z.number().int().positive()])).optional(),
};
const hasTargets = (v: { numbers?: unknown[]; ids?: unknown[] }) =>
  (v.numbers?.length ?? 0) + (v.ids?.length ?? 0) > 0;
const targetsMessage = { error: 'give numbers or ids' };

/** How a write finds an existing document (DESIGN.md "Effectively once"). */
const locate = {
  /** The number (FNumber / FBillNo) to find by; default the model's own number field. */
  number: z.string().min(1).optional(),
  /** Id-link key of the source record: the id this connection already has for it, if any. */
  linkKey: z.string().min(1).optional(),
  /** Another unique key field to find by, e.g. `{ field: 'FSOCIALCRECODE', value: '9133…' }`. */
  match: z.object({ field: z.string().min(1), value: z.union([z.string(), z.number()]) }).optional(),
};

const upsertInput = z.object({
  formId,
  model,
  ...locate,
  /** Restrict updates to these keys; default every key of the model (so nothing else is cleared). */
  needUpdateFields: z.array(z.string()).optional(),
  /** On update, drop entry rows not in the model (K/3's default, spec 4.1). */
  isDeleteEntry: z.boolean().default(true),
  isVerifyBaseDataField: z.boolean().default(false),
  /** Submit and audit after writing (each step skipped when already done). */
  audit: z.boolean().default(false),
  /**
   * When the document is in approval (B) or audited (C) and cannot be saved: `error` lets Kingdee
   * refuse (dead letter with its message), `skip` leaves it as it is, `unaudit` un-audits (or
   * withdraws), saves and audits again.
   */
  ifLocked: z.enum(['error', 'skip', 'unaudit']).default('error'),
});

const batchUpsertInput = z.object({
  formId,
  models: z.array(model).min(1),
  needUpdateFields: z.array(z.string()).optional(),
  isVerifyBaseDataField: z.boolean().default(false),
  audit: z.boolean().default(false),
});

const saveSubmitAuditInput = z.object({
  formId,
  model,
  ...locate,
  needUpdateFields: z.array(z.string()).optional(),
  isDeleteEntry: z.boolean().default(true),
  isVerifyBaseDataField: z.boolean().default(false),
});

function pickCI(obj: Model, key: string): unknown {
  if (key in obj) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}

function withoutKey(obj: Model, key: string): Model {
  return Object.fromEntries(Object.entries(obj).filter(([k]) => k.toLowerCase() !== key.toLowerCase()));
}

/**
 * NeedUpDateFields for a model: header keys, sub-header keys with theirs, entry keys with theirs
 * (spec 4.1: "when updating entry fields list the entry key too").
 */
export function modelKeys(form: string, m: Model): string[] {
  const schema = formSchema(form);
  const { idField } = formKeys(form);
  const out = new Set<string>();
  for (const [k, v] of Object.entries(m)) {
    if (k.toLowerCase() === idField.toLowerCase()) continue;
    out.add(k);
    const type = schema?.fields[canonicalField(schema, k) ?? '']?.type;
    if (Array.isArray(v)) {
      for (const row of v) {
        if (row && typeof row === 'object')
          for (const rk of Object.keys(row)) if (!/^FEntryI[Dd]$/.test(rk)) out.add(rk);
      }
    } else if (type === 'object' && v && typeof v === 'object') {
      for (const sk of Object.keys(v)) out.add(sk);
    }
  }
  return [...out];
}

/** Which fields of which form a model writes, for `qiao flow validate` (canonical key case). */
function fieldsOfModel(input: Record<string, unknown>): { object: string; fields: string[] } | undefined {
  const form = typeof input.formId === 'string' ? input.formId : undefined;
  const m = (input.model ?? (Array.isArray(input.models) ? input.models[0] : undefined)) as Model | undefined;
  if (!form || !m || typeof m !== 'object') return undefined;
  const schema = formSchema(form);
  return {
    object: canonicalForm(form) ?? form,
    fields: Object.keys(m).map((k) => canonicalField(schema, k) ?? k),
  };
}

function entityOf(r: SaveResult): { id: number; number: string } {
  const e = r.Result.ResponseStatus?.SuccessEntitys?.[0];
  return { id: Number(r.Result.Id || e?.Id), number: String(r.Result.Number || e?.Number || '') };
}

/** Status operations, each skipped when already done (spec 4.2 lifecycle). */
export class Lifecycle {
  private readonly client: KingdeeClient;
  constructor(client: KingdeeClient) {
    this.client = client;
  }

  /** Runs `op` on `ids`; errors that mean "already done" count as done. */
  async run(
    op: 'Submit' | 'Audit' | 'UnAudit' | 'Delete' | 'CancelAssign',
    form: string,
    ids: number[],
    signal?: AbortSignal,
  ): Promise<void> {
    if (ids.length === 0) return;
    const r = await this.client.operation(
      op,
      form,
      { Ids: ids.join(','), CreateOrgId: 0 },
      { signal, acceptFailure: true },
    );
    const status = r.Result.ResponseStatus;
    if (!status || !isFailure(status)) return;
    const done: Record<typeof op, RegExp> = {
      Submit: /已经提交|已提交|审核中|已经审核/,
      Audit: /已经审核|已审核/,
      UnAudit: /未审核/,
      Delete: /不存在/,
      CancelAssign: /不是审核中|未提交/,
    };
    const real = (status.Errors ?? []).filter((e) => !done[op].test(e.Message ?? ''));
    if (real.length === 0 || (op === 'Audit' && isAlreadyAudited(status))) return;
    throw this.client.classify({ ...status, Errors: real }, op, form);
  }

  /** Brings documents to C: submit what is A/D, audit what is B (spec 4.2). */
  async toAudited(form: string, docs: DocRef[], signal?: AbortSignal): Promise<string[]> {
    const steps: string[] = [];
    const submit = docs.filter((d) => d.status === 'A' || d.status === 'D' || d.status === 'Z');
    if (submit.length) {
      await this.run(
        'Submit',
        form,
        submit.map((d) => d.id),
        signal,
      );
      steps.push('submit');
      for (const d of submit) d.status = 'B';
    }
    const audit = docs.filter((d) => d.status === 'B');
    if (audit.length) {
      await this.run(
        'Audit',
        form,
        audit.map((d) => d.id),
        signal,
      );
      steps.push('audit');
      for (const d of audit) d.status = 'C';
    }
    return steps;
  }
}

/** Finds the document a write is about: id link first, then number, then the match field. */
async function locateDocument(
  client: KingdeeClient,
  input: {
    formId: string;
    model: Model;
    number?: string;
    linkKey?: string;
    match?: { field: string; value: string | number };
  },
  ctx: ActionContext,
): Promise<{ doc?: DocRef; locators: Locator[] }> {
  const { numberField } = formKeys(input.formId);
  const locators: Locator[] = [];
  const number = input.number ?? pickCI(input.model, numberField);
  if (typeof number === 'string' && number) locators.push({ number });
  if (input.match) locators.push({ field: input.match.field, value: input.match.value });
  if (input.linkKey) {
    const linked = await ctx.links.find(input.formId, input.linkKey);
    if (linked) {
      const doc = await findDocument(client, input.formId, { id: linked }, ctx.signal);
      if (doc) return { doc, locators };
    }
  }
  if (locators.length === 0) {
    throw new PermanentError(
      `${input.formId}: a write that must not duplicate needs a number (model.${numberField} or number) or a match field`,
      { fault: 'user' },
    );
  }
  for (const l of locators) {
    const doc = await findDocument(client, input.formId, l, ctx.signal);
    if (doc) return { doc, locators };
  }
  return { locators };
}

interface WriteOptions {
  needUpdateFields?: string[];
  isDeleteEntry: boolean;
  isVerifyBaseDataField: boolean;
}

/**
 * Saves: an update of `doc` when given, else a create. A create refused for a duplicate number (a
 * concurrent writer got there first) is found again and turned into an update, once.
 */
async function write(
  client: KingdeeClient,
  form: string,
  m: Model,
  doc: DocRef | undefined,
  locators: Locator[],
  opts: WriteOptions,
  signal?: AbortSignal,
): Promise<{ doc: DocRef; created: boolean }> {
  const { idField } = formKeys(form);
  const update = async (d: DocRef) => {
    const data = {
      Model: { ...withoutKey(m, idField), [idField]: d.id },
      NeedUpDateFields: opts.needUpdateFields ?? modelKeys(form, m),
      IsDeleteEntry: opts.isDeleteEntry,
      IsVerifyBaseDataField: opts.isVerifyBaseDataField,
    };
    const r = await client.save(form, data, { signal });
    const e = entityOf(r);
    return {
      doc: { id: d.id, number: e.number || d.number, status: d.status === 'Z' ? 'A' : d.status },
      created: false,
    };
  };
  if (doc) return update(doc);
  const r = await client.save(
    form,
    { Model: withoutKey(m, idField), IsVerifyBaseDataField: opts.isVerifyBaseDataField },
    { signal, acceptFailure: true },
  );
  const status = r.Result.ResponseStatus as KdResponseStatus | null;
  if (status && isFailure(status)) {
    if (isDuplicateNumber(status)) {
      for (const l of locators) {
        const again = await findDocument(client, form, l, signal);
        if (again) return update(again);
      }
    }
    throw client.classify(status, 'Save', form);
  }
  const e = entityOf(r);
  return { doc: { id: e.id, number: e.number, status: 'A' }, created: true };
}

export function kingdeeActions(client: KingdeeClient, settings: KingdeeSettings): Record<string, ActionSpec> {
  const lifecycle = new Lifecycle(client);

  const statusAction = (
    description: string,
    op: 'Submit' | 'Audit' | 'UnAudit' | 'Delete',
    alreadyDone: (status: string) => boolean,
  ): ActionSpec => ({
    description,
    input: z
      .object({ formId, ...keyList, ...(op === 'Audit' ? { submitFirst: z.boolean().default(true) } : {}) })
      .refine(hasTargets, targetsMessage),
    async run(
      input: { formId: string; numbers?: string[]; ids?: Array<string | number>; submitFirst?: boolean },
      ctx,
    ) {
      const found = await findMany(client, input.formId, input, ctx.signal);
      const wanted = [...(input.numbers ?? []), ...(input.ids ?? []).map(String)];
      const missing = wanted.filter((k) => !found.has(k));
      if (missing.length && op !== 'Delete') {
        throw new PermanentError(`Kingdee ${op} ${input.formId}: not found: ${missing.join(', ')}`, {
          fault: 'user',
          partner: { system: 'kingdee', code: 10, message: `未找到：${missing.join('、')}`, operation: op },
        });
      }
      const docs = [...new Map([...found.values()].map((d) => [d.id, d])).values()];
      const todo = docs.filter((d) => !alreadyDone(d.status));
      if (op === 'Audit' && input.submitFirst !== false)
        await lifecycle.toAudited(input.formId, todo, ctx.signal);
      else
        await lifecycle.run(
          op,
          input.formId,
          todo.map((d) => d.id),
          ctx.signal,
        );
      return {
        output: {
          done: todo.map((d) => ({ id: d.id, number: d.number })),
          alreadyDone: docs.filter((d) => alreadyDone(d.status)).map((d) => ({ id: d.id, number: d.number })),
          notFound: missing,
        },
        links: docs.map((d) => ({ object: input.formId, id: String(d.id) })),
      };
    },
  });

  const actions: Record<string, ActionSpec> = {
    query: {
      description:
        'ExecuteBillQuery, paged with StartRow/Limit and streamed page by page; rows keyed by field key.',
      input: z.object({
        formId,
        fields: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
        filter: z.union([z.string(), z.array(z.unknown())]).optional(),
        orderBy: z.string().optional(),
        /** At most this many rows in the output (the rest is not read). */
        maxRows: z.number().int().positive().max(1_000_000).default(2_000),
      }),
      async run(input, ctx) {
        const { idField } = formKeys(input.formId);
        const fieldKeys = Array.isArray(input.fields) ? input.fields.join(',') : input.fields;
        const rows: Record<string, unknown>[] = [];
        let truncated = false;
        // A stable order is what makes StartRow paging correct (spec 4.4 "Pagination").
        for await (const page of client.queryPages(
          {
            FormId: input.formId,
            FieldKeys: fieldKeys,
            FilterString: input.filter ?? '',
            OrderString: input.orderBy ?? `${idField} ASC`,
          },
          { signal: ctx.signal, pageSize: Math.min(settings.pageSize, input.maxRows + 1) },
        )) {
          for (const row of page) {
            if (rows.length >= input.maxRows) {
              truncated = true;
              break;
            }
            rows.push(row);
          }
          if (truncated) break;
        }
        return { output: { rows, count: rows.length, truncated } };
      },
    },

    view: {
      description:
        'View one document by internal id or number: the full object graph (property names, spec 4.3).',
      input: z
        .object({
          formId,
          id: z.union([z.number().int().positive(), z.string().min(1)]).optional(),
          number: z.string().min(1).optional(),
        })
        .refine((v) => v.id !== undefined || v.number !== undefined, { error: 'give id or number' }),
      async run(input, ctx) {
        const r = await client.view(
          input.formId,
          {
            CreateOrgId: 0,
            Number: input.number ?? '',
            Id: input.id === undefined ? '' : String(input.id),
            IsSortBySeq: false,
          },
          ctx.signal,
        );
        const record = r.Result.Result ?? {};
        return {
          output: {
            id: Number(record.Id),
            number: record.Number ?? record.BillNo ?? null,
            documentStatus: record.DocumentStatus ?? null,
            record,
          },
          links: [{ object: input.formId, id: String(record.Id) }],
        };
      },
    },

    save: {
      description:
        'Save (or Draft) one data package as given: a create unless the model carries the internal id. Not idempotent on create; prefer upsert.',
      input: z.object({
        formId,
        model,
        draft: z.boolean().default(false),
        needUpdateFields: z.array(z.string()).optional(),
        needReturnFields: z.array(z.string()).optional(),
        isDeleteEntry: z.boolean().default(true),
        isVerifyBaseDataField: z.boolean().default(false),
        isAutoSubmitAndAudit: z.boolean().optional(),
      }),
      fieldsOf: fieldsOfModel,
      async run(input, ctx) {
        const data: Record<string, unknown> = {
          Model: input.model,
          IsDeleteEntry: input.isDeleteEntry,
          IsVerifyBaseDataField: input.isVerifyBaseDataField,
        };
        if (input.needUpdateFields) data.NeedUpDateFields = input.needUpdateFields;
        if (input.needReturnFields) data.NeedReturnFields = input.needReturnFields;
        if (input.isAutoSubmitAndAudit !== undefined) data.IsAutoSubmitAndAudit = input.isAutoSubmitAndAudit;
        const r = await client.save(input.formId, data, { signal: ctx.signal, draft: input.draft });
        const e = entityOf(r);
        return {
          output: { id: e.id, number: e.number, needReturnData: r.Result.NeedReturnData ?? null },
          links: [{ object: input.formId, id: String(e.id) }],
        };
      },
    },

    upsert: {
      description:
        'Find the document by id link, number or match field, update it if found, else create it; a retry never makes a second document. Optionally submit and audit.',
      input: upsertInput,
      fieldsOf: fieldsOfModel,
      async run(input: z.output<typeof upsertInput>, ctx): Promise<ActionResult> {
        const { doc, locators } = await locateDocument(client, input, ctx);
        const opts = {
          needUpdateFields: input.needUpdateFields,
          isDeleteEntry: input.isDeleteEntry,
          isVerifyBaseDataField: input.isVerifyBaseDataField,
        };
        const schema = formSchema(input.formId);
        const isBill = formKeys(input.formId).numberField === 'FBillNo' || !schema;
        const locked = doc && (doc.status === 'B' || (doc.status === 'C' && isBill));
        let reaudit = false;
        if (doc && locked && input.ifLocked === 'skip') {
          return {
            output: {
              id: doc.id,
              number: doc.number,
              created: false,
              skipped: true,
              documentStatus: doc.status,
            },
            links: [{ object: input.formId, id: String(doc.id) }],
          };
        }
        if (doc && locked && input.ifLocked === 'unaudit') {
          await lifecycle.run(
            doc.status === 'C' ? 'UnAudit' : 'CancelAssign',
            input.formId,
            [doc.id],
            ctx.signal,
          );
          reaudit = doc.status === 'C';
          doc.status = doc.status === 'C' ? 'D' : 'A';
        }
        const w = await write(client, input.formId, input.model, doc, locators, opts, ctx.signal);
        if (input.audit || reaudit) await lifecycle.toAudited(input.formId, [w.doc], ctx.signal);
        return {
          output: {
            id: w.doc.id,
            number: w.doc.number,
            created: w.created,
            skipped: false,
            documentStatus: w.doc.status,
          },
          links: [{ object: input.formId, id: String(w.doc.id) }],
        };
      },
    },

    'batch-upsert': {
      description:
        'Upsert many documents of one form by number: one query and one BatchSave per batch (settings.batchSize). Every model needs its number.',
      input: batchUpsertInput,
      fieldsOf: fieldsOfModel,
      async run(input: z.output<typeof batchUpsertInput>, ctx) {
        const { idField, numberField } = formKeys(input.formId);
        const results: Array<{
          index: number;
          id?: number;
          number: string;
          created?: boolean;
          error?: string;
        }> = [];
        let firstError: Error | undefined;
        const numbers = input.models.map((m, i) => {
          const n = pickCI(m, numberField);
          if (typeof n !== 'string' || !n) {
            throw new PermanentError(
              `${input.formId}: models[${i}] has no ${numberField}; batch-upsert finds documents by number`,
              {
                fault: 'user',
              },
            );
          }
          return n;
        });
        for (let start = 0; start < input.models.length; start += settings.batchSize) {
          const chunk = input.models.slice(start, start + settings.batchSize);
          const chunkNumbers = numbers.slice(start, start + settings.batchSize);
          let existing = await findMany(client, input.formId, { numbers: chunkNumbers }, ctx.signal);
          let pending = chunk.map((m, i) => ({ m, i }));
          // Two rounds at most: the second turns creates that lost a race (duplicate number) into updates.
          for (let round = 0; round < 2 && pending.length; round++) {
            const packages = pending.map(({ m, i }) => {
              const d = existing.get(chunkNumbers[i]);
              return d ? { ...withoutKey(m, idField), [idField]: d.id } : withoutKey(m, idField);
            });
            const keys = new Set<string>();
            for (const { m } of pending) for (const k of modelKeys(input.formId, m)) keys.add(k);
            const r = await client.batchSave(
              input.formId,
              {
                Model: packages,
                NeedUpDateFields: input.needUpdateFields ?? [...keys],
                IsDeleteEntry: true,
                IsVerifyBaseDataField: input.isVerifyBaseDataField,
              },
              ctx.signal,
            );
            const status = r.Result.ResponseStatus;
            const ok = new Map((status?.SuccessEntitys ?? []).map((e) => [Number(e.DIndex ?? 0), e]));
            const retry: typeof pending = [];
            pending.forEach(({ m, i }, d) => {
              const e = ok.get(d);
              if (e) {
                results.push({
                  index: start + i,
                  id: Number(e.Id),
                  number: String(e.Number ?? chunkNumbers[i]),
                  created: !existing.has(chunkNumbers[i]),
                });
                return;
              }
              const errors = (status?.Errors ?? []).filter((x) => Number(x.DIndex ?? 0) === d);
              const mine: KdResponseStatus = { ...status, Errors: errors };
              if (round === 0 && isDuplicateNumber(mine)) retry.push({ m, i });
              else {
                const err = client.classify(mine, 'BatchSave', input.formId);
                firstError ??= err;
                results.push({ index: start + i, number: chunkNumbers[i], error: err.message });
              }
            });
            pending = retry;
            if (retry.length)
              existing = await findMany(
                client,
                input.formId,
                { numbers: retry.map(({ i }) => chunkNumbers[i]) },
                ctx.signal,
              );
          }
        }
        results.sort((a, b) => a.index - b.index);
        const saved = results.filter((r) => r.id !== undefined);
        if (input.audit && saved.length) {
          const docs = await findMany(client, input.formId, { ids: saved.map((r) => r.id!) }, ctx.signal);
          await lifecycle.toAudited(input.formId, [...docs.values()], ctx.signal);
        }
        if (firstError) {
          const failed = results.length - saved.length;
          const e = firstError as PermanentError;
          throw new PermanentError(`${failed} of ${results.length} failed; first: ${e.message}`, {
            fault: e.fault,
            partner: e.partner,
          });
        }
        return {
          output: {
            results,
            created: saved.filter((r) => r.created).length,
            updated: saved.filter((r) => !r.created).length,
          },
          links: saved.map((r) => ({ object: input.formId, id: String(r.id) })),
        };
      },
    },

    submit: statusAction(
      'Submit documents (A/D → B); documents already submitted or audited are left alone.',
      'Submit',
      (s) => s === 'B' || s === 'C',
    ),
    audit: statusAction(
      'Audit documents (→ C), submitting first what is not submitted (submitFirst); audited documents are left alone.',
      'Audit',
      (s) => s === 'C',
    ),
    unaudit: statusAction(
      'UnAudit audited documents (C → D); others are left alone.',
      'UnAudit',
      (s) => s !== 'C',
    ),
    delete: statusAction(
      'Delete documents (Z/A/D only); documents already gone count as deleted.',
      'Delete',
      () => false,
    ),

    'save-submit-audit': {
      description:
        'Upsert, submit and audit one document, idempotent at every step: it reads the status first and performs only the steps still needed.',
      input: saveSubmitAuditInput,
      fieldsOf: fieldsOfModel,
      async run(input: z.output<typeof saveSubmitAuditInput>, ctx) {
        const steps: string[] = [];
        let { doc, locators } = await locateDocument(client, input, ctx);
        if (!doc || doc.status === 'Z' || doc.status === 'A' || doc.status === 'D') {
          const w = await write(client, input.formId, input.model, doc, locators, input, ctx.signal);
          doc = w.doc;
          steps.push(w.created ? 'create' : 'update');
        }
        steps.push(...(await lifecycle.toAudited(input.formId, [doc], ctx.signal)));
        return {
          output: { id: doc.id, number: doc.number, documentStatus: doc.status, steps },
          links: [{ object: input.formId, id: String(doc.id) }],
        };
      },
    },

    push: {
      description:
        "Push (下推) audited source documents into target documents by a conversion rule; sources already pushed (found by the target's source-number field) are not pushed again.",
      input: z
        .object({
          formId,
          targetFormId: z.string().min(1),
          ...keyList,
          ruleId: z.string().min(1).optional(),
          enableDefaultRule: z.boolean().default(false),
          targetBillTypeId: z.string().optional(),
          targetOrgId: z.number().int().optional(),
          draftWhenSaveFail: z.boolean().default(false),
          /** Field of the target holding the source bill number; default per target (FSrcBillNo / FSRCBILLNO), null to skip the check. */
          sourceNumberField: z.string().nullable().optional(),
          customParams: z.record(z.string(), z.unknown()).optional(),
        })
        .refine(hasTargets, targetsMessage)
        .refine((v) => v.ruleId || v.enableDefaultRule, { error: 'give ruleId, or enableDefaultRule: true' }),
      async run(input, ctx) {
        const sources = [
          ...new Map(
            [...(await findMany(client, input.formId, input, ctx.signal)).values()].map((d) => [d.id, d]),
          ).values(),
        ];
        const wanted = [...(input.numbers ?? []), ...(input.ids ?? []).map(String)];
        if (sources.length === 0) {
          throw new PermanentError(`Kingdee Push ${input.formId}: not found: ${wanted.join(', ')}`, {
            fault: 'user',
          });
        }
        const srcField =
          input.sourceNumberField === null
            ? undefined
            : (input.sourceNumberField ?? SOURCE_NUMBER_FIELDS[input.targetFormId.toLowerCase()]);
        const existing = new Map<string, DocRef[]>();
        const target = formKeys(input.targetFormId);
        if (srcField) {
          const list = sources.map((s) => `'${s.number.replace(/'/g, "''")}'`).join(',');
          for await (const page of client.queryPages(
            {
              FormId: input.targetFormId,
              FieldKeys: `${target.idField},${target.numberField},FDocumentStatus,${srcField}`,
              FilterString: `${srcField} in (${list})`,
              OrderString: `${target.idField} ASC`,
            },
            { signal: ctx.signal },
          )) {
            for (const row of page) {
              const key = String(row[srcField] ?? '').toLowerCase();
              const d = {
                id: Number(row[target.idField]),
                number: String(row[target.numberField] ?? ''),
                status: String(row.FDocumentStatus ?? ''),
              };
              const list2 = existing.get(key) ?? [];
              if (!list2.some((x) => x.id === d.id)) list2.push(d);
              existing.set(key, list2);
            }
          }
        }
        const toPush = sources.filter((s) => !existing.has(s.number.toLowerCase()));
        const targets: Array<{ id: number; number: string; source: string }> = [];
        for (const s of sources)
          for (const d of existing.get(s.number.toLowerCase()) ?? [])
            targets.push({ id: d.id, number: d.number, source: s.number });
        if (toPush.length) {
          const data: Record<string, unknown> = {
            Ids: toPush.map((s) => s.id).join(','),
            TargetFormId: input.targetFormId,
            IsEnableDefaultRule: input.enableDefaultRule,
            IsDraftWhenSaveFail: input.draftWhenSaveFail,
          };
          if (input.ruleId) data.RuleId = input.ruleId;
          if (input.targetBillTypeId) data.TargetBillTypeId = input.targetBillTypeId;
          if (input.targetOrgId !== undefined) data.TargetOrgId = input.targetOrgId;
          if (input.customParams) data.CustomParams = input.customParams;
          const r = await client.push(input.formId, data, ctx.signal);
          const convert = r.Result.ConvertResponseStatus;
          if (convert && isFailure(convert)) throw client.classify(convert, 'Push', input.formId);
          for (const e of r.Result.ResponseStatus?.SuccessEntitys ?? []) {
            targets.push({
              id: Number(e.Id),
              number: String(e.Number ?? ''),
              source: toPush[Number(e.DIndex ?? 0)]?.number ?? '',
            });
          }
        }
        return {
          output: { targets, pushed: toPush.length, alreadyPushed: sources.length - toPush.length },
          links: targets.map((t) => ({ object: input.targetFormId, id: String(t.id) })),
        };
      },
    },

    operation: {
      description:
        'ExcuteOperation (spec 4.8): Forbid / Enable base data, Cancel / UnCancel bills, and other form operations by opNumber.',
      input: z.object({ formId, opNumber: z.string().min(1), ...keyList }).refine(hasTargets, targetsMessage),
      async run(input, ctx) {
        const data: Record<string, unknown> = { CreateOrgId: 0 };
        if (input.numbers?.length) data.Numbers = input.numbers;
        if (input.ids?.length) data.Ids = input.ids.join(',');
        const r = await client.excuteOperation(input.formId, input.opNumber, data, ctx.signal);
        const entities = (r.Result.ResponseStatus?.SuccessEntitys ?? []).map((e) => ({
          id: Number(e.Id),
          number: String(e.Number ?? ''),
        }));
        return {
          output: { entities },
          links: entities.map((e) => ({ object: input.formId, id: String(e.id) })),
        };
      },
    },
  };
  return actions;
}

/** Where push targets keep the source bill number (spec 4.7; sandbox rule table). */
export const SOURCE_NUMBER_FIELDS: Record<string, string> = {
  sal_deliverynotice: 'FSrcBillNo',
  sal_outstock: 'FSrcBillNo',
  ar_receivebill: 'FSRCBILLNO',
  ap_paybill: 'FSRCBILLNO',
};
