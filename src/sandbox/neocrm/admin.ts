/**
 * The `/__sandbox/` admin surface (JSON, ids as strings): inspect records, act as a salesperson in the
 * product (create a customer, win or lose an opportunity, create a contract, edit anything), drive the
 * clock, switch uncertain behaviours, and inject Neocrm-specific faults (token revocation, rate limiting,
 * failing writes, expired scroll cursors). Generic faults (latency, 5xx, hangs, drops) live at
 * `/__sandbox/faults` in the shared server. Documented in docs/sandbox/neocrm.md.
 */
import { employeeByStaffNumber } from '../common/company.ts';
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { revokeTokens } from './auth.ts';
import { parseJsonExact } from './json.ts';
import { OPPORTUNITY_STATUS, STAGE_LOST, STAGE_WON } from './metadata.ts';
import {
  type Actor,
  applyChanges,
  createRecord,
  deleteRecord,
  idValue,
  requireObject,
  toWire,
  updateRecord,
} from './records.ts';
import { INTEGRATION_USER, seedTenant } from './seed.ts';
import {
  bump,
  DEFAULT_CONFIG,
  emptyStats,
  fail,
  type NeocrmSandboxConfig,
  now,
  type Rec,
  type Tenant,
} from './state.ts';

const json = (body: object, status = 200): SandboxReply => ({ status, body });

/** `as` names a user by staff number (`E0003`), login e-mail or user id; default the integration user. */
export function actorOf(t: Tenant, as: unknown): Actor {
  if (as === undefined || as === null || as === '')
    return { userId: INTEGRATION_USER.id, adminCriteria: true };
  const s = String(as);
  const userId = employeeByStaffNumber(s)?.neocrmUserId ?? t.logins.get(s)?.userId ?? idValue(s);
  if (!userId || !t.records.get('user')!.has(userId)) throw fail.validation(`用户[${s}]不存在`);
  // A person in the product sees what the product shows them; admin acts are not limited by visibility.
  return { userId, adminCriteria: true };
}

const view = (t: Tenant, object: string, rec: Rec) => toWire(t.meta.get(object)!, rec, 'string');

function configPatch(input: Rec): Partial<NeocrmSandboxConfig> {
  const out: Partial<NeocrmSandboxConfig> = {};
  for (const [k, v] of Object.entries(input)) {
    if (!(k in DEFAULT_CONFIG)) throw fail.validation(`unknown config key ${k}`);
    const d = DEFAULT_CONFIG[k as keyof NeocrmSandboxConfig];
    const ok =
      k === 'rateLimit'
        ? v === null || (typeof v === 'object' && typeof (v as Rec).perSecond === 'number')
        : k === 'tokenFailureStatus'
          ? v === null || (typeof v === 'number' && v >= 200 && v < 600)
          : typeof v === typeof d;
    if (!ok) throw fail.validation(`bad value for config key ${k}`);
    (out as Rec)[k] = k === 'rateLimit' && v ? { burst: (v as Rec).perSecond, ...(v as Rec) } : v;
  }
  return out;
}

export interface AdminContext {
  initialConfig: NeocrmSandboxConfig;
}

export function admin(t: Tenant, req: SandboxRequest, ctx: AdminContext): SandboxReply {
  const parts = req.path.split('/').filter(Boolean).slice(1);
  const m = req.method;
  const body = (): Rec => {
    const b = parseJsonExact(req.rawBody.toString('utf8'));
    return b && typeof b === 'object' && !Array.isArray(b) ? (b as Rec) : {};
  };
  const [area, a1, a2, a3] = parts;

  if (area === 'state' && m === 'GET') {
    const counts: Record<string, number> = {};
    for (const [k, v] of t.records) counts[k] = v.size;
    return json({
      system: 'neocrm',
      tenantId: t.tenantId,
      instanceUri: t.host,
      now: now(t),
      clock: { offsetMs: t.clockOffsetMs, frozenAt: t.clockFrozenAt },
      config: t.config,
      faults: t.faults,
      counts,
      tokens: t.tokens.size,
      scrolls: t.scrolls.size,
    });
  }
  if (area === 'stats') {
    if (m === 'DELETE') t.stats = emptyStats();
    return json(t.stats);
  }
  if (area === 'config' && (m === 'POST' || m === 'GET')) {
    if (m === 'POST') Object.assign(t.config, configPatch(body()));
    return json(t.config);
  }
  if (area === 'reset' && m === 'POST') {
    t.config = { ...ctx.initialConfig };
    t.faults = { rateLimited: null, failWrites: null };
    t.tokens.clear();
    t.refreshTokens.clear();
    t.authCodes.clear();
    t.scrolls.clear();
    t.jobs.clear();
    t.batches.clear();
    t.clockOffsetMs = 0;
    t.clockFrozenAt = null;
    t.stats = emptyStats();
    seedTenant(t);
    return json({ ok: true });
  }
  if (area === 'clock' && m === 'POST') {
    // {now} sets the time, {advanceMs} moves it, {frozen} stops or restarts it.
    const b = body();
    if (typeof b.now === 'number') {
      if (t.clockFrozenAt !== null) t.clockFrozenAt = b.now;
      else t.clockOffsetMs = b.now - t.clockBase();
    }
    if (typeof b.advanceMs === 'number') {
      if (t.clockFrozenAt !== null) t.clockFrozenAt += b.advanceMs;
      else t.clockOffsetMs += b.advanceMs;
    }
    if (b.frozen === true && t.clockFrozenAt === null) t.clockFrozenAt = now(t);
    if (b.frozen === false && t.clockFrozenAt !== null) {
      t.clockOffsetMs = t.clockFrozenAt - t.clockBase();
      t.clockFrozenAt = null;
    }
    return json({ now: now(t), frozen: t.clockFrozenAt !== null });
  }
  if (area === 'tokens' && a1 === 'revoke' && m === 'POST') {
    const b = body();
    const revoked = revokeTokens(t, { userId: idValue(b.userId), refreshTokens: b.refreshTokens === true });
    return json({ revoked });
  }
  if (area === 'partner-faults') {
    if (m === 'DELETE') {
      t.faults = { rateLimited: null, failWrites: null };
      t.config.rateLimit = null;
    } else if (m === 'POST') {
      const b = body();
      if (b.rateLimited !== undefined) {
        t.faults.rateLimited = b.rateLimited
          ? { retryAfterSeconds: Number((b.rateLimited as Rec).retryAfterSeconds ?? 60) || 60 }
          : null;
      }
      if (b.rateLimit !== undefined) Object.assign(t.config, configPatch({ rateLimit: b.rateLimit }));
      if (b.failWrites !== undefined) {
        const f = b.failWrites as Rec | null;
        t.faults.failWrites = f
          ? {
              count: Number(f.count ?? 1),
              code: String(f.code ?? '400'),
              msg: String(f.msg ?? '查重规则校验失败：存在重复数据'),
            }
          : null;
      }
      if (b.expireScrolls === true) t.scrolls.clear();
      if (b.expireTokens === true) for (const info of t.tokens.values()) info.expiresAt = now(t);
    }
    return json({ faults: t.faults, rateLimit: t.config.rateLimit });
  }
  if (area === 'records' && a1) {
    const def = requireObject(t, a1);
    const store = t.records.get(def.apiKey)!;
    if (!a2 && m === 'GET') {
      const offset = Number(req.query.get('offset') ?? 0);
      const limit = Number(req.query.get('limit') ?? 1000);
      const all = [...store.values()];
      return json({
        total: all.length,
        records: all.slice(offset, offset + limit).map((r) => view(t, def.apiKey, r)),
      });
    }
    if (!a2 && m === 'POST') {
      const b = body();
      const rec = createRecord(
        t,
        def,
        { entityType: def.busiTypes[0].id, ...((b.data as Rec) ?? {}) },
        actorOf(t, b.as),
      );
      return json(view(t, def.apiKey, rec));
    }
    if (a2 === 'touch' && m === 'POST') {
      // Marks records changed: `ids` or the first `count`; `at` stamps them all with one updatedAt.
      const b = body();
      const actor = actorOf(t, b.as);
      const ids = Array.isArray(b.ids)
        ? b.ids.map((x) => idValue(x) ?? '')
        : [...store.keys()].slice(0, Number(b.count ?? 1));
      const at = typeof b.at === 'number' ? b.at : undefined;
      const touched: Rec[] = [];
      for (const id of ids) {
        const rec = store.get(id);
        if (!rec) throw fail.notFound(`记录[${id}]不存在`);
        applyChanges(t, rec, {}, actor.userId, at);
        touched.push({ id, updatedAt: rec.updatedAt });
      }
      return json({ touched });
    }
    if (a2 === 'generate' && m === 'POST') {
      // Creates `count` records from `data` (text fields get a running suffix); `at` fixes their stamps.
      const b = body();
      const actor = actorOf(t, b.as);
      const count = Math.max(0, Math.min(200_000, Number(b.count ?? 1)));
      const template = (b.data as Rec) ?? {};
      const at = typeof b.at === 'number' ? b.at : undefined;
      const prefix = String(b.prefix ?? `gen${now(t).toString(36)}`);
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        const data: Rec = { entityType: def.busiTypes[0].id, ...template };
        for (const f of def.fields) {
          if ((f.required || f.unique) && data[f.apiKey] === undefined && f.kind === 'text')
            data[f.apiKey] = `${prefix}-${i + 1}`;
          else if (f.unique && typeof data[f.apiKey] === 'string')
            data[f.apiKey] = `${data[f.apiKey] as string}-${i + 1}`;
        }
        const rec = createRecord(t, def, data, actor);
        if (at !== undefined) {
          rec.createdAt = at;
          rec.updatedAt = at;
        }
        ids.push(rec.id as string);
      }
      bump(t, def.apiKey);
      return json({ count: ids.length, ids });
    }
    const id = idValue(a2) ?? '';
    const rec = store.get(id);
    if (!rec || a3) throw fail.notFound(`记录[${a2}]不存在`);
    if (m === 'GET') return json(view(t, def.apiKey, rec));
    if (m === 'PATCH') {
      const b = body();
      updateRecord(t, def, id, (b.data as Rec) ?? {}, actorOf(t, b.as));
      return json(view(t, def.apiKey, rec));
    }
    if (m === 'DELETE') {
      deleteRecord(t, def, id, actorOf(t, undefined));
      return json({ deleted: id });
    }
  }
  if (area === 'act' && m === 'POST') return act(t, a1, body());
  throw fail.notFound(`unknown admin route ${m} ${req.path}`);
}

/** What a salesperson does in the product (scenario 2: won opportunity → contract). */
function act(t: Tenant, name: string | undefined, b: Rec): SandboxReply {
  const actor = actorOf(t, b.as ?? 'E0003');
  if (name === 'create-customer') {
    const { as: _as, ...data } = b;
    const def = t.meta.get('account')!;
    const rec = createRecord(t, def, { entityType: def.busiTypes[0].id, highSeaStatus: 1, ...data }, actor);
    return json(view(t, 'account', rec));
  }
  if (name === 'win-opportunity' || name === 'lose-opportunity') {
    const def = t.meta.get('opportunity')!;
    const id = idValue(b.id) ?? '';
    const won = name === 'win-opportunity';
    const changes: Rec = won
      ? { saleStageId: STAGE_WON, status: OPPORTUNITY_STATUS.won, winRate: 100 }
      : { saleStageId: STAGE_LOST, status: OPPORTUNITY_STATUS.lost, winRate: 0 };
    if (typeof b.money === 'number') changes.money = b.money;
    updateRecord(t, def, id, changes, { ...actor, adminCriteria: true });
    return json(view(t, 'opportunity', t.records.get('opportunity')!.get(id)!));
  }
  if (name === 'create-contract') {
    const opp = t.records.get('opportunity')!.get(idValue(b.opportunityId) ?? '');
    const accountId = (opp?.accountId as string | undefined) ?? idValue(b.accountId);
    if (!accountId) throw fail.validation('opportunityId 或 accountId 必填');
    const account = t.records.get('account')!.get(accountId);
    const def = t.meta.get('contract')!;
    const at = now(t);
    // The product by its code (productCode__c, the Kingdee material number) or id.
    const product =
      b.product === undefined
        ? undefined
        : [...t.records.get('product')!.values()].find(
            (p) => p.productCode__c === b.product || p.id === idValue(b.product),
          );
    if (b.product !== undefined && !product) throw fail.validation(`产品[${String(b.product)}]不存在`);
    const rec = createRecord(
      t,
      def,
      {
        entityType: def.busiTypes[0].id,
        title: (b.title as string) ?? `${(account?.shortName__c as string) ?? '客户'}销售合同`,
        accountId,
        ...(opp ? { opportunityId: opp.id } : {}),
        amount: (b.amount as number) ?? (opp?.money as number) ?? 0,
        startDate: (b.startDate as number) ?? at,
        endDate: (b.endDate as number) ?? at + 365 * 86_400_000,
        status: 2,
        ...(product ? { product__c: product.id } : {}),
        ...(typeof b.quantity === 'number' ? { quantity__c: b.quantity } : {}),
      },
      actor,
    );
    return json(view(t, 'contract', rec));
  }
  throw fail.notFound(`unknown act ${name}`);
}
