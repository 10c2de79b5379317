/**
 * Look a user up (`GET users/{user}/presence`): online or not, its sessions;
 * disconnect one session (`POST sessions/{id}/disconnect`) or all of them
 * (`POST users/{user}/disconnect`), optionally refusing the user's reconnects
 * for a while (`banSeconds`). Sessions close with 4010 and the reason.
 */
import { h, plural } from '../../src/dom.js';
import { toast } from '../../src/toast.js';
import { seg, type Api } from './api.js';
import { failure } from './ui.js';

interface Presence {
  user: string;
  online: boolean;
  sessions: { id: string }[];
}

export class UserPanel {
  private user: string | null = null;

  constructor(
    private readonly api: Api,
    private readonly form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly result: HTMLElement,
  ) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const user = input.value.trim();
      if (user) void this.show(user);
      else input.focus();
    });
  }

  /** Looks `user` up and shows the answer (also from a table's link). */
  async show(user: string): Promise<void> {
    this.input.value = user;
    this.user = user;
    this.result.replaceChildren(h('p', { class: 'hint' }, `Looking ${user} up…`));
    try {
      const p = await this.api.get<Presence>(`users/${seg(user)}/presence`);
      if (this.user === user) this.render(p);
    } catch (err) {
      if (this.user === user) this.result.replaceChildren(failure(err));
    }
  }

  private render(p: Presence): void {
    const status = h('p', { class: 'user-status', 'data-online': p.online ? 'true' : 'false' }, h('strong', {}, p.user), p.online ? ` is online: ${plural(p.sessions.length, 'session')} on this server.` : ' is not connected to this server.');
    if (!p.online) {
      this.result.replaceChildren(status);
      return;
    }
    const list = h(
      'ul',
      { class: 'sessions', 'aria-label': `Sessions of ${p.user}` },
      p.sessions.map((s) =>
        h(
          'li',
          {},
          h('code', {}, s.id),
          h('button', { type: 'button', class: 'ghost small danger', 'aria-label': `Disconnect session ${s.id}`, onclick: (e: Event) => void this.disconnectSession(p.user, s.id, e.currentTarget as HTMLButtonElement) }, 'Disconnect'),
        ),
      ),
    );
    const reason = h('input', { id: 'disconnect-reason', maxlength: 120, placeholder: 'disconnected by the server', autocomplete: 'off' });
    const ban = h('input', { id: 'disconnect-ban', type: 'number', min: 1, max: 2_592_000, step: 1, inputmode: 'numeric', 'aria-describedby': 'disconnect-ban-hint' });
    const error = h('p', { class: 'error', role: 'alert' });
    const all = h(
      'form',
      { class: 'stack-form disconnect-form', 'aria-label': `Disconnect ${p.user}` },
      h('label', { for: 'disconnect-reason' }, 'Reason ', h('span', { class: 'hint' }, '(optional, shown to the client)')),
      reason,
      h('label', { for: 'disconnect-ban' }, 'Refuse reconnects for (seconds) ', h('span', { class: 'hint' }, '(optional)')),
      ban,
      h('p', { id: 'disconnect-ban-hint', class: 'hint' }, 'Empty: the user may reconnect at once. A ban lasts until it ends or the server restarts.'),
      error,
      h('button', { type: 'submit', class: 'danger' }, `Disconnect ${p.user}`),
    );
    all.addEventListener('submit', (e) => {
      e.preventDefault();
      const seconds = ban.value.trim() === '' ? undefined : Number(ban.value);
      if (seconds !== undefined && (!Number.isInteger(seconds) || seconds < 1 || seconds > 2_592_000)) {
        error.textContent = 'A ban is 1 to 2,592,000 seconds (30 days), or empty for none.';
        ban.focus();
        return;
      }
      void this.disconnectUser(p.user, reason.value.trim(), seconds, all.querySelector('button')!, error);
    });
    this.result.replaceChildren(status, list, all);
  }

  private async disconnectSession(user: string, id: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await this.api.post(`sessions/${seg(id)}/disconnect`, {});
      toast(`Session ${id} of ${user} disconnected.`);
    } catch (err) {
      toast(failure(err).textContent ?? 'failed', 'error');
    }
    await this.show(user);
  }

  private async disconnectUser(user: string, reason: string, banSeconds: number | undefined, button: HTMLButtonElement, error: HTMLElement): Promise<void> {
    button.disabled = true;
    error.textContent = '';
    try {
      const body: { reason?: string; banSeconds?: number } = {};
      if (reason) body.reason = reason;
      if (banSeconds !== undefined) body.banSeconds = banSeconds;
      const r = await this.api.post<{ sessions: number }>(`users/${seg(user)}/disconnect`, body);
      toast(`${user}: ${plural(r.sessions, 'session')} disconnected${banSeconds ? `, reconnects refused for ${banSeconds} s` : ''}.`);
      await this.show(user);
    } catch (err) {
      button.disabled = false;
      error.textContent = failure(err).textContent;
    }
  }
}
