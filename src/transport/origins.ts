/**
 * Which web pages may use the server from a browser (`server.allowedOrigins`). A browser sends the page's Origin
 * with a WebSocket upgrade and with cross-origin requests, and otherwise lets any page open a WebSocket to any
 * server: a page on another site could connect with the visitor's credentials where those travel by themselves
 * (dev identities on loopback, a proxy that authenticates by cookie). The list says which pages may; the page the
 * server itself serves always may. Clients that are not browsers send no Origin and are not affected.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

export interface OriginPolicy {
  /** Whether an upgrade from this request's page may become a session. */
  allows(req: IncomingMessage): boolean;
  /** Adds CORS headers for an allowed page; answers a preflight itself and returns true then. */
  handleCors(req: IncomingMessage, res: ServerResponse): boolean;
}

/** `allowed`: origins such as `https://app.example.com`, or `*` for any. Empty: no check and no CORS headers. */
export function originPolicy(allowed: readonly string[]): OriginPolicy {
  if (allowed.length === 0) return { allows: () => true, handleCors: () => false };
  const any = allowed.includes('*');
  const list = new Set(allowed.map((o) => o.toLowerCase()));
  const permitted = (origin: string, req: IncomingMessage): boolean => any || list.has(origin.toLowerCase()) || sameOrigin(origin, req);
  // Per request: the page's own origin is reflected when it is allowed (and the page the server served always is).
  const middleware = cors((req, done) =>
    done(null, {
      origin: permitted(req.headers.origin ?? '', req as IncomingMessage),
      methods: ['GET', 'HEAD', 'POST'],
      allowedHeaders: ['authorization', 'content-type'],
      maxAge: 600,
    }),
  );
  return {
    allows: (req) => {
      const origin = req.headers.origin;
      return origin === undefined || permitted(origin, req);
    },
    handleCors: (req, res) => {
      if (req.headers.origin === undefined) return false;
      // The middleware calls back at once (no option is asynchronous): not called back means it answered a preflight.
      let answered = true;
      middleware(req, res, () => (answered = false));
      return answered;
    },
  };
}

/**
 * The page the server itself served: its Origin names the host the request was sent to — as the request says, or
 * as a reverse proxy that rewrote `Host` says in `X-Forwarded-Host`. (A page cannot set that header on a
 * WebSocket handshake, and on a cross-origin fetch it would need a preflight, which does not carry it.)
 */
function sameOrigin(origin: string, req: IncomingMessage): boolean {
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const forwarded = req.headers['x-forwarded-host'];
  const forwardedHost = typeof forwarded === 'string' ? forwarded.split(',', 1)[0]!.trim() : undefined;
  return host === req.headers.host || host === forwardedHost;
}
