import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NeocrmSandboxHandle, startNeocrmSandbox } from './index.ts';
import { call, login } from './testing.ts';

describe('neocrm sandbox: bulk v2 (spec 4.16)', () => {
  let sb: NeocrmSandboxHandle;
  let token: string;
  before(async () => {
    sb = await startNeocrmSandbox({ config: { bulkDelayMs: 1 } });
    token = await login(sb);
  });
  after(() => sb.close());

  /** Polls the batch until the sandbox reports it completed (the test waits on state, not on time). */
  async function completed(batchId: string) {
    for (;;) {
      const r = await call(sb, token, 'GET', `/rest/bulk/v2/batch/${batchId}`);
      if (r.json.result.state === 'completed') return r.json.result;
      await new Promise((res) => setImmediate(res));
    }
  }

  it('insert job → batch → results → close', async () => {
    const type = sb.tenant.meta.get('lead')!.busiTypes[0].id;
    const job = await call(sb, token, 'POST', '/rest/bulk/v2/job', {
      data: { operation: 'insert', object: 'lead', execOption: ['CHECK_RULE', 'CHECK_DUPLICATE'] },
    });
    assert.equal(job.json.code, 200);
    const jobId = job.json.result.id;
    assert.equal(typeof jobId, 'string');
    const datas = [
      ...Array.from({ length: 4 }, (_, i) => ({ name: `批量${i}`, entityType: type })),
      { name: '坏数据', entityType: type, status: 42 },
    ];
    const b = await call(sb, token, 'POST', '/rest/bulk/v2/batch', { data: { jobId, datas } });
    assert.equal(b.json.code, 200);
    const summary = await completed(b.json.result.id);
    assert.equal(summary.total, 5);
    assert.equal(summary.success, 4);
    assert.equal(summary.failed, 1);
    const res = await call(sb, token, 'GET', `/rest/bulk/v2/batch/${b.json.result.id}/result`);
    assert.equal(res.json.result.records[4].success, false);
    assert.match(res.json.result.records[4].msg, /选项值\[42\]/);
    const list = await call(sb, token, 'GET', `/rest/bulk/v2/batch?jobId=${jobId}`);
    assert.equal(list.json.result.batches.length, 1);
    const jobs = await call(sb, token, 'GET', '/rest/bulk/v2/job');
    assert.deepEqual(
      Object.keys(jobs.json.result.jobs[0])
        .filter((k) => ['object', 'operation', 'state', 'createdAt'].includes(k))
        .sort(),
      ['createdAt', 'object', 'operation', 'state'],
    );
    const close = await call(sb, token, 'PATCH', `/rest/bulk/v2/job/${jobId}`, { status: 2 });
    assert.equal(close.json.result.state, 'closed');
    const late = await call(sb, token, 'POST', '/rest/bulk/v2/batch', { data: { jobId, datas } });
    assert.equal(late.json.code, 400);
  });

  it('update job; batches over 5000 records are refused', async () => {
    const ids = (
      await call(
        sb,
        token,
        'GET',
        `/rest/data/v2/query?q=${encodeURIComponent('select id from lead limit 0,2')}`,
      )
    ).text;
    const idList = [...ids.matchAll(/"id":(\d+)/g)].map((m) => m[1]);
    const job = await call(sb, token, 'POST', '/rest/bulk/v2/job', {
      data: { operation: 'update', object: 'lead' },
    });
    const jobId = job.json.result.id;
    const b = await call(sb, token, 'POST', '/rest/bulk/v2/batch', {
      data: { jobId, datas: idList.map((id) => ({ id, status: 2 })) },
    });
    const s = await completed(b.json.result.id);
    assert.equal(s.success, 2);
    const tooMany = await call(sb, token, 'POST', '/rest/bulk/v2/batch', {
      data: { jobId, datas: Array.from({ length: 5001 }, () => ({})) },
    });
    assert.match(tooMany.json.msg, /5000/);
  });
});
