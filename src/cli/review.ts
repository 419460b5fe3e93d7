/**
 * `qiao review list|show|resolve`: the review queue of two-way sync from the command line, on the store
 * directly (like `qiao dlq`). A resolution is stored once, with an audit row; the running hub's
 * reconciler hands it to the waiting sync run (within its interval, a minute by default), which writes
 * both systems. `POST /api/reviews/{id}/resolve` does the same and hands it over at once.
 */
import { resolveReview } from '../engine/sync/resolve.ts';
import { conflictView, type ReviewDetail, type ReviewResolution } from '../engine/sync/review.ts';
import type { ReviewRow, ReviewStatus } from '../store/store.ts';
import { cliActor, withStore } from './context.ts';
import { CliError, clip, localTime, positiveInt, say, table } from './output.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STATUSES = ['open', 'resolved'] as const;

function checkId(id: string): void {
  if (!UUID.test(id))
    throw new CliError(`'${id}' is not a review id (a UUID, as \`qiao review list\` shows them)`);
}

const detailOf = (r: ReviewRow) => r.detail as unknown as ReviewDetail;

export async function reviewListCommand(opts: {
  config?: string;
  status?: string;
  pair?: string;
  limit?: string;
  json?: boolean;
}): Promise<number> {
  const status = opts.status ?? 'open';
  if (status !== 'all' && !(STATUSES as readonly string[]).includes(status)) {
    throw new CliError(`--status must be one of ${STATUSES.join(', ')}, all; got '${status}'`);
  }
  const limit = positiveInt('--limit', opts.limit, 1000) ?? 50;
  const rows = await withStore(opts.config, (s) =>
    s.listReviews({
      status: status === 'all' ? undefined : (status as ReviewStatus),
      pair: opts.pair,
      limit,
    }),
  );
  if (opts.json) {
    say(JSON.stringify(rows));
    return 0;
  }
  if (rows.length === 0) {
    say(status === 'all' ? 'no reviews' : `no ${status} reviews`);
    return 0;
  }
  say(
    table([
      ['ID', 'PAIR', 'KEY', 'STATUS', 'CREATED', 'CONFLICTS'],
      ...rows.map((r) => [
        r.id,
        r.pair,
        r.key,
        r.status,
        localTime(r.createdAt),
        clip(detailOf(r).conflicts?.join(', ') ?? '', 40),
      ]),
    ]),
  );
  return 0;
}

const show = (v: unknown) =>
  v === undefined || v === null ? '-' : typeof v === 'string' ? v : JSON.stringify(v);

export async function reviewShowCommand(
  id: string,
  opts: { config?: string; json?: boolean },
): Promise<number> {
  checkId(id);
  const r = await withStore(opts.config, (s) => s.getReview(id));
  if (!r) throw new CliError(`review ${id} does not exist`);
  if (opts.json) {
    say(JSON.stringify({ ...r, conflicts: conflictView(detailOf(r)) }, null, 2));
    return 0;
  }
  const d = detailOf(r);
  say(`review ${r.id}: ${r.pair} ${r.key}, ${r.status}${r.runId ? ` (run ${r.runId} waits for it)` : ''}`);
  say(`opened ${localTime(r.createdAt)} by ${r.flowId ?? r.connection}`);
  say();
  say(
    table([
      ['FIELD', 'AGREED', ...d.sides.map((s) => s.toUpperCase())],
      ...Object.entries(conflictView(d)).map(([f, v]) => [
        f,
        show(v.base),
        ...d.sides.map((s) => show(v[s])),
      ]),
    ]),
  );
  say();
  if (r.status === 'open') {
    say(`decide: qiao review resolve ${r.id} --choose ${d.sides.join('|')}`);
    say(`    or: qiao review resolve ${r.id} --values '{"${d.conflicts[0] ?? 'field'}": "…"}'`);
  } else {
    const res = r.resolution as ReviewResolution | undefined;
    say(
      `resolved ${localTime(r.resolvedAt)} by ${r.resolvedBy ?? '-'}: ${res?.choose ? `kept ${res.choose}` : 'values given'}`,
    );
    for (const side of d.sides) {
      const w = res?.result.writes[side] ?? {};
      say(`  writes to ${side}: ${Object.keys(w).length ? JSON.stringify(w) : 'nothing'}`);
    }
  }
  return 0;
}

export async function reviewResolveCommand(
  id: string,
  opts: { config?: string; choose?: string; values?: string; actor?: string },
): Promise<number> {
  checkId(id);
  let values: Record<string, unknown> | undefined;
  if (opts.values !== undefined) {
    try {
      values = JSON.parse(opts.values);
    } catch (err) {
      throw new CliError(`--values is not JSON: ${(err as Error).message}`);
    }
    if (!values || typeof values !== 'object' || Array.isArray(values))
      throw new CliError('--values must be a JSON object of field: value');
  }
  if (opts.choose === undefined && values === undefined)
    throw new CliError('give --choose <side> or --values <json>');
  const r = await withStore(opts.config, (s) =>
    resolveReview(
      s,
      id,
      { ...(opts.choose ? { choose: opts.choose } : {}), ...(values ? { values } : {}) },
      cliActor(opts.actor),
    ),
  );
  const res = r.resolution as unknown as ReviewResolution;
  say(`resolved review ${id} (${r.pair} ${r.key})`);
  for (const [side, w] of Object.entries(res.result.writes)) {
    say(`  writes to ${side}: ${Object.keys(w).length ? JSON.stringify(w) : 'nothing'}`);
  }
  say('the running hub applies it within its reconcile interval (a minute by default)');
  return 0;
}
