/**
 * Id generators in the shapes DingTalk uses (spec §15.3): numeric `task_id`s, short base36
 * `request_id`s on the oapi surface, upper-case UUID `requestid`s on the api surface, UUID-like
 * approval instance ids, and the opaque `$:LWCP_v1:$…` / `cid…` ids of the robot protocol (§6.1).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export function requestId(): string {
  let s = '';
  while (s.length < 12) s += Math.floor(Math.random() * 36).toString(36);
  return s;
}

export function apiRequestId(): string {
  return randomUUID().toUpperCase();
}

export function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

/** Opaque, URL-safe base64 text of `bytes` random bytes. */
export function opaque(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** A stable opaque id derived from a seed, so the same user has the same `senderId` every time. */
export function stableOpaque(seed: string, length = 22): string {
  return createHash('sha256').update(seed).digest('base64url').slice(0, length);
}

/** `213d841d_972_1898bb26334_70a7`: the Stream `messageId` shape (spec §8.2). */
export function streamMessageId(): string {
  const now = Date.now().toString(16);
  return `${hex(4)}_${Math.floor(Math.random() * 1000)}_${now}_${hex(2)}`;
}

/** A nonce for event pushes: 8 letters and digits, as the official samples use. */
export function nonce(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of randomBytes(8)) s += alphabet[b % alphabet.length];
  return s;
}

/** Counter-based numeric ids (task ids, approval task ids) that look like DingTalk's. */
export function counter(start: number): () => number {
  let n = start;
  return () => {
    n += 1 + Math.floor(Math.random() * 7);
    return n;
  };
}
