/**
 * What is sent and forgotten: typing indicators, call signaling, a notice to one session. Delivered to the
 * sessions here at once and, with a cluster, published once for the nodes holding the others; never stored.
 */
import { mayType, maySendDirect } from '../access/rules.js';
import type { FanOut } from '../fanout/fanout.js';
import { ErrorCode } from '../protocol/codes.js';
import type { ServerPush, SignalPush } from '../protocol/pushes.js';
import type { RoomKind } from '../protocol/replies.js';
import type { ClusterPort } from './cluster.js';
import { check, HubError } from './errors.js';
import type { HubSession } from './session.js';

export class Ephemeral {
  constructor(
    private readonly fanout: FanOut<HubSession>,
    private readonly cluster: ClusterPort | null,
    /** The room's kind as it applies now (a room in use keeps the kind it has). */
    private readonly kindOf: (room: string) => RoomKind,
  ) {}

  typing(s: HubSession, target: { room?: string; to?: string }, active: boolean): void {
    if (target.room !== undefined) {
      check(mayType(s, target.room, this.kindOf(target.room)));
      const push: ServerPush = { type: 'typing', room: target.room, from: s.user, active };
      this.fanout.toRoom(target.room, push);
      this.cluster?.toRoom(target.room, push);
    } else if (target.to !== undefined) {
      const push: ServerPush = { type: 'typing', to: target.to, from: s.user, active };
      const here = this.fanout.sessionsOf(target.to);
      this.fanout.toSessions(here, push);
      if (this.cluster && this.cluster.userSessions(target.to) > here.size) this.cluster.toUser(target.to, push);
    }
  }

  signal(s: HubSession, to: string, callId: string, kind: string, data: unknown, session?: string): { sessions: number } {
    check(maySendDirect(s));
    let targets: Iterable<HubSession> = this.fanout.sessionsOf(to);
    if (session !== undefined) {
      const one = this.fanout.session(session);
      targets = one && one.user === to ? [one] : [];
    }
    const push: SignalPush = { type: 'signal', from: s.user, session: s.id, callId, kind };
    if (data !== undefined) push.data = data;
    let n = this.fanout.toSessions(targets, push);
    const { cluster } = this;
    if (cluster) {
      // Sessions elsewhere: the cluster's presence says how many there are; their nodes deliver.
      const remote = cluster.sessionsOf(to).filter((r) => r.node !== cluster.nodeId && (session === undefined || r.id === session));
      if (remote.length > 0) {
        cluster.toUser(to, push, session);
        n += remote.length;
      }
    }
    if (n === 0) throw new HubError(ErrorCode.UserOffline, session === undefined ? `${to} is not online` : `${to} has no session ${session}`);
    return { sessions: n };
  }

  toSession(id: string, push: ServerPush): boolean {
    const s = this.fanout.session(id);
    if (s) this.fanout.toSessions([s], push);
    return s !== undefined || (this.cluster?.toSession(id, push) ?? false);
  }
}
