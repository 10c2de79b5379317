/**
 * Where uploaded files' bytes live. The filesystem implementation is the
 * default; object storage can implement the same interface.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, mkdir, opendir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';

export class TooLargeError extends Error {}

/** A file the store keeps. */
export interface StoredBlob {
  id: string;
  /** Not finished: an upload under way, or one that a crash cut short. */
  partial: boolean;
  /** When it was last written (ms since the epoch). */
  modifiedMs: number;
}

/** What `put` names files by (the ids uploads.ts makes); anything else in the folder is not ours to touch. */
const BLOB_NAME = /^([A-Za-z0-9_-]{8,64})(\.part)?$/;

export interface BlobStore {
  /** Stores the stream under `id`; rejects with TooLargeError past `maxBytes` (nothing is kept). Resolves with the size. */
  put(id: string, source: Readable, maxBytes: number): Promise<number>;
  size(id: string): Promise<number | null>;
  /** Bytes [start, end] inclusive, or the whole file. */
  read(id: string, range?: { start: number; end: number }): Readable;
  /** Removes the file (`partial`: what an unfinished upload left). */
  remove(id: string, partial?: boolean): Promise<void>;
  /** Every file kept, finished or not. */
  list(): AsyncIterable<StoredBlob>;
  /** At start: rejects if files cannot be kept (so that the server does not start to answer every upload with 500). */
  open(): Promise<void>;
}

export class FsBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await access(this.dir, constants.W_OK);
  }

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

  async remove(id: string, partial = false): Promise<void> {
    await rm(partial ? `${this.path(id)}.part` : this.path(id), { force: true });
  }

  async *list(): AsyncIterable<StoredBlob> {
    let top;
    try {
      top = await opendir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for await (const group of top) {
      if (!group.isDirectory() || group.name.length !== 2) continue;
      for await (const entry of await opendir(join(this.dir, group.name))) {
        const name = BLOB_NAME.exec(entry.name);
        if (!entry.isFile() || !name || name[1]!.slice(0, 2) !== group.name) continue;
        const info = await stat(join(this.dir, group.name, entry.name)).catch(() => null);
        if (info) yield { id: name[1]!, partial: name[2] !== undefined, modifiedMs: info.mtimeMs };
      }
    }
  }
}
