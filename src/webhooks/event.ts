/** The events sent to webhook endpoints: `{ id, type, ts, data }`, serialized once and signed per delivery. */
import { randomBytes } from 'node:crypto';
import type { WEBHOOK_EVENT_TYPES } from '../config/schema.js';
import type { MessagePush } from '../protocol/pushes.js';

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The message fields a receiver needs: `room` for a room message, `to` for a direct one (never both). */
export interface MessageCreatedData {
  id: string;
  room?: string;
  from: string;
  to?: string;
  seq: number;
  contentType: string;
  body: unknown;
  ts: number;
}

export interface WebhookEventData {
  'message.created': MessageCreatedData;
  'user.online': { user: string };
  'user.offline': { user: string };
  'room.member.joined': { room: string; user: string };
  'room.member.left': { room: string; user: string };
  'session.disconnected': { session: string; user: string; code: number; reason: string };
}

export interface WebhookEnvelope<T extends WebhookEventType = WebhookEventType> {
  /** Unique, and ordered by creation time within a server process. Receivers dedupe by it. */
  id: string;
  type: T;
  /** When it happened, ms since the epoch. */
  ts: number;
  data: WebhookEventData[T];
}

export function messageData(m: MessagePush): MessageCreatedData {
  return m.room !== undefined
    ? { id: m.id, room: m.room, from: m.from, seq: m.seq, contentType: m.contentType, body: m.body, ts: m.ts }
    : { id: m.id, from: m.from, to: m.to, seq: m.seq, contentType: m.contentType, body: m.body, ts: m.ts };
}

/** The JSON text sent (and signed). Its first two fields are `id` and `type`, in that order: see `idAndType`. */
export function serialize(e: WebhookEnvelope): string {
  return JSON.stringify({ id: e.id, type: e.type, ts: e.ts, data: e.data });
}

const HEAD = /^\{"id":"([^"\\]*)","type":"([^"\\]*)"/;

/** The id and type of a serialized event, for the delivery's headers, without parsing the whole body. */
export function idAndType(body: string): { id: string; type: string } {
  const m = HEAD.exec(body);
  if (m) return { id: m[1]!, type: m[2]! };
  const parsed = JSON.parse(body) as { id?: unknown; type?: unknown };
  return { id: String(parsed.id), type: String(parsed.type) };
}

/**
 * Event ids: `evt_` + the time (ms, 12 hex digits) + a counter + a random tag of this process, so that they sort
 * by creation time within a process and stay unique across restarts and nodes; no crypto call per event. The
 * clock is never taken to go back (an id never repeats within a process).
 */
export function eventIdSource(now: () => number = Date.now): () => string {
  const tag = randomBytes(5).toString('hex');
  let last = 0;
  let counter = 0;
  return () => {
    const t = Math.max(now(), last);
    if (t !== last) {
      last = t;
      counter = 0;
    }
    return `evt_${t.toString(16).padStart(12, '0')}${(counter++).toString(16).padStart(6, '0')}${tag}`;
  };
}
