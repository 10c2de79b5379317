/**
 * Small DOM helpers. All user-supplied text reaches the page as text nodes
 * (never innerHTML), so messages, names and file names cannot inject markup.
 */

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (ev: Event) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

/** `h('button', { class: 'x', onclick: fn, 'aria-label': 'Close' }, 'text', child)` */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = String(v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node: Node & ParentNode, children: Child[]): void {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else node.append(typeof c === 'number' ? String(c) : c);
  }
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
}

// ── icons (24×24, stroked) ───────────────────────────────────────────────

const ICONS = {
  menu: 'M4 6h16M4 12h16M4 18h16',
  send: 'M21 3 10 14M21 3l-6.5 18-4-7.5L3 9.5z',
  clip: 'M20.5 11.5 12 20a5 5 0 0 1-7-7l9-9a3.3 3.3 0 0 1 4.8 4.8l-8.9 8.9a1.7 1.7 0 0 1-2.4-2.4l8-8',
  phone: 'M5 3.5h3.2l1.9 4.8-2.4 1.5a11.5 11.5 0 0 0 6.5 6.5l1.5-2.4 4.8 1.9V19a2 2 0 0 1-2 2A17 17 0 0 1 3 5.5a2 2 0 0 1 2-2z',
  video: 'M4 6h9a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2zM15 10.5l6-3.5v10l-6-3.5',
  videoOff: 'M4 6h9a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2zM15 10.5l6-3.5v10l-6-3.5M2 3l20 18',
  mic: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21',
  micOff: 'M12 3a3 3 0 0 1 3 3v6a3 3 0 0 1-6 0V6a3 3 0 0 1 3-3zM5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21M3 3l18 18',
  hangup: 'M3.5 14.5c4.5-4.4 12.5-4.4 17 0l-1.8 2.8-3.9-1.4-.3-2.6a10 10 0 0 0-5 0l-.3 2.6-3.9 1.4z',
  close: 'M6 6l12 12M18 6 6 18',
  file: 'M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8zM14 3v5h5',
  download: 'M12 4v11M7 10l5 5 5-5M5 20h14',
  down: 'M12 5v14M6 13l6 6 6-6',
  logout: 'M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3M10 17l5-5-5-5M15 12H4',
  plus: 'M12 5v14M5 12h14',
  hash: 'M5 9h14M5 15h14M10 4 8 20M16 4l-2 16',
} as const;
export type IconName = keyof typeof ICONS;

const SVG = 'http://www.w3.org/2000/svg';

export function icon(name: IconName, cls = 'icon'): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  return svg;
}

/** Replaces the icon inside a button (e.g. mute toggles). */
export function setIcon(el: Element, name: IconName): void {
  el.querySelector('svg')?.replaceWith(icon(name));
}

// ── formatting ────────────────────────────────────────────────────────────

/** A stable hue per name, for avatars and sender names. */
export function hue(name: string): number {
  let a = 7;
  for (const ch of name) a = (a * 31 + (ch.codePointAt(0) ?? 0)) % 360;
  return a;
}

export function avatar(name: string, cls = 'avatar'): HTMLSpanElement {
  const el = h('span', { class: cls, 'aria-hidden': 'true' }, [...name][0]?.toUpperCase() ?? '?');
  el.style.setProperty('--hue', String(hue(name)));
  return el;
}

/** An avatar with a dot while the user is online. */
export function presenceAvatar(user: string, online: boolean): HTMLElement {
  const a = avatar(user, 'avatar small');
  return h('span', { class: 'presence-wrap' }, a, online ? h('span', { class: 'presence-dot', title: 'online' }) : null);
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

export function timeEl(ts: number): HTMLTimeElement {
  const d = new Date(ts);
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
}

export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

export function dayLabel(ts: number): string {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(Date.now() - 86_400_000);
  if (dayKey(ts) === dayKey(today.getTime())) return 'Today';
  if (dayKey(ts) === dayKey(yesterday.getTime())) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', ...(d.getFullYear() === today.getFullYear() ? {} : { year: 'numeric' }) });
}

const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/gi;

/** Text with http(s) links made clickable (as text nodes and anchors only). */
export function linkify(text: string): Child[] {
  const out: Child[] = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const i = m.index ?? 0;
    if (i > last) out.push(text.slice(last, i));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer' }, m[0]));
    last = i + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
