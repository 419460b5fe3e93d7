/**
 * The Kingdee K/3 Cloud sandbox: a WebAPI simulator faithful to shared/specs/kingdee-k3cloud.md for
 * the parts Qiao uses, plus the `/__sandbox/` admin surface (docs/sandbox/kingdee.md).
 */
import { randomBytes } from 'node:crypto';
import { type SandboxHandle, type SandboxStartOptions, startSandboxServer } from '../common/server.ts';
import { handleAdmin } from './admin.ts';
import { createNotifier, type Notifier } from './notify.ts';
import { seed } from './seed.ts';
import { handleService } from './service.ts';
import { createState, type KingdeeOptions, type KingdeeState, type TenantOverrides } from './state.ts';

export interface KingdeeSandboxOptions extends SandboxStartOptions {
  kingdee?: Partial<KingdeeOptions> & { utcOffsetMinutes?: number };
  /** Fixed credentials instead of generated ones (e.g. the spec's worked example). */
  tenant?: TenantOverrides;
}

export interface KingdeeSandbox extends SandboxHandle {
  /** In-process access for tests and benchmarks; everything is also reachable over `/__sandbox/`. */
  state: KingdeeState;
  notifier: Notifier;
}

export async function startKingdeeSandbox(options: KingdeeSandboxOptions = {}): Promise<KingdeeSandbox> {
  const state = createState(options.kingdee, options.tenant);
  const password = options.tenant?.password ?? randomBytes(9).toString('base64url');
  seed(state, password);
  const notifier = createNotifier(state);
  const pushSecret = randomBytes(24).toString('base64url');
  notifier.config.secret = pushSecret;
  const server = await startSandboxServer(async (req) => {
    if (req.path.startsWith('/__sandbox/')) return handleAdmin(state, notifier, req);
    return handleService(state, req);
  }, options);
  const baseUrl = `${server.url}/k3cloud/`;
  const app = state.tenant.apps[0];
  return {
    system: 'kingdee',
    baseUrl,
    urls: { baseUrl, admin: `${server.url}/__sandbox/` },
    credentials: {
      acctId: state.tenant.acctId,
      username: state.tenant.apiUser,
      password,
      appId: app.appId,
      appSecret: app.appSecret,
      lcid: 2052,
      auth: 'session',
      pushSecret,
    },
    state,
    notifier,
    close: async () => {
      notifier.close();
      await server.close();
    },
  };
}

export type { KingdeeOptions, KingdeeState } from './state.ts';
