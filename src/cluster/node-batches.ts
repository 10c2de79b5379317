/**
 * What this node sends other nodes one by one (a room's pushes, answers to their watches), gathered per
 * destination and sent once per event-loop turn as one envelope on the destination's own channel. Each part is an
 * envelope's JSON, encoded once however many nodes it goes to; a batch is those texts joined into one JSON array,
 * so a receiver parses a turn's worth of messages at once.
 *
 * Order: parts reach a destination in the order they were added (one channel, one publisher), which is what lets
 * a `wk` promise that the pushes after it follow.
 */
export class NodeBatches {
  private readonly parts = new Map<string, string[]>();
  private scheduled = false;
  private readonly head: string;

  constructor(
    self: string,
    /** Publishes one batch; false if the broker dropped it. */
    private readonly publish: (node: string, payload: Buffer, parts: number) => void,
  ) {
    this.head = `{"n":${JSON.stringify(self)},"t":"b","e":[`;
  }

  add(node: string, json: string): void {
    let list = this.parts.get(node);
    if (list === undefined) this.parts.set(node, (list = []));
    list.push(json);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  /** A node that is gone gets nothing more. */
  drop(node: string): void {
    this.parts.delete(node);
  }

  /** Sends everything gathered (also called before a goodbye, so that it goes first). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.parts.size === 0) return;
    for (const [node, list] of this.parts) this.publish(node, Buffer.from(`${this.head}${list.join(',')}]}`), list.length);
    this.parts.clear();
  };
}
