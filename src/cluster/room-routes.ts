/**
 * Which nodes want which rooms' pushes: the routing table that lets a node send a room's messages straight to the
 * nodes with members in it, batched per destination node and event-loop turn (node-batches.ts), instead of
 * publishing each message on a room channel that every interested node subscribes to. One PUBLISH then carries
 * everything a turn sends to a node, so what Redis and both ends pay per publish is paid once per turn, not once
 * per message; and a room whose members are all local costs the broker nothing.
 *
 * How a node's wants reach the others (cluster-node.ts sends, this class keeps):
 * - `w` on the channel every node hears: "send me room r from now on"; each node adds it and answers `wk` in its
 *   batch to the watcher, ahead of any of r's pushes it sends after (one channel, one order), so the watcher knows
 *   when every node it knew of is sending it r. Until then, as with a subscription not yet in place, what others
 *   publish may miss it: a durable room reads that from the store once the watch is complete;
 * - `uw`: no longer (what is already on its way is dropped on arrival: the room has no members here);
 * - `ws`: a node's whole list, sent to a node that says hello (new, or back after losing the broker) or asks for its
 *   snapshot (it had forgotten the node, whose lease ran out), and by a node that is back, on the all-nodes channel:
 *   it replaces what the others held, whatever they missed.
 *
 * Each node numbers its changes (`v`: one more per `w` or `uw`; a `ws` carries the number of the last change it
 * includes), because they travel on two channels (`all`, and the batch to one node) that the broker does not order
 * against each other, and a batch leaves later than what was sent at once: a list older than a change already
 * applied must not undo it, nor a change older than a list applied since redo what the list says.
 *
 * Pure bookkeeping: no I/O and no timers; the caller tells it the time.
 */
export class RoomRoutes {
  /** Room → the other nodes that want its pushes. */
  private readonly byRoom = new Map<string, Set<string>>();
  /** Node → the rooms it wants (for forgetting a node in O(its rooms)). */
  private readonly byNode = new Map<string, Set<string>>();
  /** Per other node: the number of its last list applied, and of each change applied since, per room. */
  private readonly seen = new Map<string, { floor: number; rooms: Map<string, number> }>();
  /** This node's own wants. */
  private readonly mine = new Set<string>();
  /** Watches of this node not yet answered by every node it knew of when it asked. */
  private readonly pending = new Map<string, Pending>();

  // ── this node's wants

  /** The rooms this node wants, for a `ws`. */
  wanted(): string[] {
    return [...this.mine];
  }

  /**
   * This node wants `room` from now on; resolves once each of `nodes` has answered, or gone. Asked again while
   * pending (the room was left and joined again): the new ask waits with the old one, for the new nodes too.
   */
  want(room: string, nodes: readonly string[], now: number): Promise<void> {
    this.mine.add(room);
    return new Promise((resolve) => {
      let p = this.pending.get(room);
      if (p === undefined) this.pending.set(room, (p = { waiting: new Set(), resolvers: [], since: now }));
      for (const node of nodes) p.waiting.add(node);
      p.resolvers.push(resolve);
      this.settle(room, p);
    });
  }

  /** This node no longer wants `room`. A watch still pending is kept: its promise resolves as if complete. */
  unwant(room: string): void {
    this.mine.delete(room);
  }

  /** Rooms still wanted whose watch is waiting: asked again after the broker comes back (the asks may be lost). */
  pendingRooms(): string[] {
    return [...this.pending.keys()].filter((room) => this.mine.has(room));
  }

  /** `node` now sends us `room`. */
  acked(node: string, room: string): void {
    const p = this.pending.get(room);
    if (p !== undefined && p.waiting.delete(node)) this.settle(room, p);
  }

  /** Resolves the watches older than `maxAgeMs` (a node that never answers: an old version, or one about to expire). */
  giveUp(now: number, maxAgeMs: number): string[] {
    const late: string[] = [];
    for (const [room, p] of this.pending)
      if (now - p.since > maxAgeMs) {
        late.push(room);
        p.waiting.clear();
        this.settle(room, p);
      }
    return late;
  }

  // ── the others' wants

  /** The other nodes that want `room`'s pushes (undefined or empty: none). */
  destinations(room: string): ReadonlySet<string> | undefined {
    return this.byRoom.get(room);
  }

  /** `node`'s change number `v`: it wants `room`. */
  add(node: string, room: string, v: number): void {
    if (this.fresh(node, room, v)) this.link(node, room);
  }

  /** `node`'s change number `v`: it no longer wants `room`. */
  remove(node: string, room: string, v: number): void {
    if (this.fresh(node, room, v)) this.unlink(node, room);
  }

  /** `node`'s whole list, as of its change number `v`: what it no longer wants goes, what it wants is added. */
  replace(node: string, rooms: readonly string[], v: number): void {
    const seen = this.versions(node);
    if (v <= seen.floor) return;
    const now = new Set(rooms);
    // A room changed after the list was made keeps what that change said.
    const newer = (room: string): boolean => (seen.rooms.get(room) ?? -1) > v;
    for (const room of [...(this.byNode.get(node) ?? [])]) if (!now.has(room) && !newer(room)) this.unlink(node, room);
    for (const room of now) if (!newer(room)) this.link(node, room);
    seen.floor = v;
    for (const [room, rv] of seen.rooms) if (rv <= v) seen.rooms.delete(room);
  }

  /** A change not older than what is known of its room, nor than the last list: it applies, and is remembered. */
  private fresh(node: string, room: string, v: number): boolean {
    const seen = this.versions(node);
    if (v <= seen.floor || v <= (seen.rooms.get(room) ?? -1)) return false;
    seen.rooms.set(room, v);
    return true;
  }

  private versions(node: string): { floor: number; rooms: Map<string, number> } {
    let seen = this.seen.get(node);
    if (seen === undefined) this.seen.set(node, (seen = { floor: -1, rooms: new Map() }));
    return seen;
  }

  private link(node: string, room: string): void {
    let nodes = this.byRoom.get(room);
    if (nodes === undefined) this.byRoom.set(room, (nodes = new Set()));
    nodes.add(node);
    let rooms = this.byNode.get(node);
    if (rooms === undefined) this.byNode.set(node, (rooms = new Set()));
    rooms.add(room);
  }

  private unlink(node: string, room: string): void {
    const nodes = this.byRoom.get(room);
    if (nodes === undefined || !nodes.delete(node)) return;
    if (nodes.size === 0) this.byRoom.delete(room);
    const rooms = this.byNode.get(node)!;
    rooms.delete(room);
    if (rooms.size === 0) this.byNode.delete(node);
  }

  /** `node` is gone (goodbye, lease expired): it wants nothing, and no watch waits for it. */
  dropNode(node: string): void {
    for (const room of [...(this.byNode.get(node) ?? [])]) this.unlink(node, room);
    this.seen.delete(node);
    for (const [room, p] of this.pending) if (p.waiting.delete(node)) this.settle(room, p);
  }

  /** Sizes, for tests and the debug view. */
  sizes(): { rooms: number; nodes: number; mine: number; pending: number } {
    return { rooms: this.byRoom.size, nodes: this.byNode.size, mine: this.mine.size, pending: this.pending.size };
  }

  private settle(room: string, p: Pending): void {
    if (p.waiting.size > 0) return;
    this.pending.delete(room);
    for (const resolve of p.resolvers) resolve();
  }
}

interface Pending {
  waiting: Set<string>;
  resolvers: (() => void)[];
  since: number;
}
