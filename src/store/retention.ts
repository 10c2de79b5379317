/**
 * Retention in the background. A pass removes what the policy no longer
 * keeps in steps of at most `stepSize` messages (Store.trimOlder,
 * Store.trimToCount), each a short transaction of its own, so that the
 * commits queued behind a step wait for that step only, and after each step
 * the pass waits as long as the step took, leaving the store about half of
 * its time for everything else at least. As one statement each, a pass over a
 * store of 2 million messages held the SQLite writer — and every publish
 * waiting for its ack — for 0.6–5.7 s, 2.7–5.4 s of it with nothing to
 * remove (bench/retention.ts). The next pass starts `intervalMs` after one ends:
 * passes never overlap.
 *
 * Rooms managed through the server API may carry retention of their own, on
 * top of the server's: the stricter wins (a room can keep less than the
 * server keeps, never more). After the server-wide steps, a pass trims each
 * room whose own limit is stricter, in steps of its own (Store.trimConversation);
 * the other rooms cost it nothing. The rooms are read at the start of each pass.
 *
 * Files go with the messages: a pass ends by looking, in steps too, at the
 * uploads older than `unusedUploadsMaxAgeMs` that may be unused (never sent,
 * or their messages removed since they were last looked at), removing the
 * records of those no stored message refers to and handing their ids to
 * `removeFiles` for their bytes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConversationTrimRule, CountCursor, Retention, RoomRecord, Store } from './store.js';

const DAY_MS = 86_400_000;

/** A managed room's own limits (RoomRecord's): null takes the server's. */
export type RoomRetention = Pick<RoomRecord, 'name' | 'maxCount' | 'maxAgeDays'>;

/** The server's limits, and the managed rooms' own on top of them. */
export interface RetentionPolicy extends Retention {
  rooms?: Iterable<RoomRetention>;
}

export interface RetentionOptions extends Retention {
  intervalMs: number;
  stepSize: number;
  /** Uploads that no stored message refers to go once older than this; unset: they stay. */
  unusedUploadsMaxAgeMs?: number;
  /** Removes the bytes of uploads whose records a pass removed. */
  removeFiles?: (ids: string[]) => Promise<void>;
  /**
   * The managed rooms, read at the start of each pass. Set, the timer runs even with no limits of the server's
   * own, since a room may get some at any time; a pass with nothing to do at all is skipped, lease and all.
   */
  rooms?: () => Iterable<RoomRetention>;
}

export interface RetentionEvents {
  /** A pass ended having removed `removed` messages and `files` uploads (also 0). */
  passed(removed: number, files: number): void;
  /** Another node sharing the database was running a pass (Store.retentionLease): this one did not run. */
  skipped?(): void;
  failed(err: unknown): void;
}

export interface PassOptions {
  /** Once aborted, the pass ends after the step under way (a pause between steps ends at once). */
  signal?: AbortSignal;
  /** After each step, wait as long as it took: a pass then takes about half of the store's time at most. */
  paced?: boolean;
}

type Step = <T>(run: () => Promise<T>) => Promise<T>;

/** Runs a step, and (paced) then waits as long as it took. */
function stepper(opts: PassOptions): Step {
  const { signal } = opts;
  return async (run) => {
    const t0 = performance.now();
    const result = await run();
    if (opts.paced && !signal?.aborted) await sleep(performance.now() - t0, undefined, { signal, ref: false }).catch(() => {});
    return result;
  };
}

/** A room's conversation (hub/conversations.ts roomConv; the store part imports nothing of the hub's code). */
const roomConv = (room: string): string => `r:${room}`;

/** The rooms whose own limits are stricter than the server's, each with the part of its rule that is: the rest is done. */
export function roomTrims(policy: RetentionPolicy, now: number): { conv: string; rule: ConversationTrimRule }[] {
  const trims: { conv: string; rule: ConversationTrimRule }[] = [];
  for (const room of policy.rooms ?? []) {
    const rule: ConversationTrimRule = {};
    if (room.maxCount !== null && (policy.maxCount === undefined || room.maxCount < policy.maxCount)) rule.keep = room.maxCount;
    const ageMs = room.maxAgeDays === null ? undefined : room.maxAgeDays * DAY_MS;
    if (ageMs !== undefined && (policy.maxAgeMs === undefined || ageMs < policy.maxAgeMs)) rule.before = now - ageMs;
    if (rule.keep !== undefined || rule.before !== undefined) trims.push({ conv: roomConv(room.name), rule });
  }
  return trims;
}

/**
 * One pass: by age, oldest first, then conversation by conversation by count, then the rooms with stricter limits
 * of their own, one after the other. Returns how many messages went.
 */
export async function retentionPass(store: Store, policy: RetentionPolicy, now: number, stepSize: number, opts: PassOptions = {}): Promise<number> {
  const { signal } = opts;
  const step = stepper(opts);
  let removed = 0;
  if (policy.maxAgeMs !== undefined) {
    const before = now - policy.maxAgeMs;
    while (!signal?.aborted) {
      const n = await step(() => store.trimOlder(before, stepSize));
      removed += n;
      if (n < stepSize) break;
    }
  }
  const keep = policy.maxCount;
  if (keep !== undefined) {
    let cursor: CountCursor | null = { after: '' };
    while (cursor !== null && !signal?.aborted) {
      const from: CountCursor = cursor;
      const trimmed = await step(() => store.trimToCount(keep, from, stepSize));
      removed += trimmed.removed;
      cursor = trimmed.next;
    }
  }
  // Read before the first step: rooms changed through the API during the pass wait for the next one.
  for (const { conv, rule } of roomTrims(policy, now)) {
    if (signal?.aborted) break;
    removed += await trimRoom(store, conv, rule, stepSize, step, signal);
  }
  return removed;
}

/**
 * Trims one room's conversation until a step removes less than a full one. A room that gains messages faster than
 * the steps remove them would keep that going for ever: once a step was full, the pass looks at what the room
 * holds, and stops the room once that many more have gone (they are its oldest: everything it held then). What
 * came during the pass waits for the next one.
 */
async function trimRoom(store: Store, conv: string, rule: ConversationTrimRule, stepSize: number, step: Step, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  let bound = Infinity;
  while (!signal?.aborted && removed < bound) {
    const n = await step(() => store.trimConversation(conv, rule, stepSize));
    removed += n;
    if (n < stepSize) break;
    if (bound === Infinity) {
      const held = await store.history({ conv, limit: 1 });
      bound = removed + (held.lastSeq - held.oldestSeq + 1);
    }
  }
  return removed;
}

/**
 * Removes the uploads made before `before` that no stored message refers to, a step at a time (Store.trimUploads):
 * each step's records first, then their bytes (a crash in between leaves bytes nothing points to, never a record
 * without its bytes). Returns how many went.
 */
export async function unusedUploadsPass(
  store: Store,
  before: number,
  stepSize: number,
  removeFiles: (ids: string[]) => Promise<void>,
  opts: PassOptions = {},
): Promise<number> {
  const step = stepper(opts);
  let removed = 0;
  while (!opts.signal?.aborted) {
    const trim = await step(() => store.trimUploads(before, stepSize));
    if (trim.removed.length > 0) await removeFiles(trim.removed);
    removed += trim.removed.length;
    if (!trim.more) break;
  }
  return removed;
}

export class RetentionTimer {
  private timer: NodeJS.Timeout | null = null;
  private pass: Promise<void> | null = null;
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: Store,
    private readonly opts: RetentionOptions,
    private readonly now: () => number,
    private readonly events: RetentionEvents,
  ) {}

  start(): void {
    if (!this.serverWide() && !this.opts.rooms) return;
    this.schedule();
  }

  /** Whether the server's own settings give every pass something to do. */
  private serverWide(): boolean {
    const { opts } = this;
    return opts.maxAgeMs !== undefined || opts.maxCount !== undefined || opts.unusedUploadsMaxAgeMs !== undefined;
  }

  /** No pass starts from now on; resolves once the one under way (if any) has ended with its current step. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  private schedule(): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pass = this.runPass().finally(() => {
        this.pass = null;
        this.schedule();
      });
    }, this.opts.intervalMs).unref();
  }

  private async runPass(): Promise<void> {
    const { opts } = this;
    const pass: PassOptions = { signal: this.stopping.signal, paced: true };
    try {
      const rooms = [...(opts.rooms?.() ?? [])];
      // Nothing to do (no limits of the server's, none of any room's): no pass, not even a look for the lease.
      if (!this.serverWide() && !rooms.some((r) => r.maxCount !== null || r.maxAgeDays !== null)) return;
      const policy: RetentionPolicy = { maxAgeMs: opts.maxAgeMs, maxCount: opts.maxCount, rooms };
      const run = async (): Promise<[number, number]> => {
        const now = this.now();
        const removed = await retentionPass(this.store, policy, now, opts.stepSize, pass);
        const files =
          opts.unusedUploadsMaxAgeMs === undefined || !opts.removeFiles
            ? 0
            : await unusedUploadsPass(this.store, now - opts.unusedUploadsMaxAgeMs, opts.stepSize, opts.removeFiles, pass);
        return [removed, files];
      };
      const done = this.store.retentionLease ? await this.store.retentionLease(run) : await run();
      if (done) this.events.passed(done[0], done[1]);
      else this.events.skipped?.();
    } catch (err) {
      this.events.failed(err);
    }
  }
}
