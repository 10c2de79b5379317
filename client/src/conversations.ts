/**
 * The conversations the client follows, whole across reconnects. Every
 * message passes through one Sequencer, which hands it to the app once and in
 * order; rooms are rejoined with `since` (RoomMembership), direct
 * conversations recovered with one `sync` (DirectConversations), and what a
 * replay could not cover is fetched from history (GapFiller).
 */
import { DirectConversations } from './direct-conversations.js';
import { GapFiller } from './gap-filler.js';
import type { ClientOptions, EmitEvent, RequestOptions } from './options.js';
import { conversationOfKey, directKey, keyOfMessage, roomKey, Sequencer } from './recovery.js';
import type { SessionLink } from './requests.js';
import { setOwn } from '../../src/protocol/records.js';
import { RoomMembership, type RoomMembershipHooks } from './room-membership.js';
import type { Conversation, JoinResult, MessagePush, UnreadPush } from './types.js';

export interface ConversationsLink {
  session: SessionLink;
  emit: EmitEvent;
  /** What keeping rooms needs beyond the session: requests as the app's, and the outbox to wake. */
  rooms: Omit<RoomMembershipHooks, 'error'>;
}

export class Conversations {
  private readonly seq: Sequencer<MessagePush>;
  private readonly gaps: GapFiller;
  private readonly membership: RoomMembership;
  private readonly direct: DirectConversations;
  private readonly emit: EmitEvent;

  constructor(options: Pick<ClientOptions, 'fillGaps' | 'requestTimeoutMs' | 'positions'>, link: ConversationsLink) {
    const { session, emit } = link;
    this.emit = emit;
    const error: RoomMembershipHooks['error'] = (err) => emit('error', err);
    this.seq = new Sequencer<MessagePush>({
      deliver: (key, m) => emit('message', m, { conversation: conversationOfKey(key) }),
      gap: (key, from, to, reason) => emit('gap', { conversation: conversationOfKey(key), from, to, reason }),
      stall: (key) => this.gaps.onStall(key),
    });
    this.gaps = new GapFiller(this.seq, session, options, { recovery: (event) => emit('recovery', event), error });
    this.membership = new RoomMembership(this.seq, session, this.gaps, { ...link.rooms, error });
    this.direct = new DirectConversations(this.seq, session, this.gaps, error);
    for (const [room, s] of Object.entries(options.positions?.rooms ?? {})) this.seq.track(roomKey(room), s);
    for (const [user, s] of Object.entries(options.positions?.direct ?? {})) this.seq.track(directKey(user), s);
  }

  /** The rooms kept joined. */
  rooms(): string[] {
    return this.membership.names();
  }

  join(room: string, opts: { since?: number; timeoutMs?: number }): Promise<JoinResult> {
    return this.membership.join(room, opts);
  }

  leave(room: string, opts: RequestOptions): Promise<{ room: string }> {
    return this.membership.leave(room, opts);
  }

  /** Whether the outbox may send to a room now. */
  canPublish(room: string): boolean {
    return this.membership.canPublish(room);
  }

  position(conv: Conversation): number | undefined {
    return this.seq.last('room' in conv ? roomKey(conv.room) : directKey(conv.with)) ?? undefined;
  }

  positions(): { rooms: Record<string, number>; direct: Record<string, number> } {
    const out = { rooms: {} as Record<string, number>, direct: {} as Record<string, number> };
    for (const [k, s] of this.seq.positions()) {
      const c = conversationOfKey(k);
      if ('room' in c) setOwn(out.rooms, c.room, s);
      else setOwn(out.direct, c.with, s);
    }
    return out;
  }

  get duplicatesDropped(): number {
    return this.seq.duplicates;
  }

  /** Before a connection attempt: whether to ask the server to hold DMs until our sync has replayed them. */
  wantsResume(): boolean {
    return this.direct.requestResume();
  }

  /** A session opened: what the app had before the drop comes back first. */
  recover(): void {
    this.membership.recover();
    this.direct.recover();
  }

  connectionLost(): void {
    this.membership.connectionLost();
  }

  close(err: Error): void {
    this.membership.close(err);
  }

  /** The server took the session out of a room (the backend removed the user, or deleted the room). */
  removed(room: string): void {
    this.membership.removed(room);
  }

  onUnread(u: UnreadPush): void {
    this.direct.onUnread(u);
  }

  /** A message from the server, for the signed-in user `me`. */
  onMessage(m: MessagePush, me: string | null): void {
    if (me === null || typeof m.seq !== 'number') return;
    const key = keyOfMessage(m, me);
    if (key === null) return;
    if (!this.seq.has(key)) {
      if (m.room !== undefined) {
        if (this.membership.wasLeft(m.room)) return;
        // A room joined outside the SDK's tracking (request({type:'join'})): passed through as is.
        this.emit('message', m, { conversation: { room: m.room } });
        return;
      }
      this.direct.firstSeen(key, m.seq);
    }
    this.seq.push(key, m);
  }
}
