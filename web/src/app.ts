/**
 * The chat: conversations (rooms and direct messages), their messages and
 * unread counts, presence, typing, media and calls — on top of the SDK, which
 * does the connecting, recovery after reconnects and the offline queue.
 *
 * This class holds the state (the conversations, the open one, the user) and
 * answers the SDK's events. The parts of the page (sidebar, header, message
 * list, composer, banner, drawer) show what they are given and report what the
 * user does: every change of state goes through here, which renders the parts
 * it touched.
 */
import {
  SwitchboardClient,
  type Conversation,
  type MessagePush,
  type StateChange,
  type TypingPush,
  type UnreadPush,
} from '../../client/src/index.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { Calls } from './calls.js';
import { Composer } from './composer.js';
import { ConnectionBanner } from './connection-banner.js';
import { describeClose, describeState, errorText, OnlineAwareWebSocket } from './connection.js';
import { ConversationHeader } from './conversation-header.js';
import { addMessages, convKey, label, newConv, ROOM_NAME, targetOf, unreadOf, USER_ID, type Conv } from './conversation.js';
import { avatar, byId, plural } from './dom.js';
import { Drawer } from './drawer.js';
import type { Endpoints } from './endpoints.js';
import { MessageList, type RenderReason } from './message-list.js';
import { Outbox } from './outbox.js';
import { loadConversations, saveConversations } from './saved-conversations.js';
import { Sidebar } from './sidebar.js';
import { toast } from './toast.js';
import { IncomingTyping, OutgoingTyping, typingText } from './typing.js';

export interface Credentials {
  user?: string;
  token?: string;
}

const DEFAULT_ROOM = 'general';
const PAGE_SIZE = 30;

const el = {
  me: byId('me'),
  meBox: byId('me-box'),
  banner: byId('banner'),
  bannerText: byId('banner-text'),
  bannerAction: byId<HTMLButtonElement>('banner-action'),
  sidebar: byId('sidebar'),
  menu: byId<HTMLButtonElement>('menu'),
  scrim: byId('scrim'),
  rooms: byId('rooms'),
  joinForm: byId<HTMLFormElement>('join-form'),
  joinRoom: byId<HTMLInputElement>('join-room'),
  dms: byId('dms'),
  dmForm: byId<HTMLFormElement>('dm-form'),
  dmUser: byId<HTMLInputElement>('dm-user'),
  peopleH: byId('people-h'),
  people: byId('people'),
  conversation: byId('conversation'),
  convAvatar: byId('conv-avatar'),
  convTitle: byId('conv-title'),
  convSub: byId('conv-sub'),
  callActions: byId('call-actions'),
  callAudio: byId<HTMLButtonElement>('call-audio'),
  callVideo: byId<HTMLButtonElement>('call-video'),
  scroller: byId('scroller'),
  historyState: byId('history-state'),
  messages: byId('messages'),
  jump: byId<HTMLButtonElement>('jump'),
  typing: byId('typing'),
  composer: byId<HTMLFormElement>('composer'),
  file: byId<HTMLInputElement>('file'),
  text: byId<HTMLTextAreaElement>('text'),
  send: byId<HTMLButtonElement>('send'),
  dropHint: byId('drop-hint'),
  attach: byId('attach'),
};

export class ChatApp {
  readonly client: SwitchboardClient;
  private readonly calls: Calls;
  private readonly banner: ConnectionBanner;
  private readonly list: MessageList;
  private readonly outbox: Outbox;
  private readonly sidebar: Sidebar;
  private readonly header: ConversationHeader;
  private readonly composer: Composer;
  private readonly drawer: Drawer;
  private readonly typingIn = new IncomingTyping((c) => {
    if (c === this.current) this.renderTyping();
    if (c.kind === 'dm') this.renderSidebar();
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
  private readTimer: ReturnType<typeof setTimeout> | undefined;
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
    this.banner = new ConnectionBanner(el, this.client, this.abort.signal);
    this.typingOut = new OutgoingTyping(this.client, (key) => this.convs.get(key) ?? null);
    this.outbox = new Outbox(this.client, cred, endpoints.http, {
      isOpen: (c) => c === this.current,
      render: (reason) => this.render(reason),
      forget: (c, p) => this.list.forget(c, `p:${p.key}`),
      queueChanged: () => this.banner.render(),
    });
    this.list = new MessageList(
      el,
      {
        me: () => this.me,
        sender: () => this.me ?? this.cred.user ?? 'me',
        connected: () => this.client.state === 'connected',
        fileUrl: (path) => this.client.fileUrl(path),
        retry: (c, p) => this.outbox.retry(c, p),
        discard: (c, p) => this.outbox.discard(c, p),
      },
      (c) => void this.loadOlder(c),
    );
    this.sidebar = new Sidebar(
      el,
      { select: (c) => this.select(c), leave: (c) => void this.leaveRoom(c), openRoom: (name) => this.openRoom(name), openDm: (user) => this.openDm(user) },
      this.abort.signal,
    );
    this.header = new ConversationHeader(
      el,
      (video) => {
        if (this.current?.kind === 'dm') void this.calls.start(this.current.name, video);
      },
      this.abort.signal,
    );
    this.composer = new Composer(
      el,
      {
        send: () => this.sendText(),
        typed: (hasText) => this.typingOut.input(this.current, hasText),
        files: (files) => this.sendFiles(files),
        isOpen: () => this.current !== null,
      },
      this.abort.signal,
    );
    this.drawer = new Drawer(el, this.abort.signal);
    this.calls = new Calls(this.client, {
      openDm: (user) => this.openDm(user, false),
      note: (user, text) => this.addNote(this.conv('dm', user), text),
      toast: (text) => toast(text),
      restoreTitle: () => this.renderTitle(),
      signal: this.abort.signal,
    });
  }

  start(): void {
    const c = this.client;
    c.on('state', (s) => this.onState(s));
    c.on('connected', (info) => this.onConnected(info.user, info.limits.maxTextLength));
    c.on('message', (m, { conversation }) => this.onMessage(m, conversation));
    c.on('unread', (u) => this.onUnread(u));
    c.on('presence', (p) => {
      const conv = this.convs.get(convKey('room', p.room));
      if (!conv) return;
      if (p.event === 'join') conv.members.set(p.user, Math.max(1, conv.members.get(p.user) ?? 0));
      else {
        conv.members.delete(p.user);
        this.typingIn.clear(conv, p.user);
      }
      this.renderSidebar();
      this.renderHeader();
    });
    c.on('typing', (t) => this.onTyping(t));
    c.on('notice', (n) => {
      if (n.text === this.lastNotice) return;
      this.lastNotice = n.text;
      toast(n.text);
    });
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
    clearTimeout(this.readTimer);
    this.banner.stop();
    this.typingOut.stop();
    // Else a typist's timeout could still write the old session's "… is typing" into the next one's page.
    for (const c of this.convs.values()) this.typingIn.forgetAll(c);
    this.outbox.close(this.convs.values());
    await this.client.close();
    this.list.clear();
    this.sidebar.clear();
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
      this.renderSidebar();
      this.renderHeader();
      this.renderTyping();
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
    for (const c of this.convs.values()) {
      if (c.kind === 'room' && c.join === 'joined') void this.client.join(c.name).then(() => this.refreshPresence(c), () => {});
    }
    if (this.current) this.loadInitial(this.current);
    this.banner.render();
    this.renderComposer();
    this.markReadSoon();
  }

  // ── conversations ────────────────────────────────────────────────────

  private conv(kind: Conv['kind'], name: string): Conv {
    const key = convKey(kind, name);
    let c = this.convs.get(key);
    if (c) return c;
    c = newConv(kind, name);
    this.convs.set(key, c);
    this.save();
    this.renderSidebar();
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
    else this.renderConversation();
    this.save();
  }

  private openRoom(name: string, select = true): Conv {
    const c = this.conv('room', name);
    if (select) this.select(c);
    void this.ensureJoined(c);
    return c;
  }

  private openDm(user: string, focus = true): void {
    const c = this.conv('dm', user);
    this.select(c, focus);
  }

  private ensureJoined(c: Conv): Promise<boolean> {
    if (c.kind !== 'room') return Promise.resolve(true);
    if ((c.join === 'joining' || c.join === 'joined') && c.joinPromise) return c.joinPromise;
    c.join = 'joining';
    this.renderHeader();
    c.joinPromise = this.client.join(c.name).then(
      (r) => {
        c.join = 'joined';
        c.durable = r.durable;
        c.pushOnly = r.kind === 'push';
        // A new member has read everything before its join (the server starts its read position there).
        if (!c.inSummary) {
          if (this.summarySeen) c.readSeq = Math.max(c.readSeq, r.seq);
          else c.joinSeq = r.seq;
        }
        void this.refreshPresence(c);
        this.renderSidebar();
        this.renderHeader();
        this.renderComposer();
        if (c === this.current) this.loadInitial(c);
        return true;
      },
      (err) => {
        if (this.signedOut || !this.convs.has(c.key)) return false;
        c.join = 'failed';
        c.joinPromise = null;
        this.addNote(c, `Could not join ${label(c)}: ${errorText(err)}`, true);
        this.renderHeader();
        this.renderComposer();
        return false;
      },
    );
    return c.joinPromise;
  }

  private async refreshPresence(c: Conv): Promise<void> {
    try {
      const list = await this.client.presence(c.name);
      c.members = new Map(list.map((u) => [u.user, u.sessions]));
      this.renderSidebar();
      this.renderHeader();
    } catch {
      // shown as unknown until the next presence event
    }
  }

  private async leaveRoom(c: Conv): Promise<void> {
    this.convs.delete(c.key);
    if (this.peopleRoom === c) this.peopleRoom = null;
    if (this.current === c) {
      this.current = null;
      const next = [...this.convs.values()][0];
      if (next) this.select(next, false);
      else this.renderConversation();
    }
    this.save();
    this.renderSidebar();
    try {
      await this.client.leave(c.name);
    } catch (err) {
      toast(`Could not leave ${label(c)}: ${errorText(err)}`, 'error');
    }
  }

  private select(c: Conv, focus = true): void {
    if (this.current !== c) {
      this.typingOut.stop();
      // What was on screen has been seen.
      if (this.current) this.markRead(this.current);
    }
    this.current = c;
    if (c.kind === 'room') this.peopleRoom = c;
    this.save();
    this.renderConversation();
    this.drawer.close();
    if (c.kind === 'room') void this.ensureJoined(c);
    this.loadInitial(c);
    this.markReadSoon();
    if (focus && matchMedia('(min-width: 721px)').matches) this.composer.focus();
  }

  // ── messages ─────────────────────────────────────────────────────────

  private onMessage(m: MessagePush, conversation: Conversation): void {
    const c = 'room' in conversation ? this.conv('room', conversation.room) : this.conv('dm', conversation.with);
    if (addMessages(c, [m], this.me) === 0) return;
    this.typingIn.clear(c, m.from);
    if (c === this.current) {
      this.render(m.from === this.me ? 'mine' : 'append');
      this.markReadSoon();
    }
    this.renderSidebar();
  }

  private onUnread(u: UnreadPush): void {
    this.summarySeen = true;
    for (const c of this.convs.values()) c.inSummary = false;
    for (const e of u.conversations) {
      const c = e.room !== undefined ? this.conv('room', e.room) : e.with !== undefined ? this.conv('dm', e.with) : null;
      if (!c) continue;
      c.inSummary = true;
      c.lastSeq = Math.max(c.lastSeq, e.lastSeq);
      c.readSeq = Math.max(c.readSeq, e.readSeq);
      if (c.kind === 'room' && c.join === 'none') void this.ensureJoined(c);
    }
    for (const c of this.convs.values()) {
      if (c.joinSeq !== undefined && !c.inSummary) c.readSeq = Math.max(c.readSeq, c.joinSeq);
      c.joinSeq = undefined;
    }
    if (!this.current) {
      const first = [...this.convs.values()][0];
      if (first) this.select(first, false);
    }
    this.renderSidebar();
    this.markReadSoon();
  }

  /** The first page of a conversation's history, once. */
  private loadInitial(c: Conv): void {
    if (c.loadedOnce) return;
    if (c.kind === 'room' && c.join !== 'joined') return; // after the join
    c.loadedOnce = true;
    void this.loadOlder(c);
  }

  /** Pages history backwards from the oldest message shown (the newest page first). */
  private async loadOlder(c: Conv): Promise<void> {
    if (c.history === 'loading' || c.history === 'done') return;
    c.history = 'loading';
    this.list.renderHistoryState(this.current);
    const before = c.msgs[0]?.seq;
    try {
      const page = await this.client.history(targetOf(c), before === undefined ? { limit: PAGE_SIZE } : { before, limit: PAGE_SIZE });
      if (!this.convs.has(c.key)) return;
      addMessages(c, page.messages, this.me);
      c.lastSeq = Math.max(c.lastSeq, page.lastSeq);
      const oldest = c.msgs[0]?.seq;
      c.history = oldest === undefined || page.messages.length === 0 || oldest <= Math.max(1, page.oldestSeq) ? 'done' : 'idle';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'connection_lost' || code === 'timeout' || code === 'not_connected') {
        // Asked again once connected.
        c.history = 'idle';
        if (c.msgs.length === 0) c.loadedOnce = false;
      } else {
        c.history = 'error';
        if (c === this.current) toast(`Could not load earlier messages: ${errorText(err)}`, 'error');
      }
    }
    if (c !== this.current) return;
    this.render('older');
    this.renderSidebar();
    this.markReadSoon();
    // Not enough to fill the screen yet: keep going.
    if (c.history === 'idle' && this.list.underfilled()) void this.loadOlder(c);
  }

  private addNote(c: Conv, text: string, error = false): void {
    c.notes.push({ id: ++this.noteIds, afterSeq: c.lastSeq, ts: Date.now(), text, ...(error ? { error } : {}) });
    if (c === this.current) this.render('append');
  }

  /** Marks the open conversation read (shortly: a burst of messages makes one `read`). */
  private markReadSoon(): void {
    const c = this.current;
    clearTimeout(this.readTimer);
    if (c) this.readTimer = setTimeout(() => this.markRead(c), 300);
  }

  private markRead(c: Conv): void {
    if (this.signedOut || document.visibilityState !== 'visible' || c.lastSeq <= c.readSeq || !this.convs.has(c.key)) return;
    c.readSeq = c.lastSeq;
    this.renderSidebar();
    this.client.read(targetOf(c), c.lastSeq).catch(() => {
      // The next view marks it again.
    });
  }

  // ── typing ───────────────────────────────────────────────────────────

  private onTyping(t: TypingPush): void {
    const c = t.room !== undefined ? this.convs.get(convKey('room', t.room)) : this.convs.get(convKey('dm', t.from));
    if (c) this.typingIn.update(c, t.from, t.active !== false);
  }

  // ── sending ──────────────────────────────────────────────────────────

  private sendText(): void {
    const c = this.current;
    const text = this.composer.text;
    if (!c || !text) return;
    if (text.length > this.maxText) return toast(`That message is too long (at most ${this.maxText} characters).`, 'error');
    if (c.kind === 'room' && c.join === 'failed') void this.ensureJoined(c);
    this.typingOut.stop();
    this.composer.clear();
    this.outbox.sendText(c, text);
  }

  private sendFiles(files: Iterable<File>): void {
    const c = this.current;
    if (!c) return;
    this.outbox.sendFiles(c, files);
  }

  // ── rendering ────────────────────────────────────────────────────────

  private renderSidebar(): void {
    if (this.signedOut) return;
    this.sidebar.render({ convs: this.convs, current: this.current, peopleRoom: this.peopleRoom, me: this.me, connected: this.client.state === 'connected' });
    this.renderTitle();
  }

  /** "(3) Switchboard": unread messages (the open conversation's too, while the tab is in the background). */
  private renderTitle(): void {
    if (this.calls.ringing) return; // the title says who is calling
    let unread = 0;
    for (const c of this.convs.values()) unread += unreadOf(c);
    document.title = unread ? `(${unread}) Switchboard` : 'Switchboard';
  }

  private renderHeader(): void {
    this.header.render(this.current, { convs: this.convs, me: this.me, connected: this.client.state === 'connected' });
  }

  private renderTyping(): void {
    el.typing.textContent = typingText([...(this.current?.typing.keys() ?? [])]);
  }

  private renderComposer(): void {
    this.composer.render(this.current);
  }

  private renderConversation(): void {
    this.list.clear();
    this.renderHeader();
    this.renderTyping();
    this.renderComposer();
    this.renderSidebar();
    this.render('switch');
  }

  private render(reason: RenderReason): void {
    this.list.render(this.current, reason);
  }

  // ── UI wiring ────────────────────────────────────────────────────────

  private wireUi(): void {
    const signal = this.abort.signal;
    const on = <K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K, fn: (e: HTMLElementEventMap[K]) => void): void =>
      target.addEventListener(type, fn, { signal });

    on(el.scroller, 'scroll', () => {
      this.list.updateJump();
      const c = this.current;
      if (c && c.loadedOnce && c.history === 'idle' && this.list.nearTop()) void this.loadOlder(c);
    });
    on(el.jump, 'click', () => this.list.scrollToEnd());
    document.addEventListener('visibilitychange', () => this.markReadSoon(), { signal });
  }
}
