/**
 * The header above the open conversation: its name, who is online (rooms) or
 * whether the other user is (direct conversations), and the call buttons.
 */
import { isOnline, label, type Conv } from './conversation.js';
import { h, icon, presenceAvatar } from './dom.js';

export interface HeaderElements {
  convAvatar: HTMLElement;
  convTitle: HTMLElement;
  convSub: HTMLElement;
  callActions: HTMLElement;
  callAudio: HTMLButtonElement;
  callVideo: HTMLButtonElement;
}

export interface HeaderView {
  /** All conversations: presence is known per room, so any room may say a user is online. */
  convs: ReadonlyMap<string, Conv>;
  me: string | null;
  connected: boolean;
}

export class ConversationHeader {
  constructor(
    private readonly el: HeaderElements,
    /** A call button was pressed. */
    call: (video: boolean) => void,
    signal: AbortSignal,
  ) {
    el.callAudio.addEventListener('click', () => call(false), { signal });
    el.callVideo.addEventListener('click', () => call(true), { signal });
  }

  render(c: Conv | null, view: HeaderView): void {
    const { el } = this;
    if (!c) {
      el.convTitle.textContent = 'No conversation';
      el.convSub.textContent = 'Join a room or start a direct message';
      el.convAvatar.replaceChildren();
      el.callActions.hidden = true;
      return;
    }
    el.convTitle.textContent = label(c);
    if (c.kind === 'room') {
      el.convAvatar.replaceChildren(h('span', { class: 'conv-icon big' }, icon('hash')));
      const n = c.members.size;
      el.convSub.textContent = c.join === 'joined' ? (view.connected ? `${n} online` : 'Offline') : c.join === 'failed' ? 'Not joined' : 'Joining…';
      el.callActions.hidden = true;
    } else {
      const online = isOnline(view.convs.values(), c.name);
      el.convAvatar.replaceChildren(presenceAvatar(c.name, online));
      el.convSub.textContent = c.name === view.me ? 'Notes to yourself' : online ? 'Online' : 'Direct message';
      el.callActions.hidden = c.name === view.me;
      el.callAudio.setAttribute('aria-label', `Start a voice call with ${c.name}`);
      el.callAudio.title = `Voice call with ${c.name}`;
      el.callVideo.setAttribute('aria-label', `Start a video call with ${c.name}`);
      el.callVideo.title = `Video call with ${c.name}`;
    }
  }
}
