/**
 * `GET /metrics` (metrics.path): the Prometheus text exposition. Open by default, as exporters usually are (bind
 * the server to a private address, or filter the path at the proxy); with metrics.requireKey it asks for an API
 * key with the `read` or `admin` scope, which Prometheus sends with `authorization: { credentials: KEY }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mayObserve } from '../access/rules.js';
import { ApiKeys, keyOf, type ApiKeyEntry } from '../api/keys.js';
import type { Config } from '../config/schema.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export function metricsRoute(
  metrics: Metrics,
  cfg: Config['metrics'],
  keys: readonly ApiKeyEntry[],
  log: Logger,
): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const apiKeys = cfg.requireKey ? new ApiKeys(keys) : null;
  return (req, res, pathname) => {
    if (!cfg.enabled || pathname !== cfg.path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return answer(res, 405, 'method_not_allowed', 'GET the metrics');
    }
    if (apiKeys) {
      const key = keyOf(req.headers);
      const actor = key === null ? null : apiKeys.actorFor(key);
      if (!actor) {
        res.setHeader('www-authenticate', 'Bearer');
        return answer(res, 401, 'unauthorized', 'metrics.requireKey is set: send an API key with the read scope (Authorization: Bearer KEY)');
      }
      const refused = mayObserve(actor);
      if (refused) return answer(res, 403, 'forbidden', refused.message);
    }
    metrics.exposition().then(
      (out) => {
        if (!out) return answer(res, 404, 'not_found', 'metrics are off (metrics.enabled)');
        res.writeHead(200, { 'content-type': out.contentType, 'content-length': Buffer.byteLength(out.text), 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : out.text);
      },
      (err: unknown) => {
        log.error({ err }, 'collecting the metrics failed');
        answer(res, 500, 'internal', 'internal error');
      },
    );
    return true;
  };
}

function answer(res: ServerResponse, status: number, code: string, message: string): true {
  const text = JSON.stringify({ code, message });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return true;
}
