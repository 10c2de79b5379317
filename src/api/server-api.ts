/**
 * The server API at /api/v1: finds the route, checks the API key, reads and
 * validates the request, runs the route and answers JSON. Refusals of the
 * hub (its access rules, the store) become statuses with the same codes the
 * WebSocket uses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { HubError } from '../hub/errors.js';
import { LogThrottle } from '../observe/log-throttle.js';
import { ErrorCode } from '../protocol/codes.js';
import { adminRoutes, type AdminDeps } from './admin-routes.js';
import { ApiError, Download, parse, readJson, send, sendDownload, sendError } from './http.js';
import { ApiKeys, keyOf, type ApiKeyEntry } from './keys.js';
import { openApiDocument } from './openapi.js';
import { apiRoutes, type ApiDeps, type Route } from './routes.js';

export const API_PREFIX = '/api/v1';

const STATUS: Record<string, number> = {
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotJoined]: 409,
  [ErrorCode.LimitExceeded]: 429,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.UserOffline]: 404,
  [ErrorCode.Unavailable]: 503,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
};

interface Compiled {
  route: Route;
  segments: string[];
}

export interface ServerApiOptions extends ApiDeps, AdminDeps {
  keys: readonly ApiKeyEntry[];
  maxBodyBytes: number;
  log: Logger;
  version: string;
  /**
   * Told of every request once answered (metrics): its route's path template (`/api/v1/rooms/{room}/publish`,
   * never the filled-in path; `unmatched` for a path no route has), its status and how long it took.
   */
  observe?: (method: string, route: string, status: number, seconds: number) => void;
  /** A failure that repeats (a store that is down fails every call) is logged at once, then once per this many ms with a count (default 10 s). */
  repeatIntervalMs?: number;
}

/** The route label of a request that matched no route. */
export const UNMATCHED = 'unmatched';

export function serverApi(opts: ServerApiOptions): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const routes = [...apiRoutes(opts), ...adminRoutes(opts)];
  const compiled: Compiled[] = routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
  const keys = new ApiKeys(opts.keys);
  const openapi = JSON.stringify(openApiDocument(routes, opts.version));
  const failures = new LogThrottle(opts.log, opts.repeatIntervalMs);

  return (req, res, pathname) => {
    if (pathname !== API_PREFIX && !pathname.startsWith(`${API_PREFIX}/`)) return false;
    const matched = { route: UNMATCHED };
    const { observe } = opts;
    if (observe) {
      const start = performance.now();
      res.once('close', () => observe(req.method ?? '?', matched.route, res.statusCode, (performance.now() - start) / 1000));
    }
    if (pathname === `${API_PREFIX}/openapi.json` && req.method === 'GET') {
      matched.route = pathname;
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(openapi) });
      res.end(openapi);
      return true;
    }
    void handle(req, res, pathname.slice(API_PREFIX.length), matched).catch((err: unknown) => {
      if (!(err instanceof ApiError)) failures.error({ err, path: pathname }, 'server API call failed');
      const e = toApiError(err);
      // (The rest of an oversized body is read and thrown away by readJson: cutting the connection now would fail
      // the client's writes before it could read this answer.)
      if (!res.headersSent) sendError(res, e);
    });
    return true;
  };

  async function handle(req: IncomingMessage, res: ServerResponse, path: string, matched: { route: string }): Promise<void> {
    const segments = path.split('/').slice(1);
    const candidates = compiled.filter((c) => c.segments.length === segments.length && c.segments.every((s, i) => s.startsWith('{') || s === segments[i]));
    if (candidates.length === 0) throw new ApiError(404, 'not_found', `no such endpoint: ${API_PREFIX}${path}`);
    const match = candidates.find((c) => c.route.method === req.method);
    matched.route = `${API_PREFIX}${(match ?? candidates[0]!).route.path}`;
    if (!match) {
      res.setHeader('allow', [...new Set(candidates.map((c) => c.route.method))].join(', '));
      throw new ApiError(405, 'method_not_allowed', `${req.method ?? '?'} is not allowed here`);
    }
    const key = keyOf(req.headers);
    if (key === null) throw new ApiError(401, 'unauthorized', 'send an API key: Authorization: Bearer KEY, or X-API-Key: KEY');
    const actor = keys.actorFor(key);
    if (!actor) throw new ApiError(401, 'unauthorized', 'unknown API key');
    const { route } = match;
    const raw: Record<string, string> = {};
    match.segments.forEach((s, i) => {
      if (s.startsWith('{')) raw[s.slice(1, -1)] = decodeURIComponent(segments[i]!);
    });
    const params = parse(route.params, raw);
    const query = parse(route.query, Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams));
    const body = route.body ? parse(route.body, await readJson(req, opts.maxBodyBytes)) : undefined;
    const result = await route.run({ actor, params, query, body });
    if (result instanceof Download) sendDownload(res, result);
    else send(res, 200, result);
  }
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HubError) return new ApiError(STATUS[err.code] ?? 500, err.code, err.message);
  if (err instanceof URIError) return new ApiError(400, 'invalid_request', 'a path segment is not valid percent-encoding');
  return new ApiError(500, 'internal', 'internal error');
}
