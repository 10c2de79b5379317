/**
 * The sidebar: rooms, direct conversations (with unread counts, presence and
 * typing), who is online in the room last shown, and the forms that join a
 * room or start a direct conversation.
 */
import { isOnline, ROOM_NAME, unreadOf, USER_ID, type Conv } from './conversation.js';
import { h, icon, presenceAvatar } from './dom.js';

export interface SidebarElements {
  rooms: HTMLElement;
  joinForm: HTMLFormElement;
  joinRoom: HTMLInputElement;
  dms: HTMLElement;
  dmForm: HTMLFormElement;
  dmUser: HTMLInputElement;
  peopleH: HTMLElement;
  people: HTMLElement;
}

export interface SidebarActions {
  select(c: Conv): void;
  leave(c: Conv): void;
  openRoom(name: string): void;
  openDm(user: string): void;
}

export interface SidebarView {
  convs: ReadonlyMap<string, Conv>;
  current: Conv | null;
  /** The room whose people are listed (the current one, or the last room shown). */
  peopleRoom: Conv | null;
  me: string | null;
  connected: boolean;
}

export class Sidebar {
  constructor(
    private readonly el: SidebarElements,
    private readonly actions: SidebarActions,
    signal: AbortSignal,
  ) {
    nameForm({
      form: el.joinForm,
      input: el.joinRoom,
      rule: { sigil: /^#/, valid: ROOM_NAME, invalid: 'Room names are 1–100 characters: letters, digits and _ . : -' },
      open: (name) => actions.openRoom(name),
      signal,
    });
    nameForm({ form: el.dmForm, input: el.dmUser, rule: { sigil: /^@/, valid: USER_ID, invalid: 'User names have no spaces.' }, open: (name) => actions.openDm(name), signal });
  }

  render(view: SidebarView): void {
    const { el } = this;
    const me = view.me;
    // The lists are rebuilt: the focused button is found again by its key.
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.focusKey;
    const all = [...view.convs.values()];
    const rooms = all.filter((c) => c.kind === 'room').sort((a, b) => a.name.localeCompare(b.name));
    const dms = all.filter((c) => c.kind === 'dm').sort((a, b) => b.lastTs - a.lastTs || a.name.localeCompare(b.name));
    el.rooms.replaceChildren(...rooms.map((c) => this.convItem(c, view)));
    el.dms.replaceChildren(...(dms.length ? dms.map((c) => this.convItem(c, view)) : [h('li', { class: 'empty' }, 'No direct messages yet')]));

    const room = view.peopleRoom && view.convs.has(view.peopleRoom.key) ? view.peopleRoom : null;
    const users = room ? [...room.members.keys()].sort((a, b) => (a === me ? -1 : b === me ? 1 : a.localeCompare(b))) : [];
    el.peopleH.textContent = room ? `Online in #${room.name}` : 'Online';
    el.people.replaceChildren(
      ...(users.length === 0
        ? [h('li', { class: 'empty' }, room && view.connected ? 'Nobody yet' : '—')]
        : users.map((u) =>
            h(
              'li',
              {},
              u === me
                ? h('span', { class: 'person me' }, presenceAvatar(u, true), h('span', { class: 'name' }, `${u} (you)`))
                : h(
                    'button',
                    { type: 'button', class: 'person', 'data-focus-key': `person:${u}`, 'aria-label': `${u}, online. Send a direct message`, onclick: () => this.actions.openDm(u) },
                    presenceAvatar(u, true),
                    h('span', { class: 'name' }, u),
                  ),
            ),
          )),
    );
    if (focused) (document.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`) as HTMLElement | null)?.focus();
  }

  clear(): void {
    this.el.rooms.replaceChildren();
    this.el.dms.replaceChildren();
    this.el.people.replaceChildren();
  }

  private convItem(c: Conv, view: SidebarView): HTMLLIElement {
    const unread = c === view.current ? 0 : unreadOf(c);
    const online = c.kind === 'dm' && isOnline(view.convs.values(), c.name);
    const typing = c.kind === 'dm' && c.typing.size > 0;
    const status = [online ? 'online' : '', typing ? 'typing' : '', unread ? `${unread} unread` : ''].filter(Boolean).join(', ');
    return h(
      'li',
      { class: 'conv-item' },
      h(
        'button',
        {
          type: 'button',
          class: `conv${unread ? ' has-unread' : ''}`,
          'data-key': c.key,
          'data-focus-key': `conv:${c.key}`,
          'aria-current': c === view.current ? 'page' : null,
          onclick: () => this.actions.select(c),
        },
        c.kind === 'room' ? h('span', { class: 'conv-icon' }, icon('hash')) : presenceAvatar(c.name, online),
        h('span', { class: 'name' }, c.name, typing ? h('span', { class: 'conv-typing' }, ' typing…') : null),
        unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, unread > 99 ? '99+' : String(unread)) : null,
        status ? h('span', { class: 'sr-only' }, `, ${status}`) : null,
      ),
      c.kind === 'room'
        ? h('button', { type: 'button', class: 'leave', 'data-focus-key': `leave:${c.key}`, title: `Leave #${c.name}`, 'aria-label': `Leave #${c.name}`, onclick: () => this.actions.leave(c) }, icon('close'))
        : null,
    );
  }
}

interface NameForm {
  form: HTMLFormElement;
  input: HTMLInputElement;
  /** `sigil`: a prefix the user may type (`#room`, `@user`); `invalid`: what the browser says of a name `valid` refuses. */
  rule: { sigil: RegExp; valid: RegExp; invalid: string };
  open(name: string): void;
  signal: AbortSignal;
}

/** A one-field form that opens a conversation by name; the browser says what is wrong with a name the server would refuse. */
function nameForm({ form, input, rule, open, signal }: NameForm): void {
  form.addEventListener(
    'submit',
    (e) => {
      e.preventDefault();
      const name = input.value.trim().replace(rule.sigil, '');
      if (!rule.valid.test(name)) {
        input.setCustomValidity(rule.invalid);
        input.reportValidity();
        return;
      }
      input.value = '';
      open(name);
    },
    { signal },
  );
  input.addEventListener('input', () => input.setCustomValidity(''), { signal });
}
