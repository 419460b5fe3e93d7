/**
 * Per-connection limits (DESIGN.md, "Quotas"): a token bucket at the partner's documented rate, a cap
 * on calls in flight, a circuit breaker that stops calling a partner that is down, and a ban window
 * during which no call is made at all (WeCom blocks 60 s after 45009; DingTalk bans an IP for 5 min).
 *
 * `acquire()` either grants a call (returning its release function) or answers "not before T", so the
 * worker reschedules the step in the store instead of holding a slot while it sleeps.
 */
import type { ConnectionLimits } from '../core/connector.ts';

export type Permit =
  | { ok: true; release(outcome: 'ok' | 'transient' | 'other'): void }
  | { ok: false; notBefore: number; reason: string };

/** Waits shorter than this are slept in place; longer ones reschedule the step. */
const SLEEP_LIMIT_MS = 1_000;

export class ConnectionLimiter {
  private readonly perMs: number;
  private readonly burst: number;
  private tokens: number;
  private refilledAt: number;
  private inFlight = 0;
  private readonly maxInFlight: number;
  private readonly waiters: Array<() => void> = [];
  private bannedUntil = 0;
  private banReason = '';
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private readonly breaker: { failures: number; resetMs: number };
  private readonly now: () => number;

  constructor(limits: ConnectionLimits = {}, now: () => number = Date.now) {
    this.now = now;
    const perSecond = limits.rate?.perSecond ?? Number.POSITIVE_INFINITY;
    this.perMs = perSecond / 1000;
    this.burst =
      limits.rate?.burst ?? Math.max(1, Math.ceil(perSecond === Number.POSITIVE_INFINITY ? 1e9 : perSecond));
    this.tokens = this.burst;
    this.refilledAt = now();
    this.maxInFlight = limits.concurrency ?? Number.POSITIVE_INFINITY;
    this.breaker = limits.breaker ?? { failures: 10, resetMs: 30_000 };
  }

  /** Stops every call until `until` (a partner ban, a Retry-After). */
  ban(until: number, reason: string): void {
    if (until > this.bannedUntil) {
      this.bannedUntil = until;
      this.banReason = reason;
    }
  }

  get state(): {
    bannedUntil: number;
    breaker: 'closed' | 'open' | 'half-open';
    inFlight: number;
    tokens: number;
  } {
    const t = this.now();
    return {
      bannedUntil: this.bannedUntil > t ? this.bannedUntil : 0,
      breaker: this.openUntil > t ? 'open' : this.failures >= this.breaker.failures ? 'half-open' : 'closed',
      inFlight: this.inFlight,
      tokens: Math.floor(this.refill()),
    };
  }

  private refill(): number {
    const t = this.now();
    if (this.perMs !== Number.POSITIVE_INFINITY) {
      this.tokens = Math.min(this.burst, this.tokens + (t - this.refilledAt) * this.perMs);
    }
    this.refilledAt = t;
    return this.tokens;
  }

  async acquire(): Promise<Permit> {
    for (;;) {
      const t = this.now();
      if (this.bannedUntil > t) return { ok: false, notBefore: this.bannedUntil, reason: this.banReason };
      if (this.openUntil > t) return { ok: false, notBefore: this.openUntil, reason: 'circuit breaker open' };
      const halfOpen = this.failures >= this.breaker.failures;
      if (halfOpen && this.probing)
        return { ok: false, notBefore: t + 1_000, reason: 'circuit breaker probing' };
      if (this.inFlight >= this.maxInFlight) {
        await new Promise<void>((r) => this.waiters.push(r));
        continue;
      }
      if (this.perMs !== Number.POSITIVE_INFINITY && this.refill() < 1) {
        const waitMs = Math.ceil((1 - this.tokens) / this.perMs);
        if (waitMs >= SLEEP_LIMIT_MS) return { ok: false, notBefore: t + waitMs, reason: 'rate budget' };
        await new Promise((r) => setTimeout(r, waitMs));
        continue;
      }
      if (this.perMs !== Number.POSITIVE_INFINITY) this.tokens -= 1;
      this.inFlight += 1;
      if (halfOpen) this.probing = true;
      let released = false;
      return {
        ok: true,
        release: (outcome) => {
          if (released) return;
          released = true;
          this.inFlight -= 1;
          if (halfOpen) this.probing = false;
          if (outcome === 'transient') {
            this.failures += 1;
            if (this.failures >= this.breaker.failures) this.openUntil = this.now() + this.breaker.resetMs;
          } else {
            this.failures = 0;
            this.openUntil = 0;
          }
          this.waiters.shift()?.();
        },
      };
    }
  }
}
