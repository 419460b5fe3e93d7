/**
 * The store suite: the same cases on SQLite and on PostgreSQL (sqlite/sqlite-store.test.ts,
 * postgres/postgres-store.test.ts), like Kysely's dialects sharing one test suite.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Db } from './db.ts';
import { SqlStore } from './sql-store.ts';
import { LeaseLostError, type NewStep, type NextAction, type Store } from './store.ts';

export interface StoreFixture {
  /** A fresh, empty database. */
  open(): Promise<Db>;
  /** A second connection to the same database (for two-process cases); default: unsupported. */
  reopen?(): Promise<Db>;
  /**
   * Whether two connections may hold transactions at once in this process. Not for node:sqlite: its
   * calls are synchronous, so a second connection waiting on the lock would block the first's commit.
   */
  concurrentConnections: boolean;
  close(): Promise<void>;
}

const audit = { actor: 'test', action: 'test', target: 'test' };
const flowDef = (id: string) => ({
  id,
  name: id,
  enabled: true,
  trigger: { type: 'manual' as const },
  vars: {},
  steps: [],
});
const step = (idx: number, name = `s${idx}`): NewStep => ({ idx, name, kind: 'action' });

export function runStoreSuite(name: string, fixture: () => Promise<StoreFixture>): void {
  describe(`store suite: ${name}`, () => {
    let fx: StoreFixture;
    let db: Db;
    let store: Store;
    before(async () => {
      fx = await fixture();
      db = await fx.open();
      store = new SqlStore(db);
      await store.migrate();
    });
    after(async () => {
      await store?.close();
      await fx?.close();
    });

    /** Starts `n` runs of a flow with one queued step each; returns the run ids. */
    async function startRuns(n: number, source = `src-${randomUUID()}`): Promise<string[]> {
      const events = Array.from({ length: n }, (_, i) => ({
        key: `k${i}`,
        type: 'record',
        data: { i },
        runs: [{ id: randomUUID(), flowId: 'f', flowVersion: 1, first: { step: step(0) } }],
        resumes: [],
      }));
      const out = await store.ingest({ source, events });
      return out.flatMap((o) => o.runIds);
    }

    async function claimAll(owner: string, leaseMs = 30_000) {
      const all = [];
      for (;;) {
        const got = await store.claimSteps(owner, 100, leaseMs);
        if (!got.length) return all;
        all.push(...got);
      }
    }

    it('migrates idempotently', async () => {
      await store.migrate();
      await store.migrate();
    });

    it('versions connections and flows, and audits every change', async () => {
      const a = await store.saveConnection(
        { id: 'c1', type: 'http', settings: { baseUrl: 'http://x' }, origin: 'api' },
        audit,
      );
      const b = await store.saveConnection(
        { id: 'c1', type: 'http', settings: { baseUrl: 'http://y' }, origin: 'api' },
        audit,
      );
      assert.equal(a.version, 1);
      assert.equal(b.version, 2);
      assert.deepEqual((await store.getConnection('c1'))?.settings, { baseUrl: 'http://y' });
      assert.equal(await store.deleteConnection('c1', audit), true);
      assert.equal(await store.getConnection('c1'), undefined);
      const f1 = await store.saveFlow(
        { id: 'f', definition: flowDef('f'), origin: 'api', enabled: true },
        audit,
      );
      const f2 = await store.saveFlow(
        { id: 'f', definition: { ...flowDef('f'), name: 'v2' }, origin: 'api', enabled: true },
        audit,
      );
      assert.equal(f2.version, f1.version + 1);
      assert.equal((await store.getFlowVersion('f', f1.version))?.name, 'f', 'old versions are kept');
      assert.equal((await store.getFlow('f'))?.definition.name, 'v2');
      const rows = await store.listAudit({});
      assert.ok(rows.length >= 5);
    });

    it('stores an event once: a duplicate key starts nothing and is counted', async () => {
      const source = `dup-${randomUUID()}`;
      const ev = (runId: string) => ({
        key: 'evt-1',
        type: 'record',
        data: { n: 1 },
        runs: [{ id: runId, flowId: 'f', flowVersion: 1, first: { step: step(0) } }],
        resumes: [],
      });
      const before = (await store.counters()).inbox_duplicates ?? 0;
      const [first] = await store.ingest({ source, events: [ev(randomUUID())] });
      const [second] = await store.ingest({ source, events: [ev(randomUUID())] });
      assert.equal(first.duplicate, false);
      assert.equal(first.runIds.length, 1);
      assert.equal(second.duplicate, true);
      assert.deepEqual(second.runIds, []);
      assert.equal((await store.getInbox(source, 'evt-1'))?.duplicates, 1);
      assert.equal((await store.counters()).inbox_duplicates, before + 1);
      assert.equal(await store.getRun(second.runIds[0] ?? 'none'), undefined);
    });

    it('stores a poll cursor in the same transaction as its page', async () => {
      await store.ingest({
        source: 'poll:f',
        events: [],
        cursor: { flowId: 'cursor-flow', cursor: { time: '2026-01-01', id: '7' } },
      });
      assert.deepEqual(await store.getCursor('cursor-flow'), { time: '2026-01-01', id: '7' });
    });

    it('links the source record of a run, and finds the same link for the next event about it', async () => {
      const mk = (key: string) => ({
        key,
        type: 'record',
        data: {},
        runs: [
          {
            id: randomUUID(),
            flowId: 'f',
            flowVersion: 1,
            source: { connection: 'crm', object: 'account', externalId: '9007199254740993' },
            first: { finish: 'completed' as const },
          },
        ],
        resumes: [],
      });
      const [a] = await store.ingest({ source: 'crm', events: [mk('v1')] });
      const [b] = await store.ingest({ source: 'crm', events: [mk('v2')] });
      const ra = await store.getRun(a.runIds[0]);
      const rb = await store.getRun(b.runIds[0]);
      assert.ok(ra?.run.linkKey);
      assert.equal(rb?.run.linkKey, ra?.run.linkKey);
      assert.equal(await store.findLinkId('crm', 'account', '9007199254740993'), ra?.run.linkKey);
      assert.equal(ra?.run.status, 'completed');
    });

    it('links: a batch gives each record its own link; a record linked elsewhere merges its link, unless they clash', async () => {
      /** A run about `source` whose one step writes `links`; the run's link key afterwards. */
      const runWriting = async (
        source: { connection: string; object: string; externalId: string },
        links: { connection: string; object: string; externalId: string }[],
      ) => {
        await claimAll('drain');
        const [out] = await store.ingest({
          source: source.connection,
          events: [
            {
              key: `links-${randomUUID()}`,
              type: 'record',
              data: {},
              runs: [{ id: randomUUID(), flowId: 'f', flowVersion: 1, source, first: { step: step(0) } }],
              resumes: [],
            },
          ],
        });
        const [s] = await claimAll('w');
        assert.equal(s.runId, out.runIds[0]);
        await store.completeStep({
          stepId: s.id,
          runId: s.runId,
          owner: 'w',
          status: 'completed',
          attempt: { attempt: 1, at: Date.now(), durationMs: 1, outcome: 'completed' },
          links,
          next: { finish: 'completed' },
        });
        return (await store.getRun(s.runId))!.run.linkKey!;
      };
      const u = randomUUID().slice(0, 8);
      const rec = (connection: string, object: string, id: string) => ({
        connection,
        object,
        externalId: `${id}-${u}`,
      });

      // A file import writes two accounts in one batch: neither is the file's record, nor each other's.
      const file = await runWriting(rec('file', 'row', 'dealers.csv'), [
        rec('crm', 'account', 'N1'),
        rec('crm', 'account', 'N2'),
      ]);
      const n1 = await store.findLinkId('crm', 'account', `N1-${u}`);
      const n2 = await store.findLinkId('crm', 'account', `N2-${u}`);
      assert.ok(n1 && n2);
      assert.notEqual(n1, n2, 'two accounts of one batch are two entities');
      assert.notEqual(n1, file);
      assert.equal(await store.findExternalId(file, 'crm', 'account'), undefined);

      // The ERP half saw customer X first (its own link); the CRM half's run about N1 then writes X:
      // one customer, so the two links become N1's.
      const xRun = await runWriting(rec('erp', 'BD_Customer', 'X'), []);
      assert.notEqual(xRun, n1);
      const n1Run = await runWriting(rec('crm', 'account', 'N1'), [rec('erp', 'BD_Customer', 'X')]);
      assert.equal(n1Run, n1);
      assert.equal(await store.findLinkId('erp', 'BD_Customer', `X-${u}`), n1);
      assert.equal(await store.findExternalId(n1, 'erp', 'BD_Customer'), `X-${u}`);
      assert.equal(await store.findExternalId(n1, 'crm', 'account'), `N1-${u}`);
      assert.equal(
        await store.findExternalId(xRun, 'erp', 'BD_Customer'),
        undefined,
        'the old link is empty',
      );

      // N2's run writes customer Y, then (wrongly) X: X belongs to N1 and N2 already has Y — two
      // entities, so X stays N1's and nothing is merged.
      const n2Run = await runWriting(rec('crm', 'account', 'N2'), [rec('erp', 'BD_Customer', 'Y')]);
      assert.equal(n2Run, n2);
      await runWriting(rec('crm', 'account', 'N2'), [rec('erp', 'BD_Customer', 'X')]);
      assert.equal(await store.findLinkId('erp', 'BD_Customer', `X-${u}`), n1);
      assert.equal(await store.findExternalId(n2, 'erp', 'BD_Customer'), `Y-${u}`);
      assert.equal(await store.findExternalId(n1, 'crm', 'account'), `N1-${u}`);
    });

    it('claims each queued step once, and takes back a step whose lease ran out', async () => {
      await claimAll('drain');
      await startRuns(30);
      const a = await store.claimSteps('a', 20, 30_000);
      const b = await store.claimSteps('b', 20, 30_000);
      assert.equal(a.length, 20);
      assert.equal(b.length, 10);
      assert.equal(new Set([...a, ...b].map((s) => s.id)).size, 30, 'no step claimed twice');
      assert.ok(a.every((s) => s.status === 'running' && s.leaseOwner === 'a'));
      const [short] = await startRuns(1);
      const [s] = await store.claimSteps('dies', 1, 1);
      assert.equal(s.runId, short);
      await new Promise((r) => setTimeout(r, 10));
      assert.ok((await store.recoverLeases()) >= 1);
      const again = await store.claimSteps('c', 10, 30_000);
      assert.ok(
        again.some((x) => x.id === s.id),
        'the expired step is claimable again',
      );
      await assert.rejects(
        store.completeStep({
          stepId: s.id,
          runId: s.runId,
          owner: 'dies',
          status: 'completed',
          attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'completed' },
          next: { finish: 'completed' },
        }),
        LeaseLostError,
        'the old owner cannot complete it',
      );
      await claimAll('drain');
    });

    it('commits a step, its links, its audit row and the next step together — or none of them', async () => {
      const [runId] = await startRuns(1);
      const [s] = await claimAll('w');
      const auditBefore = (await store.listAudit({ limit: 10_000 })).length;
      await assert.rejects(
        store.completeStep({
          stepId: s.id,
          runId,
          owner: 'someone-else',
          status: 'completed',
          output: { ok: 1 },
          attempt: { attempt: 1, at: Date.now(), durationMs: 1, outcome: 'completed' },
          links: [{ connection: 'erp', object: 'BD_Customer', externalId: 'X1' }],
          audit: { actor: 'flow:f', action: 'write', target: 'erp' },
          next: { step: step(1) },
        }),
        LeaseLostError,
      );
      assert.equal(await store.findLinkId('erp', 'BD_Customer', 'X1'), undefined, 'no link written');
      assert.equal((await store.listAudit({ limit: 10_000 })).length, auditBefore, 'no audit row written');
      await store.completeStep({
        stepId: s.id,
        runId,
        owner: 'w',
        status: 'completed',
        output: { ok: 1 },
        attempt: { attempt: 1, at: Date.now(), durationMs: 1, outcome: 'completed' },
        links: [{ connection: 'erp', object: 'BD_Customer', externalId: 'X1' }],
        contentHash: 'h1',
        audit: { actor: 'flow:f', action: 'write', target: 'erp' },
        next: { step: step(1, 'second') },
      });
      const got = await store.getRun(runId);
      assert.equal(got?.steps.length, 2);
      assert.equal(got?.steps[0].status, 'completed');
      assert.deepEqual(got?.steps[0].output, { ok: 1 });
      assert.equal(got?.steps[1].status, 'queued');
      assert.equal(got?.steps[1].idempotencyKey, `${runId}:1`);
      const linkId = await store.findLinkId('erp', 'BD_Customer', 'X1');
      assert.equal(linkId, got?.run.linkKey);
      assert.equal(await store.findExternalId(linkId!, 'erp', 'BD_Customer'), 'X1');
      assert.equal((await store.findLinks({ connection: 'erp' }))[0].contentHash, 'h1');
      assert.equal((await store.listAudit({ limit: 10_000 })).length, auditBefore + 1);
      const [next] = await claimAll('w');
      await store.completeStep({
        stepId: next.id,
        runId,
        owner: 'w',
        status: 'completed',
        attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'completed' },
        next: { finish: 'completed' },
      });
      assert.equal((await store.getRun(runId))?.run.status, 'completed');
    });

    it('schedules a retry for later and counts the attempt unless it was a rate-limit wait', async () => {
      const [runId] = await startRuns(1);
      const [s] = await claimAll('w');
      const err = {
        name: 'TransientError',
        message: 'boom',
        errorClass: 'transient' as const,
        fault: 'operational' as const,
      };
      await store.retryStep({
        stepId: s.id,
        owner: 'w',
        availableAt: Date.now() + 60_000,
        attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'retry', error: err },
        error: err,
        countAttempt: true,
        input: { a: 1 },
      });
      assert.equal((await store.claimSteps('w', 10, 1000)).length, 0, 'not before its time');
      const got = (await store.getRun(runId))!.steps[0];
      assert.equal(got.status, 'queued');
      assert.equal(got.attempt, 1);
      assert.deepEqual(got.input, { a: 1 });
      assert.equal(got.history.length, 1);
      assert.equal(got.history[0].error?.message, 'boom');
      assert.ok((await store.nextWakeAt())! > Date.now() + 50_000);
    });

    it('dead-letters a step; an edited dead letter replays the same step with the same idempotency key, once', async () => {
      await claimAll('drain');
      const [runId] = await startRuns(1);
      const [s] = await claimAll('w');
      const err = {
        name: 'PermanentError',
        message: '客户编码不存在',
        errorClass: 'permanent' as const,
        fault: 'user' as const,
        partner: { system: 'kingdee', code: 'E1', message: '客户编码不存在', field: 'FCustId' },
      };
      const dlId = randomUUID();
      await store.deadLetterStep({
        stepId: s.id,
        runId,
        owner: 'w',
        flowId: 'f',
        stepName: 's0',
        connection: 'erp',
        action: 'save',
        input: { FCustId: 'C9' },
        error: err,
        attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'dead', error: err },
        deadLetterId: dlId,
        next: { finish: 'failed', error: err },
      });
      assert.equal((await store.getRun(runId))?.run.status, 'failed');
      const dl = await store.getDeadLetter(dlId);
      assert.equal(dl?.status, 'open');
      assert.equal(dl?.error.partner?.field, 'FCustId');
      assert.ok((await store.listDeadLetters({ status: 'open' })).some((d) => d.id === dlId));
      await store.editDeadLetter(dlId, { FCustId: 'C0001' }, audit);
      await store.replayDeadLetter(dlId, audit);
      await assert.rejects(store.replayDeadLetter(dlId, audit), /not open/);
      const [again] = await claimAll('w');
      assert.equal(again.id, s.id, 'the same step row');
      assert.equal(again.idempotencyKey, s.idempotencyKey);
      assert.deepEqual(again.input, { FCustId: 'C0001' });
      assert.equal((await store.getRun(runId))?.run.status, 'running');
    });

    it('stores a wait with its timers; an event resumes it once and cancels its timers', async () => {
      const [runId] = await startRuns(1);
      const [s] = await claimAll('w');
      await store.completeStep({
        stepId: s.id,
        runId,
        owner: 'w',
        status: 'waiting',
        input: { correlation: 'SP-1' },
        attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'waiting' },
        wait: {
          connection: 'wecom',
          eventType: 'approval.change',
          correlation: 'SP-1',
          timers: [
            {
              id: `${s.id}:timeout`,
              dueAt: Date.now() - 1,
              kind: 'timeout',
              runId,
              stepId: s.id,
              payload: { onTimeout: 'fail' },
            },
          ],
        },
      });
      assert.equal((await store.getRun(runId))?.run.status, 'waiting');
      const waits = await store.findWaits('wecom', 'approval.change', 'SP-1');
      assert.equal(waits.length, 1);
      assert.ok((await store.listWaits({ connection: 'wecom' })).some((w) => w.correlation === 'SP-1'));
      assert.equal(
        (await store.listWaits({ connection: 'wecom', createdBefore: 0 })).length,
        0,
        'too young to reconcile',
      );
      const resume = {
        stepId: s.id,
        runId,
        output: { sp_status: 2 },
        next: { finish: 'completed' as const },
      };
      assert.equal(await store.resumeWait(resume), true);
      assert.equal(await store.resumeWait(resume), false, 'a second resume does nothing');
      assert.equal((await store.getRun(runId))?.run.status, 'completed');
      assert.equal((await store.findWaits('wecom', 'approval.change', 'SP-1')).length, 0);
      assert.equal(
        (await store.claimTimers('t', 10)).filter((t) => t.stepId === s.id).length,
        0,
        'its timer was cancelled',
      );
    });

    it('fires each due timer once and can reschedule it', async () => {
      const [runId] = await startRuns(1);
      const [s] = await claimAll('w');
      await store.completeStep({
        stepId: s.id,
        runId,
        owner: 'w',
        status: 'waiting',
        attempt: { attempt: 1, at: 0, durationMs: 0, outcome: 'waiting' },
        wait: {
          connection: 'c',
          eventType: 'e',
          correlation: `x-${runId}`,
          timers: [
            {
              id: `${s.id}:t`,
              dueAt: Date.now() - 1,
              kind: 'timer',
              runId,
              stepId: s.id,
              payload: { index: 0 },
            },
          ],
        },
      });
      const first = await store.claimTimers('a', 10);
      const second = await store.claimTimers('b', 10);
      assert.equal(first.filter((t) => t.id === `${s.id}:t`).length, 1);
      assert.equal(second.filter((t) => t.id === `${s.id}:t`).length, 0, 'claimed once');
      await store.rescheduleTimer(`${s.id}:t`, Date.now() - 1);
      const third = await store.claimTimers('c', 10);
      assert.equal(third.find((t) => t.id === `${s.id}:t`)?.attempt, 2);
      await store.finishTimer(`${s.id}:t`);
      assert.equal((await store.claimTimers('d', 10)).length, 0);
    });

    it('keeps a hash-chained audit log that detects a changed or deleted row', async () => {
      await store.appendAudit([
        { actor: 'alice', action: 'connection.update', target: 'connection:erp', detail: { 字段: '密码' } },
      ]);
      assert.equal((await store.verifyAudit()).ok, true);
      const rows = await store.listAudit({ limit: 10_000 });
      const mid = rows[Math.floor(rows.length / 2)];
      await db.run('UPDATE audit SET actor = ? WHERE seq = ?', ['mallory', mid.seq]);
      const changed = await store.verifyAudit();
      assert.equal(changed.ok, false);
      if (!changed.ok) assert.equal(changed.seq, mid.seq);
      await db.run('UPDATE audit SET actor = ? WHERE seq = ?', [mid.actor, mid.seq]);
      assert.equal((await store.verifyAudit()).ok, true);
      const last = rows[rows.length - 1];
      await db.run('DELETE FROM audit WHERE seq = ?', [last.seq]);
      assert.equal((await store.verifyAudit()).ok, false, 'a deleted last row is detected');
    });

    it('elects one scheduler leader', async () => {
      if (!fx.reopen) return;
      const other = new SqlStore(await fx.reopen());
      try {
        assert.equal(await store.tryLead('sched', 'one', 10_000), true);
        assert.equal(await store.tryLead('sched', 'one', 10_000), true, 'the leader keeps leading');
        assert.equal(await other.tryLead('sched', 'two', 10_000), false, 'a second process does not lead');
      } finally {
        await other.close();
      }
    });

    it('hands out every step exactly once to two concurrent claimers', async () => {
      await claimAll('drain');
      const n = 500;
      await startRuns(n);
      const other = fx.reopen && fx.concurrentConnections ? new SqlStore(await fx.reopen()) : store;
      try {
        const seen = new Map<string, string>();
        const claimer = async (s: Store, owner: string) => {
          for (;;) {
            const got = await s.claimSteps(owner, 7, 30_000);
            if (!got.length) return;
            for (const x of got) {
              assert.equal(seen.has(x.id), false, `step ${x.id} claimed by ${seen.get(x.id)} and ${owner}`);
              seen.set(x.id, owner);
            }
          }
        };
        await Promise.all([claimer(store, 'p'), claimer(other, 'q')]);
        assert.equal(seen.size, n);
      } finally {
        if (other !== store) await other.close();
      }
    });

    it('reports queue depth by status', async () => {
      const d = await store.depth();
      assert.ok((d.steps.completed ?? 0) >= 1);
      assert.ok((d.steps.queued ?? 0) >= 1, 'the replayed step is queued');
      assert.equal(d.deadLetters, 0, 'the only dead letter was replayed');
      assert.equal(d.waits, 1, 'the timer case left one wait');
    });

    it('keeps the values a sync pair agreed on, one version after another', async () => {
      assert.equal(await store.getSyncState('customer', 'C0001'), undefined);
      const first = await store.saveSyncState({
        pair: 'customer',
        key: 'C0001',
        base: { name: '华锐精密', creditLimit: 2_000_000 },
        hash: 'h1',
        ids: { crm: '9007199254741001', erp: '100001' },
        runId: 'r1',
      });
      assert.equal(first.version, 1);
      await store.saveSyncState({
        ...first,
        base: { name: '华锐', creditLimit: 1 },
        hash: 'h2',
        runId: 'r2',
      });
      const got = await store.getSyncState('customer', 'C0001');
      assert.deepEqual(
        { base: got?.base, hash: got?.hash, ids: got?.ids, runId: got?.runId, version: got?.version },
        {
          base: { name: '华锐', creditLimit: 1 },
          hash: 'h2',
          ids: { crm: '9007199254741001', erp: '100001' },
          runId: 'r2',
          version: 2,
        },
      );
      assert.equal(await store.getSyncState('customer', 'C0002'), undefined, 'keyed by pair and key');
    });

    it('opens one review per pair and key; a second opener joins it; it is resolved once', async () => {
      const auditBefore = (await store.listAudit({ limit: 10_000 })).length;
      const base = { pair: 'customer', key: 'C0003', connection: 'hub', flowId: 'f' };
      const a = await store.openReview(
        { ...base, id: randomUUID(), runId: 'ra', detail: { conflicts: ['address'] } },
        { actor: 'flow:f', action: 'review.open', target: 'review:C0003' },
      );
      const b = await store.openReview({ ...base, id: randomUUID(), runId: 'rb', detail: { other: true } });
      assert.equal(a.created, true);
      assert.equal(b.created, false);
      assert.equal(b.review.id, a.review.id, 'the second opener gets the open review');
      assert.equal(b.review.runId, 'ra');
      assert.equal((await store.listAudit({ limit: 10_000 })).length, auditBefore + 1, 'opening is audited');
      assert.equal(await store.updateReview(a.review.id, { conflicts: ['address', 'industry'] }), true);
      assert.deepEqual((await store.getReview(a.review.id))?.detail, { conflicts: ['address', 'industry'] });

      const resolved = await store.resolveReview(
        a.review.id,
        { resolution: { choose: 'crm' }, by: '李娜' },
        { actor: '李娜', action: 'review.resolve', target: `review:${a.review.id}` },
      );
      assert.equal(resolved.status, 'resolved');
      assert.equal(resolved.resolvedBy, '李娜');
      await assert.rejects(
        store.resolveReview(a.review.id, { resolution: { choose: 'erp' }, by: 'x' }, audit),
        /is resolved, not open/,
      );
      await assert.rejects(
        store.resolveReview(randomUUID(), { resolution: {}, by: 'x' }, audit),
        /does not exist/,
      );
      const again = await store.getReview(a.review.id);
      assert.deepEqual(again?.resolution, { choose: 'crm' }, 'the first resolution stands');
      assert.equal(
        await store.updateReview(a.review.id, { late: true }),
        false,
        'a resolved review is final',
      );
      assert.equal((await store.listAudit({ limit: 10_000 })).length, auditBefore + 2);

      // Resolved, the pair can get a new review; lists filter by status, pair, key and ids.
      const c = await store.openReview({ ...base, id: randomUUID(), detail: {} });
      assert.equal(c.created, true);
      assert.deepEqual(
        (await store.listReviews({ pair: 'customer', key: 'C0003' })).map((r) => r.id).sort(),
        [c.review.id, a.review.id].sort(),
      );
      assert.deepEqual(
        (await store.listReviews({ status: 'open', key: 'C0003' })).map((r) => r.id),
        [c.review.id],
      );
      assert.deepEqual(
        (await store.listReviews({ ids: [a.review.id, randomUUID()] })).map((r) => r.status),
        ['resolved'],
      );
      assert.deepEqual(await store.listReviews({ ids: [] }), []);
    });
    // ── serial keys ────────────────────────────────────────────────────────────────────────────────

    /** Stores one event a run of flow `fs` with the given serial key; returns the run id. */
    async function serialRun(
      st: Store,
      key: string | undefined,
      claimFor?: { owner: string; leaseMs: number },
    ) {
      const id = randomUUID();
      const [out] = await st.ingest({
        source: 'serial',
        events: [
          {
            key: `e-${id}`,
            type: 'record',
            data: { key },
            runs: [{ id, flowId: 'fs', flowVersion: 1, serialKey: key, first: { step: step(0) } }],
            resumes: [],
          },
        ],
        claimFor,
      });
      return { id, claimed: out.claimed ?? [] };
    }
    const done = { attempt: 1, at: 0, durationMs: 0, outcome: 'completed' as const };
    const statusOf = async (runId: string, idx = 0) =>
      (await store.getRun(runId))!.steps.find((x) => x.idx === idx)?.status;

    it('serial keys: runs of a key take turns in the order they were stored; other keys go on', async () => {
      await claimAll('drain');
      const a1 = (await serialRun(store, 'A')).id;
      const a2 = (await serialRun(store, 'A')).id;
      const b1 = (await serialRun(store, 'B')).id;
      const a3 = (await serialRun(store, 'A')).id;
      const free = (await serialRun(store, undefined)).id;
      assert.equal(await statusOf(a2), 'blocked');
      assert.equal((await store.getRun(a2))?.run.serialKey, 'A');
      let got = await claimAll('w');
      assert.deepEqual(
        got.map((x) => x.runId).sort(),
        [a1, b1, free].sort(),
        'one run of A, and B, and the rest',
      );
      const byRun = new Map(got.map((x) => [x.runId, x]));
      const finish = (runId: string, stepId: string, next: NextAction = { finish: 'completed' }) =>
        store.completeStep({ stepId, runId, owner: 'w', status: 'completed', attempt: done, next });

      // A1 keeps the key between its steps; when it ends, A2 (not A3) gets it.
      await finish(a1, byRun.get(a1)!.id, { step: step(1) });
      const [a1s1] = await claimAll('w');
      assert.equal(a1s1.runId, a1);
      assert.equal(await statusOf(a2), 'blocked');
      await finish(a1, a1s1.id);
      got = await claimAll('w');
      assert.deepEqual(
        got.map((x) => x.runId),
        [a2],
      );

      // A2 waits (for a person): the next run of A goes on meanwhile.
      await store.completeStep({
        stepId: got[0].id,
        runId: a2,
        owner: 'w',
        status: 'waiting',
        attempt: { ...done, outcome: 'waiting' },
        wait: { connection: 'c', eventType: 'review', correlation: `r-${a2}`, timers: [] },
      });
      const [a3s0] = await claimAll('w');
      assert.equal(a3s0.runId, a3);
      // Resumed, A2 takes its turn again: behind A3, which holds the key now.
      const a2wait = (await store.getRun(a2))!.steps[0];
      assert.equal(
        await store.resumeWait({ stepId: a2wait.id, runId: a2, output: {}, next: { step: step(1) } }),
        true,
      );
      assert.equal(await statusOf(a2, 1), 'blocked');
      assert.deepEqual(await claimAll('w'), []);

      // A3 fails (dead letter): A2 goes on; when it ends, the key is free and a new run of A starts at once.
      const err = {
        name: 'PermanentError',
        message: 'no',
        errorClass: 'permanent' as const,
        fault: 'user' as const,
      };
      const dlId = randomUUID();
      await store.deadLetterStep({
        stepId: a3s0.id,
        runId: a3,
        owner: 'w',
        flowId: 'fs',
        stepName: 's0',
        error: err,
        attempt: { ...done, outcome: 'dead', error: err },
        deadLetterId: dlId,
        next: { finish: 'failed', error: err },
      });
      const [a2s1] = await claimAll('w');
      assert.equal(a2s1.runId, a2);
      await finish(a2, a2s1.id);
      assert.equal((await store.getRun(a2))?.run.status, 'completed');
      const a4 = await serialRun(store, 'A', { owner: 'w', leaseMs: 30_000 });
      assert.equal(a4.claimed.length, 1, 'a free key: the first step is claimed with the run');

      // A replayed dead letter takes its turn again, behind A4.
      await store.replayDeadLetter(dlId, audit);
      assert.equal(await statusOf(a3), 'blocked');
      assert.deepEqual(await claimAll('w'), []);
      await finish(a4.id, a4.claimed[0].id);
      const [again] = await claimAll('w');
      assert.equal(again.id, a3s0.id, 'the same step, now queued');
      await finish(a3, again.id);
      assert.equal((await store.getRun(a3))?.run.status, 'completed');
    });

    it('serial keys: two processes storing and running one key at once — one run at a time, in order', async () => {
      await claimAll('drain');
      const other = fx.reopen && fx.concurrentConnections ? new SqlStore(await fx.reopen()) : store;
      const key = `K-${randomUUID()}`;
      const perProcess = 30;
      try {
        const stored: Record<string, string[]> = { p: [], q: [] };
        const finished: string[] = [];
        const inFlight = new Set<string>();
        let overlaps = 0;
        const ingester = async (st: Store, name: 'p' | 'q') => {
          for (let i = 0; i < perProcess; i++) stored[name].push((await serialRun(st, key)).id);
        };
        const worker = async (st: Store, owner: string) => {
          while (finished.length < 2 * perProcess) {
            const got = await st.claimSteps(owner, 4, 30_000);
            if (got.length === 0) await new Promise((r) => setTimeout(r, 1));
            for (const x of got) {
              if (inFlight.size > 0) overlaps += 1;
              inFlight.add(x.runId);
              await new Promise((r) => setImmediate(r));
              inFlight.delete(x.runId);
              finished.push(x.runId);
              await st.completeStep({
                stepId: x.id,
                runId: x.runId,
                owner,
                status: 'completed',
                attempt: done,
                next: { finish: 'completed' },
              });
            }
          }
        };
        await Promise.all([
          ingester(store, 'p'),
          ingester(other, 'q'),
          worker(store, 'w1'),
          worker(other, 'w2'),
        ]);
        assert.equal(overlaps, 0, 'never two runs of the key at once');
        assert.equal(new Set(finished).size, 2 * perProcess);
        for (const name of ['p', 'q'] as const) {
          const order = finished.filter((id) => stored[name].includes(id));
          assert.deepEqual(order, stored[name], `the runs stored by ${name} ran in the order stored`);
        }
      } finally {
        if (other !== store) await other.close();
      }
    });

    // ── suppression ──────────────────────────────────────────────────────────────────────────────────

    const origin = { flowId: 'alerts', flowVersion: 1, runId: 'r0', stepIdx: 2 };
    const ask = (
      st: Store,
      idem: string,
      o: { key?: string; scope?: string; count?: number; windowMs?: number } = {},
    ) =>
      st.decideSuppression({
        scope: o.scope ?? 'dingtalk/alerts',
        key: o.key ?? 'dead-letters',
        windowMs: o.windowMs ?? 60_000,
        count: o.count ?? 1,
        idempotencyKey: idem,
        message: { text: `alert ${idem}` },
        origin: { ...origin, runId: idem },
      });

    it('suppression: the first message of a key is sent, the rest of its window held back and counted, a retry decided once', async () => {
      const k = `dl-${randomUUID()}`;
      const first = await ask(store, `${k}:1`, { key: k });
      assert.equal(first.send, true);
      assert.equal(first.heldBack, 0);
      const held = [];
      for (let i = 2; i <= 5; i++)
        held.push(await ask(store, `${k}:${i}`, { key: k, count: i === 3 ? 3 : 1 }));
      assert.deepEqual(
        held.map((d) => [d.send, d.windowId, d.heldBack]),
        [
          [false, first.windowId, 1],
          [false, first.windowId, 4],
          [false, first.windowId, 5],
          [false, first.windowId, 6],
        ],
      );
      assert.deepEqual(
        await ask(store, `${k}:3`, { key: k, count: 3 }),
        held[1],
        'a retry: the same decision',
      );
      assert.deepEqual(await ask(store, `${k}:1`, { key: k }), first, 'the sent one stays sent');
      assert.equal((await ask(store, `${k}:x`, { key: k, scope: 'wecom/ops' })).send, true, 'scopes apart');
      assert.equal((await ask(store, `${k}:y`, { key: `${k}-other` })).send, true, 'keys apart');

      const open = await store.getSuppressWindow(first.windowId);
      assert.deepEqual([open?.status, open?.suppressed, open?.messages], ['open', 6, 4]);

      // Its summary timer falls due when the window ends (brought forward here).
      await store.rescheduleTimer(`suppress:${first.windowId}`, Date.now() - 1);
      const timers = (await store.claimTimers('t', 100)).filter((t) => t.id === `suppress:${first.windowId}`);
      assert.deepEqual(
        timers.map((t) => [t.kind, t.payload]),
        [['suppress', { window: first.windowId }]],
      );
      const w = await store.closeSuppressWindow(first.windowId);
      assert.deepEqual(
        w && [w.status, w.key, w.suppressed, w.messages, w.last, w.origin, w.windowMs, w.endsAt],
        ['closed', k, 6, 4, { text: `alert ${k}:5` }, { ...origin, runId: `${k}:1` }, 60_000, first.endsAt],
      );
      assert.ok(w && w.firstAt! <= w.lastAt! && w.openedAt <= w.firstAt!);
      assert.deepEqual(
        await store.closeSuppressWindow(first.windowId),
        w,
        'closing again reads the same figures',
      );
      await store.finishTimer(`suppress:${first.windowId}`);

      // Closed (its summary taken), the next message opens a new window; nothing held back, no figures.
      const next = await ask(store, `${k}:6`, { key: k });
      assert.equal(next.send, true);
      assert.notEqual(next.windowId, first.windowId);
      assert.equal((await store.closeSuppressWindow(next.windowId))?.messages, 0);
    });

    it('suppression: a message after the window ended opens the next one; the ended one keeps its figures', async () => {
      const k = `short-${randomUUID()}`;
      const first = await ask(store, `${k}:1`, { key: k, windowMs: 30 });
      const kept = await ask(store, `${k}:2`, { key: k, windowMs: 30 });
      await new Promise((r) => setTimeout(r, 40));
      const next = await ask(store, `${k}:3`, { key: k, windowMs: 30 });
      assert.deepEqual([first.send, kept.send, next.send], [true, false, true]);
      assert.notEqual(next.windowId, first.windowId);
      const w = await store.closeSuppressWindow(first.windowId);
      assert.deepEqual([w?.status, w?.messages, w?.last], ['closed', 1, { text: `alert ${k}:2` }]);
    });

    it('suppression: two processes deciding one key at once send one message and count every other once', async () => {
      const other = fx.reopen && fx.concurrentConnections ? new SqlStore(await fx.reopen()) : store;
      try {
        const k = `storm-${randomUUID()}`;
        const n = 60;
        const decisions = await Promise.all(
          Array.from({ length: n }, (_, i) => ask(i % 2 ? other : store, `${k}:${i}`, { key: k })),
        );
        const sent = decisions.filter((d) => d.send);
        assert.equal(sent.length, 1, 'one message sent');
        assert.equal(new Set(decisions.map((d) => d.windowId)).size, 1, 'one window');
        assert.deepEqual(
          decisions
            .filter((d) => !d.send)
            .map((d) => d.heldBack)
            .sort((a, b) => a - b),
          Array.from({ length: n - 1 }, (_, i) => i + 1),
          'each held back once',
        );
        const w = await store.closeSuppressWindow(sent[0].windowId);
        assert.deepEqual([w?.suppressed, w?.messages], [n - 1, n - 1]);
      } finally {
        if (other !== store) await other.close();
      }
    });

    it('fires again a timer whose worker died while firing it', async () => {
      const k = `dead-${randomUUID()}`;
      const d = await ask(store, `${k}:1`, { key: k });
      const id = `suppress:${d.windowId}`;
      await store.rescheduleTimer(id, Date.now() - 1);
      assert.ok((await store.claimTimers('dies', 100)).some((t) => t.id === id));
      assert.ok(!(await store.claimTimers('other', 100)).some((t) => t.id === id), 'firing: not claimable');
      await store.recoverLeases();
      assert.ok(!(await store.claimTimers('other', 100)).some((t) => t.id === id), 'its lease still runs');
      await db.run('UPDATE timers SET lease_until = ? WHERE id = ?', [Date.now() - 1, id]);
      await store.recoverLeases();
      const again = (await store.claimTimers('other', 100)).find((t) => t.id === id);
      assert.equal(again?.attempt, 2, 'claimed a second time');
      await store.finishTimer(id);
    });
  });
}
