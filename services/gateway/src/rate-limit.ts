/**
 * A token bucket per caller: `perSecond` requests a second on average,
 * bursts of `burst`. Memory stays bounded however many callers come: at most
 * `maxCallers` buckets, the oldest forgotten first (a forgotten caller starts
 * again with a full bucket, which errs on the side of letting traffic in).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxCallers = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `caller`; false when it has none left (answer 429). */
  take(caller: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(caller) ?? { tokens: this.burst, updatedMs: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedMs) / 1000) * this.perSecond);
    bucket.updatedMs = now;
    // Re-inserted, so the Map's order is least recently seen first.
    this.buckets.delete(caller);
    this.buckets.set(caller, bucket);
    if (this.buckets.size > this.maxCallers) this.buckets.delete(this.buckets.keys().next().value as string);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Seconds until `caller` has a token again: the Retry-After of a 429. */
  retryAfterSeconds(caller: string): number {
    const bucket = this.buckets.get(caller);
    return bucket ? Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond)) : 1;
  }
}
