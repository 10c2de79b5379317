/**
 * One timer for every connection's deadlines (pings, pong timeouts, auth
 * timeouts, token expiry): a hashed wheel of slots, each a Set, advanced by a
 * single interval. Scheduling and cancelling are O(1); a connection costs no
 * timer of its own.
 */

export interface Timed {
  /** Index of the slot holding this entry, or -1. Owned by the wheel. */
  wheelSlot: number;
  /** Called when the entry's deadline arrives; it may reschedule itself. */
  due(now: number): void;
}

/**
 * Longest slot. A slot's entries fire together, and the sessions of a connect storm (thousands a second) all ping
 * at the same phase of the heartbeat interval: with the 1 s slots that the default deadlines gave (a fifth of the
 * 5 s auth timeout), each second of such a storm came back every interval as one burst of a few thousand pings,
 * 25–90 ms of socket writes during which nothing was delivered (docs/benchmarks.md, "The heartbeat's bursts").
 * Slots of 20 ms send the pings about as they were scheduled; the interval costs an idle server 50 wakeups a second.
 * A horizon longer than MAX_SLOTS such slots (heartbeats minutes apart) gets longer slots, not more of them.
 */
const MAX_SLOT_MS = 20;
const MAX_SLOTS = 8192;

/** Marks an entry taken out of its slot and about to fire. */
const FIRING = -2;

export class TimerWheel {
  private readonly slots: Set<Timed>[];
  private readonly resolution: number;
  private cursor: number;
  private cursorTime: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly firing: Timed[] = [];

  constructor(
    /** Longest delay that will be scheduled. */
    horizonMs: number,
    /** Finest delay that matters: deadlines fire at most a fifth of it late, and at most one slot (MAX_SLOT_MS). */
    finestMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.resolution = Math.max(5, Math.floor(Math.min(finestMs / 5, Math.max(MAX_SLOT_MS, horizonMs / MAX_SLOTS))));
    const count = Math.ceil(horizonMs / this.resolution) + 2;
    this.slots = Array.from({ length: count }, () => new Set<Timed>());
    this.cursor = 0;
    this.cursorTime = now();
  }

  start(): void {
    if (this.timer) return;
    this.cursorTime = this.now();
    this.timer = setInterval(() => this.advance(), this.resolution);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  schedule(entry: Timed, delayMs: number): void {
    this.cancel(entry);
    // Count from now, not from the last slot boundary, so nothing fires early.
    const lag = Math.max(0, this.now() - this.cursorTime);
    const steps = Math.min(this.slots.length - 1, Math.max(1, Math.ceil((delayMs + lag) / this.resolution)));
    const slot = (this.cursor + steps) % this.slots.length;
    this.slots[slot]!.add(entry);
    entry.wheelSlot = slot;
  }

  cancel(entry: Timed): void {
    if (entry.wheelSlot >= 0) this.slots[entry.wheelSlot]!.delete(entry);
    entry.wheelSlot = -1;
  }

  /**
   * Fires every slot whose time has come; catches up if the event loop was
   * late. The cursor reaches `now` before any entry runs, so an entry that
   * reschedules itself lands in the future, not in a slot still being swept.
   */
  advance(): void {
    const now = this.now();
    const due = this.firing;
    while (this.cursorTime + this.resolution <= now) {
      this.cursorTime += this.resolution;
      this.cursor = (this.cursor + 1) % this.slots.length;
      const slot = this.slots[this.cursor]!;
      if (slot.size === 0) continue;
      for (const entry of slot) {
        entry.wheelSlot = FIRING;
        due.push(entry);
      }
      slot.clear();
    }
    for (let i = 0; i < due.length; i++) {
      const entry = due[i]!;
      // Skipped if an earlier entry's due() cancelled or rescheduled it.
      if (entry.wheelSlot !== FIRING) continue;
      entry.wheelSlot = -1;
      entry.due(now);
    }
    due.length = 0;
  }
}
