/**
 * A compact latency histogram in microseconds, HDR-like: exact below 256 µs,
 * then 128 log-linear sub-buckets per power of two (≤ 0.8 % relative error),
 * up to 2^31 µs (~36 min). One Float64Array, so workers can post it to the
 * main thread and histograms merge by adding arrays.
 */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 sub-buckets per octave
const LINEAR = SUB * 2; // values below 256 get a bucket each
const MAX_EXP = 31;
export const BUCKETS = (MAX_EXP - SUB_BITS + 1) * SUB + SUB; // 3,328

/** Bucket index of a value in µs (negative values count as 0, huge ones go to the last bucket). */
export function bucketOf(us: number): number {
  if (us < LINEAR) return us <= 0 ? 0 : us | 0;
  if (us >= 2 ** MAX_EXP) return BUCKETS - 1;
  const v = us | 0;
  const e = 31 - Math.clz32(v); // floor(log2 v) ≥ SUB_BITS + 1
  const shift = e - SUB_BITS;
  return (e - SUB_BITS + 1) * SUB + ((v >>> shift) - SUB);
}

/** Highest value (µs) that falls into bucket `i`. */
export function bucketUpper(i: number): number {
  if (i < LINEAR) return i;
  const e = (i >>> SUB_BITS) + SUB_BITS - 1;
  const m = (i & (SUB - 1)) + SUB;
  const shift = e - SUB_BITS;
  return ((m + 1) << shift) - 1 >>> 0;
}

export class Histogram {
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  max = 0;

  constructor(counts?: Float64Array) {
    this.counts = counts ?? new Float64Array(BUCKETS);
    if (counts) for (let i = 0; i < BUCKETS; i++) this.count += counts[i]!;
  }

  record(us: number): void {
    this.counts[bucketOf(us)]!++;
    this.count++;
    this.sum += us;
    if (us > this.max) this.max = us;
  }

  /** Adds `n` samples of the same value (a frame's messages share a receive time, not a send time, so this is rarely used). */
  recordMany(us: number, n: number): void {
    this.counts[bucketOf(us)]! += n;
    this.count += n;
    this.sum += us * n;
    if (us > this.max) this.max = us;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = this.sum = this.max = 0;
  }

  merge(other: HistogramSnapshot): void {
    const c = other.counts;
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += c[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** Value (µs, bucket upper bound, so never optimistic) at quantile q in [0,1]; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(bucketUpper(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }

  snapshot(): HistogramSnapshot {
    return { counts: this.counts.slice(), count: this.count, sum: this.sum, max: this.max };
  }
}

export interface HistogramSnapshot {
  counts: Float64Array;
  count: number;
  sum: number;
  max: number;
}
