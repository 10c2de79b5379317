/** The operator's endpoints of the server API: the live figures the admin console draws (`read` scope). */
import { mayObserve } from '../access/rules.js';
import { check } from '../hub/errors.js';
import { route, type Route } from './routes.js';
import * as S from './schemas.js';

export interface AdminDeps {
  /** The figures of GET /admin/stats (observe/metrics.ts); without it the path does not exist. */
  stats?: (() => S.AdminStats) | undefined;
  now(): number;
}

export function adminRoutes(deps: AdminDeps): Route[] {
  const routes: Route[] = [];
  const { stats } = deps;
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
  return routes;
}
