/**
 * A conversation's history, page by page: the newest page when it is first
 * shown, earlier ones as the reader scrolls up (or while the list does not
 * fill the screen yet). A page lost with the connection is asked for again
 * once connected.
 */
import type { SwitchboardClient } from '../../client/src/index.js';
import type { ChatView } from './chat-view.js';
import { errorText } from './connection.js';
import { addMessages, targetOf, type Conv } from './conversation.js';
import { toast } from './toast.js';

const PAGE_SIZE = 30;

export interface HistoryHooks {
  /** The open conversation. */
  current(): Conv | null;
  /** The signed-in user, whose messages settle their pending copies. */
  me(): string | null;
  /** The conversation is still on the page. */
  known(c: Conv): boolean;
  /** The open conversation got a page: what is on screen is seen. */
  markReadSoon(): void;
  view: Pick<ChatView, 'list' | 'render' | 'renderSidebar'>;
}

export class HistoryLoader {
  constructor(
    private readonly client: Pick<SwitchboardClient, 'history'>,
    private readonly hooks: HistoryHooks,
  ) {}

  /** The first page of a conversation's history, once. */
  loadInitial(c: Conv): void {
    if (c.loadedOnce) return;
    if (c.kind === 'room' && c.join !== 'joined') return; // after the join
    c.loadedOnce = true;
    void this.loadOlder(c);
  }

  /** Pages history backwards from the oldest message shown (the newest page first). */
  async loadOlder(c: Conv): Promise<void> {
    const { hooks } = this;
    if (c.history === 'loading' || c.history === 'done') return;
    c.history = 'loading';
    hooks.view.list.renderHistoryState(hooks.current());
    const before = c.msgs[0]?.seq;
    try {
      const page = await this.client.history(targetOf(c), before === undefined ? { limit: PAGE_SIZE } : { before, limit: PAGE_SIZE });
      if (!hooks.known(c)) return;
      addMessages(c, page.messages, hooks.me());
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
        if (c === hooks.current()) toast(`Could not load earlier messages: ${errorText(err)}`, 'error');
      }
    }
    if (c !== hooks.current()) return;
    hooks.view.render('older');
    hooks.view.renderSidebar();
    hooks.markReadSoon();
    // Not enough to fill the screen yet: keep going.
    if (c.history === 'idle' && hooks.view.list.underfilled()) void this.loadOlder(c);
  }

  /** The reader scrolled: near the top of a conversation shown before, the next earlier page. */
  scrolled(): void {
    const c = this.hooks.current();
    if (c && c.loadedOnce && c.history === 'idle' && this.hooks.view.list.nearTop()) void this.loadOlder(c);
  }
}
