/**
 * The `data` of replies to commands, shared by the server and the client SDK.
 * Types only: nothing here runs, so a browser bundle that imports it stays
 * free of server code.
 */
import type { MessagePush } from './pushes.js';

/** What a sender is told once its message has been accepted (for a durable conversation: once it is stored). */
export interface Ack {
  id: string;
  seq: number;
  ts: number;
  /** Present and true when the idempotency key had been seen: this is the original's ack. */
  duplicate?: boolean;
}

/** Public rooms anyone may join; private ones need a grant; push-only ones take messages from the server API only. */
export type RoomKind = 'public' | 'private' | 'push';

export interface JoinResult {
  room: string;
  kind: RoomKind;
  durable: boolean;
  /** The room's last sequence number at the join: every later message reaches the session live. */
  seq: number;
  /** Set when the join asked to recover from `since`. */
  recovered?: boolean;
  missed?: number;
}

export interface HistoryResult {
  room?: string;
  with?: string;
  messages: MessagePush[];
  oldestSeq: number;
  lastSeq: number;
  hasMore: boolean;
}

export interface SyncResult {
  /** Per conversation partner: whether everything after its `since` was replayed. */
  conversations: Record<string, { recovered: boolean; missed: number; seq: number }>;
}

export interface PresenceEntry {
  user: string;
  sessions: number;
}

/** `POST /upload` answers with this (see docs/api.md). */
export interface UploadResult {
  id: string;
  url: string;
  name: string;
  mime: string;
  size: number;
}
