/**
 * Prometheus metrics (served at /metrics): runs, steps by outcome, retries, dead letters, queue depth,
 * step latency, and per-connection calls and errors. One registry per hub, so tests can run several.
 */
import client from 'prom-client';
import type { Store } from '../store/store.ts';

export class EngineMetrics {
  readonly registry = new client.Registry();
  private readonly steps: client.Counter;
  private readonly stepLatency: client.Histogram;
  private readonly calls: client.Counter;
  private readonly callLatency: client.Histogram;
  private readonly inbox: client.Counter;

  constructor(store: Store) {
    const registers = [this.registry];
    this.steps = new client.Counter({
      name: 'qiao_steps_total',
      help: 'Steps executed, by kind and outcome (completed, skipped, waiting, retry, dead)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.stepLatency = new client.Histogram({
      name: 'qiao_step_duration_seconds',
      help: 'Time to execute one step, from claim to commit',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.calls = new client.Counter({
      name: 'qiao_connection_calls_total',
      help: 'Connector action calls, by connection, action and result (ok or the error class)',
      labelNames: ['connection', 'action', 'result'],
      registers,
    });
    this.callLatency = new client.Histogram({
      name: 'qiao_connection_call_duration_seconds',
      help: 'Connector action call latency',
      labelNames: ['connection'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.inbox = new client.Counter({
      name: 'qiao_inbox_events_total',
      help: 'Trigger events received, by source and whether they were duplicates',
      labelNames: ['source', 'duplicate'],
      registers,
    });
    new client.Gauge({
      name: 'qiao_queue_depth',
      help: 'Steps by status (queued, running, waiting, ...)',
      labelNames: ['status'],
      registers,
      async collect() {
        const d = await store.depth();
        this.reset();
        for (const [status, count] of Object.entries(d.steps)) this.set({ status }, count);
      },
    });
    new client.Gauge({
      name: 'qiao_dead_letters_open',
      help: 'Dead letters waiting for a person',
      registers,
      async collect() {
        this.set((await store.depth()).deadLetters);
      },
    });
    new client.Gauge({
      name: 'qiao_store_counter',
      help: 'Durable counters kept in the store (runs by final status, retries, duplicates, replays)',
      labelNames: ['name'],
      registers,
      async collect() {
        this.reset();
        for (const [name, value] of Object.entries(await store.counters())) this.set({ name }, value);
      },
    });
  }

  step(kind: string, outcome: string, ms: number): void {
    this.steps.inc({ kind, outcome });
    this.stepLatency.observe({ kind }, ms / 1000);
  }

  call(connection: string, action: string, result: string, ms: number): void {
    this.calls.inc({ connection, action, result });
    this.callLatency.observe({ connection }, ms / 1000);
  }

  received(source: string, duplicate: boolean, n = 1): void {
    this.inbox.inc({ source, duplicate: String(duplicate) }, n);
  }
}
