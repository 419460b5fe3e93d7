/**
 * Starts every sandbox at once: the generic REST target and the four partner simulators, each on its
 * own loopback port. `qiao sandbox` prints what this returns as one JSON line; `qiao demo` and tests
 * start them in-process (DESIGN.md, "Sandboxes: how they are started and driven").
 */
import type { SandboxHandle, SandboxStartOptions } from './common/server.ts';
import { startDingtalkSandbox } from './dingtalk/index.ts';
import { startHttpTarget } from './http-target/index.ts';
import { startKingdeeSandbox } from './kingdee/index.ts';
import { startNeocrmSandbox } from './neocrm/index.ts';
import { startWecomSandbox } from './wecom/index.ts';

/** The systems in start order; with a port base, system `i` takes the ports from its slot on. */
export const SANDBOX_SYSTEMS = ['http-target', 'kingdee', 'neocrm', 'wecom', 'dingtalk'] as const;
export type SandboxSystem = (typeof SANDBOX_SYSTEMS)[number];

/**
 * Ports each system takes from its slot: DingTalk serves its two API hosts (oapi and api) from two
 * servers, `port` and `port + 1` (src/sandbox/dingtalk/index.ts).
 */
const PORTS_USED: Record<SandboxSystem, number> = {
  'http-target': 1,
  kingdee: 1,
  neocrm: 1,
  wecom: 1,
  dingtalk: 2,
};

const STARTERS: Record<SandboxSystem, (o: SandboxStartOptions) => Promise<SandboxHandle>> = {
  'http-target': startHttpTarget,
  kingdee: startKingdeeSandbox,
  neocrm: startNeocrmSandbox,
  wecom: startWecomSandbox,
  dingtalk: startDingtalkSandbox,
};

export interface SandboxesOptions {
  /**
   * First port: the systems take consecutive ports from here in the order of SANDBOX_SYSTEMS
   * (http-target N, kingdee N+1, neocrm N+2, wecom N+3, dingtalk N+4 and N+5). Default: any free ports.
   */
  portBase?: number;
  host?: string;
  /** Only these systems (default all). */
  only?: readonly SandboxSystem[];
}

export interface Sandboxes {
  /** The handles by system name. */
  handles: Partial<Record<SandboxSystem, SandboxHandle>>;
  /** What a client needs per system: `{ baseUrl, urls, credentials }` (what `qiao sandbox` prints). */
  describe(): Record<string, { baseUrl: string; urls: Record<string, string>; credentials: unknown }>;
  close(): Promise<void>;
}

/** The port slot of each system for a port base: `portBase + offset`. */
export function portOffsets(): Record<SandboxSystem, number> {
  const out = {} as Record<SandboxSystem, number>;
  let next = 0;
  for (const s of SANDBOX_SYSTEMS) {
    out[s] = next;
    next += PORTS_USED[s];
  }
  return out;
}

/**
 * Starts the sandboxes one after the other. When one fails to start (a port taken), those already
 * started are closed again and the error names the system.
 */
export async function startSandboxes(opts: SandboxesOptions = {}): Promise<Sandboxes> {
  const handles: Partial<Record<SandboxSystem, SandboxHandle>> = {};
  const offsets = portOffsets();
  const closeAll = async () => {
    for (const s of [...SANDBOX_SYSTEMS].reverse()) await handles[s]?.close().catch(() => {});
  };
  for (const system of SANDBOX_SYSTEMS) {
    if (opts.only && !opts.only.includes(system)) continue;
    const port = opts.portBase === undefined ? 0 : opts.portBase + offsets[system];
    try {
      handles[system] = await STARTERS[system]({ port, host: opts.host });
    } catch (err) {
      await closeAll();
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'EADDRINUSE' ? `port ${port} is already in use` : e.message;
      throw new Error(`the ${system} sandbox cannot start: ${why}`, { cause: err });
    }
  }
  return {
    handles,
    describe() {
      const out: ReturnType<Sandboxes['describe']> = {};
      for (const s of SANDBOX_SYSTEMS) {
        const h = handles[s];
        if (h) out[s] = { baseUrl: h.baseUrl, urls: h.urls, credentials: h.credentials };
      }
      return out;
    },
    close: closeAll,
  };
}
