/**
 * Our own HTTP(S) server: health and readiness, what a browser client needs to
 * know to connect, the web app's files, and the WebSocket upgrade on the
 * configured path. Any other upgrade is refused.
 */
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { Duplex } from 'node:stream';
import { resolveDevMode } from '../auth/authenticator.js';
import type { Config } from '../config/schema.js';
import { originPolicy } from './origins.js';
import { pathOf } from './request-target.js';
import { staticFiles, type WebFiles } from './static-files.js';
import type { TlsFiles } from './tls-files.js';

export interface HttpHandlers {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Accepting connections (false before the start and from the first moment of a stop: draining). */
  ready(): boolean;
  /**
   * Why the server should get no traffic although it accepts connections ("store unreachable", "disk full"), or
   * null: /readyz answers 503 with it. New connections are still taken (rooms that store nothing still work).
   */
  unready?(): string | null;
  /** Extra routes (server API, metrics); returns true when it answered. */
  route?(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
}

/**
 * What a page needs to connect (docs/api.md). The WebSocket path is a setting,
 * so the bundled page cannot know it; it reads this relative to its own URL,
 * which also works behind a proxy that serves the server under a path prefix.
 */
const CLIENT_CONFIG_PATH = '/client-config.json';

/** `web`: the files served at `/` (none: null); `tls`: the certificate and key already read (transport/tls-files.ts), or null for plain HTTP. */
export function createHttpServer(config: Config, web: WebFiles | null, tls: TlsFiles | null, handlers: HttpHandlers): Server {
  const serveFile = web ? staticFiles(web) : null;
  // The same decision as the server's start (a function of the configuration alone).
  const { dev } = resolveDevMode(config.auth, config.server.host);
  const origins = originPolicy(config.server.allowedOrigins, { dev });
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (origins.handleCors(req, res)) return;
    // Without CORS headers a page from a refused origin cannot read the answer, but a request that changes something
    // (an upload) would still be carried out: it is refused before any route sees it.
    if (!READ_ONLY.has(req.method ?? '') && !origins.allows(req)) return refuseRequest(req, res);
    const pathname = pathOf(req.url ?? '/');
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      const reason = handlers.ready() ? (handlers.unready?.() ?? null) : 'draining';
      return reason === null ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'unavailable', reason });
    }
    if (pathname === CLIENT_CONFIG_PATH) return json(res, 200, { websocketPath: config.server.path });
    if (handlers.route?.(req, res, pathname)) return;
    if (pathname === config.server.path) return json(res, 426, { error: 'upgrade_required', message: 'connect with a WebSocket client' });
    if (serveFile?.(req, res, pathname)) return;
    json(res, 404, { error: 'not_found', message: `no such path: ${pathname}` });
  };
  const { headersTimeoutMs } = config.server;
  // Node enforces the header deadline in a sweep every 30 s by default: a timeout would be up to that late.
  const timeouts = { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.min(5_000, Math.ceil(headersTimeoutMs / 2)) };
  const server = tls ? createHttps({ ...tls, ...timeouts }, onRequest) : createHttp(timeouts, onRequest);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req.url ?? '/') !== config.server.path) return refuseUpgrade(socket, '404 Not Found');
    if (!handlers.ready()) return refuseUpgrade(socket, '503 Service Unavailable');
    if (!origins.allows(req)) return refuseUpgrade(socket, '403 Forbidden');
    handlers.upgrade(req, socket, head);
  });
  // Bad HTTP from a client must not take the server down.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });
  return server;
}

/** Methods that change nothing, which a page from any origin may send (it cannot read the answer without CORS). */
const READ_ONLY = new Set(['GET', 'HEAD', 'OPTIONS']);

/** 403 for a page that may not use the server; its body is not read, so the connection is not reused. */
function refuseRequest(req: IncomingMessage, res: ServerResponse): void {
  const text = JSON.stringify({ error: 'forbidden', message: "this page's origin may not use the server (server.allowedOrigins)" });
  res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
  req.resume();
}

/** Answers an upgrade that will not become a WebSocket with a bare HTTP status, and ends the socket. */
function refuseUpgrade(socket: Duplex, status: string): void {
  socket.on('error', () => {});
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
