/**
 * Which web pages may use the server from a browser (`server.allowedOrigins`). A browser sends the page's Origin
 * with a WebSocket upgrade and with cross-origin requests (and with a POST to its own origin), and otherwise lets
 * any page open a WebSocket to any server: a page on another site could connect with the visitor's credentials
 * where those travel by themselves (dev identities on loopback, a proxy that authenticates by cookie). The list
 * says which pages may; the page the server itself serves always may. Clients that are not browsers send no
 * Origin and are not affected.
 *
 * With dev identities on, anyone who reaches the server is whoever they say, so the check holds even with an empty
 * list, and the server's own page is not recognized by its host name alone: a page at `http://evil.example:8080`
 * whose DNS name its owner then points at 127.0.0.1 (DNS rebinding) sends `Host: evil.example:8080` and `Origin:
 * http://evil.example:8080`, which name each other. An Origin whose host is an IP address or `localhost` cannot be
 * rebound (the browser loaded the page from that very address), so there the own page is still recognized.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import cors from 'cors';
import { isLoopback } from '../auth/authenticator.js';

export interface OriginPolicy {
  /** Whether a request from this page may be served: an upgrade become a session, an upload be stored. */
  allows(req: IncomingMessage): boolean;
  /** Adds CORS headers for an allowed page; answers a preflight itself and returns true then. */
  handleCors(req: IncomingMessage, res: ServerResponse): boolean;
}

export interface OriginOptions {
  /** Dev identities are on (`?user=NAME`): see above. */
  dev?: boolean;
}

/**
 * `allowed`: origins such as `https://app.example.com`, or `*` for any. Empty: no CORS headers, and no check — but
 * with dev identities on, only pages at loopback addresses (localhost, 127.x.x.x, [::1]) and the server's own page
 * may.
 */
export function originPolicy(allowed: readonly string[], { dev = false }: OriginOptions = {}): OriginPolicy {
  if (allowed.length === 0 && !dev) return { allows: () => true, handleCors: () => false };
  const any = allowed.includes('*');
  const list = new Set(allowed.map((o) => o.toLowerCase()));
  const ownPage = (origin: string, req: IncomingMessage): boolean => sameOrigin(origin, req) && (!dev || notRebindable(origin));
  const permitted = (origin: string, req: IncomingMessage): boolean =>
    any || list.has(origin.toLowerCase()) || ownPage(origin, req) || (allowed.length === 0 && onThisMachine(origin));
  const allows = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin === undefined || permitted(origin, req);
  };
  if (allowed.length === 0) return { allows, handleCors: () => false };
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
    allows,
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
 * WebSocket handshake, and on a cross-origin fetch it would need a preflight, which does not carry it. A page
 * whose DNS name was rebound to this server is not cross-origin, though: see notRebindable.)
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

/** The page's host name, lower case, an IPv6 address without its brackets; null for an Origin that is no URL (`null`). */
function hostnameOf(origin: string): string | null {
  try {
    const { hostname } = new URL(origin);
    return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  } catch {
    return null;
  }
}

/** An Origin at an IP address or `localhost`: a browser does not ask DNS for either, so it cannot be rebound. */
function notRebindable(origin: string): boolean {
  const host = hostnameOf(origin);
  return host !== null && (host === 'localhost' || isIP(host) !== 0);
}

/** A page served from this machine: localhost, 127.0.0.0/8, ::1. */
function onThisMachine(origin: string): boolean {
  const host = hostnameOf(origin);
  return host !== null && isLoopback(host);
}
