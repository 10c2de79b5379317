/**
 * Removes bytes that no upload record points to. An upload writes its bytes and then its record, and retention
 * removes a record and then its bytes; a crash between the two halves (or a removal of the bytes that failed, or
 * an upload cut short, which leaves a `.part` file) leaves bytes nothing will ever serve or remove. Run at start,
 * in the background; only files last written before `before` are looked at, so that an upload under way (its
 * bytes written, its record not yet) is left alone.
 */
import type { Upload } from '../store/store.js';
import type { BlobStore } from './blob-store.js';

export interface UploadRecords {
  getUpload(id: string): Promise<Upload | null>;
}

/** Returns how many files went. Ends early, between two files, once `signal` is aborted. */
export async function sweepStrayBlobs(blobs: BlobStore, records: UploadRecords, before: number, signal?: AbortSignal): Promise<number> {
  let removed = 0;
  for await (const blob of blobs.list()) {
    if (signal?.aborted) break;
    if (blob.modifiedMs >= before) continue;
    if (blob.partial || (await records.getUpload(blob.id)) === null) {
      await blobs.remove(blob.id, blob.partial);
      removed++;
    }
  }
  return removed;
}
