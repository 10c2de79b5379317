/**
 * Conversation names shared by the hub and the store: `r:<room>` for a room,
 * `d:<userA> <userB>` (sorted) for a direct conversation. User ids cannot
 * contain spaces, so the separator is unambiguous.
 */
import type { MessagePush } from '../protocol/pushes.js';
import type { StoredMessage } from './persistence.js';

export function roomConv(room: string): string {
  return `r:${room}`;
}

export function dmConv(a: string, b: string): string {
  return a < b ? `d:${a} ${b}` : `d:${b} ${a}`;
}

export type ConvTarget = { room: string } | { with: string };

/** How a conversation looks to `user`: the room, or the other party of a DM. */
export function targetOf(conv: string, user: string): ConvTarget {
  if (conv.startsWith('r:')) return { room: conv.slice(2) };
  const [a, b] = conv.slice(2).split(' ') as [string, string];
  return { with: a === user ? b : a };
}

/** The push a stored message becomes: the same fields, in the same order, as a live one. */
export function pushOf(m: StoredMessage): MessagePush {
  const push = { type: 'message', id: m.id } as MessagePush;
  if (m.conv.startsWith('r:')) push.room = m.conv.slice(2);
  else {
    const [a, b] = m.conv.slice(2).split(' ') as [string, string];
    push.to = a === m.from ? b : a;
  }
  push.seq = m.seq;
  push.from = m.from;
  push.contentType = m.contentType;
  push.body = JSON.parse(m.body) as unknown;
  push.ts = m.ts;
  if (m.key !== null) push.key = m.key;
  return push;
}
