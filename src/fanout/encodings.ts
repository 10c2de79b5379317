/**
 * One message's bytes in each encoding in use, each made on first demand: a
 * message to a few sessions (a DM, a signal, a broadcast) is encoded once per
 * codec its recipients speak, never once per recipient.
 */
import type { Codec } from '../protocol/codec.js';
import { DEFAULT_CODEC } from '../protocol/codecs.js';
import type { ServerPush } from '../protocol/pushes.js';

export class Encodings {
  /** By codec id; almost always only slot 0 (JSON) is used. */
  private readonly bytes: (Buffer | undefined)[] = [];

  constructor(private readonly push: ServerPush) {}

  for(codec: Codec | undefined): Buffer {
    const c = codec ?? DEFAULT_CODEC;
    return (this.bytes[c.id] ??= c.encode(this.push));
  }
}
