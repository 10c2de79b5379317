/**
 * The messages one room receives during one event-loop turn. Every member's
 * outbound queue holds a reference to the same batch, so a publish costs O(1)
 * however many members there are, and the transport can build one WebSocket
 * frame for the whole batch and write those same bytes to every member.
 */
export class SharedBatch {
  readonly chunks: Buffer[] = [];
  bytes = 0;
  /** The complete frame, built once by the first queue that writes this batch. */
  frame: Buffer | null = null;
  /** The same compressed (permessage-deflate, default window), built once by the first compressing queue. */
  deflated: Buffer | null = null;
  /**
   * Some queue has written it: nothing may be added any more, or that queue would never send it. Normally a
   * batch is written only after its epoch closed; one started during a flush (a presence leave sent by a
   * session that flush closed) is in the new epoch, and a queue later in the same flush may write it at once.
   */
  written = false;

  constructor(readonly epoch: number) {}

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }
}

/**
 * The flush epoch. The outbound layer advances it each time it writes the
 * queues; a batch from an older epoch is closed and a new one must be started.
 */
export interface Tick {
  epoch: number;
}
