/**
 * The `/__sandbox/` admin surface (JSON): inspect records, act as a person in the K/3 client (create,
 * edit, submit, audit, pay, lock a record), revoke sessions, inject partner faults, move the clock,
 * and configure the push plugin's notifications. Documented in docs/sandbox/kingdee.md.
 */
import { parseJson, type SandboxReply, type SandboxRequest } from '../common/server.ts';
import { parseLocal } from './clock.ts';
import type { StoredRecord, Table } from './db.ts';
import { KdFailure } from './envelope.ts';
import type { FieldDef } from './forms.ts';
import { NOTIFY_DEFAULTS, type Notifier } from './notify.ts';
import { applyOp, type StatusOp } from './operations.ts';
import { push } from './push.ts';
import { type Actor, notify, savePackage } from './save.ts';
import { type KingdeeOptions, type KingdeeState, NO_PARTNER_FAULTS, type PartnerFaults } from './state.ts';

const json = (status: number, body: unknown): SandboxReply => ({ status, body: body as object });

export function adminActor(state: KingdeeState, userName?: unknown): Actor | undefined {
  const name = typeof userName === 'string' && userName ? userName : 'administrator';
  const user = state.tenant.users.find((u) => u.name === name);
  if (!user) return undefined;
  return {
    userId: user.userId,
    userName: user.name,
    orgId: state.db.byNumber('ORG_Organizations', '100')?.id ?? 0,
    via: 'ui',
  };
}

/** A record as the admin surface shows it: field keys, references as their numbers. */
export function adminRecord(state: KingdeeState, t: Table, rec: StoredRecord): Record<string, unknown> {
  const show = (field: FieldDef, values: Record<string, unknown>) => {
    const v = values[field.key];
    if (field.kind === 'ref' || field.kind === 'assistant') return state.db.numberOf(field.ref!, v) ?? null;
    if (field.kind === 'dynref') return state.db.numberOf(String(values[field.ref!] ?? ''), v) ?? null;
    return v ?? null;
  };
  const out: Record<string, unknown> = { formId: t.form.formId, id: rec.id };
  for (const field of [...t.form.fields, ...t.form.subHeaders.flatMap((s) => s.fields)]) {
    out[field.key] = show(field, rec.values);
  }
  for (const entity of t.form.entries) {
    out[entity.key] = (rec.entries[entity.key] ?? []).map((row) => {
      const r: Record<string, unknown> = { [entity.pk]: row.id, FSeq: row.seq };
      for (const field of entity.fields) r[field.key] = show(field, row.values);
      return r;
    });
  }
  if (rec.allocatedOrgs.length) out.allocatedOrgs = rec.allocatedOrgs;
  return out;
}

function findRecord(t: Table, key: string): StoredRecord | undefined {
  const byNumber = t.byNumber.get(key.toLowerCase());
  if (byNumber !== undefined) return t.records.get(byNumber);
  return /^\d+$/.test(key) ? t.records.get(Number(key)) : undefined;
}

const OPS: Record<string, StatusOp> = {
  submit: 'Submit',
  audit: 'Audit',
  unaudit: 'UnAudit',
  delete: 'Delete',
  'cancel-assign': 'CancelAssign',
  forbid: 'Forbid',
  enable: 'Enable',
  cancel: 'Cancel',
  uncancel: 'UnCancel',
};

function failure(err: unknown): SandboxReply {
  if (err instanceof KdFailure)
    return json(409, { error: err.message, msgCode: err.msgCode, errors: err.errors });
  throw err;
}

function saveOpts(fields?: string[]) {
  return {
    draft: false,
    isDeleteEntry: !fields,
    isVerifyBaseDataField: false,
    autoSubmitAndAudit: false,
    needReturnFields: [],
    needUpdateFields: fields ? new Set(fields.map((f) => f.toLowerCase())) : undefined,
  };
}

export async function handleAdmin(
  state: KingdeeState,
  notifier: Notifier,
  req: SandboxRequest,
): Promise<SandboxReply | undefined> {
  const parts = req.path.split('/').filter(Boolean).slice(1).map(decodeURIComponent);
  const body = (parseJson(req.rawBody) ?? {}) as Record<string, any>;
  const method = req.method;
  const [area, a, b, c] = parts;

  if (area === 'state' && method === 'GET') {
    return json(200, {
      system: 'kingdee',
      acctId: state.tenant.acctId,
      clock: state.clock.state(),
      options: state.options,
      faults: state.faults,
      stats: state.stats,
      sessions: state.sessions.size,
      forms: Object.fromEntries([...state.db.tables.values()].map((t) => [t.form.formId, t.records.size])),
      locks: Object.fromEntries(state.locks),
      notify: { ...notifier.config, secret: notifier.config.secret ? '***' : null },
    });
  }
  if (area === 'stats') {
    if (method === 'DELETE')
      Object.assign(state.stats, { logins: 0, loginFailures: 0, sessionLost: 0, calls: {} });
    return json(200, state.stats);
  }
  if (area === 'partner-faults') {
    if (method === 'DELETE') Object.assign(state.faults, NO_PARTNER_FAULTS);
    if (method === 'POST') {
      for (const k of Object.keys(NO_PARTNER_FAULTS) as (keyof PartnerFaults)[]) {
        const v = body[k];
        if (k === 'callLimit' && typeof v === 'boolean') state.faults.callLimit = v;
        else if (k !== 'callLimit' && typeof v === 'number' && v >= 0) (state.faults[k] as number) = v;
      }
    }
    return json(200, state.faults);
  }
  if (area === 'options' && method === 'POST') {
    const o = state.options as unknown as Record<string, unknown>;
    for (const k of Object.keys(state.options) as (keyof KingdeeOptions)[]) {
      if (typeof body[k] === typeof o[k]) o[k] = body[k];
    }
    return json(200, state.options);
  }
  if (area === 'clock' && method === 'POST') {
    if ('freeze' in body) {
      const f = body.freeze;
      state.clock.freeze(
        f === null ? null : typeof f === 'number' ? f : parseLocal(String(f), state.clock.utcOffsetMinutes),
      );
    }
    if (typeof body.shiftMs === 'number') state.clock.shift(body.shiftMs);
    return json(200, state.clock.state());
  }
  if (area === 'sessions') {
    if (a === 'revoke' && method === 'POST') {
      let revoked = 0;
      for (const [id, s] of state.sessions) {
        if (!body.userName || s.userName === body.userName) {
          state.sessions.delete(id);
          revoked++;
        }
      }
      return json(200, { revoked });
    }
    return json(
      200,
      [...state.sessions.values()].map((s) => ({
        ...s,
        kdsvcId: `${s.kdsvcId.slice(0, 8)}…`,
        aspId: undefined,
      })),
    );
  }
  if (area === 'users' && a && method === 'POST') {
    const user = state.tenant.users.find((u) => u.name === a);
    if (!user) return json(404, { error: `no user ${a}` });
    if (typeof body.password === 'string') user.password = body.password;
    if (typeof body.locked === 'boolean') {
      user.locked = body.locked;
      if (!body.locked) user.failures = 0;
    }
    if (typeof body.webApiAllowed === 'boolean') user.webApiAllowed = body.webApiAllowed;
    if (typeof body.loginResultType === 'number' || body.loginResultType === null) {
      user.loginResultType = body.loginResultType ?? undefined;
    }
    return json(200, { ...user, password: '***' });
  }
  if (area === 'notify') {
    if (a === 'flush' && method === 'POST') {
      await notifier.flush();
      return json(200, { deliveries: notifier.deliveries.length });
    }
    if (a === 'release' && method === 'POST') return json(200, { released: notifier.release() });
    if (method === 'DELETE') {
      Object.assign(notifier.config, { ...NOTIFY_DEFAULTS, secret: notifier.config.secret });
      notifier.discardHeld();
    }
    if (method === 'POST') {
      const cfg = notifier.config as unknown as Record<string, unknown>;
      for (const k of Object.keys(NOTIFY_DEFAULTS)) {
        if (k in body) cfg[k] = body[k];
      }
    }
    return json(200, {
      config: { ...notifier.config, secret: notifier.config.secret ? '***' : null },
      deliveries: notifier.deliveries.slice(-100),
    });
  }
  if (area === 'records' && a) {
    const t = state.db.table(a);
    if (!t) return json(404, { error: `unknown form ${a}` });
    const actor = adminActor(state, body.user);
    if (!actor) return json(404, { error: `unknown user ${String(body.user)}` });
    if (!b) {
      if (method === 'POST') {
        try {
          const rec = savePackage(state, actor, t, body.model ?? {}, 0, saveOpts());
          const status = body.status as string | undefined;
          if (status === 'B' || status === 'C') applyOp(state, actor, t, rec, 'Submit');
          if (status === 'C') applyOp(state, actor, t, rec, 'Audit');
          return json(200, adminRecord(state, t, rec));
        } catch (err) {
          return failure(err);
        }
      }
      const limit = Number(req.query.get('limit') ?? 100);
      const offset = Number(req.query.get('offset') ?? 0);
      const status = req.query.get('status');
      const all = [...t.records.values()].filter((r) => !status || r.values.FDocumentStatus === status);
      return json(200, {
        total: all.length,
        records: all.slice(offset, offset + limit).map((r) => adminRecord(state, t, r)),
      });
    }
    const rec = findRecord(t, b);
    if (!rec) return json(404, { error: `no ${t.form.formId} ${b}` });
    const key = `${t.form.formId.toLowerCase()}:${rec.id}`;
    if (!c && method === 'GET') return json(200, adminRecord(state, t, rec));
    if (c === 'lock') {
      if (method === 'DELETE') state.locks.delete(key);
      else state.locks.set(key, actor.userName);
      return json(200, { locked: state.locks.has(key), by: state.locks.get(key) ?? null });
    }
    if (method !== 'POST') return json(405, { error: 'POST expected' });
    try {
      if (c === 'edit') {
        const fields = (body.fields ?? {}) as Record<string, unknown>;
        const updated = savePackage(
          state,
          actor,
          t,
          { ...fields, [t.form.pk]: rec.id },
          0,
          saveOpts(Object.keys(fields)),
        );
        return json(200, adminRecord(state, t, updated));
      }
      if (c === 'pay') return json(200, pay(state, actor, t, rec, body));
      const op = OPS[c ?? ''];
      if (!op) return json(404, { error: `unknown action ${c}` });
      applyOp(state, actor, t, rec, op);
      return json(200, op === 'Delete' ? { deleted: rec.id } : adminRecord(state, t, rec));
    } catch (err) {
      return failure(err);
    }
  }
  return json(404, {
    error: 'unknown admin path',
    paths: [
      'GET /__sandbox/state',
      'GET|DELETE /__sandbox/stats',
      'GET|POST|DELETE /__sandbox/partner-faults',
      'POST|DELETE /__sandbox/faults (generic)',
      'POST /__sandbox/options',
      'POST /__sandbox/clock',
      'GET /__sandbox/sessions',
      'POST /__sandbox/sessions/revoke',
      'POST /__sandbox/users/{name}',
      'GET|POST|DELETE /__sandbox/notify',
      'POST /__sandbox/notify/flush',
      'POST /__sandbox/notify/release',
      'GET|POST /__sandbox/records/{formId}',
      'GET /__sandbox/records/{formId}/{id|number}',
      'POST /__sandbox/records/{formId}/{id|number}/{edit|submit|audit|unaudit|delete|cancel-assign|forbid|enable|cancel|uncancel|pay}',
      'POST|DELETE /__sandbox/records/{formId}/{id|number}/lock',
    ],
  });
}

/**
 * "Pay" as a cashier does in the K/3 client: push the payable (AP_Payable) or expense bill
 * (ER_ExpReimbursement) to a payment bill (AP_PAYBILL), submit and audit it. The BOS plugin then
 * tells the hub that the source was paid (operation `Pay`, naming the payment bill).
 */
function pay(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  rec: StoredRecord,
  body: Record<string, any>,
): object {
  const rules: Record<string, string> = {
    ap_payable: 'AP_PayableToPayBill',
    er_expreimbursement: 'ER_ExpReimbursementToPayBill',
  };
  const ruleId = rules[t.form.formId.toLowerCase()];
  if (!ruleId) throw new KdFailure(12, `${t.form.name}不能付款`);
  const r = push(state, actor, t, { Ids: String(rec.id), RuleId: ruleId });
  if (r.errors.length) throw KdFailure.many(r.msgCode || 11, r.errors);
  const payT = state.db.table('AP_PAYBILL')!;
  const bill = payT.records.get(r.targets[0].Id)!;
  if (body.remark) {
    savePackage(state, actor, payT, { FID: bill.id, FREMARK: String(body.remark) }, 0, saveOpts(['FREMARK']));
  }
  applyOp(state, actor, payT, bill, 'Submit');
  applyOp(state, actor, payT, bill, 'Audit');
  if (t.form.formId === 'ER_ExpReimbursement') {
    rec.values.FPayedAmount =
      Number(rec.values.FPayedAmount ?? 0) + Number(bill.values.FREALPAYAMOUNTFOR ?? 0);
  }
  notify(state, t.form, rec, 'Pay', actor, { id: bill.id, number: String(bill.values.FBillNo ?? '') });
  return { source: adminRecord(state, t, rec), payBill: adminRecord(state, payT, bill) };
}
