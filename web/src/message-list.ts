/**
 * The open conversation's message list on the page: keeps it in line with the
 * conversation without rebuilding what is already shown, keeps the reader's
 * place when earlier messages come in, and says where the history begins.
 */
import type { Conv } from './conversation.js';
import { h } from './dom.js';
import { itemsOf, type MessageContext } from './message-items.js';

/** Why the list is rendered, which decides where it scrolls to. */
export type RenderReason = 'append' | 'mine' | 'older' | 'switch';

export interface MessageListElements {
  scroller: HTMLElement;
  messages: HTMLElement;
  historyState: HTMLElement;
  jump: HTMLElement;
}

export class MessageList {
  private readonly ctx: MessageContext;
  /** Each conversation's elements by item key: kept so media players survive re-renders and switching back. */
  private readonly rendered = new WeakMap<Conv, Map<string, HTMLElement>>();

  constructor(
    private readonly el: MessageListElements,
    items: Omit<MessageContext, 'mediaLoaded'>,
    private readonly loadOlder: (c: Conv) => void,
  ) {
    this.ctx = { ...items, mediaLoaded: () => this.keepBottom() };
  }

  /**
   * Brings the list in line with the conversation: new items are inserted,
   * gone ones removed, existing elements stay (so players keep playing).
   */
  render(c: Conv | null, reason: RenderReason): void {
    const list = this.el.messages;
    const box = this.el.scroller;
    this.renderHistoryState(c);
    if (!c) {
      list.replaceChildren();
      return;
    }
    const atBottom = this.atBottom();
    const fromBottom = box.scrollHeight - box.scrollTop;
    const items = itemsOf(c, this.ctx);
    const want = new Set(items.map((i) => i.key));
    for (const child of [...list.children]) if (!want.has((child as HTMLElement).dataset.key ?? '')) child.remove();
    const els = this.elementsOf(c);
    let cur = list.firstElementChild;
    for (const it of items) {
      let node = els.get(it.key);
      if (!node) {
        node = it.build();
        node.dataset.key = it.key;
        els.set(it.key, node);
      }
      node.classList.toggle('cont', it.cont);
      if (node === cur) cur = cur.nextElementSibling;
      else list.insertBefore(node, cur);
    }
    for (const k of [...els.keys()]) if (!want.has(k)) els.delete(k);
    if (reason === 'switch' || reason === 'mine' || (reason === 'append' && atBottom)) box.scrollTop = box.scrollHeight;
    else if (reason === 'older') box.scrollTop = box.scrollHeight - fromBottom;
    this.updateJump();
  }

  renderHistoryState(c: Conv | null): void {
    const s = this.el.historyState;
    s.replaceChildren();
    if (!c) return;
    if (c.history === 'loading') s.append(h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading earlier messages…');
    else if (c.history === 'error') s.append(h('button', { type: 'button', class: 'ghost small', onclick: () => this.loadOlder(c) }, 'Load earlier messages'));
    else if (c.history === 'done' && c.loadedOnce) {
      if (c.kind === 'room' && !c.durable) s.append('This room does not keep history.');
      else s.append(c.kind === 'room' ? `This is the beginning of #${c.name}.` : `This is the beginning of your conversation with ${c.name}.`);
    }
  }

  /** Forgets an item's element (and takes it off the page) so the next render builds it afresh. */
  forget(c: Conv, key: string): boolean {
    const els = this.elementsOf(c);
    els.get(key)?.remove();
    return els.delete(key);
  }

  clear(): void {
    this.el.messages.replaceChildren();
  }

  updateJump(): void {
    const atBottom = this.atBottom();
    this.el.scroller.dataset.stick = atBottom ? '1' : '0';
    this.el.jump.hidden = atBottom;
  }

  scrollToEnd(): void {
    this.el.scroller.scrollTo({ top: this.el.scroller.scrollHeight, behavior: 'smooth' });
  }

  /** Close enough to the top that the reader is about to want earlier messages. */
  nearTop(): boolean {
    return this.el.scroller.scrollTop < 200;
  }

  /** The messages do not fill the screen yet, so no scrolling would ask for more. */
  underfilled(): boolean {
    const box = this.el.scroller;
    return box.scrollHeight <= box.clientHeight + 40;
  }

  /** After media loaded: stay at the bottom if we were there. */
  private keepBottom(): void {
    const box = this.el.scroller;
    if (box.dataset.stick === '1') box.scrollTop = box.scrollHeight;
  }

  private atBottom(): boolean {
    const box = this.el.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  private elementsOf(c: Conv): Map<string, HTMLElement> {
    let els = this.rendered.get(c);
    if (!els) this.rendered.set(c, (els = new Map()));
    return els;
  }
}
