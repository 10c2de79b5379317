/**
 * The rooms the client keeps joined. A room is joined once by the app and
 * rejoined by the client on every new session, with `since` = its last
 * delivered seq so the server replays what was missed. `leave` ends both the
 * rejoining and the membership on the server, also when the room was still
 * being joined, or the client was offline.
 */
import { SwitchboardError, TimeoutError } from './errors.js';
import type { GapFiller } from './gap-filler.js';
import type { RequestOptions } from './options.js';
import { roomKey, type Sequencer } from './recovery.js';
import type { SessionLink } from './requests.js';
import { MAX_TIMER, retryAfter, type Timer } from './timers.js';
import type { JoinResult, MessagePush } from './types.js';

interface DesiredRoom {
  waiters: { resolve(r: JoinResult): void; reject(e: Error): void }[];
}

export interface RoomMembershipHooks {
  /** `leave` as a request of the app's: it waits for a session and times out like one. */
  leave(room: string, opts: RequestOptions): Promise<{ room: string }>;
  /**
   * Ends the membership of a room this client does not keep (joined with a plain request, or remembered from an
   * earlier session), as requests of the app's: the server only lets a session leave a room it is in.
   */
  endMembership(room: string, opts: RequestOptions): Promise<{ room: string }>;
  /** A room is joined on this session, or was given up: queued messages may go (or fail) now. */
  ready(): void;
  /** A join refused for good that no caller is waiting for. */
  error(err: SwitchboardError): void;
}

export class RoomMembership {
  /** Rooms to keep joined, with the join() calls waiting for the first reply. */
  private readonly desired = new Map<string, DesiredRoom>();
  /** Joined on this session. */
  private readonly joined = new Map<string, JoinResult>();
  /** A join is on its way on this session. */
  private readonly joining = new Set<string>();
  /** Left while offline: the leave is sent on the next session. */
  private readonly pendingLeaves = new Set<string>();
  /** Left with leave(): their messages still in flight are dropped. */
  private readonly left = new Set<string>();

  constructor(
    private readonly seq: Sequencer<MessagePush>,
    private readonly session: SessionLink,
    private readonly gaps: Pick<GapFiller, 'afterRecovery'>,
    private readonly hooks: RoomMembershipHooks,
  ) {}

  /** The rooms kept joined. */
  names(): string[] {
    return [...this.desired.keys()];
  }

  /** Whether messages to a room may be sent now: a kept room only once joined on this session (publish needs membership). */
  canPublish(room: string): boolean {
    return !this.desired.has(room) || this.joined.has(room);
  }

  /** The room was left with leave() (and not joined again). */
  wasLeft(room: string): boolean {
    return this.left.has(room);
  }

  /** A session opened: end the memberships left offline, rejoin the rest. */
  recover(): void {
    for (const room of [...this.pendingLeaves]) this.endMembership(room);
    for (const room of this.desired.keys()) this.joinOnSession(room);
  }

  /** The connection dropped: nothing is joined any more. */
  connectionLost(): void {
    this.joined.clear();
    this.joining.clear();
  }

  /** The client closed: pending join() calls fail with `err`. */
  close(err: Error): void {
    for (const d of this.desired.values()) for (const w of d.waiters.splice(0)) w.reject(err);
  }

  /** Keeps a room joined; resolves with the join reply. */
  join(room: string, opts: { since?: number; timeoutMs?: number }): Promise<JoinResult> {
    this.pendingLeaves.delete(room);
    this.left.delete(room);
    const key = roomKey(room);
    if (opts.since !== undefined && !this.seq.has(key)) this.seq.track(key, opts.since);
    let d = this.desired.get(room);
    if (!d) this.desired.set(room, (d = { waiters: [] }));
    const joined = this.joined.get(room);
    if (joined) return Promise.resolve(joined);
    const desired = d;
    const p = new Promise<JoinResult>((resolve, reject) => {
      const { timeoutMs } = opts;
      // Cleared however the join ends: a pending timer would keep a Node process alive that long.
      let timer: Timer | undefined;
      const waiter = {
        resolve: (r: JoinResult) => (clearTimeout(timer), resolve(r)),
        reject: (e: Error) => (clearTimeout(timer), reject(e)),
      };
      desired.waiters.push(waiter);
      if (timeoutMs !== undefined)
        timer = setTimeout(() => {
          const i = desired.waiters.indexOf(waiter);
          if (i === -1) return;
          desired.waiters.splice(i, 1);
          reject(new TimeoutError(`join ${room}: no reply within ${timeoutMs} ms (the client keeps trying; leave() to stop)`, timeoutMs));
        }, Math.min(MAX_TIMER, Math.max(0, timeoutMs)));
    });
    if (this.session.open() && !this.joining.has(room)) this.joinOnSession(room);
    return p;
  }

  /**
   * The server took this session out of the room (the app's backend removed the user, or deleted the room): it is
   * no longer kept joined, and what is queued for it is dropped as after leave(). The membership has ended already.
   */
  removed(room: string): void {
    const d = this.desired.get(room);
    this.desired.delete(room);
    this.joined.delete(room);
    this.pendingLeaves.delete(room);
    this.seq.forget(roomKey(room));
    this.left.add(room);
    if (d) for (const w of d.waiters.splice(0)) w.reject(new SwitchboardError('left', `taken out of ${room} by the server`));
    this.hooks.ready();
  }

  /** Stops keeping a room joined and ends the membership (offline: after the next connect). */
  async leave(room: string, opts: RequestOptions): Promise<{ room: string }> {
    const d = this.desired.get(room);
    // A room the client does not keep (joined with request({type:'join'}), or a membership from an earlier session).
    const untracked = !d && !this.joined.has(room) && !this.joining.has(room) && !this.left.has(room) && !this.pendingLeaves.has(room);
    this.desired.delete(room);
    this.seq.forget(roomKey(room));
    this.left.add(room);
    if (untracked) return this.hooks.endMembership(room, opts);
    if (d) for (const w of d.waiters.splice(0)) w.reject(new SwitchboardError('left', `left ${room} before the join completed`));
    if (this.joined.has(room) && this.session.open()) {
      this.joined.delete(room);
      return this.hooks.leave(room, opts);
    }
    // Joining now: the join's reply sends the leave. Offline: after the next connect.
    if (!this.joining.has(room) && d) this.pendingLeaves.add(room);
    return { room };
  }

  private joinOnSession(room: string): void {
    const epoch = this.session.epoch();
    const key = roomKey(room);
    const last = this.seq.last(key);
    if (last === undefined) this.seq.track(key, null);
    const since = typeof last === 'number' ? last : undefined;
    if (since !== undefined) this.seq.beginRecovery(key);
    this.joining.add(room);
    const cmd: Record<string, unknown> = { type: 'join', room };
    if (since !== undefined) cmd.since = since;
    this.session.send(cmd, {
      type: 'join',
      onReply: (data) => {
        if (epoch !== this.session.epoch()) return;
        const r = data as JoinResult;
        this.joining.delete(room);
        const d = this.desired.get(room);
        if (!d) {
          // Left while the join was on its way.
          this.seq.forget(key);
          this.session.send({ type: 'leave', room }, { type: 'leave', onReply: () => {}, onError: () => {}, onLost: () => this.pendingLeaves.add(room) });
          return;
        }
        this.joined.set(room, r);
        this.seq.setOrdered(key, r.durable);
        if (since === undefined) {
          this.seq.setBase(key, r.seq);
          this.seq.endRecovery(key);
        } else this.gaps.afterRecovery(key, since, r.seq, r.recovered === true, r.missed ?? 0, r.durable, epoch);
        for (const w of d.waiters.splice(0)) w.resolve(r);
        this.hooks.ready();
      },
      onError: (err) => {
        if (epoch !== this.session.epoch()) return;
        this.joining.delete(room);
        if (err.code === 'unavailable' || err.code === 'internal' || err.code === 'rate_limited' || err.code === 'timeout') {
          retryAfter(1_000, () => {
            if (epoch === this.session.epoch() && this.desired.has(room) && !this.joining.has(room)) this.joinOnSession(room);
          });
          return;
        }
        const d = this.desired.get(room);
        this.desired.delete(room);
        this.seq.forget(key);
        if (d && d.waiters.length > 0) for (const w of d.waiters.splice(0)) w.reject(err);
        else this.hooks.error(err);
        // Messages queued for the room would only be refused.
        this.hooks.ready();
      },
      // Left while this join was on its way, and the connection dropped before its reply (which sends the leave):
      // the server may have made the user a member, so the next session ends the membership.
      onLost: () => {
        if (!this.desired.has(room)) this.pendingLeaves.add(room);
      },
    });
  }

  /** Ends a durable membership from a new session: the server only lets a session leave a room it is in. */
  private endMembership(room: string): void {
    const epoch = this.session.epoch();
    this.session.send({ type: 'join', room }, {
      type: 'join',
      onReply: () => {
        if (epoch !== this.session.epoch()) return;
        if (this.desired.has(room)) {
          this.pendingLeaves.delete(room);
          return;
        }
        this.session.send({ type: 'leave', room }, {
          type: 'leave',
          onReply: () => this.pendingLeaves.delete(room),
          onError: () => this.pendingLeaves.delete(room),
          onLost: () => {},
        });
      },
      onError: () => this.pendingLeaves.delete(room),
      onLost: () => {},
    });
  }
}
