/**
 * The server's live figures (`GET /api/v1/admin/stats`), polled every second
 * while the console is open, and the series the charts draw: totals are
 * monotonic counters, so rates come from the difference between two polls.
 */
import type { Api } from './api.js';
import { ApiError } from './api.js';

export interface Stats {
  ts: number;
  uptimeSec: number;
  connections: number;
  sessions: number;
  users: number;
  rooms: number;
  totals: { messagesIn: number; deliveries: number; framesOut: number; bytesOut: number; slowConsumerCloses: number };
  store: { commitP50Ms: number | null; commitP99Ms: number | null; backlog: number };
  queueBytes: number;
  topRoomsByMembers: { room: string; sessions: number; users: number }[];
  topRoomsByRate: { room: string; messagesPerSec: number }[];
  recentSlowConsumers: { ts: number; session: string; user: string; unsentBytes: number; droppedMessages: number }[];
}

/** What the charts draw, one entry per poll (oldest first); null where there is nothing to draw. */
export interface Series {
  /** seconds since the epoch (uPlot's x) */
  t: number[];
  connections: number[];
  sessions: number[];
  messagesPerSec: (number | null)[];
  deliveriesPerSec: (number | null)[];
  commitP50Ms: (number | null)[];
  commitP99Ms: (number | null)[];
}

export const POLL_MS = 1_000;
/** How far back the charts go. */
export const WINDOW_SEC = 300;

export function emptySeries(): Series {
  return { t: [], connections: [], sessions: [], messagesPerSec: [], deliveriesPerSec: [], commitP50Ms: [], commitP99Ms: [] };
}

/** Adds a poll to the series (rates against the previous one) and drops what fell out of the window. */
export function addSample(s: Series, prev: Stats | null, cur: Stats): void {
  const dt = prev ? (cur.ts - prev.ts) / 1000 : 0;
  // A counter that went down is a restarted server: no rate across it.
  const rate = (a: number | undefined, b: number): number | null => (a === undefined || dt <= 0 || b < a ? null : (b - a) / dt);
  s.t.push(cur.ts / 1000);
  s.connections.push(cur.connections);
  s.sessions.push(cur.sessions);
  s.messagesPerSec.push(rate(prev?.totals.messagesIn, cur.totals.messagesIn));
  s.deliveriesPerSec.push(rate(prev?.totals.deliveries, cur.totals.deliveries));
  s.commitP50Ms.push(cur.store.commitP50Ms);
  s.commitP99Ms.push(cur.store.commitP99Ms);
  const oldest = cur.ts / 1000 - WINDOW_SEC;
  let drop = 0;
  while (drop < s.t.length && s.t[drop]! < oldest) drop++;
  if (drop > 0) for (const k of Object.keys(s) as (keyof Series)[]) s[k].splice(0, drop);
}

/**
 * Polls the stats: one request at a time, the next a second after the last
 * answer. `onStats` gets each answer, `onError` each failure (the poll goes on,
 * but for a 401: the key is gone, and the caller signs out).
 */
export class StatsPoller {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly api: Api,
    private readonly onStats: (stats: Stats) => void,
    private readonly onError: (err: ApiError) => void,
  ) {}

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    try {
      const stats = await this.api.get<Stats>('admin/stats');
      if (this.stopped) return;
      this.onStats(stats);
    } catch (err) {
      if (this.stopped) return;
      const e = err instanceof ApiError ? err : new ApiError(0, 'internal', (err as Error).message);
      this.onError(e);
      if (e.status === 401) return;
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.poll(), POLL_MS);
  }
}
