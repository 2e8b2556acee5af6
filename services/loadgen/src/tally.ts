import { LatencyHistogram } from './histogram';

/**
 * What happened to the requests of one run. Every request that came due is
 * either dropped (too many in flight) or sent; every sent one ends either
 * completed (answered with the status it expected) or as an error (another
 * status, or no answer at all). So, once the run has drained:
 *   due = sent + dropped,   sent = completed + errors.
 */
export class Tally {
  due = 0;
  sent = 0;
  dropped = 0;
  completed = 0;
  readonly responsesByStatus = new Map<number, number>();
  /** Answers with a status other than the expected one. */
  readonly errorsByStatus = new Map<number, number>();
  /** No answer: timeout, connection refused or reset, cancelled at shutdown... */
  readonly errorsByKind = new Map<string, number>();
  /** From the time each request was DUE: what a user arriving then would have waited. */
  readonly latency = new LatencyHistogram();
  /** From the time it actually left: what the server took, once it got the request. For comparison. */
  readonly serviceTime = new LatencyHistogram();
  private startedAt: number | undefined;
  private endedAt: number | undefined;

  begin(now: number): void {
    this.startedAt = now;
  }

  end(now: number): void {
    this.endedAt = now;
  }

  recordResponse(status: number, expectedStatus: number, latencyMs: number, serviceTimeMs: number): void {
    increment(this.responsesByStatus, status);
    if (status === expectedStatus) this.completed += 1;
    else increment(this.errorsByStatus, status);
    this.latency.record(latencyMs);
    this.serviceTime.record(serviceTimeMs);
  }

  recordFailure(kind: string): void {
    increment(this.errorsByKind, kind);
  }

  get errors(): number {
    return sum(this.errorsByStatus) + sum(this.errorsByKind);
  }

  get inFlight(): number {
    return this.sent - this.completed - this.errors;
  }

  get responses(): number {
    return sum(this.responsesByStatus);
  }

  /** Seconds from the first request's due time to the end of the run (or to `now` while it runs). */
  elapsedSeconds(now: number): number {
    if (this.startedAt === undefined) return 0;
    return Math.max(0, (this.endedAt ?? now) - this.startedAt) / 1000;
  }

  /** The numbers as plain data, for the summary and /stats. */
  snapshot(now: number): TallySnapshot {
    const elapsedSeconds = this.elapsedSeconds(now);
    return {
      due: this.due,
      sent: this.sent,
      dropped: this.dropped,
      completed: this.completed,
      errors: this.errors,
      inFlight: this.inFlight,
      responsesByStatus: Object.fromEntries(this.responsesByStatus),
      errorsByStatus: Object.fromEntries(this.errorsByStatus),
      errorsByKind: Object.fromEntries(this.errorsByKind),
      elapsedSeconds,
      throughput: elapsedSeconds > 0 ? this.responses / elapsedSeconds : 0,
      latencyMs: percentiles(this.latency),
      serviceTimeMs: percentiles(this.serviceTime),
    };
  }
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface TallySnapshot {
  due: number;
  sent: number;
  dropped: number;
  completed: number;
  errors: number;
  inFlight: number;
  responsesByStatus: Record<string, number>;
  errorsByStatus: Record<string, number>;
  errorsByKind: Record<string, number>;
  elapsedSeconds: number;
  /** Responses (any status) per second over the elapsed time. */
  throughput: number;
  latencyMs: Percentiles;
  serviceTimeMs: Percentiles;
}

function percentiles(histogram: LatencyHistogram): Percentiles {
  return {
    p50: histogram.percentile(50),
    p95: histogram.percentile(95),
    p99: histogram.percentile(99),
    max: histogram.max,
  };
}

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function sum(counts: Map<unknown, number>): number {
  let total = 0;
  for (const count of counts.values()) total += count;
  return total;
}
