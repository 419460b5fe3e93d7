/**
 * The interim demo's one scenario, until the partner scenarios of DESIGN.md ship as flow templates (a
 * later issue replaces this): sales orders of the shared fictional company arrive on a webhook, are
 * mapped, and are written to the REST target with an id link per order. One order carries its
 * customer as a number, which the target refuses (a dead letter to fix and replay), and one order is
 * delivered twice (the inbox drops the duplicate).
 */
import { CUSTOMERS, PRODUCTS } from '../sandbox/common/company.ts';
import type { RunRow, Store } from '../store/store.ts';

export const DEMO_FLOW_ID = 'demo-orders';
export const DEMO_CONNECTION = 'demo-target';
export const ORDER_COUNT = 49;
/** The order whose customer arrives as a number. */
export const INVALID_ORDER = 37;
/** The name the invalid order should have carried (what a person puts in when fixing it). */
export const INVALID_ORDER_CUSTOMER = CUSTOMERS[(INVALID_ORDER - 1) % CUSTOMERS.length].name;
/** The order delivered a second time, at the end. */
export const REPEATED_ORDER = 12;

export const DEMO_FLOW = `id: ${DEMO_FLOW_ID}
name: '演示：销售订单写入 REST 目标 (demo: sales orders to a REST target)'
description: >
  Interim demo of the engine end to end (webhook → map → HTTP action with an id link); the partner
  scenarios (Kingdee, Neocrm, WeCom, DingTalk) arrive with a later issue.
trigger:
  type: webhook
  source: { object: order, id: '=event.orderNo' }
steps:
  - id: map
    map:
      name: '=event.customer'
      orderNo: '=event.orderNo'
      product: '=event.product'
      quantity: '=event.quantity'
      amount: '=event.quantity * event.price'
      currency: CNY
  - id: write
    action: ${DEMO_CONNECTION}.request
    input: { method: POST, path: /items, body: '=steps.map', link: { object: order } }
    retry: { initialInterval: 50ms, maximumInterval: 200ms, maximumAttempts: 3 }
`;

export interface DemoOrder {
  orderNo: string;
  customer: string | number;
  product: string;
  quantity: number;
  price: number;
}

export function orderNo(n: number): string {
  return `SO-DEMO-${String(n).padStart(4, '0')}`;
}

/** The orders, in the order they are played (the repeated one last). */
export function demoEvents(): DemoOrder[] {
  const orders: DemoOrder[] = [];
  for (let n = 1; n <= ORDER_COUNT; n++) {
    const c = CUSTOMERS[(n - 1) % CUSTOMERS.length];
    const p = PRODUCTS[(n * 3) % PRODUCTS.length];
    orders.push({
      orderNo: orderNo(n),
      // A customer code typed into a number field upstream: the target wants a name (a string).
      customer: n === INVALID_ORDER ? 10086 : c.name,
      product: p.name,
      quantity: 1 + (n % 5),
      price: p.price,
    });
  }
  orders.push({ ...orders[REPEATED_ORDER - 1] });
  return orders;
}

export const eventKey = (o: DemoOrder) => `order:${o.orderNo}`;

export interface ScenarioSummary {
  scenario: string;
  status: 'ok' | 'failed';
  /** Events delivered to the webhook this time. */
  events: number;
  /** Runs started this time (events not seen before). */
  runs: number;
  completed: number;
  failed: number;
  /** Records the REST target stored this time. */
  recordsWritten: number;
  /** Events the inbox recognised as already seen. */
  duplicates: number;
  deadLetters: number;
  elapsedMs: number;
  /** What did not go as expected. */
  problems: string[];
}

/**
 * What must hold after the demo, whatever was played before on the same data folder: each order has
 * exactly one run; every valid order's run completed, with its order linked at the target once; the
 * invalid order's run failed into a dead letter (or completed, if someone fixed and replayed it); no
 * effect was applied twice at the target.
 */
export async function checkDemo(
  store: Store,
  effects: Map<string, number>,
): Promise<{ problems: string[]; runs: RunRow[] }> {
  const problems: string[] = [];
  const runs = await store.listRuns({ flowId: DEMO_FLOW_ID, limit: 1000 });
  const byKey = new Map<string, RunRow[]>();
  for (const r of runs) byKey.set(r.eventKey ?? '', [...(byKey.get(r.eventKey ?? '') ?? []), r]);
  for (let n = 1; n <= ORDER_COUNT; n++) {
    const key = `order:${orderNo(n)}`;
    const got = byKey.get(key) ?? [];
    if (got.length !== 1) {
      problems.push(`${orderNo(n)} has ${got.length} runs, not 1`);
      continue;
    }
    const r = got[0];
    if (n === INVALID_ORDER) {
      if (r.status === 'failed') {
        const dls = await store.listDeadLetters({ flowId: DEMO_FLOW_ID, limit: 1000 });
        if (!dls.some((d) => d.runId === r.id)) problems.push(`${orderNo(n)} failed without a dead letter`);
      } else if (r.status !== 'completed') {
        problems.push(`${orderNo(n)} is ${r.status}, not failed (dead letter) or completed (replayed)`);
      }
    } else if (r.status !== 'completed') {
      problems.push(`${orderNo(n)} is ${r.status}, not completed${r.error ? `: ${r.error.message}` : ''}`);
    } else if (r.linkKey) {
      const links = await store.findLinks({
        linkId: r.linkKey,
        connection: DEMO_CONNECTION,
        object: 'order',
      });
      if (links.length !== 1)
        problems.push(`${orderNo(n)} is linked to ${links.length} target records, not 1`);
    } else {
      problems.push(`${orderNo(n)} has no id link`);
    }
  }
  for (const [key, count] of effects)
    if (count !== 1) problems.push(`idempotency key ${key} was applied ${count} times`);
  return { problems, runs };
}
