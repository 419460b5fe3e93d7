/**
 * The group robot webhook `POST /cgi-bin/webhook/send?key=KEY` (spec §6.3, §10.15): no access_token,
 * the key is the credential; 93000/93004/93008 for an unknown, disabled or removed robot; at most 20
 * messages per minute per robot (45009, then blocked for the rest of the 60 s); text ≤ 2048 bytes,
 * markdown ≤ 4096 bytes.
 */
import { WecomApiError } from './errors.ts';
import { countAgainst, WINDOWS } from './limits.ts';
import { now, type WecomWorld } from './state.ts';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const TYPES = new Set(['text', 'markdown', 'markdown_v2', 'image', 'news', 'file', 'voice', 'template_card']);

export function robotSend(w: WecomWorld, key: string | null, body: unknown): Json {
  const robot = key ? w.robots.get(key) : undefined;
  if (!robot) throw new WecomApiError(93000);
  if (robot.disabled) throw new WecomApiError(93004);
  if (!robot.inGroup) throw new WecomApiError(93008);
  if (w.limits.robotPerMinute > 0)
    countAgainst(w, `robot:${robot.key}`, w.limits.robotPerMinute, WINDOWS.MINUTE);
  if (!isObj(body)) throw new WecomApiError(40058, 'body is not json');
  const msgtype = body.msgtype;
  if (typeof msgtype !== 'string' || !TYPES.has(msgtype)) throw new WecomApiError(40008);
  const content = body[msgtype];
  if (!isObj(content)) throw new WecomApiError(44004);
  if (msgtype === 'text' || msgtype === 'markdown' || msgtype === 'markdown_v2') {
    if (typeof content.content !== 'string' || !content.content) throw new WecomApiError(44004);
    const max = msgtype === 'text' ? 2048 : 4096;
    if (Buffer.byteLength(content.content, 'utf8') > max)
      throw new WecomApiError(45002, `content over ${max} bytes`);
  }
  robot.messages.push({ msgtype, body: content, at: now(w) });
  return {};
}
