/**
 * Upload and download of media for image/file/audio/video messages.
 *
 *   POST /upload?name=cat.png   body: the file, Content-Type: its MIME type
 *     → 201 {"id","url":"/files/<id>","name","mime","size"}
 *   GET  /files/<id>            the file; single byte ranges for players
 *
 * Both authenticate like the WebSocket (Bearer header, ?token=, or ?user= in
 * dev mode). A file can be downloaded by its uploader and by members of any
 * conversation with a message that refers to it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { identifyRequest, type Authenticator, type Identity } from '../auth/authenticator.js';
import { matchesPattern } from '../access/patterns.js';
import { mayReadFile } from '../access/rules.js';
import { fileIdOf } from '../protocol/file-reference.js';
import { UNSHOWABLE } from '../protocol/commands.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observe/logger.js';
import { LogThrottle } from '../observe/log-throttle.js';
import type { Store } from '../store/store.js';
import { TooLargeError, type BlobStore } from './blob-store.js';
import { UploadBudget } from './upload-budget.js';

const INLINE = /^(image|audio|video)\//;
/** One `type/subtype` (RFC 6838's characters): `image/png, text/html` would pass a prefix match and be served as sent. */
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,62}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;
/** 1–200 characters, no slashes, nothing a name shown to users may not hold (`\u202egpj.exe` shows as "exe.jpg"). */
const SAFE_NAME = /^[^/\\]{1,200}$/;
/**
 * Files are served from the chat's own origin, and some types are documents a browser runs when opened (an SVG
 * image, or HTML if an operator allows it): a script in one would read the viewer's token from its own URL. As a
 * sandboxed document with nothing it may load, an opened file is shown and cannot act; `<img>`, `<video>` and
 * downloads are not affected.
 */
const FILE_POLICY = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/** Uploads stored and refused (metrics, observe/metrics.ts). */
export interface UploadCounters {
  stored(bytes: number): void;
  /** `reason`: the error code answered (unauthorized, rate_limited, invalid_name, unsupported_type, too_large). */
  refused(reason: string): void;
}

const NO_COUNTERS: UploadCounters = { stored: () => {}, refused: () => {} };

export function uploadRoutes(
  cfg: Config['uploads'],
  auth: Authenticator,
  store: Store,
  blobs: BlobStore,
  log: Logger,
  now: () => number,
  counters: UploadCounters = NO_COUNTERS,
  /** A failure that repeats (a store that is down fails every upload) is logged at once, then once per this many ms with a count. */
  repeatIntervalMs?: number,
): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const allowed = (mime: string): boolean => cfg.allowedTypes.some((p) => matchesPattern(p, mime));
  const budget = new UploadBudget(cfg.userBytesPerHour, now);
  const failures = new LogThrottle(log, repeatIntervalMs);
  const refuseUpload = (req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string): void => {
    counters.refused(error);
    refuse(req, res, status, error, message);
  };

  async function who(req: IncomingMessage, res: ServerResponse, url: URL): Promise<Identity | null> {
    const r = await identifyRequest(auth, req.headers, url);
    if (r?.ok) return r.identity;
    send(res, 401, { error: 'unauthorized', message: r ? r.reason : 'send a token (Authorization: Bearer, or ?token=)' });
    return null;
  }

  async function upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const identity = await who(req, res, url);
    if (!identity) {
      counters.refused('unauthorized');
      req.resume();
      return;
    }
    const wait = budget.waitMs(identity.user);
    if (wait > 0) {
      res.setHeader('retry-after', Math.ceil(wait / 1000));
      return refuseUpload(req, res, 429, 'rate_limited', `more than uploads.userBytesPerHour (${cfg.userBytesPerHour} bytes) uploaded in the last hour`);
    }
    const mime = (req.headers['content-type'] ?? 'application/octet-stream').split(';', 1)[0]!.trim().toLowerCase();
    const name = url.searchParams.get('name') ?? 'file';
    if (!SAFE_NAME.test(name) || UNSHOWABLE.test(name)) return refuseUpload(req, res, 400, 'invalid_name', 'name: 1-200 characters, no slashes, no control or invisible characters (docs/api.md)');
    if (!MIME_TYPE.test(mime) || !allowed(mime)) return refuseUpload(req, res, 415, 'unsupported_type', `${mime.slice(0, 100)} is not an allowed upload type`);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > cfg.maxBytes) return refuseUpload(req, res, 413, 'too_large', `uploads are limited to ${cfg.maxBytes} bytes`);
    const id = randomBytes(16).toString('base64url');
    // A client that stops sending would hold the socket, a file descriptor and a partial file for as long as it
    // keeps the connection open.
    req.setTimeout(cfg.idleTimeoutMs, () => req.destroy(new UploadStalled(cfg.idleTimeoutMs)));
    let size: number;
    try {
      size = await blobs.put(id, req, cfg.maxBytes);
    } catch (e) {
      if (e instanceof TooLargeError) return refuseUpload(req, res, 413, 'too_large', `uploads are limited to ${cfg.maxBytes} bytes`);
      throw e;
    } finally {
      req.setTimeout(0);
    }
    await store.addUpload({ id, owner: identity.user, name, mime, size, ts: now() });
    budget.charge(identity.user, size);
    counters.stored(size);
    log.debug({ user: identity.user, id, size, mime }, 'upload stored');
    send(res, 201, { id, url: `/files/${id}`, name, mime, size });
  }

  async function download(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    const identity = await who(req, res, url);
    if (!identity) return;
    const meta = await store.getUpload(id);
    // Not found and not allowed look the same, so ids cannot be probed.
    if (!meta || mayReadFile(identity, await store.canReadUpload(id, identity.user))) return send(res, 404, { error: 'not_found', message: 'no such file' });
    const size = (await blobs.size(id)) ?? 0;
    const headers: Record<string, string | number> = {
      'content-type': meta.mime,
      'content-disposition': `${INLINE.test(meta.mime) ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(meta.name)}`,
      'x-content-type-options': 'nosniff',
      'content-security-policy': FILE_POLICY,
      'accept-ranges': 'bytes',
      'cache-control': 'private, max-age=3600',
    };
    const range = parseRange(req.headers.range, size);
    if (range === 'invalid') {
      res.writeHead(416, { 'content-range': `bytes */${size}` });
      return void res.end();
    }
    if (range) {
      res.writeHead(206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${size}`, 'content-length': range.end - range.start + 1 });
    } else res.writeHead(200, { ...headers, 'content-length': size });
    if (req.method === 'HEAD') return void res.end();
    blobs
      .read(id, range ?? undefined)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  return (req, res, pathname) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let work: Promise<void> | null = null;
    if (pathname === '/upload') {
      if (req.method !== 'POST') {
        send(res, 405, { error: 'method_not_allowed', message: 'POST the file to /upload' });
        return true;
      }
      work = upload(req, res, url);
    } else {
      const id = fileIdOf(pathname);
      if (id === null || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
      work = download(req, res, url, id);
    }
    work.catch((err: unknown) => {
      // A client that went away or stalled is not the server's failure.
      if (req.destroyed || err instanceof UploadStalled) log.debug({ err: (err as Error).message }, 'media request ended by the client');
      else failures.error({ err }, 'media request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal', message: 'internal error' });
      else res.destroy();
    });
    return true;
  };
}

class UploadStalled extends Error {
  constructor(ms: number) {
    super(`nothing received for ${ms} ms`);
  }
}

function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string): void {
  send(res, status, { error, message }, true);
  req.resume();
}

function send(res: ServerResponse, status: number, body: unknown, close = false): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) };
  // A refused upload's body is not read: ask the client not to reuse the connection.
  if (close) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'invalid' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? 'invalid' : { start, end };
}
