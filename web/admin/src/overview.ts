/**
 * The figures of the latest poll ("Now") and the tables of top rooms and
 * recent slow-consumer closes. A room's name opens its history, a user's id
 * looks the user up.
 */
import { formatBytes, h, type Child } from '../../src/dom.js';
import { format } from './charts.js';
import type { Series, Stats } from './stats.js';

export interface OverviewLinks {
  showRoom(room: string): void;
  showUser(user: string): void;
}

export function renderFigures(dl: HTMLElement, stats: Stats, series: Series): void {
  const last = <T>(a: T[]): T | undefined => a[a.length - 1];
  const rate = (v: number | null | undefined): string => (v == null ? '–' : format(v, 1));
  const ms = (v: number | null): string => (v == null ? '–' : `${format(v, 1)} ms`);
  const items: [string, string, string][] = [
    ['connections', 'Connections', format(stats.connections)],
    ['sessions', 'Sessions', format(stats.sessions)],
    ['users', 'Users online', format(stats.users)],
    ['rooms', 'Rooms', format(stats.rooms)],
    ['messages-rate', 'Messages in/s', rate(last(series.messagesPerSec))],
    ['deliveries-rate', 'Deliveries/s', rate(last(series.deliveriesPerSec))],
    ['commit', 'Commit p50 / p99', `${ms(stats.store.commitP50Ms)} / ${ms(stats.store.commitP99Ms)}`],
    ['backlog', 'Store backlog', format(stats.store.backlog)],
    ['queue', 'Queued to send', formatBytes(stats.queueBytes)],
    ['messages', 'Messages in (total)', format(stats.totals.messagesIn)],
    ['bytes-out', 'Bytes sent (total)', formatBytes(stats.totals.bytesOut)],
    ['slow', 'Slow-consumer closes', format(stats.totals.slowConsumerCloses)],
    ['uptime', 'Up for', uptime(stats.uptimeSec)],
  ];
  dl.replaceChildren(...items.map(([key, label, value]) => h('div', { class: 'figure', 'data-figure': key }, h('dt', {}, label), h('dd', {}, value))));
}

export function renderTopRooms(byMembers: HTMLElement, byRate: HTMLElement, stats: Stats, links: OverviewLinks): void {
  const roomCell = (room: string): HTMLElement => h('td', {}, h('button', { type: 'button', class: 'link-btn', title: `Show the history of ${room}`, onclick: () => links.showRoom(room) }, room));
  rows(
    byMembers,
    stats.topRoomsByMembers,
    () => stats.topRoomsByMembers.map((r) => [roomCell(r.room), num(r.users), num(r.sessions)]),
    3,
    'No rooms in use.',
  );
  rows(
    byRate,
    stats.topRoomsByRate,
    () => stats.topRoomsByRate.map((r) => [roomCell(r.room), num(format(r.messagesPerSec, 1))]),
    2,
    'No messages lately.',
  );
}

export function renderSlowConsumers(tbody: HTMLElement, stats: Stats, links: OverviewLinks): void {
  rows(
    tbody,
    stats.recentSlowConsumers,
    () => stats.recentSlowConsumers.map((s) => [
      h('td', {}, timeOf(s.ts)),
      h('td', {}, h('button', { type: 'button', class: 'link-btn', title: `Look ${s.user} up`, onclick: () => links.showUser(s.user) }, s.user)),
      h('td', { class: 'mono' }, s.session),
      num(formatBytes(s.unsentBytes)),
      num(s.droppedMessages),
    ]),
    5,
    'None since the server started.',
  );
}

/**
 * Replaces a table body's rows when what they show changed (not every second: a button in them keeps the focus);
 * an empty table says so in one cell.
 */
function rows(tbody: HTMLElement, data: unknown[], cellsOf: () => Child[][], width: number, empty: string): void {
  const signature = JSON.stringify(data);
  if (tbody.dataset.signature === signature) return;
  tbody.dataset.signature = signature;
  const cells = cellsOf();
  if (cells.length === 0) tbody.replaceChildren(h('tr', { class: 'empty' }, h('td', { colspan: width }, empty)));
  else tbody.replaceChildren(...cells.map((c) => h('tr', {}, c)));
}

const num = (v: number | string): HTMLElement => h('td', { class: 'num' }, typeof v === 'number' ? format(v) : v);

/** A time of day; `withDate`: with its day too (history goes back further than today). */
export function timeOf(ts: number, withDate = false): HTMLTimeElement {
  const d = new Date(ts);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, withDate ? `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${time}` : time);
}

function uptime(sec: number): string {
  const d = Math.floor(sec / 86_400);
  const hrs = Math.floor((sec % 86_400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d > 0) return `${d} d ${hrs} h`;
  if (hrs > 0) return `${hrs} h ${m} min`;
  return m > 0 ? `${m} min ${Math.floor(sec % 60)} s` : `${Math.floor(sec)} s`;
}
