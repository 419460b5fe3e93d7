/**
 * The `/__sandbox/…` admin surface (documented in docs/sandbox/wecom.md): inspect what the sandbox
 * holds, act as people do in WeCom (approvers approve, members click card buttons or write to the
 * app), set where callbacks go (with WeCom's URL verification), and inject WeCom's own faults
 * (token revocation, clock skips, 45009 bans and limits, dropped/delayed/duplicated callbacks).
 */
import {
  NO_FAULTS,
  parseJson,
  type SandboxReply,
  type SandboxRequest,
  type SandboxServer,
} from '../common/server.ts';
import { ActionRefused, type ApprovalAction, act, detailOf } from './approval.ts';
import { revokeTokens } from './auth.ts';
import type { CallbackDispatcher } from './callbacks.ts';
import { decrypt, WxCryptError } from './crypto.ts';
import { ban, clearLimits } from './limits.ts';
import { ClickRefused, clickCard, incomingText } from './messages.ts';
import { SEED } from './seed.ts';
import type { CallbackConfig, WecomWorld } from './state.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const json = (body: unknown, status = 200): SandboxReply => ({ status, body: body as object });
const refuse = (message: string, status = 409): SandboxReply => json({ error: message }, status);

const ACTIONS = new Set<ApprovalAction>([
  'agree',
  'reject',
  'transfer',
  'urge',
  'comment',
  'withdraw',
  'revoke',
  'delete',
  'pay',
]);

export interface AdminDeps {
  w: WecomWorld;
  dispatcher: CallbackDispatcher;
  server: () => SandboxServer;
}

export async function handleAdmin(deps: AdminDeps, req: SandboxRequest): Promise<SandboxReply> {
  const { w, dispatcher } = deps;
  const body = (parseJson(req.rawBody) ?? {}) as Json;
  const parts = req.path.split('/').filter(Boolean).slice(1); // drop "__sandbox"
  const [area, id, verb] = parts;
  const m = req.method;
  try {
    switch (area) {
      case 'state':
        return json({
          corpId: w.corpId,
          corpName: w.corpName,
          apps: [...w.apps.values()].map(({ callback, ...a }) => ({
            ...a,
            callback: callback ? { ...callback } : null,
          })),
          approvals: w.approvals.size,
          events: w.events.length,
          deliveries: w.deliveries.length,
          clockOffsetMs: w.clockOffsetMs,
          limits: w.limits,
          callbackFaults: w.callbackFaults,
          callbackSettings: w.callbackSettings,
        });
      case 'templates':
        return json({
          templates: [...w.templates.values()].map((t) => ({ id: t.id, name: t.name, controls: t.controls })),
        });
      case 'approvals': {
        if (!id) return json({ approvals: [...w.approvals.values()].map(detailOf) });
        if (!verb) {
          const a = w.approvals.get(id);
          return a ? json({ info: detailOf(a) }) : refuse(`no approval ${id}`, 404);
        }
        if (m !== 'POST') return refuse('use POST', 405);
        if (verb === 'approve-all') {
          // Convenience for demos: every pending node agreed by its first pending approver.
          let a = w.approvals.get(id);
          for (let i = 0; i < 50 && a && a.spStatus === 1; i++) {
            const node = a.nodes.find((n) => n.status === 1);
            const who = node?.approvers.find((p) => p.status === 1);
            if (!who) break;
            a = act(w, dispatcher, id, 'agree', {
              userid: who.userid,
              speech: String(body.speech ?? '同意'),
            });
          }
          return a ? json({ info: detailOf(a) }) : refuse(`no approval ${id}`, 404);
        }
        if (!ACTIONS.has(verb as ApprovalAction)) return refuse(`unknown action ${verb}`, 404);
        let userid = typeof body.userid === 'string' ? body.userid : undefined;
        const a0 = w.approvals.get(id);
        if (!userid && a0 && ['agree', 'reject', 'transfer'].includes(verb)) {
          // Without a userid, the first pending approver of the current node acts.
          userid = a0.nodes.find((n) => n.status === 1)?.approvers.find((p) => p.status === 1)?.userid;
        }
        const a = act(w, dispatcher, id, verb as ApprovalAction, {
          userid,
          speech: typeof body.speech === 'string' ? body.speech : undefined,
          to: typeof body.to === 'string' ? body.to : undefined,
          content: typeof body.content === 'string' ? body.content : undefined,
        });
        return json({ info: detailOf(a) });
      }
      case 'messages':
        if (id === 'incoming' && m === 'POST') {
          return json(
            incomingText(w, dispatcher, {
              userid: String(body.userid ?? ''),
              content: String(body.content ?? ''),
              agentId: Number(body.agentId ?? SEED.agentId),
            }),
          );
        }
        if (id) return json({ messages: w.messages.get(id.toLowerCase()) ?? [] });
        return json({ messages: Object.fromEntries(w.messages) });
      case 'cards':
        if (id === 'click' && m === 'POST') {
          return json(
            clickCard(w, dispatcher, {
              userid: String(body.userid ?? ''),
              taskId: String(body.taskId ?? ''),
              key: String(body.key ?? ''),
              agentId: body.agentId === undefined ? undefined : Number(body.agentId),
              selectedItems: Array.isArray(body.selectedItems) ? (body.selectedItems as never) : undefined,
            }),
          );
        }
        return json({ cards: [...w.cards.values()] });
      case 'robots': {
        if (id && m === 'POST') {
          const r = [...w.robots.values()].find((x) => x.name === id || x.key === id);
          if (!r) return refuse(`no robot ${id}`, 404);
          if (typeof body.disabled === 'boolean') r.disabled = body.disabled;
          if (typeof body.inGroup === 'boolean') r.inGroup = body.inGroup;
          return json(r);
        }
        return json({ robots: [...w.robots.values()] });
      }
      case 'apps': {
        const app = w.apps.get(Number(id));
        if (!app) return refuse(`no app ${id}`, 404);
        if (m === 'POST') {
          if (typeof body.approval === 'boolean') app.approval = body.approval;
          if (typeof body.legacyContactFields === 'boolean')
            app.legacyContactFields = body.legacyContactFields;
          if (Array.isArray(body.visibleDepartments))
            app.visibleDepartments = body.visibleDepartments.map(Number);
          if (Array.isArray(body.visibleUsers)) app.visibleUsers = body.visibleUsers.map(String);
        }
        return json(app);
      }
      case 'callback': {
        const agentId = Number(body.agentId ?? SEED.agentId);
        const app = w.apps.get(agentId);
        if (!app) return refuse(`no app ${agentId}`, 404);
        if (m === 'DELETE') {
          app.callback = undefined;
          return json({ ok: true });
        }
        if (m !== 'POST') return json({ callback: app.callback ?? null });
        if (typeof body.url !== 'string' || !/^https?:\/\//.test(body.url))
          return refuse('url must be an http(s) URL', 400);
        const cfg: CallbackConfig = {
          url: body.url,
          token: typeof body.token === 'string' ? body.token : SEED.callbackToken,
          encodingAesKey: typeof body.encodingAesKey === 'string' ? body.encodingAesKey : SEED.encodingAesKey,
          format: body.format === 'json' ? 'json' : 'xml',
        };
        if (body.verify !== false) {
          // Saving the URL in the console runs the verification handshake first (spec §4.1).
          const v = await dispatcher.verify(cfg, agentId);
          if (!v.ok) return json({ ok: false, errcode: 40057, reason: v.reason }, 400);
        }
        app.callback = cfg;
        return json({ ok: true, callback: cfg });
      }
      case 'callbacks':
        if (id === 'idle') {
          await dispatcher.idle();
          return json({ ok: true });
        }
        if (m === 'DELETE') {
          w.events.length = 0;
          w.deliveries.length = 0;
          return json({ ok: true });
        }
        return json({ events: w.events, deliveries: w.deliveries });
      case 'callback-faults':
        if (m === 'DELETE')
          Object.assign(w.callbackFaults, {
            dropNext: 0,
            dropRate: 0,
            delayMs: 0,
            duplicateNext: 0,
            duplicateTimes: 2,
          });
        else if (m === 'POST') {
          for (const k of Object.keys(w.callbackFaults) as (keyof typeof w.callbackFaults)[]) {
            const v = body[k];
            if (typeof v === 'number' && Number.isFinite(v) && v >= 0) w.callbackFaults[k] = v;
          }
        }
        return json(w.callbackFaults);
      case 'callback-settings':
        if (m === 'POST') {
          for (const k of ['timeoutMs', 'verifyTimeoutMs', 'retries'] as const) {
            const v = body[k];
            if (typeof v === 'number' && v >= 0) w.callbackSettings[k] = v;
          }
          if (Array.isArray(body.retryDelaysMs))
            w.callbackSettings.retryDelaysMs = body.retryDelaysMs.map(Number);
        }
        return json(w.callbackSettings);
      case 'tokens':
        if (id === 'revoke' && m === 'POST') {
          return json({
            revoked: revokeTokens(w, body.agentId === undefined ? undefined : Number(body.agentId)),
          });
        }
        if (id === 'ttl' && m === 'POST' && typeof body.seconds === 'number')
          w.tokenTtlSeconds = body.seconds;
        return json({ tokens: w.tokens.size, ttlSeconds: w.tokenTtlSeconds });
      case 'clock':
        if (m === 'POST') {
          const adv = Number(body.advanceSeconds ?? 0);
          if (Number.isFinite(adv)) w.clockOffsetMs += adv * 1000;
        }
        return json({ clockOffsetMs: w.clockOffsetMs, now: Date.now() + w.clockOffsetMs });
      case 'limits':
        if (m === 'DELETE') clearLimits(w);
        else if (m === 'POST') {
          if (typeof body.enabled === 'boolean') w.limits.enabled = body.enabled;
          if (isObj(body.perMinute)) Object.assign(w.limits.perMinute, body.perMinute);
          if (isObj(body.perHour)) Object.assign(w.limits.perHour, body.perHour);
          for (const k of [
            'concurrency',
            'processingMs',
            'messagesPerMemberPerMinute',
            'robotPerMinute',
            'badSecretsPerHour',
          ] as const) {
            if (typeof body[k] === 'number') w.limits[k] = body[k] as number;
          }
        }
        return json(w.limits);
      case 'ban': {
        const path = typeof body.path === 'string' ? body.path : '*';
        const until = ban(w, path, typeof body.seconds === 'number' ? body.seconds : 60);
        return json({ path, until });
      }
      case 'calls':
        if (m === 'DELETE') w.calls.length = 0;
        return json({ calls: w.calls, counts: countBy(w.calls.map((c) => c.path)) });
      case 'heal':
        clearLimits(w);
        Object.assign(w.callbackFaults, {
          dropNext: 0,
          dropRate: 0,
          delayMs: 0,
          duplicateNext: 0,
          duplicateTimes: 2,
        });
        Object.assign(deps.server().faults, NO_FAULTS);
        return json({ ok: true });
      case 'crypto':
        if (id === 'decrypt' && m === 'POST') {
          const key = typeof body.encodingAesKey === 'string' ? body.encodingAesKey : SEED.encodingAesKey;
          const d = decrypt(key, String(body.encrypt ?? ''));
          return json({ message: d.message, receiveId: d.receiveId, random: d.random.toString('latin1') });
        }
        return refuse('POST /__sandbox/crypto/decrypt', 404);
      default:
        return refuse(`unknown admin path ${req.path}`, 404);
    }
  } catch (err) {
    if (err instanceof ActionRefused || err instanceof ClickRefused) return refuse(err.message);
    if (err instanceof WxCryptError) return refuse(`${err.code} ${err.message}`, 400);
    throw err;
  }
}

function countBy(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}
