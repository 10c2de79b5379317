/**
 * Rooms joined, and who is in them. A room on the page is joined once (the
 * SDK keeps it joined across reconnects); the join's answer says whether it
 * keeps history, whether only the server writes there, and where a new
 * member's reading starts. Who is in a room is asked after each join and then
 * follows the presence pushes.
 */
import type { PresencePush, SwitchboardClient } from '../../client/src/index.js';
import type { ChatView } from './chat-view.js';
import { errorText } from './connection.js';
import { label, type Conv } from './conversation.js';

export interface RoomJoinHooks {
  /** The page's room of that name, if it has one. */
  find(room: string): Conv | undefined;
  /** Signed out, or the conversation is no longer on the page: what happens to it now is nobody's concern. */
  gone(c: Conv): boolean;
  /** This session's unread summary has come. */
  summarySeen(): boolean;
  /** A room is joined: its history can load now. */
  joined(c: Conv): void;
  /** A line in the room's conversation (the join failed). */
  note(c: Conv, text: string): void;
  /** A member left: they stopped typing too. */
  stoppedTyping(c: Conv, user: string): void;
  view: Pick<ChatView, 'renderSidebar' | 'renderHeader' | 'renderComposer'>;
}

export class RoomJoins {
  constructor(
    private readonly client: Pick<SwitchboardClient, 'join' | 'presence'>,
    private readonly hooks: RoomJoinHooks,
  ) {}

  /** Joins a room unless it is joined or on its way; resolves with whether it is joined. */
  ensureJoined(c: Conv): Promise<boolean> {
    const { hooks } = this;
    if (c.kind !== 'room') return Promise.resolve(true);
    if ((c.join === 'joining' || c.join === 'joined') && c.joinPromise) return c.joinPromise;
    c.join = 'joining';
    hooks.view.renderHeader();
    c.joinPromise = this.client.join(c.name).then(
      (r) => {
        c.join = 'joined';
        c.durable = r.durable;
        c.pushOnly = r.kind === 'push';
        // A new member has read everything before its join (the server starts its read position there).
        if (!c.inSummary) {
          if (hooks.summarySeen()) c.readSeq = Math.max(c.readSeq, r.seq);
          else c.joinSeq = r.seq;
        }
        void this.refreshPresence(c);
        hooks.view.renderSidebar();
        hooks.view.renderHeader();
        hooks.view.renderComposer();
        hooks.joined(c);
        return true;
      },
      (err) => {
        if (hooks.gone(c)) return false;
        c.join = 'failed';
        c.joinPromise = null;
        hooks.note(c, `Could not join ${label(c)}: ${errorText(err)}`);
        hooks.view.renderHeader();
        hooks.view.renderComposer();
        return false;
      },
    );
    return c.joinPromise;
  }

  /** A new session: the SDK rejoins the rooms; who is there is asked again once it has. */
  sessionOpened(convs: Iterable<Conv>): void {
    for (const c of convs) {
      if (c.kind === 'room' && c.join === 'joined') void this.client.join(c.name).then(() => this.refreshPresence(c), () => {});
    }
  }

  onPresence(p: PresencePush): void {
    const conv = this.hooks.find(p.room);
    if (!conv) return;
    if (p.event === 'join') conv.members.set(p.user, Math.max(1, conv.members.get(p.user) ?? 0));
    else {
      conv.members.delete(p.user);
      this.hooks.stoppedTyping(conv, p.user);
    }
    this.hooks.view.renderSidebar();
    this.hooks.view.renderHeader();
  }

  private async refreshPresence(c: Conv): Promise<void> {
    try {
      const list = await this.client.presence(c.name);
      c.members = new Map(list.map((u) => [u.user, u.sessions]));
      this.hooks.view.renderSidebar();
      this.hooks.view.renderHeader();
    } catch {
      // shown as unknown until the next presence event
    }
  }
}
