/**
 * Uploads with progress. The SDK's `upload()` uses fetch, which cannot report
 * upload progress, so the page posts with XMLHttpRequest to the same endpoint
 * (`POST upload?name=`, docs/api.md) with the same credentials.
 */
import { mediaTypeOf, type MediaBody, type UploadResult } from '../../client/src/index.js';

/** The content type a file's message takes: the SDK's rule, so page and SDK agree. */
export const mediaKind = mediaTypeOf;
export type MediaKind = ReturnType<typeof mediaTypeOf>;

export class UploadFailed extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  too_large: 'the file is larger than the server allows',
  unsupported_type: 'the server does not accept this type of file',
  invalid_name: 'the file name is not allowed',
  unauthorized: 'you are not signed in',
};

/** Uploads `file` to the server's `upload` route under `httpBase` (the page's folder: see endpoints.ts). */
export function uploadWithProgress(
  httpBase: string,
  auth: { token?: string; user?: string },
  file: File,
  opts: { onProgress(fraction: number): void; signal: AbortSignal },
): Promise<UploadResult> {
  return new Promise((resolve, reject) => {
    const url = new URL('upload', httpBase);
    url.searchParams.set('name', file.name || 'file');
    if (auth.token === undefined && auth.user !== undefined) url.searchParams.set('user', auth.user);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('content-type', file.type || 'application/octet-stream');
    if (auth.token !== undefined) xhr.setRequestHeader('authorization', `Bearer ${auth.token}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) opts.onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      const body = (xhr.response ?? {}) as Partial<UploadResult> & { error?: string; message?: string };
      if (xhr.status === 201 || xhr.status === 200) {
        opts.onProgress(1);
        resolve(body as UploadResult);
      } else {
        const code = body.error ?? `http_${xhr.status}`;
        reject(new UploadFailed(code, REASONS[code] ?? body.message ?? `upload failed (HTTP ${xhr.status})`));
      }
    };
    xhr.onerror = () => reject(new UploadFailed('network', 'the upload failed: network error'));
    xhr.onabort = () => reject(new UploadFailed('aborted', 'upload cancelled'));
    opts.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** Width/height of an image or video and duration of audio/video, read locally (best effort, ≤ 3 s). */
export async function mediaInfo(file: File, kind: MediaKind): Promise<Pick<MediaBody, 'width' | 'height' | 'durationMs'>> {
  try {
    if (kind === 'image') {
      const bmp = await createImageBitmap(file);
      const info = { width: bmp.width, height: bmp.height };
      bmp.close();
      return info;
    }
    if (kind === 'audio' || kind === 'video') {
      const el = document.createElement(kind);
      const src = URL.createObjectURL(file);
      try {
        el.preload = 'metadata';
        el.muted = true;
        const ok = await new Promise<boolean>((resolve) => {
          el.onloadedmetadata = () => resolve(true);
          el.onerror = () => resolve(false);
          setTimeout(() => resolve(false), 3_000);
          el.src = src;
        });
        if (!ok) return {};
        const info: Pick<MediaBody, 'width' | 'height' | 'durationMs'> = {};
        if (Number.isFinite(el.duration) && el.duration > 0) info.durationMs = Math.round(el.duration * 1000);
        if (el instanceof HTMLVideoElement && el.videoWidth > 0) {
          info.width = el.videoWidth;
          info.height = el.videoHeight;
        }
        return info;
      } finally {
        el.removeAttribute('src');
        URL.revokeObjectURL(src);
      }
    }
  } catch {
    // unknown format: send without dimensions
  }
  return {};
}
