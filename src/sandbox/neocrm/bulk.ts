/**
 * Bulk API v2 (spec 4.16, 10.9): jobs (`insert`/`update`), batches of up to 5000 records processed
 * asynchronously after a configurable delay, job and batch listings, per-record results, and closing a
 * job with `{"status": 2}`. Numeric `code` with the payload under `result` (spec 3.4). Payload shapes
 * beyond the captured keys are a simulator choice (docs/sandbox/neocrm.md).
 */
import type { SandboxReply, SandboxRequest } from '../common/server.ts';
import { okResult } from './envelope.ts';
import { parseJsonExact } from './json.ts';
import { type Actor, createRecord, idValue, requireObject, updateRecord } from './records.ts';
import {
  type BulkBatch,
  type BulkJob,
  fail,
  NeoFailure,
  newId,
  now,
  type Rec,
  type Tenant,
} from './state.ts';

function jobView(j: BulkJob): Rec {
  return {
    id: j.id,
    object: j.object,
    operation: j.operation,
    state: j.state,
    createdAt: j.createdAt,
    execOption: j.execOption,
    batchCount: j.batches.length,
  };
}

function batchView(b: BulkBatch): Rec {
  const success = b.results.filter((r) => r.success).length;
  return {
    id: b.id,
    jobId: b.jobId,
    state: b.state,
    createdAt: b.createdAt,
    total: b.records.length,
    processed: b.results.length,
    success,
    failed: b.results.length - success,
  };
}

function process(t: Tenant, job: BulkJob, b: BulkBatch): void {
  b.state = 'processing';
  const def = t.meta.get(job.object)!;
  const actor: Actor = { userId: job.createdBy, adminCriteria: true };
  b.records.forEach((rec, index) => {
    try {
      if (job.operation === 'insert') {
        const created = createRecord(t, def, rec, actor);
        b.results.push({ index, success: true, id: created.id as string, code: '200', msg: null });
      } else {
        const id = idValue(rec.id);
        if (!id) throw fail.validation('更新数据必须包含 id', 'id');
        updateRecord(t, def, id, rec, actor);
        b.results.push({ index, success: true, id, code: '200', msg: null });
      }
    } catch (err) {
      if (!(err instanceof NeoFailure)) throw err;
      b.results.push({ index, success: false, id: null, code: err.code, msg: err.message });
    }
  });
  b.state = 'completed';
}

export function bulk(t: Tenant, rest: string[], req: SandboxRequest, actor: Actor): SandboxReply {
  const m = req.method;
  const body = () => (parseJsonExact(req.rawBody.toString('utf8')) ?? {}) as Rec;
  const [kind, id, sub] = rest;
  if (kind === 'job') {
    if (!id && m === 'POST') {
      const data = (body().data ?? {}) as Rec;
      const operation = data.operation;
      if (operation !== 'insert' && operation !== 'update')
        throw fail.validation('operation 只支持 insert 或 update', 'operation');
      const def = requireObject(t, String(data.object ?? ''));
      const job: BulkJob = {
        id: newId(t),
        object: def.apiKey,
        operation,
        execOption: Array.isArray(data.execOption) ? data.execOption.map(String) : [],
        state: 'open',
        createdAt: now(t),
        createdBy: actor.userId,
        batches: [],
      };
      t.jobs.set(job.id, job);
      return okResult({ id: job.id });
    }
    if (!id && m === 'GET') return okResult({ jobs: [...t.jobs.values()].map(jobView) });
    const job = t.jobs.get(id ?? '');
    if (!job || sub) throw fail.notFound('任务不存在');
    if (m === 'GET') return okResult(jobView(job));
    if (m === 'PATCH') {
      // Closing a job (spec 4.16 step 4, one client only).
      if (body().status !== 2) throw fail.validation('status 只支持 2(关闭)', 'status');
      job.state = 'closed';
      return okResult(jobView(job));
    }
  }
  if (kind === 'batch') {
    if (!id && m === 'POST') {
      const data = (body().data ?? {}) as Rec;
      const job = t.jobs.get(String(data.jobId ?? ''));
      if (!job) throw fail.notFound('任务不存在');
      if (job.state !== 'open') throw fail.validation('任务已关闭，不能添加批次');
      const datas = data.datas;
      if (!Array.isArray(datas) || datas.length === 0) throw fail.validation('datas 不能为空', 'datas');
      if (datas.length > t.config.bulkBatchMax)
        throw fail.validation(`每个批次最多${t.config.bulkBatchMax}条数据`, 'datas');
      const b: BulkBatch = {
        id: newId(t),
        jobId: job.id,
        state: 'queued',
        createdAt: now(t),
        records: datas as Rec[],
        results: [],
      };
      t.batches.set(b.id, b);
      job.batches.push(b.id);
      const timer = setTimeout(() => {
        t.timers.delete(timer);
        process(t, job, b);
      }, t.config.bulkDelayMs);
      t.timers.add(timer);
      return okResult({ id: b.id });
    }
    if (!id && m === 'GET') {
      const job = t.jobs.get(req.query.get('jobId') ?? '');
      if (!job) throw fail.notFound('任务不存在');
      return okResult({ batches: job.batches.map((b) => batchView(t.batches.get(b)!)) });
    }
    const b = t.batches.get(id ?? '');
    if (!b || m !== 'GET') throw fail.notFound('批次不存在');
    if (!sub) return okResult(batchView(b));
    if (sub === 'result') return okResult({ ...batchView(b), records: b.results });
  }
  throw fail.notFound('接口不存在');
}
