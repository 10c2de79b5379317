/**
 * The operator's endpoints of the server API: the live figures the admin console draws (`read` scope), and, when
 * `debug.enabled`, a CPU profile and a heap snapshot of the process (`admin` scope), downloaded as files that
 * Chrome DevTools opens. Without debug the debug paths do not exist (404).
 */
import type { Readable } from 'node:stream';
import { mayAdminister, mayObserve } from '../access/rules.js';
import { check } from '../hub/errors.js';
import { ApiError, Download, FileAnswer } from './http.js';
import { route, type Route } from './routes.js';
import * as S from './schemas.js';

/** The process's profiler and heap snapshots (observe/debug.ts); one at a time. */
export interface DebugTools {
  /** A CPU profile over `seconds`, as `.cpuprofile` JSON; null while another profile or snapshot is under way. */
  cpuProfile(seconds: number): Promise<Buffer | null>;
  /** A heap snapshot, as a stream of `.heapsnapshot` JSON; null while another profile or snapshot is under way. */
  heapSnapshot(): Readable | null;
}

export interface AdminDeps {
  /** The figures of GET /admin/stats (observe/metrics.ts); without it the path does not exist. */
  stats?: (() => S.AdminStats) | undefined;
  /** Set when debug.enabled. */
  debug?: DebugTools | null | undefined;
  now(): number;
}

function busy(): ApiError {
  return new ApiError(409, 'busy', 'a CPU profile or heap snapshot is already being taken; try again when it is done');
}

/** `switchboard-<what>-<UTC time>.<ext>` */
function fileName(what: string, ext: string, now: number): string {
  return `switchboard-${what}-${new Date(now).toISOString().replace(/[:.]/g, '-')}.${ext}`;
}

export function adminRoutes(deps: AdminDeps): Route[] {
  const routes: Route[] = [];
  const { stats, debug } = deps;
  if (stats)
    routes.push(
      route({
        method: 'GET',
        path: '/admin/stats',
        summary: 'Live figures of this server: sessions, rooms, counters since start, store latency, queues, top rooms, recent slow consumers.',
        params: S.noQuery,
        query: S.noQuery,
        body: null,
        response: S.adminStats,
        run: ({ actor }) => {
          check(mayObserve(actor));
          return stats();
        },
      }),
    );
  if (debug)
    routes.push(
      route({
        method: 'POST',
        path: '/debug/cpu-profile',
        summary: 'Profile the CPU for `seconds` (1-60, default 10) and download the profile (open it in Chrome DevTools); debug.enabled only.',
        params: S.noQuery,
        query: S.profileQuery,
        body: null,
        response: new FileAnswer('application/json', 'a V8 CPU profile (.cpuprofile): nodes, startTime, endTime, samples, timeDeltas'),
        run: async ({ actor, query }) => {
          check(mayAdminister(actor));
          const profile = await debug.cpuProfile(query.seconds);
          if (!profile) throw busy();
          return new Download('application/json', fileName('cpu', 'cpuprofile', deps.now()), profile);
        },
      }),
      route({
        method: 'POST',
        path: '/debug/heap-snapshot',
        summary: 'Take a heap snapshot and download it as it is written (open it in Chrome DevTools); the process pauses while it is taken. debug.enabled only.',
        params: S.noQuery,
        query: S.noQuery,
        body: null,
        response: new FileAnswer('application/json', 'a V8 heap snapshot (.heapsnapshot): snapshot, nodes, edges, strings'),
        run: ({ actor }) => {
          check(mayAdminister(actor));
          const snapshot = debug.heapSnapshot();
          if (!snapshot) throw busy();
          return new Download('application/json', fileName('heap', 'heapsnapshot', deps.now()), snapshot);
        },
      }),
    );
  return routes;
}
