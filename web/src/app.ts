/**
 * The chat: conversations (rooms and direct messages), their messages and
 * unread counts, presence, typing, media and calls — on top of the SDK, which
 * does the connecting, recovery after reconnects and the offline queue.
 *
 * This class holds the state (the conversations, the open one, the user) and
 * answers the SDK's events. The parts of the page (chat-view.ts: sidebar,
 * header, message list, composer, drawer; the banner) show what they are given
 * and report what the user does; the parts that talk to the server for the
 * page (room joins, history, read positions, the outbox) get a few functions
 * from here. Every change of state goes through here, which renders the parts
 * it touched.
 */
import { SwitchboardClient, type Conversation, type MessagePush, type StateChange, type TypingPush, type UnreadPush } from '../../client/src/index.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { Calls } from './calls.js';
import { ChatView, type ChatState } from './chat-view.js';
import { ConnectionBanner } from './connection-banner.js';
import { describeClose, describeState, errorText, OnlineAwareWebSocket } from './connection.js';
import { addMessages, convKey, label, newConv, ROOM_NAME, USER_ID, type Conv } from './conversation.js';
import { avatar, plural } from './dom.js';
import { el } from './elements.js';
import type { Endpoints } from './endpoints.js';
import { HistoryLoader } from './history-loader.js';
import { Outbox } from './outbox.js';
import { ReadMarker } from './read-marker.js';
import { RoomJoins } from './room-joins.js';
import { loadConversations, saveConversations } from './saved-conversations.js';
import { toast } from './toast.js';
import { IncomingTyping, OutgoingTyping } from './typing.js';
import { applyUnreadSummary } from './unread-summary.js';

export interface Credentials {
  user?: string;
  token?: string;
}

const DEFAULT_ROOM = 'general';

export class ChatApp {
  readonly client: SwitchboardClient;
  private readonly calls: Calls;
  private readonly banner: ConnectionBanner;
  private readonly view: ChatView;
  private readonly outbox: Outbox;
  private readonly joins: RoomJoins;
  private readonly history: HistoryLoader;
  private readonly reads: ReadMarker;
  private readonly typingIn = new IncomingTyping((c) => {
    if (c === this.current) this.view.renderTyping();
    if (c.kind === 'dm') this.view.renderSidebar();
  });
  private readonly typingOut: OutgoingTyping;
  private readonly abort = new AbortController();
  private me: string | null = null;
  private readonly convs = new Map<string, Conv>();
  private current: Conv | null = null;
  /** The room whose people are listed (the current one, or the last room shown). */
  private peopleRoom: Conv | null = null;
  private restored = false;
  private maxText = 8000;
  private noteIds = 0;
  private lastNotice = '';
  /** This session's unread summary has come. */
  private summarySeen = false;
  private signedOut = false;

  constructor(
    private readonly cred: Credentials,
    endpoints: Endpoints,
    private readonly onSignOut: (message?: string) => void,
  ) {
    this.client = new SwitchboardClient({
      url: endpoints.websocket,
      httpUrl: endpoints.http,
      ...(cred.token !== undefined ? { token: cred.token } : { user: cred.user! }),
      WebSocket: OnlineAwareWebSocket,
    });
    const signal = this.abort.signal;
    this.banner = new ConnectionBanner(el, this.client, signal);
    this.typingOut = new OutgoingTyping(this.client, (key) => this.convs.get(key) ?? null);
    this.outbox = new Outbox(this.client, cred, endpoints.http, {
      isOpen: (c) => c === this.current,
      render: (reason) => this.view.render(reason),
      forget: (c, p) => this.view.list.forget(c, `p:${p.key}`),
      queueChanged: () => this.banner.render(),
    });
    this.view = new ChatView(() => this.state(), {
      items: {
        me: () => this.me,
        sender: () => this.me ?? this.cred.user ?? 'me',
        connected: () => this.client.state === 'connected',
        fileUrl: (path) => this.client.fileUrl(path),
        retry: (c, p) => this.outbox.retry(c, p),
        discard: (c, p) => this.outbox.discard(c, p),
      },
      loadOlder: (c) => void this.history.loadOlder(c),
      sidebar: { select: (c) => this.select(c), leave: (c) => void this.leaveRoom(c), openRoom: (name) => this.openRoom(name), openDm: (user) => this.openDm(user) },
      call: (video) => {
        if (this.current?.kind === 'dm') void this.calls.start(this.current.name, video);
      },
      composer: {
        send: () => this.sendText(),
        typed: (hasText) => this.typingOut.input(this.current, hasText),
        files: (files) => this.sendFiles(files),
        isOpen: () => this.current !== null,
      },
    }, signal);
    this.calls = new Calls(this.client, {
      openDm: (user) => this.openDm(user, false),
      note: (user, text) => this.addNote(this.conv('dm', user), text),
      toast: (text) => toast(text),
      restoreTitle: () => this.view.renderTitle(),
      signal,
    });
    const gone = (c: Conv): boolean => this.signedOut || !this.convs.has(c.key);
    this.joins = new RoomJoins(this.client, {
      find: (room) => this.convs.get(convKey('room', room)),
      gone,
      summarySeen: () => this.summarySeen,
      joined: (c) => {
        if (c === this.current) this.history.loadInitial(c);
      },
      note: (c, text) => this.addNote(c, text, true),
      stoppedTyping: (c, user) => this.typingIn.clear(c, user),
      view: this.view,
    });
    this.history = new HistoryLoader(this.client, {
      current: () => this.current,
      me: () => this.me,
      known: (c) => this.convs.has(c.key),
      markReadSoon: () => this.reads.soon(),
      view: this.view,
    });
    this.reads = new ReadMarker(this.client, { current: () => this.current, gone, changed: () => this.view.renderSidebar() });
  }

  private state(): ChatState {
    const { convs, current, peopleRoom, me, signedOut } = this;
    return { convs, current, peopleRoom, me, signedOut, connected: this.client.state === 'connected', ringing: this.calls.ringing };
  }

  start(): void {
    const c = this.client;
    c.on('state', (s) => this.onState(s));
    c.on('connected', (info) => this.onConnected(info.user, info.limits.maxTextLength));
    c.on('message', (m, { conversation }) => this.onMessage(m, conversation));
    c.on('unread', (u) => this.onUnread(u));
    c.on('presence', (p) => this.joins.onPresence(p));
    c.on('typing', (t) => this.onTyping(t));
    c.on('notice', (n) => {
      if (n.text === this.lastNotice) return;
      this.lastNotice = n.text;
      toast(n.text);
    });
    c.on('left', (e) => this.onRemoved(e.room, e.reason));
    c.on('gap', (g) => {
      const conv = 'room' in g.conversation ? this.convs.get(convKey('room', g.conversation.room)) : this.convs.get(convKey('dm', g.conversation.with));
      if (conv) this.addNote(conv, `${plural(g.to - g.from + 1, 'message')} could not be recovered${g.reason === 'not-durable' ? ' (this room does not store messages)' : ''}.`, true);
    });
    c.on('error', (err) => {
      // Refused credentials and fatal closes are shown by the state handler.
      if (err.code !== 'auth_failed' && err.code !== 'closed') console.warn('Switchboard:', err.code, err.message);
    });
    this.wireUi();
    this.banner.render();
    void c.connect().catch(() => {
      // Reported through the `state` event.
    });
  }

  /** Signs out: closes the connection, ends a call, forgets this page's state. */
  async destroy(): Promise<void> {
    this.signedOut = true;
    if (this.calls.active) this.calls.hangup();
    this.abort.abort();
    this.reads.stop();
    this.banner.stop();
    this.typingOut.stop();
    // Else a typist's timeout could still write the old session's "… is typing" into the next one's page.
    for (const c of this.convs.values()) this.typingIn.forgetAll(c);
    this.outbox.close(this.convs.values());
    await this.client.close();
    this.view.clear();
    document.title = 'Switchboard';
  }

  // ── connection ───────────────────────────────────────────────────────

  private onState(s: StateChange): void {
    if (this.signedOut) return;
    this.banner.set(s);
    el.meBox.dataset.state = s.state;
    if (s.state !== 'connected') {
      this.summarySeen = false;
      // Who is here is unknown until we are back.
      for (const c of this.convs.values()) {
        c.members.clear();
        this.typingIn.forgetAll(c);
      }
      this.view.renderSidebar();
      this.view.renderHeader();
      this.view.renderTyping();
    }
    this.banner.render();
    this.outbox.refresh(this.current);
    if (s.state === 'disconnected' && !s.willReconnect && (s.closeCode === CloseCode.Unauthorized || s.closeCode === CloseCode.TokenExpired)) {
      this.onSignOut(this.me === null ? `Could not sign in: ${describeClose(s.closeCode, s.reason)}.` : (describeState(s, true, 0)?.text ?? 'Signed out.'));
    }
  }

  private onConnected(user: string, maxText: number): void {
    this.me = user;
    this.maxText = maxText || 8000;
    el.me.textContent = user;
    el.meBox.replaceChildren(avatar(user, 'avatar small'), el.me);
    if (!this.restored) {
      this.restored = true;
      this.restore();
    }
    this.joins.sessionOpened(this.convs.values());
    if (this.current) this.history.loadInitial(this.current);
    this.banner.render();
    this.view.renderComposer();
    this.reads.soon();
  }

  // ── conversations ────────────────────────────────────────────────────

  private conv(kind: Conv['kind'], name: string): Conv {
    const key = convKey(kind, name);
    let c = this.convs.get(key);
    if (c) return c;
    c = newConv(kind, name);
    this.convs.set(key, c);
    this.save();
    this.view.renderSidebar();
    return c;
  }

  /** Rooms, direct conversations and the open one, per user, for the next visit. */
  private save(): void {
    if (this.me === null || !this.restored) return;
    saveConversations(this.me, this.convs.values(), this.current);
  }

  private restore(): void {
    const saved = loadConversations(this.me!);
    for (const r of saved?.rooms ?? [DEFAULT_ROOM]) if (ROOM_NAME.test(r)) this.openRoom(r, false);
    for (const u of saved?.dms ?? []) if (USER_ID.test(u)) this.conv('dm', u);
    const first = (saved?.current ? this.convs.get(saved.current) : undefined) ?? [...this.convs.values()][0];
    if (first) this.select(first, false);
    else this.view.renderConversation();
    this.save();
  }

  private openRoom(name: string, select = true): Conv {
    const c = this.conv('room', name);
    if (select) this.select(c);
    void this.joins.ensureJoined(c);
    return c;
  }

  private openDm(user: string, focus = true): void {
    const c = this.conv('dm', user);
    this.select(c, focus);
  }

  /** The server took us out of a room: it leaves the list, as if left here. */
  private onRemoved(room: string, reason: 'removed' | 'deleted'): void {
    const c = this.convs.get(convKey('room', room));
    toast(reason === 'deleted' ? `#${room} was deleted.` : `You were removed from #${room}.`);
    if (c) this.forgetRoom(c);
  }

  private async leaveRoom(c: Conv): Promise<void> {
    this.forgetRoom(c);
    try {
      await this.client.leave(c.name);
    } catch (err) {
      toast(`Could not leave ${label(c)}: ${errorText(err)}`, 'error');
    }
  }

  private forgetRoom(c: Conv): void {
    this.convs.delete(c.key);
    if (this.peopleRoom === c) this.peopleRoom = null;
    if (this.current === c) {
      this.current = null;
      const next = [...this.convs.values()][0];
      if (next) this.select(next, false);
      else this.view.renderConversation();
    }
    this.save();
    this.view.renderSidebar();
  }

  private select(c: Conv, focus = true): void {
    if (this.current !== c) {
      this.typingOut.stop();
      // What was on screen has been seen.
      if (this.current) this.reads.now(this.current);
    }
    this.current = c;
    if (c.kind === 'room') this.peopleRoom = c;
    this.save();
    this.view.renderConversation();
    this.view.drawer.close();
    if (c.kind === 'room') void this.joins.ensureJoined(c);
    this.history.loadInitial(c);
    this.reads.soon();
    if (focus && matchMedia('(min-width: 721px)').matches) this.view.composer.focus();
  }

  // ── messages ─────────────────────────────────────────────────────────

  private onMessage(m: MessagePush, conversation: Conversation): void {
    const c = 'room' in conversation ? this.conv('room', conversation.room) : this.conv('dm', conversation.with);
    if (addMessages(c, [m], this.me) === 0) return;
    this.typingIn.clear(c, m.from);
    if (c === this.current) {
      this.view.render(m.from === this.me ? 'mine' : 'append');
      this.reads.soon();
    }
    this.view.renderSidebar();
  }

  private onUnread(u: UnreadPush): void {
    this.summarySeen = true;
    applyUnreadSummary(u, this.convs, { conv: (kind, name) => this.conv(kind, name), join: (c) => void this.joins.ensureJoined(c) });
    if (!this.current) {
      const first = [...this.convs.values()][0];
      if (first) this.select(first, false);
    }
    this.view.renderSidebar();
    this.reads.soon();
  }

  private addNote(c: Conv, text: string, error = false): void {
    c.notes.push({ id: ++this.noteIds, afterSeq: c.lastSeq, ts: Date.now(), text, ...(error ? { error } : {}) });
    if (c === this.current) this.view.render('append');
  }

  private onTyping(t: TypingPush): void {
    const c = t.room !== undefined ? this.convs.get(convKey('room', t.room)) : this.convs.get(convKey('dm', t.from));
    if (c) this.typingIn.update(c, t.from, t.active !== false);
  }

  // ── sending ──────────────────────────────────────────────────────────

  private sendText(): void {
    const c = this.current;
    const text = this.view.composer.text;
    if (!c || !text) return;
    if (text.length > this.maxText) return toast(`That message is too long (at most ${this.maxText} characters).`, 'error');
    if (c.kind === 'room' && c.join === 'failed') void this.joins.ensureJoined(c);
    this.typingOut.stop();
    this.view.composer.clear();
    this.outbox.sendText(c, text);
  }

  private sendFiles(files: Iterable<File>): void {
    const c = this.current;
    if (!c) return;
    this.outbox.sendFiles(c, files);
  }

  // ── UI wiring ────────────────────────────────────────────────────────

  private wireUi(): void {
    const signal = this.abort.signal;
    el.scroller.addEventListener(
      'scroll',
      () => {
        this.view.list.updateJump();
        this.history.scrolled();
      },
      { signal },
    );
    el.jump.addEventListener('click', () => this.view.list.scrollToEnd(), { signal });
    document.addEventListener('visibilitychange', () => this.reads.soon(), { signal });
  }
}
