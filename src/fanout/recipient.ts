/** What the fan-out needs from a session of this node. The transport implements it; tests fake it. */
import type { Codec } from '../protocol/codec.js';
import type { SharedBatch } from '../outbound/shared-batch.js';

export interface Recipient {
  readonly id: string;
  readonly user: string;
  /** The encoding this session speaks, chosen when it connected (absent: JSON). */
  readonly codec?: Codec;
  /** Queue one message, encoded in this session's codec, for this session alone. */
  send(bytes: Buffer): void;
  /** Queue a shared batch of this session's codec, starting at chunk `start` (a member that joined after it began). */
  sendShared(batch: SharedBatch, start: number): void;
  /** Ask the transport to close the connection; it tells the hub once it has. */
  close(code: number, reason: string): void;
}
