/**
 * A request target (`req.url`: a path and a query) read in the few ways the HTTP server and the WebSocket handshake
 * need, without parsing a whole URL: in a connect storm that was a good part of a handshake's own work.
 */

/** A request target's path: what comes before its query. */
export function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

const NO_QUERY = new URLSearchParams();

/**
 * The query of a request's target, as `new URL(target, base).searchParams` reads it (up to a fragment), without
 * parsing the rest of a URL: a good part of a handshake's own work in a connect storm.
 */
export function queryOf(target: string | undefined): URLSearchParams {
  if (target === undefined) return NO_QUERY;
  const q = target.indexOf('?');
  if (q === -1) return NO_QUERY;
  const hash = target.indexOf('#');
  if (hash !== -1 && hash < q) return NO_QUERY;
  return new URLSearchParams(hash === -1 ? target.slice(q + 1) : target.slice(q + 1, hash));
}
