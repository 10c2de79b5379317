/**
 * This node's membership of a cluster: the hub's `ClusterPort` over a `Broker`. It publishes what the hub
 * decided for sessions elsewhere, hands the hub what other nodes decided for sessions here, receives only what
 * its sessions need (a room's pushes while it has local members, sent to it by the other nodes in their batches;
 * a user's channel while the user has a session here), and keeps the cluster's presence: its own entries,
 * broadcast as a versioned delta once per event-loop turn, and every other node's, each dropped when its node goes
 * silent for longer than the lease.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Broker } from '../broker/broker.js';
import type { DirectRoute } from '../fanout/fanout.js';
import type { ClusterInbound, ClusterPort, ControlOp } from '../hub/cluster.js';
import type { Logger } from '../observe/logger.js';
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import { NodeBatches } from './node-batches.js';
import { PresenceState } from './presence-state.js';
import { RoomRoutes } from './room-routes.js';
import { ALL, decodeEnvelope, encodeEnvelope, nodeChannel, ownEnvelopes, userChannel, type Envelope } from './wire.js';

export interface ClusterNodeOptions {
  broker: Broker;
  heartbeatMs: number;
  leaseMs: number;
  /** Under load, the shortest time between two batches to a node (node-batches.ts); 0 or unset: every turn. */
  batchMs?: number;
  log: Logger;
  now: () => number;
  /** Default: host, pid and a random part (a restarted process is a new node). */
  nodeId?: string;
}

/** What crossed the broker, for metrics. */
export interface ClusterCounters {
  published: number;
  received: number;
  dropped: number;
  malformed: number;
}

export class ClusterNode implements ClusterPort {
  readonly nodeId: string;
  private inbound: ClusterInbound | null = null;
  private readonly presence: PresenceState;
  private readonly broker: Broker;
  /** Local sessions per user: the user's channel is subscribed while there is one. */
  private readonly localUsers = new Map<string, number>();
  private readonly localSessions = new Map<string, string>();
  /** Which nodes want which rooms, this one's included. */
  readonly routes = new RoomRoutes();
  /** This node's changes to the rooms it wants, numbered (room-routes.ts says why). */
  private wantsVersion = 0;
  private readonly batches: NodeBatches;
  private deltaScheduled = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopped = false;
  private everUp = false;
  readonly counters: ClusterCounters = { published: 0, received: 0, dropped: 0, malformed: 0 };
  private readonly mine: (bytes: Buffer) => boolean;

  constructor(private readonly opts: ClusterNodeOptions) {
    this.broker = opts.broker;
    this.nodeId = opts.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.mine = ownEnvelopes(this.nodeId);
    this.batches = new NodeBatches(this.nodeId, (node, payload) => this.publish(nodeChannel(node), payload), opts.batchMs ?? 0);
    this.presence = new PresenceState(this.nodeId, {
      roomJoined: (room, user) => this.inbound?.presenceChanged(room, user, 'join'),
      roomLeft: (room, user) => this.inbound?.presenceChanged(room, user, 'leave'),
      remoteSession: (user, id, since) => this.inbound?.remoteSession(user, id, since),
    });
  }

  /** The hub's side; set before `start`. */
  attach(inbound: ClusterInbound): void {
    this.inbound = inbound;
  }

  async start(): Promise<void> {
    await this.broker.start({
      message: (channel, payload) => this.onMessage(payload),
      state: (up) => this.onState(up),
      warn: (message, err) => this.opts.log.warn({ err, broker: this.broker.kind }, message),
    });
    this.broker.subscribe(ALL);
    this.broker.subscribe(nodeChannel(this.nodeId));
    this.everUp = true;
    this.send(ALL, { n: this.nodeId, t: 'hello' });
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.opts.log.info({ node: this.nodeId, broker: this.broker.kind }, 'joined the cluster');
  }

  /** After the hub let its sessions go: the others forget this node at once rather than after the lease. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.flushDelta();
    this.batches.flush();
    this.send(ALL, { n: this.nodeId, t: 'bye' });
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    await this.broker.stop();
  }

  /** Why this node is not ready (the broker is unreachable), or null. */
  problem(): string | null {
    return this.broker.up || this.stopped ? null : `broker (${this.broker.kind}) unreachable`;
  }

  /** Other nodes alive, as far as this one knows. */
  nodes(): string[] {
    return this.presence.nodes();
  }

  // ── ClusterPort: delivery elsewhere ─────────────────────────────────────

  toRoom(room: string, push: ServerPush): void {
    const to = this.routes.destinations(room);
    if (to === undefined || to.size === 0 || this.stopped) return;
    const json = JSON.stringify({ n: this.nodeId, t: 'room', r: room, p: push });
    for (const node of to) this.batches.add(node, json);
  }

  direct(route: DirectRoute, push: MessagePush): void {
    route.users.forEach((user, i) => {
      if (route.users.indexOf(user) === i) this.send(userChannel(user), { n: this.nodeId, t: 'dm', u: user, c: route.conv, s: route.seq, p: push });
    });
  }

  toUser(user: string, push: ServerPush, session?: string): void {
    const e: Envelope = { n: this.nodeId, t: 'user', u: user, p: push };
    if (session !== undefined) e.x = session;
    this.send(userChannel(user), e);
  }

  toSession(id: string, push: ServerPush): boolean {
    const node = this.presence.sessionNode(id);
    if (node === undefined || node === this.nodeId) return false;
    this.send(nodeChannel(node), { n: this.nodeId, t: 'sess', x: id, p: push });
    return true;
  }

  broadcast(push: ServerPush): void {
    this.send(ALL, { n: this.nodeId, t: 'all', p: push });
  }

  control(op: ControlOp): void {
    this.send(ALL, { n: this.nodeId, t: 'ctl', o: op });
  }

  // ── ClusterPort: this node's presence ───────────────────────────────────

  sessionAdded(id: string, user: string, since: number): void {
    this.presence.addSession(id, user, since);
    this.localSessions.set(id, user);
    const n = this.localUsers.get(user) ?? 0;
    this.localUsers.set(user, n + 1);
    if (n === 0) this.broker.subscribe(userChannel(user));
    this.scheduleDelta();
  }

  sessionRemoved(id: string): void {
    const user = this.localSessions.get(id);
    this.presence.removeSession(id);
    if (user !== undefined) {
      this.localSessions.delete(id);
      const n = this.localUsers.get(user) ?? 0;
      if (n <= 1) {
        this.localUsers.delete(user);
        this.broker.unsubscribe(userChannel(user));
      } else this.localUsers.set(user, n - 1);
    }
    this.scheduleDelta();
  }

  roomJoined(room: string, user: string): void {
    this.presence.joinRoom(room, user);
    this.scheduleDelta();
  }

  roomLeft(room: string, user: string): void {
    this.presence.leaveRoom(room, user);
    this.scheduleDelta();
  }

  watchRoom(room: string): Promise<void> {
    const done = this.routes.want(room, this.presence.nodes(), this.opts.now());
    this.send(ALL, { n: this.nodeId, t: 'w', r: room, v: ++this.wantsVersion });
    return done;
  }

  unwatchRoom(room: string): void {
    this.routes.unwant(room);
    this.send(ALL, { n: this.nodeId, t: 'uw', r: room, v: ++this.wantsVersion });
  }

  // ── ClusterPort: the cluster's presence ─────────────────────────────────

  userSessions(user: string): number {
    return this.presence.userSessions(user);
  }

  sessionsOf(user: string): readonly { id: string; node: string; since: number }[] {
    return this.presence.sessionsOf(user);
  }

  hasSession(id: string): boolean {
    return this.presence.sessionNode(id) !== undefined;
  }

  roomPresence(room: string): readonly (readonly [string, number])[] {
    return this.presence.roomPresence(room);
  }

  // ── the broker ──────────────────────────────────────────────────────────

  private send(channel: string, e: Envelope): void {
    this.publish(channel, encodeEnvelope(e));
  }

  private publish(channel: string, payload: Buffer): void {
    if (this.stopped) return;
    if (this.broker.publish(channel, payload)) this.counters.published++;
    else this.counters.dropped++;
  }

  /** Every room this node wants, to one node (it said hello) or to all (this node is back and they missed some). */
  private sendWants(node: string | null): void {
    const e: Envelope = { n: this.nodeId, t: 'ws', rooms: this.routes.wanted(), v: this.wantsVersion };
    if (node === null) this.send(ALL, e);
    else this.batches.add(node, JSON.stringify(e));
  }

  /** Another node is gone: it wants nothing more, and no watch waits for it. */
  private gone(node: string): void {
    this.routes.dropNode(node);
    this.batches.drop(node);
  }

  private scheduleDelta(): void {
    if (this.deltaScheduled) return;
    this.deltaScheduled = true;
    setImmediate(() => this.flushDelta());
  }

  private flushDelta(): void {
    this.deltaScheduled = false;
    const d = this.presence.takeDelta();
    if (d) this.send(ALL, { n: this.nodeId, t: 'pd', d });
  }

  private beat(): void {
    this.flushDelta();
    this.send(ALL, { n: this.nodeId, t: 'hb', v: this.presence.version });
    const now = this.opts.now();
    for (const node of this.presence.expire(now, this.opts.leaseMs)) {
      this.gone(node);
      this.opts.log.warn({ node, leaseMs: this.opts.leaseMs }, 'a node went silent for longer than its lease: its sessions are gone');
    }
    const late = this.routes.giveUp(now, this.opts.leaseMs);
    if (late.length > 0) this.opts.log.warn({ rooms: late.length, first: late[0] }, 'a watch went unanswered for longer than the lease: given up waiting');
  }

  private onState(up: boolean): void {
    if (this.stopped || !this.everUp) return;
    if (!up) {
      this.opts.log.warn({ broker: this.broker.kind }, 'lost the broker: serving local sessions only until it is back');
      return;
    }
    this.opts.log.info({ broker: this.broker.kind }, 'broker back: catching up');
    // Others missed our deltas (their next look at our heartbeat asks for a snapshot); we missed theirs.
    this.send(ALL, { n: this.nodeId, t: 'hello', b: 1 });
    this.sendWants(null);
    // The asks of watches still waiting may have been lost with the connection.
    for (const room of this.routes.pendingRooms()) this.send(ALL, { n: this.nodeId, t: 'w', r: room, v: ++this.wantsVersion });
    this.inbound?.resynced();
  }

  private onMessage(payload: Buffer): void {
    this.counters.received++;
    if (this.mine(payload)) return;
    const e = decodeEnvelope(payload);
    if (e === null) {
      this.counters.malformed++;
      return;
    }
    if (e.n === this.nodeId) return;
    const inbound = this.inbound;
    if (!inbound) return;
    if (e.t !== 'b') return this.apply(e, inbound);
    for (const part of e.e) if (part.n === e.n) this.apply(part, inbound);
  }

  private apply(e: Envelope, inbound: ClusterInbound): void {
    try {
      this.dispatch(e, inbound);
    } catch (err) {
      this.counters.malformed++;
      this.opts.log.warn({ err, from: e.n, kind: e.t }, 'a message from another node could not be applied');
    }
  }

  private dispatch(e: Envelope, inbound: ClusterInbound): void {
    const now = this.opts.now();
    switch (e.t) {
      case 'room':
        return inbound.fromRoom(e.r, e.p);
      case 'dm':
        return inbound.fromDirect({ conv: e.c, seq: e.s, users: [e.u] }, e.p);
      case 'user':
        return inbound.fromUser(e.u, e.p, e.x);
      case 'sess':
        return inbound.fromSession(e.x, e.p);
      case 'all':
        return inbound.fromBroadcast(e.p);
      case 'ctl':
        return inbound.fromControl(e.o);
      case 'pd':
        if (!this.presence.applyDelta(e.n, e.d, now)) this.send(nodeChannel(e.n), { n: this.nodeId, t: 'want' });
        return;
      case 'hb':
        if (!this.presence.heard(e.n, e.v, now)) this.send(nodeChannel(e.n), { n: this.nodeId, t: 'want' });
        return;
      case 'hello':
        if (e.b === 1) inbound.resynced();
        this.flushDelta();
        this.send(nodeChannel(e.n), { n: this.nodeId, t: 'snap', s: this.presence.snapshot() });
        this.sendWants(e.n);
        return;
      case 'want':
        this.flushDelta();
        this.send(nodeChannel(e.n), { n: this.nodeId, t: 'snap', s: this.presence.snapshot() });
        // It had lost track of this node (its lease ran out, say) and with it the rooms this node wants.
        this.sendWants(e.n);
        return;
      case 'snap':
        return this.presence.applySnapshot(e.n, e.s, now);
      case 'bye':
        this.gone(e.n);
        return this.presence.removeNode(e.n);
      case 'w':
        this.routes.add(e.n, e.r, e.v);
        // In the batch, so that it reaches the watcher before anything of the room's this node sends it after.
        return this.batches.add(e.n, JSON.stringify({ n: this.nodeId, t: 'wk', r: e.r }));
      case 'wk':
        return this.routes.acked(e.n, e.r);
      case 'uw':
        return this.routes.remove(e.n, e.r, e.v);
      case 'ws':
        return this.routes.replace(e.n, e.rooms, e.v);
      case 'b':
        return; // never nested
    }
  }
}
