import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  type AuditChainRow,
  auditHash,
  canonicalJson,
  createChainVerifier,
  GENESIS_HASH,
  verifyChain,
} from './audit-hash.ts';

/** Builds a valid chain of `n` rows the way the store appends them. */
function chain(n: number): AuditChainRow[] {
  const rows: AuditChainRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const entry = {
      seq,
      at: 1_760_000_000_000 + seq,
      actor: seq % 2 ? 'user:wangfang' : 'system',
      action: 'connection.save',
      target: `connection:kingdee-${seq}`,
      detail: { version: seq, fields: ['appSecret', 'acctId'], note: '金蝶云星空' },
    };
    const hash = auditHash(prev, entry);
    rows.push({ ...entry, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

const headOf = (rows: AuditChainRow[]) => ({
  seq: rows[rows.length - 1].seq,
  hash: rows[rows.length - 1].hash,
});

describe('canonicalJson', () => {
  test('sorts keys at every depth and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: null } }), '{"a":{"c":null,"d":[3,1]},"b":1}');
    assert.equal(
      canonicalJson({ a: { c: null, d: [3, 1] }, b: 1 }),
      canonicalJson({ b: 1, a: { d: [3, 1], c: null } }),
    );
  });

  test('is stable through a JSON round trip (what a database does to `detail`)', () => {
    const v = { z: '桥', when: new Date(Date.UTC(2026, 0, 2)), skip: undefined, list: [undefined, 1.5, -0] };
    assert.equal(canonicalJson(v), '{"list":[null,1.5,0],"when":"2026-01-02T00:00:00.000Z","z":"桥"}');
    assert.equal(canonicalJson(JSON.parse(JSON.stringify(v))), canonicalJson(v));
  });

  test('matches JSON.stringify on scalars and refuses BigInt', () => {
    assert.equal(canonicalJson('a"b\n'), JSON.stringify('a"b\n'));
    assert.equal(canonicalJson(Number.NaN), 'null');
    assert.equal(canonicalJson(undefined), 'null');
    assert.equal(canonicalJson(true), 'true');
    assert.throws(() => canonicalJson({ n: 1n }), /BigInt/);
  });
});

describe('auditHash', () => {
  test('is sha256 hex of prevHash followed by the canonical entry', () => {
    const entry = { seq: 1, at: 5, actor: 'a', action: 'x', target: 't', detail: { k: 1 } };
    const expected = createHash('sha256')
      .update(GENESIS_HASH + '{"action":"x","actor":"a","at":5,"detail":{"k":1},"seq":1,"target":"t"}')
      .digest('hex');
    assert.equal(auditHash(GENESIS_HASH, entry), expected);
    assert.equal(GENESIS_HASH, '0'.repeat(64));
  });

  test('covers only the six entry fields, in any key order', () => {
    const a = auditHash(GENESIS_HASH, {
      seq: 1,
      at: 5,
      actor: 'a',
      action: 'x',
      target: 't',
      detail: { p: 1, q: 2 },
    });
    const row = {
      hash: 'ignored',
      prevHash: 'ignored',
      detail: { q: 2, p: 1 },
      target: 't',
      action: 'x',
      actor: 'a',
      at: 5,
      seq: 1,
    };
    assert.equal(auditHash(GENESIS_HASH, row), a);
    assert.notEqual(auditHash('f'.repeat(64), row), a);
  });
});

describe('verifyChain', () => {
  test('accepts an intact chain, with or without its head, and an empty log', () => {
    const rows = chain(5);
    assert.deepEqual(verifyChain(rows), { ok: true, count: 5 });
    assert.deepEqual(verifyChain(rows, headOf(rows)), { ok: true, count: 5 });
    assert.deepEqual(verifyChain([]), { ok: true, count: 0 });
    assert.deepEqual(verifyChain([], { seq: 0, hash: GENESIS_HASH }), { ok: true, count: 0 });
  });

  test('accepts rows that went through JSON (as read back from a store)', () => {
    const rows = JSON.parse(JSON.stringify(chain(3)));
    assert.deepEqual(verifyChain(rows), { ok: true, count: 3 });
  });

  test('detects a changed row', () => {
    const rows = chain(5);
    rows[2] = { ...rows[2], detail: { ...(rows[2].detail as object), version: 99 } };
    const v = verifyChain(rows, headOf(rows));
    assert.equal(v.ok, false);
    assert.equal(!v.ok && v.seq, 3);
    assert.match(!v.ok ? v.reason : '', /row 3 was changed/);
  });

  test('detects a row whose hash was recomputed but whose successor still links to the old one', () => {
    const rows = chain(4);
    const changed = { ...rows[1], actor: 'mallory' };
    changed.hash = auditHash(rows[0].hash, changed);
    rows[1] = changed;
    const v = verifyChain(rows);
    assert.deepEqual(v, { ok: false, seq: 3, reason: 'row 3 does not link to row 2: prev_hash differs' });
  });

  test('detects a changed row even when rows carry no prevHash', () => {
    const rows = chain(4).map(({ prevHash: _drop, ...r }) => r);
    rows[1] = { ...rows[1], action: 'connection.delete' };
    const v = verifyChain(rows);
    assert.equal(!v.ok && v.seq, 2);
  });

  test('detects a row deleted in the middle (a seq gap)', () => {
    const rows = chain(5);
    rows.splice(2, 1);
    assert.deepEqual(verifyChain(rows), {
      ok: false,
      seq: 3,
      reason: 'row 3 is missing: the row after 2 is 4',
    });
  });

  test('detects deleted first rows', () => {
    const rows = chain(3).slice(1);
    const v = verifyChain(rows);
    assert.equal(!v.ok && v.seq, 1);
  });

  test('detects a deleted last row only with the head', () => {
    const rows = chain(5);
    const head = headOf(rows);
    rows.pop();
    assert.deepEqual(verifyChain(rows), { ok: true, count: 4 });
    assert.deepEqual(verifyChain(rows, head), {
      ok: false,
      seq: 5,
      reason: 'rows 5..5 are missing: the log ends at 4',
    });
  });

  test('detects rows appended without moving the head, and a head whose hash differs', () => {
    const rows = chain(5);
    const v = verifyChain(rows, { seq: 4, hash: rows[3].hash });
    assert.equal(!v.ok && v.seq, 5);
    const w = verifyChain(rows, { seq: 5, hash: 'a'.repeat(64) });
    assert.equal(!w.ok && w.seq, 5);
  });

  test('detects repeated or reordered rows', () => {
    const rows = chain(3);
    const v = verifyChain([rows[0], rows[1], rows[1], rows[2]]);
    assert.equal(!v.ok && v.seq, 2);
    assert.match(!v.ok ? v.reason : '', /out of order or repeated/);
  });

  test('the incremental verifier gives the same verdicts page by page', () => {
    const rows = chain(10);
    const v = createChainVerifier();
    for (const r of rows.slice(0, 5)) assert.equal(v.push(r).ok, true);
    for (const r of rows.slice(5)) v.push(r);
    assert.deepEqual(v.finish(headOf(rows)), { ok: true, count: 10 });

    const bad = createChainVerifier();
    bad.push(rows[0]);
    const first = bad.push(rows[2]);
    assert.equal(first.ok, false);
    assert.deepEqual(bad.push(rows[3]), first); // the first failure sticks
    assert.deepEqual(bad.finish(headOf(rows)), first);
  });
});
