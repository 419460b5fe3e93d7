/**
 * Who a DingTalk user is: `topapi/v2/user/get` (spec §12.1) normalised, with `jobNumber` (工号) as the
 * key that maps the user to an employee in the other systems (the Kingdee staff number). Inbound chat
 * messages and card clicks are enriched from a small cache so one sender costs one lookup per TTL.
 */
import type { DingtalkClient, Json } from './client.ts';

export interface DingtalkUser {
  userId: string;
  unionId?: string;
  name: string;
  jobNumber?: string;
  mobile?: string;
  email?: string;
  title?: string;
  deptIds: number[];
  managerUserId?: string;
  active: boolean;
  admin: boolean;
  boss: boolean;
}

export function normaliseUser(r: Json): DingtalkUser {
  const s = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return {
    userId: String(r.userid ?? ''),
    unionId: s(r.unionid),
    name: String(r.name ?? ''),
    jobNumber: s(r.job_number),
    mobile: s(r.mobile),
    email: s(r.email) ?? s(r.org_email),
    title: s(r.title),
    deptIds: Array.isArray(r.dept_id_list) ? r.dept_id_list.map(Number) : [],
    managerUserId: s(r.manager_userid),
    active: r.active !== false,
    admin: r.admin === true,
    boss: r.boss === true,
  };
}

export async function getUser(
  client: DingtalkClient,
  userId: string,
  signal?: AbortSignal,
): Promise<DingtalkUser> {
  const body = await client.oapi(
    'user.get',
    '/topapi/v2/user/get',
    { userid: userId, language: 'zh_CN' },
    { signal },
  );
  return normaliseUser((body.result ?? {}) as Json);
}

export class UserDirectory {
  private readonly client: DingtalkClient;
  private readonly cache = new Map<string, { user?: DingtalkUser; until: number }>();
  private readonly ttlMs: number;

  constructor(client: DingtalkClient, ttlMs = 600_000) {
    this.client = client;
    this.ttlMs = ttlMs;
  }

  /** Best effort: undefined when the lookup fails (the event is still stored, without `sender`). */
  async find(userId: string): Promise<DingtalkUser | undefined> {
    const hit = this.cache.get(userId);
    if (hit && hit.until > Date.now()) return hit.user;
    try {
      const user = await getUser(this.client, userId, AbortSignal.timeout(2_000));
      this.remember(userId, { user, until: Date.now() + this.ttlMs });
      return user;
    } catch (err) {
      this.client.log.warn('dingtalk sender lookup failed', { userId, error: (err as Error).message });
      // A short negative entry keeps a failing partner from being asked once per message.
      this.remember(userId, { until: Date.now() + 30_000 });
      return undefined;
    }
  }

  private remember(userId: string, entry: { user?: DingtalkUser; until: number }) {
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(userId, entry);
  }
}
