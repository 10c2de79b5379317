/** What the hub needs from a connected session. The transport implements it; tests fake it. */
import type { SharedBatch } from '../outbound/shared-batch.js';

export interface HubSession {
  readonly id: string;
  readonly user: string;
  /** Private rooms (names or `prefix*`) this session's credential grants. */
  grants: readonly string[];
  /** Rooms this session has joined. Owned by the hub; the transport only reads it. */
  readonly rooms: Set<string>;
  /** Queue one encoded message for this session alone. */
  send(bytes: Buffer): void;
  /** Queue a shared batch, starting at chunk `start` (a member that joined after the batch began). */
  sendShared(batch: SharedBatch, start: number): void;
  /** Ask the transport to close the connection; it calls Hub.disconnect once it has. */
  close(code: number, reason: string): void;
}
