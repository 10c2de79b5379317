/**
 * The page around the open conversation — sidebar, header, message list,
 * composer, drawer — made once, and rendered from the chat's state when the
 * app says a change touched them (each render reads the state afresh).
 */
import { Composer, type ComposerActions } from './composer.js';
import { ConversationHeader } from './conversation-header.js';
import { unreadOf, type Conv } from './conversation.js';
import { Drawer } from './drawer.js';
import { el } from './elements.js';
import type { MessageContext } from './message-items.js';
import { MessageList, type RenderReason } from './message-list.js';
import { Sidebar, type SidebarActions } from './sidebar.js';
import { typingText } from './typing.js';

/** What the page shows. */
export interface ChatState {
  convs: ReadonlyMap<string, Conv>;
  current: Conv | null;
  /** The room whose people are listed (the current one, or the last room shown). */
  peopleRoom: Conv | null;
  me: string | null;
  connected: boolean;
  signedOut: boolean;
  /** A call is ringing: the page title says who is calling. */
  ringing: boolean;
}

export interface ChatViewActions {
  sidebar: SidebarActions;
  /** A call button in the header was pressed. */
  call(video: boolean): void;
  composer: ComposerActions;
  items: Omit<MessageContext, 'mediaLoaded'>;
  loadOlder(c: Conv): void;
}

export class ChatView {
  readonly list: MessageList;
  readonly composer: Composer;
  readonly drawer: Drawer;
  private readonly sidebar: Sidebar;
  private readonly header: ConversationHeader;

  constructor(
    private readonly state: () => ChatState,
    actions: ChatViewActions,
    signal: AbortSignal,
  ) {
    this.list = new MessageList(el, actions.items, actions.loadOlder);
    this.sidebar = new Sidebar(el, actions.sidebar, signal);
    this.header = new ConversationHeader(el, actions.call, signal);
    this.composer = new Composer(el, actions.composer, signal);
    this.drawer = new Drawer(el, signal);
  }

  renderSidebar(): void {
    const s = this.state();
    if (s.signedOut) return;
    this.sidebar.render({ convs: s.convs, current: s.current, peopleRoom: s.peopleRoom, me: s.me, connected: s.connected });
    this.renderTitle();
  }

  /** "(3) Switchboard": unread messages (the open conversation's too, while the tab is in the background). */
  renderTitle(): void {
    const s = this.state();
    if (s.ringing) return; // the title says who is calling
    let unread = 0;
    for (const c of s.convs.values()) unread += unreadOf(c);
    document.title = unread ? `(${unread}) Switchboard` : 'Switchboard';
  }

  renderHeader(): void {
    const s = this.state();
    this.header.render(s.current, { convs: s.convs, me: s.me, connected: s.connected });
  }

  renderTyping(): void {
    el.typing.textContent = typingText([...(this.state().current?.typing.keys() ?? [])]);
  }

  renderComposer(): void {
    this.composer.render(this.state().current);
  }

  /** Another conversation is open (or none): everything shows it. */
  renderConversation(): void {
    this.list.clear();
    this.renderHeader();
    this.renderTyping();
    this.renderComposer();
    this.renderSidebar();
    this.render('switch');
  }

  /** The open conversation's messages. */
  render(reason: RenderReason): void {
    this.list.render(this.state().current, reason);
  }

  clear(): void {
    this.list.clear();
    this.sidebar.clear();
  }
}
