/**
 * The reconciler's question for runs waiting on `kingdee.change` whose push never came (the hub was
 * down, the network dropped it, the plugin gave up after its retries): the documents are read back
 * through ExecuteBillQuery (spec 4.4) and the changes the plugin would have pushed are returned —
 * - `Audit` for a document that is audited (FDocumentStatus C), stamped with its FApproveDate;
 * - `Pay` for each audited payment bill (AP_PAYBILL) made from a payable or an expense bill, found by the
 *   payment bill's source lines (FSRCBILLNO), as the plugin reports the payment bill's audit —
 * with the keys change.ts gives pushed changes, so a late push is a duplicate in the inbox, not a second
 * event. Only states that stay are reported; Save, Submit and the like have no trace to read back.
 */
import type { InboundEvent } from '../../core/connector.ts';
import { QiaoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { type ChangeNotification, changeEvent, changeIdentity } from './change.ts';
import type { KingdeeClient } from './client.ts';
import { quote } from './lookup.ts';
import { formKeys } from './schema.ts';
import { type KingdeeSettings, offsetMinutes } from './settings.ts';

/** Forms a payment bill is pushed from (push rules AP_PayableToPayBill, ER_ExpReimbursementToPayBill). */
const PAID_FORMS = new Set(['ap_payable', 'er_expreimbursement']);

/** Numbers per `in (…)` filter, as lookup.ts reads them. */
const CHUNK = 200;

/** A document's state as the reconciler reads it. */
export interface DocState {
  id: number;
  number: string;
  documentStatus: string;
  modifyDate: string | null;
  approveDate: string | null;
  /** FApproverId.FName: who audited it. */
  approver: string | null;
}

/** One source line of an audited payment bill. */
export interface PayBillLine {
  id: number;
  number: string;
  approveDate: string | null;
  approver: string | null;
  /** FSRCBILLTYPEID and FSRCBILLNO: the payable or expense bill it pays. */
  sourceForm: string;
  sourceNumber: string;
}

/** `formId:number` (the correlation of `kingdee.change`) → its parts; the number may hold colons. */
export function parseCorrelation(correlation: string): { formId: string; number: string } | undefined {
  const i = correlation.indexOf(':');
  if (i <= 0 || i === correlation.length - 1) return undefined;
  return { formId: correlation.slice(0, i), number: correlation.slice(i + 1) };
}

const text = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);

/** The reconciled notification gets its K/3 identity as its event id (no plugin GUID exists). */
function reconciled(n: ChangeNotification, offsetMin: number): ChangeNotification {
  return { ...n, eventId: changeIdentity(n, offsetMin) ?? '', reconciled: true };
}

/** The `Audit` the plugin would have pushed for `doc`, if it is audited. */
export function auditChange(
  formId: string,
  doc: DocState,
  acctId: string,
  offsetMin: number,
): ChangeNotification | undefined {
  if (doc.documentStatus !== 'C' || !doc.approveDate) return undefined;
  return reconciled(
    {
      eventId: '',
      acctId,
      formId,
      operation: 'Audit',
      id: doc.id,
      number: doc.number,
      documentStatus: doc.documentStatus,
      modifyDate: doc.modifyDate,
      approveDate: doc.approveDate,
      ...(doc.approver ? { userName: doc.approver } : {}),
      occurredAt: doc.approveDate,
    },
    offsetMin,
  );
}

/** The `Pay` the plugin would have pushed for `doc` when payment bill `line` was audited. */
export function payChange(
  formId: string,
  doc: DocState,
  line: PayBillLine,
  acctId: string,
  offsetMin: number,
): ChangeNotification {
  return reconciled(
    {
      eventId: '',
      acctId,
      formId,
      operation: 'Pay',
      id: doc.id,
      number: doc.number,
      documentStatus: doc.documentStatus,
      modifyDate: doc.modifyDate,
      approveDate: doc.approveDate,
      ...(line.approver ? { userName: line.approver } : {}),
      ...(line.approveDate ? { occurredAt: line.approveDate } : {}),
      payBill: { id: line.id, number: line.number },
    },
    offsetMin,
  );
}

async function readDocs(
  client: KingdeeClient,
  formId: string,
  numbers: string[],
  signal?: AbortSignal,
): Promise<DocState[]> {
  const { idField, numberField } = formKeys(formId);
  const out: DocState[] = [];
  for await (const page of client.queryPages(
    {
      FormId: formId,
      FieldKeys: `${idField},${numberField},FDocumentStatus,FModifyDate,FApproveDate,FApproverId.FName`,
      FilterString: `${numberField} in (${numbers.map((n) => quote(n)).join(',')})`,
      OrderString: `${idField} ASC`,
    },
    { signal },
  )) {
    for (const r of page) {
      out.push({
        id: Number(r[idField]),
        number: String(r[numberField] ?? ''),
        documentStatus: String(r.FDocumentStatus ?? ''),
        modifyDate: text(r.FModifyDate),
        approveDate: text(r.FApproveDate),
        approver: text(r['FApproverId.FName']),
      });
    }
  }
  return out;
}

async function readPayBills(
  client: KingdeeClient,
  numbers: string[],
  signal?: AbortSignal,
): Promise<PayBillLine[]> {
  const out: PayBillLine[] = [];
  for await (const page of client.queryPages(
    {
      FormId: 'AP_PAYBILL',
      FieldKeys: 'FID,FBillNo,FApproveDate,FApproverId.FName,FSRCBILLTYPEID,FSRCBILLNO',
      FilterString: `FDocumentStatus = 'C' AND FSRCBILLNO in (${numbers.map((n) => quote(n)).join(',')})`,
      OrderString: 'FID ASC',
    },
    { signal },
  )) {
    for (const r of page) {
      out.push({
        id: Number(r.FID),
        number: String(r.FBillNo ?? ''),
        approveDate: text(r.FApproveDate),
        approver: text(r['FApproverId.FName']),
        sourceForm: String(r.FSRCBILLTYPEID ?? ''),
        sourceNumber: String(r.FSRCBILLNO ?? ''),
      });
    }
  }
  return out;
}

/** The changes of one form's documents, by the correlations they answer (number in lower case). */
async function reconcileForm(
  client: KingdeeClient,
  settings: KingdeeSettings,
  formId: string,
  byNumber: Map<string, string>,
  signal?: AbortSignal,
): Promise<InboundEvent[]> {
  const offset = offsetMinutes(settings.utcOffset);
  const out: InboundEvent[] = [];
  const numbers = [...byNumber.values()].map((c) => parseCorrelation(c)!.number);
  for (let i = 0; i < numbers.length; i += CHUNK) {
    const chunk = numbers.slice(i, i + CHUNK);
    const docs = (await readDocs(client, formId, chunk, signal)).filter((d) =>
      byNumber.has(d.number.toLowerCase()),
    );
    const docOf = new Map(docs.map((d) => [d.number.toLowerCase(), d]));
    for (const doc of docs) {
      const audit = auditChange(formId, doc, settings.acctId, offset);
      if (audit) out.push(changeEvent(audit, offset, byNumber.get(doc.number.toLowerCase())));
    }
    if (!PAID_FORMS.has(formId.toLowerCase()) || docs.length === 0) continue;
    const seen = new Set<string>();
    for (const line of await readPayBills(
      client,
      docs.map((d) => d.number),
      signal,
    )) {
      // Another form's bill may carry the same number; one bill may have several lines from one source.
      if (line.sourceForm && line.sourceForm.toLowerCase() !== formId.toLowerCase()) continue;
      const doc = docOf.get(line.sourceNumber.toLowerCase());
      if (!doc || seen.has(`${doc.id}:${line.id}`)) continue;
      seen.add(`${doc.id}:${line.id}`);
      const pay = payChange(formId, doc, line, settings.acctId, offset);
      out.push(changeEvent(pay, offset, byNumber.get(doc.number.toLowerCase())));
    }
  }
  return out;
}

/**
 * Reads back the documents named by `correlations` (`formId:number`) and returns their `Audit` and
 * `Pay` changes. A form K/3 refuses (unknown form or field: a permanent error) is skipped and logged so
 * the other forms' waits are still answered; any other failure is thrown for the engine to try again.
 */
export async function reconcileChanges(
  client: KingdeeClient,
  settings: KingdeeSettings,
  correlations: string[],
  signal?: AbortSignal,
  log?: Logger,
): Promise<InboundEvent[]> {
  const forms = new Map<string, { formId: string; byNumber: Map<string, string> }>();
  for (const c of correlations) {
    const parsed = parseCorrelation(c);
    if (!parsed) continue;
    const key = parsed.formId.toLowerCase();
    const group = forms.get(key) ?? { formId: parsed.formId, byNumber: new Map<string, string>() };
    group.byNumber.set(parsed.number.toLowerCase(), c);
    forms.set(key, group);
  }
  const out: InboundEvent[] = [];
  for (const { formId, byNumber } of forms.values()) {
    try {
      out.push(...(await reconcileForm(client, settings, formId, byNumber, signal)));
    } catch (err) {
      if (!(err instanceof QiaoError) || err.errorClass !== 'permanent') throw err;
      log?.warn('kingdee reconcile: form skipped', { formId, error: err.message });
    }
  }
  return out;
}
