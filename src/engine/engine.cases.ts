/**
 * The engine suite: runs, retries, dead letters, waits, timers and polls through a real hub and a real
 * HTTP target, the same cases on SQLite and on PostgreSQL (engine-sqlite.test.ts, engine-postgres.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { SecretBox } from '../core/secret-box.ts';
import { type Hub, startHub } from '../hub.ts';
import { type HttpTargetHandle, startHttpTarget } from '../sandbox/http-target/index.ts';
import type { RunStatus } from '../store/store.ts';

export interface EngineFixture {
  /** Store options for a hub: the same store each call (restarts reopen it). */
  storeOptions(): { dataDir: string; database?: string };
  close(): Promise<void>;
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function runEngineSuite(name: string, fixture: () => Promise<EngineFixture>): void {
  describe(`engine suite: ${name}`, () => {
    let fx: EngineFixture;
    let target: HttpTargetHandle;
    let hub: Hub;
    const box = new SecretBox([randomBytes(32)]);
    const admin = (path: string, body: unknown) =>
      fetch(`${target.baseUrl}/__sandbox/${path}`, { method: 'POST', body: JSON.stringify(body) });

    async function open(): Promise<Hub> {
      const h = await startHub({ ...fx.storeOptions(), box, serve: false, leaseMs: 1_500, concurrency: 16 });
      await h.connections.save(
        {
          id: 'target',
          type: 'http',
          settings: { baseUrl: target.baseUrl, auth: { type: 'bearer', token: 'qiao-target-token' } },
          limits: { breaker: { failures: 1000, resetMs: 1000 } },
          origin: 'api',
        },
        'test',
      );
      return h;
    }

    async function until(runId: string, statuses: RunStatus[], ms = 15_000) {
      const end = Date.now() + ms;
      for (;;) {
        const got = await hub.store.getRun(runId);
        if (got && statuses.includes(got.run.status)) return got;
        if (Date.now() > end)
          throw new Error(
            `run ${runId} is ${got?.run.status}, not ${statuses.join('/')}: ${JSON.stringify(got?.steps.map((s) => [s.name, s.status, s.error?.message]))}`,
          );
        await wait(20);
      }
    }

    before(async () => {
      fx = await fixture();
      target = await startHttpTarget();
      hub = await open();
    });
    afterEach(async () => {
      await fetch(`${target.baseUrl}/__sandbox/faults`, { method: 'DELETE' });
      await admin('rate-limit', { seconds: 0 });
    });
    after(async () => {
      await hub?.close();
      await target?.close();
      await fx?.close();
    });

    it('runs webhook → map → HTTP action, linking what it wrote and auditing the write', async () => {
      await hub.saveFlow(
        `id: create-item
name: 创建
trigger: { type: webhook }
steps:
  - id: pick
    map: { name: '=event.customer & "/" & $string(event.amount)' }
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: '=steps.pick', link: { object: item } }
`,
        'create-item.yaml',
        'api',
        'test',
      );
      const out = await hub.engine.startFlow('create-item', { customer: '苏州华锐', amount: 1280 });
      const got = await until(out.runIds[0], ['completed']);
      const send = got.steps[1];
      const body = (send.output as { body: { id: string; name: string } }).body;
      assert.equal(body.name, '苏州华锐/1280');
      assert.equal(target.effects.get(send.idempotencyKey), 1);
      assert.equal(await hub.store.findExternalId(got.run.linkKey!, 'target', 'item'), body.id);
      const audit = await hub.store.listAudit({ limit: 10_000 });
      assert.ok(
        audit.some((a) => a.action === 'write:target.request' && a.target === `target/item/${body.id}`),
      );
      assert.deepEqual(await hub.store.verifyAudit(), { ok: true, count: audit.length });
      const again = await hub.engine.startFlow('create-item', { customer: '苏州华锐', amount: 1280 });
      assert.equal(again.duplicate, true, 'the same event is not run twice');
    });

    it('retries transient partner errors with backoff, then completes once', async () => {
      await hub.saveFlow(
        `id: retry-item
name: retry
trigger: { type: webhook }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.name' } }
    retry: { initialInterval: 20ms, backoffCoefficient: 2, maximumInterval: 100ms, maximumAttempts: 5 }
`,
        'retry.yaml',
        'api',
        'test',
      );
      await fetch(`${target.baseUrl}/__sandbox/faults`, {
        method: 'POST',
        body: JSON.stringify({ failNext: 2, errorStatus: 503 }),
      });
      const out = await hub.engine.startFlow('retry-item', { name: 'r1' });
      const got = await until(out.runIds[0], ['completed']);
      const s = got.steps[0];
      assert.deepEqual(
        s.history.map((h) => h.outcome),
        ['retry', 'retry', 'completed'],
      );
      assert.equal(s.history[0].error?.errorClass, 'transient');
      assert.equal(target.effects.get(s.idempotencyKey), 1);
    });

    it("dead-letters a permanent error with the partner's message; edit and replay complete the run once", async () => {
      await hub.saveFlow(
        `id: strict-item
name: strict
trigger: { type: webhook }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.name' } }
  - id: done
    map: { ok: true }
`,
        'strict.yaml',
        'api',
        'test',
      );
      const out = await hub.engine.startFlow('strict-item', { name: 42 });
      const failed = await until(out.runIds[0], ['failed']);
      const [dl] = await hub.store.listDeadLetters({ flowId: 'strict-item', status: 'open' });
      assert.equal(dl.runId, out.runIds[0]);
      assert.equal(dl.error.errorClass, 'permanent');
      assert.equal(dl.error.partner?.message, 'name must be a string');
      assert.equal(dl.error.partner?.field, 'name');
      assert.deepEqual(dl.input, { method: 'POST', path: '/items', body: { name: 42 } });
      assert.equal(failed.steps[0].history.length, 1, 'a permanent error is not retried');
      await hub.store.editDeadLetter(
        dl.id,
        { method: 'POST', path: '/items', body: { name: '四十二' } },
        { actor: 'ops', action: 'dead-letter.edit', target: dl.id },
      );
      await hub.engine.replay(dl.id, 'ops');
      const got = await until(out.runIds[0], ['completed']);
      assert.equal(got.steps.length, 2);
      assert.equal(target.effects.get(got.steps[0].idempotencyKey), 1);
      assert.equal([...target.items.values()].filter((i) => i.name === '四十二').length, 1);
    });

    it('waits out a rate-limit ban without calling the partner during it', async () => {
      await hub.saveFlow(
        `id: limited
name: limited
trigger: { type: webhook }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: limited } }
`,
        'limited.yaml',
        'api',
        'test',
      );
      await admin('rate-limit', { seconds: 1 });
      const before = target.requests();
      const t0 = Date.now();
      const out = await hub.engine.startFlow('limited', { n: 1 });
      while (target.requests() === before && Date.now() - t0 < 5_000) await wait(5);
      await admin('rate-limit', { seconds: 0 });
      await wait(Math.max(0, 700 - (Date.now() - t0)));
      assert.equal(target.requests(), before + 1, 'no call during the ban');
      const got = await until(out.runIds[0], ['completed']);
      assert.ok(Date.now() - t0 >= 1_000, 'resumed after Retry-After');
      assert.equal(got.steps[0].attempt, 0, 'a rate-limit wait does not use up an attempt');
      assert.equal(got.steps[0].history[0].error?.errorClass, 'rate_limited');
    });

    const approvalFlow = `id: approval
name: 审批
trigger: { type: webhook }
steps:
  - id: start
    action: target.request
    input: { method: POST, path: /items, body: { name: approval } }
  - id: decision
    wait:
      connection: target
      event: approval.change
      correlation: '=steps.start.body.id'
      until: '=event.status != "pending"'
      timeout: 1s
      onTimeout: continue
      timers:
        - after: 300ms
          action: target.request
          input: { method: POST, path: /items, body: { name: '="reminder " & wait.correlation' } }
  - id: result
    map: { status: '=steps.decision.status', timedOut: '=steps.decision.timedOut = true' }
`;

    it('resumes a waiting run on its correlation event once; duplicates and non-final events do not', async () => {
      await hub.saveFlow(
        approvalFlow.replace('timeout: 1s', 'timeout: 2h').replace('after: 300ms', 'after: 1h'),
        'approval.yaml',
        'api',
        'test',
      );
      const out = await hub.engine.startFlow('approval', { contract: 'HT-001' });
      const waiting = await until(out.runIds[0], ['waiting']);
      const sp = (waiting.steps[0].output as { body: { id: string } }).body.id;
      const pending = await hub.engine.ingest('target', [
        { key: `${sp}:pending`, type: 'approval.change', correlation: sp, data: { status: 'pending' } },
      ]);
      assert.deepEqual(pending[0].resumed, [], 'a non-final status keeps it waiting');
      const ev = {
        key: `${sp}:approved`,
        type: 'approval.change',
        correlation: sp,
        data: { status: 'approved' },
      };
      const [first] = await hub.engine.ingest('target', [ev]);
      const [second] = await hub.engine.ingest('target', [ev]);
      assert.deepEqual(first.resumed, [out.runIds[0]]);
      assert.equal(second.duplicate, true);
      const got = await until(out.runIds[0], ['completed']);
      assert.deepEqual(got.steps[2].output, { status: 'approved', timedOut: false });
      assert.equal(got.steps.length, 3);
    });

    it('keeps a wait across a restart and resumes it on its event', async () => {
      await hub.saveFlow(
        approvalFlow.replace('timeout: 1s', 'timeout: 2h').replace('after: 300ms', 'after: 1h'),
        'approval.yaml',
        'api',
        'test',
      );
      const out = await hub.engine.startFlow('approval', { contract: 'HT-002' });
      const waiting = await until(out.runIds[0], ['waiting']);
      const sp = (waiting.steps[0].output as { body: { id: string } }).body.id;
      await hub.close();
      hub = await open();
      await hub.engine.ingest('target', [
        { key: `${sp}:rejected`, type: 'approval.change', correlation: sp, data: { status: 'rejected' } },
      ]);
      const got = await until(out.runIds[0], ['completed']);
      assert.equal((got.steps[2].output as { status: string }).status, 'rejected');
    });

    it('fires a reminder and a timeout that fall due while the hub is down, once each', async () => {
      await hub.saveFlow(approvalFlow, 'approval.yaml', 'api', 'test');
      const out = await hub.engine.startFlow('approval', { contract: 'HT-003' });
      const waiting = await until(out.runIds[0], ['waiting']);
      const sp = (waiting.steps[0].output as { body: { id: string } }).body.id;
      await hub.close();
      await wait(1_100);
      hub = await open();
      const got = await until(out.runIds[0], ['completed']);
      assert.deepEqual(got.steps[2].output, { timedOut: true }, 'JSONata leaves out what is undefined');
      await wait(200);
      assert.equal(
        [...target.items.values()].filter((i) => i.name === `reminder ${sp}`).length,
        1,
        'the reminder was sent once',
      );
    });

    it('routes by a rule table and ends a filtered run as filtered', async () => {
      await hub.saveFlow(
        `id: routed
name: routed
trigger: { type: webhook }
steps:
  - id: only-big
    filter: '=event.amount > 0'
  - id: chain
    route:
      input: { amount: '=event.amount', rating: '=event.rating' }
      rows:
        - when: { amount: '>= 1000000', rating: [B, C] }
          then: { approvers: [LiNa, YangFan, WangJianGuo] }
        - when: { amount: '>= 1000000' }
          then: { approvers: [LiNa, WangJianGuo] }
      default: { approvers: [LiNa] }
`,
        'routed.yaml',
        'api',
        'test',
      );
      const a = await hub.engine.startFlow('routed', { amount: 2_000_000, rating: 'C' });
      const b = await hub.engine.startFlow('routed', { amount: 2_000_000, rating: 'AAA' });
      const c = await hub.engine.startFlow('routed', { amount: 50_000, rating: 'C' });
      const d = await hub.engine.startFlow('routed', { amount: 0, rating: 'C' });
      const chain = async (id: string) =>
        ((await until(id, ['completed'])).steps[1].output as { approvers: string[] }).approvers;
      assert.deepEqual(await chain(a.runIds[0]), ['LiNa', 'YangFan', 'WangJianGuo']);
      assert.deepEqual(await chain(b.runIds[0]), ['LiNa', 'WangJianGuo']);
      assert.deepEqual(await chain(c.runIds[0]), ['LiNa']);
      assert.equal((await until(d.runIds[0], ['filtered'])).steps.length, 1);
    });

    it('dead-letters a failed notification but finishes the run', async () => {
      await hub.saveFlow(
        `id: notified
name: notified
trigger: { type: webhook }
steps:
  - id: tell
    notify: target.request
    input: { method: POST, path: /nowhere, body: {} }
  - id: after
    map: { done: true }
`,
        'notified.yaml',
        'api',
        'test',
      );
      const out = await hub.engine.startFlow('notified', { x: 1 });
      const got = await until(out.runIds[0], ['completed']);
      assert.equal(got.steps[0].status, 'dead');
      assert.deepEqual(got.steps[1].output, { done: true });
      assert.equal((await hub.store.listDeadLetters({ flowId: 'notified' })).length, 1);
    });

    it('fires a cron schedule once per slot', async () => {
      await hub.saveFlow(
        `id: every-second
name: 每秒
trigger: { type: schedule, cron: '* * * * * *' }
steps:
  - id: note
    map: { at: '=event.scheduledAt' }
`,
        'every-second.yaml',
        'api',
        'test',
      );
      await wait(2_600);
      await hub.saveFlow(
        `id: every-second
name: 每秒
enabled: false
trigger: { type: schedule, cron: '* * * * * *' }
steps:
  - id: note
    map: { at: '=event.scheduledAt' }
`,
        'every-second.yaml',
        'api',
        'test',
      );
      const runs = await hub.store.listRuns({ flowId: 'every-second', limit: 100 });
      assert.ok(runs.length >= 2 && runs.length <= 4, `one run a second (${runs.length} in ~2.6 s)`);
      assert.equal(new Set(runs.map((r) => r.eventKey)).size, runs.length, 'each slot once');
      assert.ok(runs.every((r) => /^cron:\d{4}-/.test(r.eventKey ?? '')));
    });

    it('polls with a (time, id) cursor: every record once, then only new ones', async () => {
      await admin('touch', { count: 120 });
      await hub.saveFlow(
        `id: polled
name: polled
trigger: { type: poll, connection: target, trigger: poll, params: { path: /items, pageSize: 25 }, every: 1s }
steps:
  - id: keep
    map: { id: '=event.id' }
`,
        'polled.yaml',
        'api',
        'test',
      );
      const total = () => hub.store.listRuns({ flowId: 'polled', limit: 1000 });
      const end = Date.now() + 10_000;
      while ((await total()).length < target.items.size && Date.now() < end) await wait(50);
      assert.equal((await total()).length, target.items.size);
      await admin('touch', { count: 7 });
      const end2 = Date.now() + 10_000;
      while ((await total()).length < target.items.size && Date.now() < end2) await wait(50);
      await wait(1_200);
      const runs = await total();
      assert.equal(runs.length, target.items.size, 'each record version started one run');
      assert.equal(new Set(runs.map((r) => r.eventKey)).size, runs.length);
    });
    const names = () =>
      [...target.items.values()].sort((a, b) => Number(a.id) - Number(b.id)).map((i) => String(i.name));

    /** Ends a suppression window with nothing held back now, and waits for its timer to close it. */
    async function endEmpty(window: string) {
      assert.equal((await hub.store.getSuppressWindow(window))?.status, 'open');
      await hub.store.rescheduleTimer(`suppress:${window}`, Date.now());
      hub.engine.kick();
      const end = Date.now() + 10_000;
      while ((await hub.store.getSuppressWindow(window))?.status === 'open' && Date.now() < end)
        await wait(20);
      // Closed by its timer, which sends a summary only after reading what the window held back.
      assert.equal((await hub.store.getSuppressWindow(window))?.messages, 0);
    }

    it('suppresses a storm: one message, the rest held back and counted, one summary when the window ends — after a restart', async () => {
      await hub.saveFlow(
        `id: storm
name: storm
trigger: { type: webhook }
steps:
  - id: alert
    notify: target.request
    input: { method: POST, path: /items, body: { name: '="alert " & event.kind & " " & $string(event.n)' } }
    suppress:
      key: '=event.kind'
      window: 1h
      count: '=event.count'
      summary:
        method: POST
        path: /items
        body: { name: '="summary " & suppressed.key & ": " & $string(suppressed.count) & " alerts in " & $string(suppressed.messages) & " messages"' }
  - id: after
    map: { went: '=steps.alert.suppressed ? "held" : "sent"' }
`,
        'storm.yaml',
        'api',
        'test',
      );
      // The first alert opens the window; a storm follows (one alert stands for four).
      const runs = [(await hub.engine.startFlow('storm', { kind: 'disk', n: 1, count: 1 })).runIds[0]];
      await until(runs[0], ['completed']);
      for (let n = 2; n <= 12; n++)
        runs.push(
          (await hub.engine.startFlow('storm', { kind: 'disk', n, count: n === 5 ? 4 : 1 })).runIds[0],
        );
      const ended = await Promise.all(runs.map((id) => until(id, ['completed'])));
      assert.equal(names().filter((x) => x.startsWith('alert disk')).length, 1, 'one message posted');
      const held = ended
        .map((r) => r.steps[0])
        .filter((x) => (x.output as { suppressed?: boolean }).suppressed);
      assert.equal(held.length, 11, 'the other eleven held back, their runs completed');
      const out = held[0].output as { key: string; window: string; windowEndsAt: number; heldBack: number };
      assert.equal(out.key, 'disk');
      assert.ok(out.windowEndsAt > Date.now() + 3_000_000, 'the window lasts an hour');
      assert.equal(
        ended.filter((r) => (r.steps[1].output as { went: string }).went === 'held').length,
        11,
        'later steps read the held-back output',
      );
      const counts = held.map((x) => (x.output as { heldBack: number }).heldBack);
      assert.equal(Math.max(...counts), 14, 'eleven messages, one of them four alerts');

      // The hub stops; the window's summary is a timer in the store, fired by the next hub.
      await hub.close();
      hub = await open();
      await hub.store.rescheduleTimer(`suppress:${out.window}`, Date.now());
      hub.engine.kick();
      const summary = 'summary disk: 14 alerts in 11 messages';
      const end = Date.now() + 15_000;
      while (!names().includes(summary) && Date.now() < end) await wait(20);
      await hub.engine.drain();
      assert.deepEqual(
        names().filter((x) => x.startsWith('summary disk')),
        [summary],
        'one summary',
      );
      assert.equal(target.effects.get(`suppress:${out.window}`), 1);
      const audit = await hub.store.listAudit({ limit: 10_000 });
      assert.equal(audit.filter((a) => a.action === 'suppressed:target.request').length, 11);
      assert.equal(
        audit.filter((a) => a.target === `suppress:${out.window}` && a.action.startsWith('summary:')).length,
        1,
      );

      // After the summary, the next alert opens a new window; a window with nothing held back sends no summary.
      const next = await hub.engine.startFlow('storm', { kind: 'disk', n: 13, count: 1 });
      const sent = await until(next.runIds[0], ['completed']);
      assert.equal((sent.steps[1].output as { went: string }).went, 'sent');
      assert.equal(names().filter((x) => x.startsWith('alert disk')).length, 2);
      const opened = (await hub.store.listAudit({ limit: 10_000 })).find(
        (a) => a.action === 'notify:target.request' && a.detail.runId === next.runIds[0],
      );
      assert.ok(opened, 'the message that opened the new window is audited');
      const fresh = (opened.detail.suppress as { key: string; window: string }).window;
      assert.notEqual(fresh, out.window);
      await endEmpty(fresh);
      await hub.engine.drain();
      assert.equal(names().filter((x) => x.startsWith('summary disk')).length, 1, 'no second summary');
      assert.equal(
        (await hub.store.listAudit({ limit: 10_000 })).filter((a) => a.target === `suppress:${fresh}`).length,
        0,
      );
    });

    it('suppresses escalations of wait timers the same way', async () => {
      await hub.saveFlow(
        `id: sla
name: sla
trigger: { type: webhook }
steps:
  - id: decision
    wait:
      connection: target
      event: approval.change
      correlation: '=event.id'
      timers:
        - after: 1h
          action: target.request
          input: { method: POST, path: /items, body: { name: '="overdue " & wait.correlation' } }
          suppress:
            key: sla
            window: 1h
            summary: { method: POST, path: /items, body: { name: '="sla summary " & $string(suppressed.count) & ", last " & suppressed.last.body.name & ", first " & wait.correlation' } }
`,
        'sla.yaml',
        'api',
        'test',
      );
      const waiting = [];
      for (let i = 1; i <= 5; i++) {
        const out = await hub.engine.startFlow('sla', { id: `sla-${i}` });
        waiting.push(await until(out.runIds[0], ['waiting']));
      }
      // Time travel: the five escalations fall due now, one after another.
      const audited = async (timer: string) =>
        (await hub.store.listAudit({ limit: 10_000 })).some((a) => {
          const d = a.detail as { timer?: string; idempotencyKey?: string };
          return d.timer === timer || d.idempotencyKey === timer;
        });
      for (const r of waiting) {
        const timer = `${r.steps[0].id}:timer:0`;
        await hub.store.rescheduleTimer(timer, Date.now());
        hub.engine.kick();
        const end = Date.now() + 10_000;
        while (!(await audited(timer)) && Date.now() < end) await wait(20);
      }
      const overdue = names().filter((x) => x.startsWith('overdue sla-'));
      assert.deepEqual(overdue, ['overdue sla-1'], 'the first escalation posted, the other four held back');
      const held = (await hub.store.listAudit({ limit: 10_000 })).filter(
        (a) => a.action === 'suppressed:target.request' && (a.detail as { key?: string }).key === 'sla',
      );
      assert.equal(held.length, 4);
      await hub.store.rescheduleTimer(held[0].target, Date.now());
      hub.engine.kick();
      const summary = 'sla summary 4, last overdue sla-5, first sla-1';
      const end = Date.now() + 10_000;
      while (!names().includes(summary) && Date.now() < end) await wait(20);
      assert.deepEqual(
        names().filter((x) => x.startsWith('sla summary')),
        [summary],
      );
      for (const r of waiting) assert.equal((await hub.store.getRun(r.run.id))?.run.status, 'waiting');
    });

    it('runs of a flow with the same serial key take turns in inbox order; other keys go on', async () => {
      await hub.saveFlow(
        `id: serial
name: serial
trigger: { type: webhook }
serialize: '=event.key'
steps:
  - id: first
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.key & " start " & $string(event.n)' } }
  - id: second
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.key & " end " & $string(event.n)' } }
`,
        'serial.yaml',
        'api',
        'test',
      );
      const runs = [];
      for (let n = 1; n <= 8; n++)
        for (const key of ['SA', 'SB'])
          runs.push((await hub.engine.startFlow('serial', { key, n })).runIds[0]);
      await Promise.all(runs.map((id) => until(id, ['completed'])));
      for (const key of ['SA', 'SB']) {
        const expected = Array.from({ length: 8 }, (_, i) => [
          `${key} start ${i + 1}`,
          `${key} end ${i + 1}`,
        ]).flat();
        assert.deepEqual(
          names().filter((x) => x.startsWith(`${key} `)),
          expected,
          `${key}: each run whole, in the order of the events`,
        );
      }
    });

    it('a waiting run lets the next run of its serial key go', async () => {
      await hub.saveFlow(
        `id: serial-wait
name: serial-wait
trigger: { type: webhook }
serialize: '=event.key'
steps:
  - id: decision
    wait: { connection: target, event: go, correlation: '=event.key & "-" & $string(event.n)' }
  - id: done
    action: target.request
    input: { method: POST, path: /items, body: { name: '=event.key & " done " & $string(event.n)' } }
`,
        'serial-wait.yaml',
        'api',
        'test',
      );
      const first = (await hub.engine.startFlow('serial-wait', { key: 'SW', n: 1 })).runIds[0];
      await until(first, ['waiting']);
      const second = (await hub.engine.startFlow('serial-wait', { key: 'SW', n: 2 })).runIds[0];
      await until(second, ['waiting']);
      await hub.engine.ingest('target', [{ key: 'go-2', type: 'go', correlation: 'SW-2', data: {} }]);
      await until(second, ['completed']);
      assert.equal((await hub.store.getRun(first))?.run.status, 'waiting', 'the first still waits');
      await hub.engine.ingest('target', [{ key: 'go-1', type: 'go', correlation: 'SW-1', data: {} }]);
      await until(first, ['completed']);
      assert.deepEqual(
        names().filter((x) => x.startsWith('SW ')),
        ['SW done 2', 'SW done 1'],
      );
    });
  });
}
