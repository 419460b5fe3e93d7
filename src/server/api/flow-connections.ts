/**
 * Which connections a flow uses (its trigger, actions, notifications, lookups, waits and their timers):
 * a connection still used by a flow cannot be deleted or change type without breaking that flow.
 */
import type { FlowDef } from '../../core/flow.ts';
import type { Store } from '../../store/store.ts';

export function connectionsOf(flow: FlowDef): Set<string> {
  const out = new Set<string>();
  if ('connection' in flow.trigger) out.add(flow.trigger.connection);
  for (const s of flow.steps) {
    switch (s.kind) {
      case 'action':
      case 'notify':
        out.add(s.connection);
        break;
      case 'lookup':
        out.add('link' in s.lookup ? s.lookup.link.connection : s.lookup.connection);
        break;
      case 'wait':
        out.add(s.wait.connection);
        for (const t of s.wait.timers) out.add(t.connection);
        break;
      default:
        break;
    }
  }
  return out;
}

/** Ids of the stored flows that use a connection. */
export async function flowsUsing(store: Store, connectionId: string): Promise<string[]> {
  return (await store.listFlows())
    .filter((f) => connectionsOf(f.definition).has(connectionId))
    .map((f) => f.id);
}
