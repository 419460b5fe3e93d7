/** Small load-generation helpers for the benchmarks: closed-loop and fixed-rate senders, percentiles. */

/** Runs `total` calls with `concurrency` in flight; resolves with the elapsed ms. */
export async function closedLoop(
  total: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await call(next++);
    }),
  );
  return performance.now() - t0;
}

/** Starts one call every 1000/rate ms for `durationMs`; resolves when all have finished. */
export async function fixedRate(
  rate: number,
  durationMs: number,
  call: (i: number) => Promise<void>,
): Promise<void> {
  const total = Math.round((rate * durationMs) / 1000);
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(call(i));
  }
  await Promise.all(pending);
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One figure line: `<what>: <value> <unit> (ceiling <value> <unit>, ratio <r>)`. */
export function figure(
  what: string,
  value: number,
  unit: string,
  ceiling?: number,
  ceilingUnit = unit,
): string {
  const v = value >= 100 ? Math.round(value) : Number(value.toFixed(2));
  if (ceiling === undefined) return `${what}: ${v} ${unit}`;
  const c = ceiling >= 100 ? Math.round(ceiling) : Number(ceiling.toFixed(2));
  return `${what}: ${v} ${unit} (ceiling ${c} ${ceilingUnit}, ratio ${(value / ceiling).toFixed(2)})`;
}
