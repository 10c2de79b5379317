/**
 * The message list's items, built from a conversation's data: day separators,
 * messages (grouped by sender), notes, and the user's messages still on their
 * way, with upload progress and retry. Elements are built only when asked
 * (`Item.build`), so a list can keep the ones it already shows.
 */
import { fileIdOf, type MediaBody, type MessagePush } from '../../client/src/index.js';
import type { Conv, Note, Pending } from './conversation.js';
import { avatar, dayKey, dayLabel, formatBytes, formatDuration, h, hue, icon, linkify, timeEl, type Child } from './dom.js';

/** Messages from one sender this close together share one header. */
const GROUP_MS = 5 * 60_000;
/** Largest side of an inline image, CSS px. */
const MAX_IMAGE = 320;

export interface Item {
  key: string;
  cont: boolean;
  build(): HTMLElement;
}

/** What the items need from the app; asked when an element is built, so they show the state of that moment. */
export interface MessageContext {
  /** The signed-in user (null before the first connect): their messages are "mine". */
  me(): string | null;
  /** The name the user's unsent messages show (before the first connect, the one they signed in with). */
  sender(): string;
  connected(): boolean;
  /** Where a stored file (`/files/…`) loads from, with the user's credentials. */
  fileUrl(path: string): string;
  /** An image or video got its size: the list grew under the reader. */
  mediaLoaded(): void;
  retry(c: Conv, p: Pending): void;
  discard(c: Conv, p: Pending): void;
}

export function itemsOf(c: Conv, ctx: MessageContext): Item[] {
  const entries: { seq: number; id: number; ts: number; m?: MessagePush; n?: Note }[] = [
    ...c.msgs.map((m) => ({ seq: m.seq, id: 0, ts: m.ts, m })),
    ...c.notes.map((n) => ({ seq: n.afterSeq + 0.5, id: n.id, ts: n.ts, n })),
  ].sort((a, b) => a.seq - b.seq || a.id - b.id);
  const items: Item[] = [];
  let day = '';
  let prev: { from: string; ts: number } | null = null;
  const dayItem = (ts: number): void => {
    const k = dayKey(ts);
    if (k === day) return;
    day = k;
    prev = null;
    items.push({ key: `day:${k}`, cont: false, build: () => h('li', { class: 'day' }, h('span', {}, dayLabel(ts))) });
  };
  for (const e of entries) {
    dayItem(e.ts);
    if (e.m) {
      const m = e.m;
      const cont: boolean = prev !== null && prev.from === m.from && m.ts - prev.ts < GROUP_MS;
      items.push({ key: `m:${m.seq}`, cont, build: () => messageEl(ctx, { from: m.from, ts: m.ts, contentType: m.contentType, body: m.body }) });
      prev = { from: m.from, ts: m.ts };
    } else if (e.n) {
      const n = e.n;
      items.push({ key: `n:${n.id}`, cont: false, build: () => h('li', { class: `note${n.error ? ' error' : ''}`, role: n.error ? 'alert' : null }, n.text, ' · ', timeEl(n.ts)) });
      prev = null;
    }
  }
  const me = ctx.me() ?? '';
  for (const p of [...c.pending.values()].sort((a, b) => a.ts - b.ts)) {
    dayItem(p.ts);
    const cont: boolean = prev !== null && prev.from === me && p.ts - prev.ts < GROUP_MS;
    items.push({ key: `p:${p.key}`, cont, build: () => pendingEl(ctx, c, p) });
    prev = { from: me, ts: p.ts };
  }
  return items;
}

/** A message as the list shows it: one of the conversation's, or one of the user's still on its way (`pending`). */
interface ShownMessage {
  from: string;
  ts: number;
  contentType: string;
  body: unknown;
  /** Under the body: a pending message's status. */
  extra?: Child;
  pending?: boolean;
  /** The local image shown until the upload is done. */
  previewUrl?: string;
}

function messageEl(ctx: MessageContext, { from, ts, contentType, body, extra, pending = false, previewUrl }: ShownMessage): HTMLLIElement {
  const mine = from === ctx.me();
  const li = h(
    'li',
    { class: `msg${mine ? ' mine' : ''}${pending ? ' pending' : ''}` },
    avatar(from),
    h(
      'div',
      { class: 'msg-main' },
      h('div', { class: 'meta' }, h('span', { class: 'from' }, mine ? 'You' : from), ' ', timeEl(ts)),
      h('div', { class: `body ${contentType === 'text' ? 'text' : `media ${contentType}`}` }, bodyOf(ctx, contentType, body, previewUrl)),
      extra,
    ),
  );
  li.style.setProperty('--hue', String(hue(from)));
  return li;
}

/** The URL to load a media body from: stored files with our credentials; other URLs are only linked. */
function mediaSrc(url: string, fileUrl: (path: string) => string): { src: string; inline: boolean } | null {
  // Only a reference to a stored file is loaded (`/files/../x` would be a request to any path of the site).
  if (fileIdOf(url) !== null) return { src: fileUrl(url), inline: true };
  if (/^https?:\/\//i.test(url)) return { src: url, inline: false };
  return null;
}

function bodyOf(ctx: MessageContext, contentType: string, body: unknown, previewUrl?: string): Child {
  if (contentType === 'text') return linkify(String(body));
  if (contentType === 'image' || contentType === 'file' || contentType === 'audio' || contentType === 'video') {
    const b = (body ?? {}) as Partial<MediaBody>;
    const name = typeof b.name === 'string' && b.name ? b.name : contentType;
    const caption = typeof b.caption === 'string' && b.caption ? h('p', { class: 'caption' }, ...linkify(b.caption)) : null;
    const where = previewUrl ? { src: previewUrl, inline: true } : typeof b.url === 'string' && b.url ? mediaSrc(b.url, (path) => ctx.fileUrl(path)) : null;
    const details = [formatBytes(b.size), b.durationMs ? formatDuration(b.durationMs) : ''].filter(Boolean).join(' · ');
    if (!where) return h('span', { class: 'file' }, icon('file'), h('span', { class: 'file-name' }, name), details ? h('span', { class: 'file-size' }, details) : null);
    if (!where.inline) return [h('a', { href: where.src, target: '_blank', rel: 'noopener noreferrer' }, name), caption];
    const dims = b.width && b.height ? { width: b.width, height: b.height } : {};
    if (contentType === 'image') {
      const img = h('img', { src: where.src, alt: typeof b.caption === 'string' && b.caption ? b.caption : name, decoding: 'async', ...dims });
      if (b.width && b.height) {
        // Its box is known before it loads: no jump in the list.
        const scale = Math.min(1, MAX_IMAGE / b.width, MAX_IMAGE / b.height);
        img.style.width = `${Math.max(1, Math.round(b.width * scale))}px`;
        img.style.aspectRatio = `${b.width} / ${b.height}`;
      }
      img.addEventListener('load', () => ctx.mediaLoaded());
      const shown = previewUrl ? img : h('a', { class: 'image-link', href: where.src, target: '_blank', rel: 'noopener', title: `Open ${name}` }, img);
      whenGone(img, [shown], name);
      return [shown, caption];
    }
    if (contentType === 'video') {
      const v = h('video', { src: where.src, controls: true, preload: 'metadata', playsinline: true, 'aria-label': name, ...dims });
      if (b.width && b.height) v.style.aspectRatio = `${b.width} / ${b.height}`;
      v.addEventListener('loadedmetadata', () => ctx.mediaLoaded());
      const meta = h('div', { class: 'file-meta' }, h('a', { href: where.src, download: name }, name), details ? ` · ${details}` : '');
      whenGone(v, [v, meta], name);
      return [v, meta, caption];
    }
    if (contentType === 'audio') {
      const a = h('audio', { src: where.src, controls: true, preload: 'metadata', 'aria-label': name });
      const meta = h('div', { class: 'file-meta' }, h('a', { href: where.src, download: name }, name), details ? ` · ${details}` : '');
      whenGone(a, [a, meta], name);
      return [a, meta, caption];
    }
    return [
      h(
        'a',
        { class: 'file', href: where.src, download: name, 'aria-label': `Download ${name}${details ? `, ${details}` : ''}` },
        icon('file'),
        h('span', { class: 'file-name' }, name),
        details ? h('span', { class: 'file-size' }, details) : null,
        icon('download'),
      ),
      caption,
    ];
  }
  return h('code', { class: 'custom' }, `${contentType}: ${JSON.stringify(body)?.slice(0, 400) ?? ''}`);
}

/**
 * A stored file that cannot be loaded — removed by retention with the messages that referred to it, or this user
 * no longer a member where it was shared — is said to be gone, in place of a broken image or a dead player.
 */
function whenGone(media: HTMLImageElement | HTMLMediaElement, shown: Element[], name: string): void {
  media.addEventListener(
    'error',
    () => {
      shown[0]!.replaceWith(h('span', { class: 'file gone' }, icon('file'), h('span', { class: 'file-name' }, name), h('span', { class: 'file-size' }, 'no longer available')));
      for (const el of shown.slice(1)) el.remove();
    },
    { once: true },
  );
}

function pendingEl(ctx: MessageContext, c: Conv, p: Pending): HTMLLIElement {
  const offline = !ctx.connected();
  let status: Child;
  if (p.state === 'uploading') {
    const bar = h('progress', { max: 100, value: Math.round(p.progress * 100), 'aria-label': `Uploading ${(p.body as MediaBody).name}` });
    const pct = h('span', { class: 'pct' }, `${Math.round(p.progress * 100)} %`);
    p.progressEl = bar;
    p.progressText = pct;
    status = h('div', { class: 'status-line upload' }, bar, pct, h('button', { type: 'button', class: 'link', onclick: () => p.abort?.abort() }, 'Cancel'));
  } else if (p.state === 'failed') {
    status = h(
      'div',
      { class: 'status-line failed', role: 'alert' },
      `Not sent: ${p.error ?? 'error'}. `,
      (p.body as { url?: string }).url !== '' || p.contentType === 'text' ? h('button', { type: 'button', class: 'link', onclick: () => ctx.retry(c, p) }, 'Retry') : null,
      h('button', { type: 'button', class: 'link', onclick: () => ctx.discard(c, p) }, 'Discard'),
    );
  } else {
    status = h('div', { class: 'status-line' }, p.state === 'sent' ? 'Sent' : offline ? 'Waiting for the connection…' : 'Sending…');
  }
  return messageEl(ctx, { from: ctx.sender(), ts: p.ts, contentType: p.contentType, body: p.body, extra: status, pending: true, previewUrl: p.previewUrl });
}
