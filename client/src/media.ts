/**
 * Media for the client: uploads over HTTP with the client's credentials, URLs
 * a browser can load stored files from, and the body of a media message.
 */
import type { Credentials } from './credentials.js';
import { SwitchboardError } from './errors.js';
import type { ClientOptions, MessageOptions } from './options.js';
import type { MediaBody, MediaContentType, UploadResult } from './types.js';
import { fileIdOf } from '../../src/protocol/file-reference.js';
import { httpBaseOf, mediaTypeOf, serverUrl, uploadFile, type UploadData, type UploadOptions } from './upload.js';

export class Media {
  constructor(
    private readonly options: Pick<ClientOptions, 'url' | 'httpUrl' | 'fetch' | 'uploadTimeoutMs'>,
    private readonly credentials: Pick<Credentials, 'forUpload' | 'forFileUrl'>,
  ) {}

  private get httpBase(): string {
    return httpBaseOf(this.options.url, this.options.httpUrl);
  }

  async upload(data: UploadData, opts: UploadOptions): Promise<UploadResult> {
    const fetchFn = this.options.fetch ?? globalThis.fetch;
    if (typeof fetchFn !== 'function') throw new SwitchboardError('no_fetch', 'no fetch available: pass options.fetch');
    return uploadFile({
      fetch: fetchFn.bind(globalThis),
      httpBase: this.httpBase,
      auth: await this.credentials.forUpload(),
      data,
      opts: { ...opts, timeoutMs: opts.timeoutMs ?? this.options.uploadTimeoutMs ?? 60_000 },
    });
  }

  /**
   * An absolute URL for a stored file, with the credentials in the query (`<img>`/`<video>` cannot send headers).
   * A URL anywhere but the server's `files/` gets no credentials: a message body's URL is whatever its sender
   * wrote, and the user's token must not go to another host.
   */
  fileUrl(path: string): string {
    const u = serverUrl(this.httpBase, path);
    if (fileIdOf(path) === null || !u.href.startsWith(`${this.httpBase}files/`)) return u.toString();
    const auth = this.credentials.forFileUrl();
    if (auth.token !== undefined) u.searchParams.set('token', auth.token);
    else if (auth.user !== undefined) u.searchParams.set('user', auth.user);
    return u.toString();
  }
}

/** The media message for an uploaded file: its body, and a content type that follows the MIME type unless given. */
export function mediaMessage(
  up: UploadResult,
  opts: Omit<Partial<MediaBody>, 'url' | 'name' | 'mime' | 'size'> & { contentType?: MediaContentType; key?: string },
): { body: MediaBody; options: MessageOptions<MediaContentType> } {
  const body: MediaBody = { url: up.url, name: up.name, mime: up.mime, size: up.size };
  for (const f of ['width', 'height', 'durationMs', 'caption'] as const) if (opts[f] !== undefined) (body as Record<string, unknown>)[f] = opts[f];
  const contentType = opts.contentType ?? mediaTypeOf(up.mime);
  const options: MessageOptions<MediaContentType> = { contentType };
  if (opts.key !== undefined) options.key = opts.key;
  return { body, options };
}
