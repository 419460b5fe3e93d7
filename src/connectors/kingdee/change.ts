/**
 * A change of a K/3 Cloud document as the hub hears of it — pushed by the BOS plugin (hooks.ts) or read
 * back by the reconciler (reconcile.ts) — and the one function turning it into an inbox event, so both
 * paths give the same type, correlation, shape and key.
 *
 * The key decides whether a late push and a reconciled event are one event. The plugin's `eventId` is
 * a fresh GUID per notification, which the reconciler cannot know, so the changes it can read back
 * are keyed by what identifies them in K/3 itself:
 * - `Audit`: the document and its `FApproveDate` (a re-audit after UnAudit gets a new stamp);
 * - `Pay`: the document and the payment bill (AP_PAYBILL) that paid it (each payment is its own bill).
 * Every other operation keeps `kingdee:<eventId>`: nothing in K/3 tells one Submit from the next.
 */
import type { InboundEvent } from '../../core/connector.ts';
import { toUtc } from './triggers.ts';

export const CHANGE_EVENT = 'kingdee.change';

/** The notification body the plugin sends (docs/connectors/kingdee.md, "Push path"). */
export interface ChangeNotification {
  eventId: string;
  acctId: string;
  formId: string;
  operation: string;
  id: number;
  number: string;
  documentStatus: string;
  modifyDate: string | null;
  approveDate: string | null;
  userName?: string;
  occurredAt?: string;
  /** For `Pay`: the payment bill that paid the document. */
  payBill?: { id: number; number: string };
  /** Set on events the reconciler made (no notification came). */
  reconciled?: true;
}

/** A K/3 local stamp as UTC ISO 8601, or undefined when it is none (`.000` or not, the same instant). */
function instant(local: string | null | undefined, offsetMin: number): string | undefined {
  if (typeof local !== 'string' || !local) return undefined;
  try {
    return toUtc(local, offsetMin);
  } catch {
    return undefined;
  }
}

const positive = (v: unknown): number | undefined => {
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

/**
 * The change's identity in K/3 (without the `kingdee:` prefix), for the operations the reconciler can
 * read back; undefined for the others.
 */
export function changeIdentity(n: ChangeNotification, offsetMin: number): string | undefined {
  const id = positive(n.id);
  if (!id || typeof n.formId !== 'string' || !n.formId) return undefined;
  const doc = `${n.formId.toLowerCase()}:${id}`;
  const op = String(n.operation ?? '').toLowerCase();
  if (op === 'audit') {
    const at = instant(n.approveDate, offsetMin);
    return at ? `${doc}:audit@${at}` : undefined;
  }
  if (op === 'pay') {
    const bill = positive(n.payBill?.id);
    return bill ? `${doc}:pay:${bill}` : undefined;
  }
  return undefined;
}

/** The inbox event of a change; `correlation` is `formId:number`, what a waiting run names. */
export function changeEvent(n: ChangeNotification, offsetMin: number, correlation?: string): InboundEvent {
  const identity = changeIdentity(n, offsetMin);
  return {
    key: `kingdee:${identity ?? n.eventId}`,
    type: CHANGE_EVENT,
    correlation: correlation ?? `${n.formId}:${n.number}`,
    data: n,
  };
}
