/**
 * Where uploaded files' bytes live. The filesystem implementation is the
 * default; object storage can implement the same interface.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export class TooLargeError extends Error {}

export interface BlobStore {
  /** Stores the stream under `id`; rejects with TooLargeError past `maxBytes` (nothing is kept). Resolves with the size. */
  put(id: string, source: Readable, maxBytes: number): Promise<number>;
  size(id: string): Promise<number | null>;
  /** Bytes [start, end] inclusive, or the whole file. */
  read(id: string, range?: { start: number; end: number }): Readable;
  remove(id: string): Promise<void>;
}

export class FsBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private path(id: string): string {
    return join(this.dir, id.slice(0, 2), id);
  }

  async put(id: string, source: Readable, maxBytes: number): Promise<number> {
    const final = this.path(id);
    const temp = `${final}.part`;
    await mkdir(join(this.dir, id.slice(0, 2)), { recursive: true });
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > maxBytes) cb(new TooLargeError(`larger than ${maxBytes} bytes`));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(temp, { flags: 'wx' }));
      await rename(temp, final);
      return size;
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
  }

  async size(id: string): Promise<number | null> {
    try {
      return (await stat(this.path(id))).size;
    } catch {
      return null;
    }
  }

  read(id: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.path(id), range);
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }
}
