/**
 * A conversation as the page knows it: a room or a direct conversation, the
 * messages loaded so far, notes, messages still being sent, and the unread,
 * join and presence state that the sidebar and header show.
 */
import type { Conversation, MessagePush } from '../../client/src/index.js';

/** The server's rules for names (src/protocol/commands.ts): a name it would refuse is caught before asking. */
export const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
export const USER_ID = /^[^\s\u0000-\u001f\u007f]{1,128}$/;

/** A line of our own in the list (errors, calls), placed after the message it came after. */
export interface Note {
  id: number;
  afterSeq: number;
  ts: number;
  text: string;
  error?: boolean;
}

/** A message of the user's not yet confirmed by the server (or an upload before it). */
export interface Pending {
  /** Its idempotency key: the SDK resends it with this key; also the item's key in the list. */
  key: string;
  /** The seq its ack gave: the pushed message (which has no key in protocol version 2) is matched by it. */
  seq?: number;
  contentType: string;
  body: unknown;
  ts: number;
  state: 'uploading' | 'sending' | 'sent' | 'failed';
  progress: number;
  error?: string;
  previewUrl?: string;
  abort?: AbortController;
  progressEl?: HTMLProgressElement;
  progressText?: HTMLElement;
}

export interface Conv {
  key: string;
  kind: 'room' | 'dm';
  name: string;
  /** Messages by seq, oldest first (a contiguous run from the oldest loaded one). */
  msgs: MessagePush[];
  seqs: Set<number>;
  notes: Note[];
  pending: Map<string, Pending>;
  /** The conversation's last seq and the user's read position, as far as we know. */
  lastSeq: number;
  readSeq: number;
  lastTs: number;
  history: 'idle' | 'loading' | 'done' | 'error';
  loadedOnce: boolean;
  join: 'none' | 'joining' | 'joined' | 'failed';
  joinPromise: Promise<boolean> | null;
  /** In the last unread summary (the user is a member: the summary has the read position). */
  inSummary: boolean;
  /** The room's seq at our join, waiting for the summary to tell whether we were a member before. */
  joinSeq?: number;
  durable: boolean;
  /** A push-only room (known once joined): only the server writes there, so nobody types either. */
  pushOnly: boolean;
  members: Map<string, number>;
  typing: Map<string, ReturnType<typeof setTimeout>>;
}

export const convKey = (kind: Conv['kind'], name: string): string => `${kind === 'room' ? 'r' : 'd'}:${name}`;
export const label = (c: Conv): string => (c.kind === 'room' ? `#${c.name}` : c.name);
export const targetOf = (c: Conv): Conversation => (c.kind === 'room' ? { room: c.name } : { with: c.name });
export const unreadOf = (c: Conv): number => Math.max(0, c.lastSeq - c.readSeq);

/** Users online in any room we are in (presence is per room). */
export function isOnline(convs: Iterable<Conv>, user: string): boolean {
  for (const c of convs) if (c.kind === 'room' && c.members.has(user)) return true;
  return false;
}

export function newConv(kind: Conv['kind'], name: string): Conv {
  return {
    key: convKey(kind, name),
    kind,
    name,
    msgs: [],
    seqs: new Set(),
    notes: [],
    pending: new Map(),
    lastSeq: 0,
    readSeq: 0,
    lastTs: 0,
    history: 'idle',
    loadedOnce: false,
    join: 'none',
    joinPromise: null,
    inSummary: false,
    durable: true,
    pushOnly: false,
    members: new Map(),
    typing: new Map(),
  };
}

/**
 * Adds messages (live or from history) in seq order, without duplicates; returns how many were new.
 * `me`: the signed-in user, whose own messages settle their pending copies.
 */
export function addMessages(c: Conv, list: readonly MessagePush[], me: string | null): number {
  let added = 0;
  for (const m of list) {
    if (c.seqs.has(m.seq)) continue;
    c.seqs.add(m.seq);
    added++;
    const msgs = c.msgs;
    if (msgs.length === 0 || msgs[msgs.length - 1]!.seq < m.seq) msgs.push(m);
    else {
      let lo = 0;
      let hi = msgs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (msgs[mid]!.seq < m.seq) lo = mid + 1;
        else hi = mid;
      }
      msgs.splice(lo, 0, m);
    }
    c.lastSeq = Math.max(c.lastSeq, m.seq);
    c.lastTs = Math.max(c.lastTs, m.ts);
    // Sending moves the sender's own read position (protocol.md, `read`).
    if (m.from === me) c.readSeq = Math.max(c.readSeq, m.seq);
    if (m.from === me) {
      const p = pendingOf(c, m.seq);
      if (p) settle(c, p);
    }
  }
  return added;
}

/** The pending message whose ack gave `seq`. */
function pendingOf(c: Conv, seq: number): Pending | undefined {
  for (const p of c.pending.values()) if (p.seq === seq) return p;
  return undefined;
}

/** A pending message is in the list as the server's: its copy goes. */
function settle(c: Conv, p: Pending): void {
  c.pending.delete(p.key);
  if (p.previewUrl) setTimeout(() => URL.revokeObjectURL(p.previewUrl!), 10_000);
}

/**
 * The server acknowledged a pending message with `seq`: the pushed message settles it when it comes, or now if it
 * came first (it carries no key to match it by).
 */
export function acknowledged(c: Conv, p: Pending, seq: number): void {
  p.seq = seq;
  if (c.seqs.has(seq)) settle(c, p);
}
