/** The records a message becomes: the push members receive, and the row the store keeps. */
import { fileIdOf } from '../protocol/file-reference.js';
import { MEDIA_CONTENT_TYPES } from '../protocol/commands.js';
import type { MessagePush } from '../protocol/pushes.js';
import type { NewMessage } from './persistence.js';

/** A message as the hub stamps it: the server sets id, sender and time, never the client. */
export interface Stamped {
  id: string;
  from: string;
  contentType: string;
  body: unknown;
  ts: number;
  /** The sender's idempotency key. */
  key?: string | undefined;
}

/** Where a message goes: a room, or a user (a direct message). */
export type Destination = { room: string } | { to: string };

/** Builds a message push with its fields always in the same order. */
export function messagePush(m: Stamped, dest: Destination, seq: number): MessagePush {
  const push = { type: 'message', id: m.id } as MessagePush;
  if ('room' in dest) push.room = dest.room;
  else push.to = dest.to;
  push.seq = seq;
  push.from = m.from;
  push.contentType = m.contentType;
  push.body = m.body;
  push.ts = m.ts;
  if (m.key !== undefined) push.key = m.key;
  return push;
}

export function newMessage(m: Stamped, conv: string): NewMessage {
  let fileId: string | null = null;
  if ((MEDIA_CONTENT_TYPES as readonly string[]).includes(m.contentType)) {
    const url = (m.body as { url?: unknown }).url;
    if (typeof url === 'string') fileId = fileIdOf(url);
  }
  return { id: m.id, conv, from: m.from, contentType: m.contentType, body: JSON.stringify(m.body), ts: m.ts, key: m.key ?? null, fileId };
}

/** What a `message` push adds around its body (type, ids, room or users, seq, timestamp), as an estimate. */
const PUSH_OVERHEAD_BYTES = 200;

/**
 * The longest run of `messages`, from the oldest or the newest end, whose stored bodies (plus what a push adds
 * around a body) fit in `budget` bytes; at least one message, however large, so that paging always moves on.
 */
export function withinBytes<M extends { body: string }>(messages: readonly M[], budget: number, keep: 'oldest' | 'newest'): readonly M[] {
  let bytes = 0;
  const n = messages.length;
  for (let i = 0; i < n; i++) {
    bytes += Buffer.byteLength(messages[keep === 'oldest' ? i : n - 1 - i]!.body) + PUSH_OVERHEAD_BYTES;
    if (bytes > budget && i > 0) return keep === 'oldest' ? messages.slice(0, i) : messages.slice(n - i);
  }
  return messages;
}
