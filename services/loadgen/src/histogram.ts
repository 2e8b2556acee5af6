/**
 * Latencies in constant memory, HdrHistogram's way: exact below 256 µs, then
 * 128 buckets per power of two, so any value is known within 1% however long
 * the run (a run without an end can not keep every sample). Percentiles are
 * reported as the top of their bucket: rounded up, never flattered.
 */
const EXACT_BELOW = 256;
const SUB_BUCKETS = 128;
const SUB_BUCKET_BITS = 7;
/** 2^31 µs is 35 minutes: far beyond any request timeout. */
const MAX_EXPONENT = 31;

export class LatencyHistogram {
  private readonly counts = new Float64Array(EXACT_BELOW + (MAX_EXPONENT - 8) * SUB_BUCKETS);
  private total = 0;
  private highest = 0;

  get count(): number {
    return this.total;
  }

  record(milliseconds: number): void {
    const micros = Math.min(Math.max(0, Math.round(milliseconds * 1000)), 2 ** MAX_EXPONENT - 1);
    this.counts[bucketOf(micros)]! += 1;
    this.total += 1;
    this.highest = Math.max(this.highest, micros);
  }

  /** The latency (ms) that `percent`% of the recorded ones do not exceed; 0 when nothing was recorded. */
  percentile(percent: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((percent / 100) * this.total));
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return Math.min(topOf(bucket), this.highest) / 1000;
    }
    return this.highest / 1000;
  }

  /** The largest latency recorded, in ms. */
  get max(): number {
    return this.highest / 1000;
  }
}

function bucketOf(micros: number): number {
  if (micros < EXACT_BELOW) return micros;
  const exponent = 31 - Math.clz32(micros); // floor(log2), without floating-point rounding
  const mantissa = Math.floor(micros / 2 ** (exponent - SUB_BUCKET_BITS)); // 128..255
  return EXACT_BELOW + (exponent - 8) * SUB_BUCKETS + (mantissa - SUB_BUCKETS);
}

/** The largest value (µs) that falls in `bucket`. */
function topOf(bucket: number): number {
  if (bucket < EXACT_BELOW) return bucket;
  const exponent = Math.floor((bucket - EXACT_BELOW) / SUB_BUCKETS) + 8;
  const mantissa = ((bucket - EXACT_BELOW) % SUB_BUCKETS) + SUB_BUCKETS;
  const width = 2 ** (exponent - SUB_BUCKET_BITS);
  return mantissa * width + width - 1;
}
