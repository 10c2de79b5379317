/**
 * What this node sends other nodes one by one (a room's pushes, answers to their watches), gathered per
 * destination and sent once per event-loop turn as one envelope on the destination's own channel. Each part is an
 * envelope's JSON, encoded once however many nodes it goes to; a batch is those texts joined into one JSON array,
 * so a receiver parses a turn's worth of messages at once.
 *
 * Order: parts reach a destination in the order they were added (one channel, one publisher), which is what lets
 * a `wk` promise that the pushes after it follow.
 *
 * Under load a batch waits a little (`batchMs`, as a commit waits out `store.groupCommitMs`): after a flush that
 * sent some node two parts or more, the next starts no sooner than `batchMs` after it began. What a batch costs —
 * a PUBLISH, Redis's write to the receiver, a wake-up and a read there — is the same for one message as for ten,
 * and on a busy node a turn gathers one or two. A part that comes alone, on a quiet node, still goes at the end of
 * its turn.
 */
import { performance } from 'node:perf_hooks';

export class NodeBatches {
  private readonly parts = new Map<string, string[]>();
  private scheduled = false;
  private readonly head: string;
  /** Clock reading before which the next flush should not start. */
  private notBefore = 0;

  constructor(
    self: string,
    /** Publishes one batch. */
    private readonly publish: (node: string, payload: Buffer, parts: number) => void,
    /** The shortest time between two flushes under load, in ms; 0: every turn. */
    private readonly batchMs = 0,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.head = `{"n":${JSON.stringify(self)},"t":"b","e":[`;
  }

  add(node: string, json: string): void {
    let list = this.parts.get(node);
    if (list === undefined) this.parts.set(node, (list = []));
    list.push(json);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = this.notBefore - this.clock();
    // Timers have millisecond resolution: a shorter wait is not worth a timer.
    if (wait >= 1) setTimeout(this.flush, Math.ceil(wait));
    else setImmediate(this.flush);
  }

  /** A node that is gone gets nothing more. */
  drop(node: string): void {
    this.parts.delete(node);
  }

  /** Sends everything gathered (also called before a goodbye, so that it goes first). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.parts.size === 0) return;
    let most = 0;
    for (const [node, list] of this.parts) {
      if (list.length > most) most = list.length;
      this.publish(node, Buffer.from(`${this.head}${list.join(',')}]}`), list.length);
    }
    this.parts.clear();
    if (this.batchMs > 0) this.notBefore = most >= 2 ? this.clock() + this.batchMs : 0;
  };
}
