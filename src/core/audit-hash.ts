/**
 * The pure part of the tamper-evident audit log (DESIGN.md, "Security"): every audit row carries
 * `hash = sha256(prevHash + canonicalJson(entry))`, so changing, removing or reordering any row breaks
 * every hash after it. The store keeps the newest `{ seq, hash }` (the head) apart from the rows, so
 * deleting the last rows is detected too. The store appends; `qiao audit verify` calls `verifyChain`.
 */
import { createHash } from 'node:crypto';

/** The `prevHash` of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields a row's hash covers. `at` is epoch milliseconds; `detail` is any JSON object. */
export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string;
  detail: unknown;
}

/** A stored row: the entry plus its link to the previous row. */
export interface AuditChainRow extends AuditEntry {
  /** When present, must equal the previous row's hash (the store keeps it for readability). */
  prevHash?: string;
  hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export type ChainVerdict = { ok: true; count: number } | { ok: false; seq: number; reason: string };

/**
 * JSON with object keys sorted at every depth and no whitespace, so the same value always gives the same
 * text, however its keys were ordered and whether or not it went through a database and back.
 * Follows JSON.stringify otherwise: `toJSON` is honoured, `undefined` and functions are dropped from
 * objects and become `null` in arrays, non-finite numbers become `null`. BigInt is refused (as JSON
 * refuses it) rather than hashed in a form that would not survive a round trip.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value);
  return out === undefined ? 'null' : out;
}

function write(value: unknown): string | undefined {
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('canonicalJson: BigInt cannot be represented in JSON');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map((v) => write(v) ?? 'null').join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  // Code-unit order, as Array.prototype.sort does: the same in every JavaScript engine.
  for (const key of Object.keys(obj).sort()) {
    const v = write(obj[key]);
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

/** sha256 (hex) of the previous row's hash followed by the canonical JSON of this entry's six fields. */
export function auditHash(prevHash: string, entry: AuditEntry): string {
  const { seq, at, actor, action, target, detail } = entry;
  return createHash('sha256')
    .update(prevHash)
    .update(canonicalJson({ seq, at, actor, action, target, detail }))
    .digest('hex');
}

/**
 * Checks rows one at a time, so a store can stream a long log page by page instead of holding it.
 * `push` returns the first failure (and keeps returning it); `finish` compares with the stored head.
 */
export interface ChainVerifier {
  push(row: AuditChainRow): ChainVerdict;
  finish(head?: ChainHead): ChainVerdict;
}

export function createChainVerifier(): ChainVerifier {
  let seq = 0;
  let hash = GENESIS_HASH;
  let failure: ChainVerdict | undefined;
  const fail = (at: number, reason: string): ChainVerdict => {
    failure = { ok: false, seq: at, reason };
    return failure;
  };
  return {
    push(row) {
      if (failure) return failure;
      const expected = seq + 1;
      if (row.seq !== expected) {
        return row.seq > expected
          ? fail(expected, `row ${expected} is missing: the row after ${seq} is ${row.seq}`)
          : fail(row.seq, `row ${row.seq} is out of order or repeated after row ${seq}`);
      }
      if (row.prevHash !== undefined && row.prevHash !== hash) {
        return fail(row.seq, `row ${row.seq} does not link to row ${seq}: prev_hash differs`);
      }
      if (auditHash(hash, row) !== row.hash) {
        return fail(row.seq, `row ${row.seq} was changed: its hash does not match its content`);
      }
      seq = row.seq;
      hash = row.hash;
      return { ok: true, count: seq };
    },
    finish(head) {
      if (failure) return failure;
      if (head) {
        if (head.seq > seq) {
          return fail(seq + 1, `rows ${seq + 1}..${head.seq} are missing: the log ends at ${seq}`);
        }
        if (head.seq < seq) {
          return fail(head.seq + 1, `rows after ${head.seq} were added behind the log's back`);
        }
        if (head.hash !== hash) return fail(seq, `row ${seq} does not match the stored head hash`);
      }
      return { ok: true, count: seq };
    },
  };
}

/**
 * Verifies rows given in `seq` order from the first (seq 1). Finds a changed row (its hash no longer
 * matches), a deleted or inserted row in the middle (a seq gap, or a broken link), and, given the head
 * stored apart from the rows, deleted last rows. Reports the first bad seq.
 */
export function verifyChain(rows: Iterable<AuditChainRow>, head?: ChainHead): ChainVerdict {
  const v = createChainVerifier();
  for (const row of rows) {
    const r = v.push(row);
    if (!r.ok) return r;
  }
  return v.finish(head);
}
