/**
 * `GET /cgi-bin/gettoken` and the access_token check every other call makes (spec §2, §10.3): one
 * token per (corp, app), the same token while valid (`expires_in` 7200), 40013 for a wrong corpid,
 * 40001 for a wrong secret, 41001 without a token, 40014 for an unknown or revoked token, 42001 for
 * an expired one, and the one-hour IP block (45009) after too many wrong secrets.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxRequest } from '../common/server.ts';
import { WecomApiError } from './errors.ts';
import { type App, now, type WecomWorld } from './state.ts';

export function getToken(w: WecomWorld, req: SandboxRequest): Record<string, unknown> {
  const corpid = req.query.get('corpid');
  const secret = req.query.get('corpsecret');
  if (!corpid) throw new WecomApiError(41002);
  if (!secret) throw new WecomApiError(41004);
  const t = now(w);
  const fails = (w.badSecrets.get(req.ip) ?? []).filter((x) => x > t - 3_600_000);
  if (fails.length >= w.limits.badSecretsPerHour) {
    throw new WecomApiError(45009, 'too many invalid secrets from this ip, blocked for one hour');
  }
  if (corpid !== w.corpId) throw new WecomApiError(40013);
  const app = [...w.apps.values()].find((a) => a.secret === secret);
  if (!app) {
    fails.push(t);
    w.badSecrets.set(req.ip, fails);
    throw new WecomApiError(40001, 'invalid secret');
  }
  const current = w.currentToken.get(app.agentId);
  const known = current ? w.tokens.get(current) : undefined;
  if (current && known && !known.revoked && known.expiresAt > t) {
    // Within validity the same token comes back (spec §2). expires_in stays 7200 (§11.9 is open).
    return { access_token: current, expires_in: w.tokenTtlSeconds };
  }
  const token = randomBytes(48).toString('base64url');
  w.tokens.set(token, { agentId: app.agentId, expiresAt: t + w.tokenTtlSeconds * 1000, revoked: false });
  w.currentToken.set(app.agentId, token);
  return { access_token: token, expires_in: w.tokenTtlSeconds };
}

/** The app behind the request's access_token, or the token error WeCom answers. */
export function appOf(w: WecomWorld, req: SandboxRequest): App {
  const token = req.query.get('access_token');
  if (!token) throw new WecomApiError(41001);
  const t = w.tokens.get(token);
  if (!t || t.revoked) throw new WecomApiError(40014);
  if (t.expiresAt <= now(w)) throw new WecomApiError(42001);
  const app = w.apps.get(t.agentId);
  if (!app) throw new WecomApiError(40014);
  return app;
}

/** Early invalidation "for operational reasons" (spec §2): the next call with the token gets 40014. */
export function revokeTokens(w: WecomWorld, agentId?: number): number {
  let n = 0;
  for (const [token, t] of w.tokens) {
    if (agentId !== undefined && t.agentId !== agentId) continue;
    if (!t.revoked) n++;
    t.revoked = true;
    if (w.currentToken.get(t.agentId) === token) w.currentToken.delete(t.agentId);
  }
  return n;
}
