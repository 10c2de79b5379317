/**
 * Create a managed room (`POST rooms`: private by default) and manage a room's
 * member list (`GET|POST rooms/{room}/members`, `DELETE …/members/{user}`):
 * who may join it when it is private, besides the rooms a token grants.
 */
import { h, plural } from '../../src/dom.js';
import { toast } from '../../src/toast.js';
import { seg, type Api } from './api.js';
import { failure } from './ui.js';

interface RoomView {
  room: string;
  kind: string;
  durable: boolean;
  maxCount: number | null;
}

interface Members {
  room: string;
  users: string[];
}

export interface RoomElements {
  createForm: HTMLFormElement;
  createName: HTMLInputElement;
  createKind: HTMLSelectElement;
  createMaxCount: HTMLInputElement;
  membersForm: HTMLFormElement;
  membersRoom: HTMLInputElement;
  membersResult: HTMLElement;
}

export class RoomsPanel {
  private generation = 0;
  private readonly createError = h('p', { class: 'error', role: 'alert' });

  constructor(
    private readonly api: Api,
    private readonly el: RoomElements,
  ) {
    el.createForm.querySelector('button[type="submit"]')!.before(this.createError);
    el.createForm.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.create();
    });
    el.membersForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const room = el.membersRoom.value.trim();
      if (room) void this.showMembers(room);
      else el.membersRoom.focus();
    });
  }

  private async create(): Promise<void> {
    const { createName, createKind, createMaxCount, createForm } = this.el;
    const name = createName.value.trim();
    this.createError.textContent = '';
    if (!/^[A-Za-z0-9_.:-]{1,100}$/.test(name)) {
      this.createError.textContent = name ? 'Room names are 1–100 characters of A-Z a-z 0-9 _ . : -' : 'Enter a room name.';
      createName.focus();
      return;
    }
    const body: { name: string; kind: string; maxCount?: number } = { name, kind: createKind.value };
    if (createMaxCount.value.trim() !== '') {
      const n = Number(createMaxCount.value);
      if (!Number.isInteger(n) || n < 1) {
        this.createError.textContent = 'Keep at most: a whole number of messages, 1 or more (or empty).';
        createMaxCount.focus();
        return;
      }
      body.maxCount = n;
    }
    const button = createForm.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    button.disabled = true;
    try {
      const view = await this.api.post<RoomView>('rooms', body);
      toast(`Room ${view.room} created (${view.kind}${view.maxCount ? `, keeps ${view.maxCount} messages` : ''}).`);
      createName.value = '';
      createMaxCount.value = '';
      await this.showMembers(view.room);
    } catch (err) {
      this.createError.textContent = failure(err).textContent;
    } finally {
      button.disabled = false;
    }
  }

  async showMembers(room: string): Promise<void> {
    this.el.membersRoom.value = room;
    const gen = ++this.generation;
    const { membersResult } = this.el;
    membersResult.replaceChildren(h('p', { class: 'hint' }, `Loading the members of ${room}…`));
    try {
      const m = await this.api.get<Members>(`rooms/${seg(room)}/members`);
      if (gen === this.generation) this.renderMembers(m);
    } catch (err) {
      if (gen === this.generation) membersResult.replaceChildren(failure(err));
    }
  }

  private renderMembers({ room, users }: Members): void {
    const list = h(
      'ul',
      { class: 'members', 'aria-label': `Members of ${room}` },
      users.map((u) =>
        h('li', {}, h('span', { class: 'member-name' }, u), h('button', { type: 'button', class: 'ghost small danger', 'aria-label': `Remove ${u} from ${room}`, onclick: (e: Event) => void this.remove(room, u, e.currentTarget as HTMLButtonElement) }, 'Remove')),
      ),
    );
    const input = h('input', { id: 'member-user', maxlength: 128, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'off', required: true });
    const error = h('p', { class: 'error', role: 'alert' });
    const add = h('form', { class: 'row-form' }, h('label', { for: 'member-user' }, 'Add a member'), input, h('button', { type: 'submit' }, 'Add'));
    add.addEventListener('submit', (e) => {
      e.preventDefault();
      const user = input.value.trim();
      if (!user) return input.focus();
      void this.add(room, user, add.querySelector('button')!, error);
    });
    const summary = h('p', { class: 'hint' }, users.length === 0 ? `${room} has no listed members.` : `${room}: ${plural(users.length, 'listed member')}.`);
    this.el.membersResult.replaceChildren(...(users.length > 0 ? [summary, list] : [summary]), add, error);
  }

  private async add(room: string, user: string, button: HTMLButtonElement, error: HTMLElement): Promise<void> {
    button.disabled = true;
    try {
      const r = await this.api.post<{ added: boolean }>(`rooms/${seg(room)}/members`, { user });
      toast(r.added ? `${user} added to ${room}.` : `${user} was listed in ${room} already.`);
      await this.showMembers(room);
      document.getElementById('member-user')?.focus();
    } catch (err) {
      button.disabled = false;
      error.textContent = failure(err).textContent;
    }
  }

  private async remove(room: string, user: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      const r = await this.api.call<{ removed: boolean; sessions: number }>('DELETE', `rooms/${seg(room)}/members/${seg(user)}`);
      toast(r.removed ? `${user} removed from ${room}${r.sessions > 0 ? ` (${plural(r.sessions, 'session')} left it)` : ''}.` : `${user} was not listed in ${room}.`);
    } catch (err) {
      toast(failure(err).textContent ?? 'failed', 'error');
    }
    await this.showMembers(room);
  }
}
