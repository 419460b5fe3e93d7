/**
 * Change notifications, as sent by the small Kingdee BOS plugin a company may install (a service
 * plug-in on the operations Save / Submit / Audit / UnAudit / Delete of the watched forms; see
 * docs/connectors/kingdee.md "Push path"). K/3 Cloud itself has no outgoing webhooks; the plugin is
 * ours, so this protocol is Qiao's:
 *
 *   POST {hub}/hooks/kingdee/{connectionId}
 *   Content-Type: application/json
 *   X-Qiao-Timestamp: <epoch milliseconds>
 *   X-Qiao-Signature: <lower-case hex HMAC-SHA256(pushSecret, timestamp + "\n" + rawBody)>
 *   {"eventId", "acctId", "formId", "operation", "id", "number", "documentStatus",
 *    "modifyDate", "approveDate", "userName", "occurredAt"[, "payBill": {"id", "number"}]}
 *
 * `Pay` is the plugin's own operation: a payment bill (AP_PAYBILL) made from a payable or an expense
 * bill was audited; `payBill` names it. The plugin posts after the operation commits and retries a
 * failed delivery twice. Faults: drop, hold (deliver later, on release), delay or duplicate deliveries.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { ChangeEvent, KingdeeState } from './state.ts';

export interface NotifyConfig {
  url: string | null;
  secret: string | null;
  /** Forms watched (case-insensitive); empty = all. */
  forms: string[];
  /** Operations watched; empty = all. */
  operations: string[];
  /** Faults: the next N notifications are silently lost / sent twice; every delivery waits delayMs. */
  dropNext: number;
  duplicateNext: number;
  delayMs: number;
  /** The next N notifications are held back (the hub was unreachable) until `release()` sends them. */
  holdNext: number;
}

export interface Delivery {
  eventId: string;
  formId: string;
  operation: string;
  number: string;
  attempts: number;
  status: number | null;
  error?: string;
  dropped?: boolean;
  /** Held back by `holdNext`; false again once released. */
  held?: boolean;
}

export interface Notifier {
  config: NotifyConfig;
  deliveries: Delivery[];
  /** Resolves when every delivery started so far has finished (for tests and `notify/flush`). */
  flush(): Promise<void>;
  /** Sends the held notifications now (a late push); returns how many. */
  release(): number;
  /** Forgets the held notifications (a reset of the plugin emulation). */
  discardHeld(): void;
  close(): void;
}

export const NOTIFY_DEFAULTS: NotifyConfig = {
  url: null,
  secret: null,
  forms: [],
  operations: [],
  dropNext: 0,
  duplicateNext: 0,
  delayMs: 0,
  holdNext: 0,
};

/** Signs a notification body the way the plugin does. */
export function signNotification(secret: string, timestamp: string, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${body}`, 'utf8').digest('hex');
}

export function createNotifier(state: KingdeeState): Notifier {
  const config: NotifyConfig = { ...NOTIFY_DEFAULTS };
  const deliveries: Delivery[] = [];
  const inFlight = new Set<Promise<void>>();
  const held: Array<() => void> = [];
  let closed = false;

  const send = async (url: string, secret: string, body: string, d: Delivery) => {
    for (let attempt = 1; attempt <= 3 && !closed; attempt++) {
      d.attempts = attempt;
      try {
        if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
        const timestamp = String(Date.now());
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-qiao-timestamp': timestamp,
            'x-qiao-signature': signNotification(secret, timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        d.status = res.status;
        if (res.ok) return;
      } catch (err) {
        d.error = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  };

  const listener = (e: ChangeEvent) => {
    const { url, secret } = config;
    if (!url || !secret || closed) return;
    if (config.forms.length && !config.forms.some((f) => f.toLowerCase() === e.formId.toLowerCase())) return;
    if (
      config.operations.length &&
      !config.operations.some((o) => o.toLowerCase() === e.operation.toLowerCase())
    ) {
      return;
    }
    const body = JSON.stringify({
      eventId: randomUUID(),
      acctId: state.tenant.acctId,
      formId: e.formId,
      operation: e.operation,
      id: e.id,
      number: e.number,
      documentStatus: e.documentStatus,
      modifyDate: e.modifyDate,
      approveDate: e.approveDate,
      userName: e.userName,
      occurredAt: state.clock.nowLocal(),
      ...(e.payBill ? { payBill: e.payBill } : {}),
    });
    const eventId = (JSON.parse(body) as { eventId: string }).eventId;
    const d: Delivery = {
      eventId,
      formId: e.formId,
      operation: e.operation,
      number: e.number,
      attempts: 0,
      status: null,
    };
    deliveries.push(d);
    if (deliveries.length > 1000) deliveries.shift();
    if (config.dropNext > 0) {
      config.dropNext -= 1;
      d.dropped = true;
      return;
    }
    const copies = config.duplicateNext > 0 ? 2 : 1;
    if (copies === 2) config.duplicateNext -= 1;
    const deliver = () => {
      for (let i = 0; i < copies; i++) {
        const p = send(url, secret, body, i === 0 ? d : { ...d }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    };
    if (config.holdNext > 0) {
      config.holdNext -= 1;
      d.held = true;
      held.push(() => {
        d.held = false;
        deliver();
      });
      return;
    }
    deliver();
  };
  state.onChange.push(listener);

  return {
    config,
    deliveries,
    flush: async () => {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
    release: () => {
      const now = held.splice(0);
      for (const go of now) go();
      return now.length;
    },
    discardHeld: () => {
      held.length = 0;
    },
    close: () => {
      closed = true;
    },
  };
}
