/**
 * The flows the engine runs, kept in memory and refreshed from the store: current versions for
 * starting runs, and any older version a run still in progress started on.
 */
import type { FlowDef } from '../core/flow.ts';
import type { FlowRow, Store } from '../store/store.ts';

export class FlowCache {
  private current = new Map<string, FlowRow>();
  private readonly versions = new Map<string, FlowDef>();
  private readonly store: Store;

  constructor(store: Store) {
    this.store = store;
  }

  async refresh(): Promise<void> {
    const rows = await this.store.listFlows();
    this.current = new Map(rows.map((r) => [r.id, r]));
    for (const r of rows) this.versions.set(`${r.id}@${r.version}`, r.definition);
  }

  /** Enabled flows, current versions. */
  enabled(): FlowRow[] {
    return [...this.current.values()].filter((r) => r.enabled);
  }

  get(id: string): FlowRow | undefined {
    return this.current.get(id);
  }

  /** The definition a run started on. */
  async version(id: string, version: number): Promise<FlowDef> {
    const key = `${id}@${version}`;
    let def = this.versions.get(key);
    if (!def) {
      def = await this.store.getFlowVersion(id, version);
      if (!def) throw new Error(`flow ${id} version ${version} is missing from the store`);
      this.versions.set(key, def);
    }
    return def;
  }
}
