/**
 * How many bytes each user may upload per hour: a bucket per user that refills continuously up to the hourly
 * amount. An upload is refused while the bucket is empty and charged with its size once stored, so one upload
 * may take it below zero (a user can always send one file up to `uploads.maxBytes`).
 * Kept in memory, per server: users whose bucket is full again are forgotten.
 */
export class UploadBudget {
  private readonly buckets = new Map<string, { bytes: number; at: number }>();
  /** Size of the map at which full buckets are swept out next (doubling: amortized O(1) per upload). */
  private sweepAt = 1_000;

  constructor(
    private readonly bytesPerHour: number,
    private readonly now: () => number,
  ) {}

  /** Milliseconds until `user` may upload again (0: now). */
  waitMs(user: string): number {
    const b = this.refilled(user);
    return b.bytes > 0 ? 0 : Math.ceil(((1 - b.bytes) * 3_600_000) / this.bytesPerHour);
  }

  charge(user: string, bytes: number): void {
    const b = this.refilled(user);
    b.bytes -= bytes;
    this.buckets.set(user, b);
    if (this.buckets.size >= this.sweepAt) {
      this.forgetFull();
      this.sweepAt = Math.max(1_000, 2 * this.buckets.size);
    }
  }

  private refilled(user: string): { bytes: number; at: number } {
    const now = this.now();
    const b = this.buckets.get(user);
    if (!b) return { bytes: this.bytesPerHour, at: now };
    b.bytes = Math.min(this.bytesPerHour, b.bytes + ((now - b.at) * this.bytesPerHour) / 3_600_000);
    b.at = now;
    return b;
  }

  /** Drops users who could upload a full hour's worth again: they are as good as new. */
  private forgetFull(): void {
    for (const user of [...this.buckets.keys()]) if (this.refilled(user).bytes >= this.bytesPerHour) this.buckets.delete(user);
  }
}
