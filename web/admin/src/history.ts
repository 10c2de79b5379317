/**
 * A room's stored messages (`GET rooms/{room}/history`), newest first, 50 at a
 * time: "Older messages" asks for the page before the oldest one shown
 * (`before`), for as long as the server says there is more.
 */
import { h, plural } from '../../src/dom.js';
import { seg, type Api } from './api.js';
import { timeOf } from './overview.js';
import { failure } from './ui.js';

interface StoredMessage {
  id?: string;
  seq?: number;
  from?: string;
  contentType?: string;
  body?: unknown;
  ts?: number;
}

interface HistoryPage {
  room: string;
  messages: StoredMessage[];
  oldestSeq: number;
  lastSeq: number;
  hasMore: boolean;
}

const PAGE = 50;
const BODY_CHARS = 400;

export class HistoryPanel {
  /** Bumped by each new room shown: answers for an older one are dropped. */
  private generation = 0;

  constructor(
    private readonly api: Api,
    form: HTMLFormElement,
    private readonly input: HTMLInputElement,
    private readonly result: HTMLElement,
  ) {
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const room = input.value.trim();
      if (room) void this.show(room);
      else input.focus();
    });
  }

  async show(room: string): Promise<void> {
    this.input.value = room;
    const gen = ++this.generation;
    this.result.replaceChildren(h('p', { class: 'hint' }, `Loading ${room}…`));
    try {
      const page = await this.api.get<HistoryPage>(`rooms/${seg(room)}/history?limit=${PAGE}`);
      if (gen !== this.generation) return;
      const tbody = h('tbody', {});
      const summary = h('p', { class: 'hint history-summary', 'aria-live': 'polite' });
      const more = h('button', { type: 'button', class: 'ghost small' }, 'Older messages');
      const table = h(
        'table',
        { class: 'grid history', 'aria-label': `Messages of ${room}, newest first` },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Seq'), h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'Message'))),
        tbody,
      );
      let shown = 0;
      const add = (p: HistoryPage): void => {
        tbody.append(...[...p.messages].reverse().map(row));
        shown += p.messages.length;
        const oldest = p.messages[0]?.seq;
        more.hidden = !p.hasMore || oldest === undefined;
        more.onclick = () => void older(oldest!);
        summary.textContent = shown === 0 ? `No stored messages in ${room}.` : `${plural(shown, 'message')} shown, up to seq ${page.lastSeq}${p.hasMore ? '' : ' (that is all)'}.`;
      };
      const older = async (before: number): Promise<void> => {
        more.disabled = true;
        try {
          const p = await this.api.get<HistoryPage>(`rooms/${seg(room)}/history?limit=${PAGE}&before=${before}`);
          if (gen === this.generation) add(p);
        } catch (err) {
          if (gen === this.generation) more.after(failure(err));
        } finally {
          more.disabled = false;
        }
      };
      add(page);
      this.result.replaceChildren(summary, ...(shown > 0 ? [h('div', { class: 'history-scroll', tabindex: 0, role: 'region', 'aria-label': `History of ${room}` }, table)] : []), more);
    } catch (err) {
      if (gen === this.generation) this.result.replaceChildren(failure(err));
    }
  }
}

function row(m: StoredMessage): HTMLTableRowElement {
  const text = m.contentType === 'text' || m.contentType === undefined ? String(m.body ?? '') : `[${m.contentType}] ${JSON.stringify(m.body)}`;
  return h(
    'tr',
    {},
    h('td', { class: 'num' }, m.seq ?? ''),
    h('td', {}, m.ts === undefined ? '' : timeOf(m.ts, true)),
    h('td', {}, m.from ?? ''),
    h('td', { class: 'message-body' }, text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…` : text),
  );
}
