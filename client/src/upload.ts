/**
 * Media upload over HTTP (`POST /upload`, docs/api.md) with the platform's
 * `fetch`, authenticated like the WebSocket.
 */
import type { MediaContentType, UploadResult } from './types.js';
import { UploadError } from './errors.js';

/** What can be uploaded: a Blob/File, bytes, or a string (sent as UTF-8). */
export type UploadData = Blob | ArrayBuffer | ArrayBufferView | string;

export interface UploadOptions {
  /** File name (default: the File's name, or `file`). */
  name?: string;
  /** MIME type (default: the Blob's type, or `application/octet-stream`). */
  mime?: string;
  signal?: AbortSignal;
  /** Abort after this long (default: the client's `uploadTimeoutMs`, 60 s). */
  timeoutMs?: number;
}

export interface UploadAuth {
  token?: string;
  user?: string;
}

/**
 * The URL the server's HTTP routes (`upload`, `files/…`) live under, ending in
 * `/`: `httpUrl` when given (a server behind a proxy's path prefix:
 * `https://example.com/chat` → `https://example.com/chat/`), else the
 * WebSocket URL's origin (`wss://host/ws` → `https://host/`).
 */
export function httpBaseOf(wsUrl: string, httpUrl?: string): string {
  if (httpUrl !== undefined) {
    const u = new URL(httpUrl);
    u.search = u.hash = '';
    // Without it, `upload` would resolve next to the prefix's last segment instead of under it.
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    return u.toString();
  }
  const u = new URL(wsUrl);
  const protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
  return `${protocol}//${u.host}/`;
}

/**
 * A server route (`upload`) or a file path from a message body (`/files/ID`,
 * server-relative on the wire) as a URL under the HTTP base, so that a prefix
 * in the base is kept. An absolute URL stays as it is.
 */
export function serverUrl(httpBase: string, path: string): URL {
  const serverRelative = path.startsWith('/') && !path.startsWith('//');
  return new URL(serverRelative ? path.slice(1) : path, httpBase);
}

/** The content type a MIME type's media message takes. */
export function mediaTypeOf(mime: string): MediaContentType {
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'file';
}

export interface UploadRequest {
  fetch: typeof fetch;
  /** Where the server's HTTP routes are (httpBaseOf). */
  httpBase: string;
  auth: UploadAuth;
  data: UploadData;
  opts: UploadOptions & { timeoutMs: number };
}

export async function uploadFile({ fetch: fetchFn, httpBase, auth, data, opts }: UploadRequest): Promise<UploadResult> {
  const blobLike = typeof Blob !== 'undefined' && data instanceof Blob ? data : null;
  const name = opts.name ?? (blobLike && typeof (blobLike as { name?: unknown }).name === 'string' ? (blobLike as unknown as { name: string }).name : 'file');
  const mime = opts.mime ?? (blobLike?.type || 'application/octet-stream');
  const url = serverUrl(httpBase, 'upload');
  url.searchParams.set('name', name);
  const headers: Record<string, string> = { 'content-type': mime };
  if (auth.token !== undefined) headers.authorization = `Bearer ${auth.token}`;
  else if (auth.user !== undefined) url.searchParams.set('user', auth.user);

  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  opts.signal?.addEventListener('abort', onAbort);
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  let res: Response;
  try {
    res = await fetchFn(url.toString(), { method: 'POST', headers, body: data as RequestInit['body'], signal: controller.signal });
  } catch (err) {
    if (controller.signal.aborted) throw new UploadError(opts.signal?.aborted ? 'aborted' : 'timeout', opts.signal?.aborted ? 'upload aborted' : `upload took longer than ${opts.timeoutMs} ms`, 0);
    throw new UploadError('network', `upload failed: ${(err as Error).message}`, 0);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  let payload: unknown = null;
  try {
    payload = await res.json();
  } catch {
    // not JSON
  }
  if (res.status !== 201 && res.status !== 200) {
    const p = (payload ?? {}) as { error?: unknown; message?: unknown };
    throw new UploadError(typeof p.error === 'string' ? p.error : `http_${res.status}`, typeof p.message === 'string' ? p.message : `upload failed with HTTP ${res.status}`, res.status);
  }
  return payload as UploadResult;
}
