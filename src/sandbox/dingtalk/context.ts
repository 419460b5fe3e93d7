/**
 * What every area of the DingTalk sandbox shares: the seeded tenant, the URLs the servers got,
 * the route tables of the two surfaces, and late-bound hooks between areas (an approval emits an
 * event; the event bus decides whether it goes out over HTTP or Stream). One context per sandbox
 * instance: nothing here is module-level, so several sandboxes run in one process.
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import type { Json } from './http-util.ts';
import type {
  Conversation,
  CustomRobot,
  ProcessTemplate,
  SandboxApp,
  SandboxDepartment,
  SandboxUser,
} from './seed.ts';

export type Surface = 'oapi' | 'api';

export interface RouteOptions {
  /** Needs a valid access token (query on oapi, header on api). Default true. */
  auth?: boolean;
  /** Counted against the per-app-per-API QPS limit and the monthly quota. Default true. */
  metered?: boolean;
}

export type RouteHandler = (req: SandboxRequest) => Promise<SandboxReply> | SandboxReply;

export interface Route {
  handler: RouteHandler;
  options: Required<RouteOptions>;
}

export type AdminHandler = (req: SandboxRequest, params: string[]) => Promise<SandboxReply> | SandboxReply;

export interface AdminRoute {
  method: string;
  pattern: RegExp;
  handler: AdminHandler;
}

/** An event as DingTalk's event center holds it before pushing it (spec §7.8, §8.2, §9). */
export interface SandboxEvent {
  eventId: string;
  eventType: string;
  bornTime: number;
  corpId: string;
  /** Idempotency id of the business change (`BizId`, spec §7.8). */
  bizId: string;
  /** The business fields (Stream `data`; flattened next to `EventType` over HTTP). */
  data: Json;
  /** Where it went: `http:delivered`, `http:failed`, `stream:acked`, `stream:pending`… */
  deliveries: Array<{ channel: 'http' | 'stream'; status: string; at: number; detail?: string }>;
}

export interface CallbackConfig {
  /** Where events go: the push mode chosen in the developer console (spec §1.2, D20). */
  eventMode: 'stream' | 'http' | 'both' | 'none';
  eventUrl?: string;
  /** Where the enterprise robot's incoming messages go. */
  robotMode: 'stream' | 'http' | 'none';
  robotUrl?: string;
}

export interface SandboxContext {
  app: SandboxApp;
  users: SandboxUser[];
  departments: SandboxDepartment[];
  templates: ProcessTemplate[];
  robots: CustomRobot[];
  conversations: Conversation[];
  callbacks: CallbackConfig;
  urls: { oapi: string; api: string; ws: string };
  routes: { oapi: Map<string, Route>; api: Map<string, Route>; admin: AdminRoute[] };
  userById(userid: string): SandboxUser | undefined;
  /** Emits an event to the app on the configured channel(s). Set by the event bus. */
  emitEvent(eventType: string, data: Json, bizId?: string): SandboxEvent;
  /** Pushes a CALLBACK frame over Stream; false when no connection subscribes to the topic. Set by the gateway. */
  pushStreamCallback(topic: string, data: Json, onAck?: (ack: Json | undefined) => void): boolean;
  /** Background work (callbacks in flight) that `close()` and `flush` wait for. */
  track<T>(p: Promise<T>): Promise<T>;
  /** Whether the standard edition's monthly quota is used up (set by limits; spec §6.1, D21). */
  quotaExhausted(): boolean;
  closed: boolean;
}

export function route(
  table: Map<string, Route>,
  method: string,
  path: string,
  handler: RouteHandler,
  options: RouteOptions = {},
): void {
  table.set(`${method} ${path}`, {
    handler,
    options: { auth: options.auth ?? true, metered: options.metered ?? true },
  });
}

export function admin(ctx: SandboxContext, method: string, pattern: RegExp, handler: AdminHandler): void {
  ctx.routes.admin.push({ method, pattern, handler });
}

/** Admin answers are plain JSON. */
export function ok(body: unknown = { ok: true }): SandboxReply {
  return { status: 200, body: body as object };
}

export function bad(message: string, status = 400): SandboxReply {
  return { status, body: { error: message } };
}
