/** Server → client messages. Field names and meanings are shared by every encoding. */
import type { RequestId } from './commands.js';
import type { ErrorCode } from './codes.js';

export interface ConnectedPush {
  type: 'connected';
  session: string;
  user: string;
  heartbeat: { intervalMs: number; timeoutMs: number };
  limits: { maxFrameBytes: number; messagesPerSecond: number; burst: number; roomsPerSession: number; maxTextLength: number };
}
/** A line of text from the server itself, e.g. the welcome on login. Not part of any conversation. */
export interface NoticePush {
  type: 'notice';
  from: 'System';
  text: string;
  /** Anything the app's backend sent along (server API push and broadcast). */
  data?: unknown;
  ts: number;
}
export interface ReplyPush {
  type: 'reply';
  id: RequestId;
  data: unknown;
}
export interface ErrorPush {
  type: 'error';
  id?: RequestId;
  code: ErrorCode;
  message: string;
}
export interface PongPush {
  type: 'pong';
  id?: RequestId;
}
/** A conversation message: `room` for room messages, `to` for direct messages. */
export interface MessagePush {
  type: 'message';
  id: string;
  room?: string;
  to?: string;
  seq: number;
  from: string;
  contentType: string;
  body: unknown;
  ts: number;
  key?: string;
}
export interface TypingPush {
  type: 'typing';
  room?: string;
  to?: string;
  from: string;
  active: boolean;
}
export interface SignalPush {
  type: 'signal';
  from: string;
  session: string;
  callId: string;
  kind: string;
  data?: unknown;
}
export interface PresencePush {
  type: 'presence';
  room: string;
  user: string;
  event: 'join' | 'leave';
}

/** Sent after `connected` when the server stores conversations: every conversation the user belongs to. */
/** This session is no longer in the room: the app's backend removed the user from it, or deleted it. */
export interface LeftPush {
  type: 'left';
  room: string;
  reason: 'removed' | 'deleted';
}

export interface UnreadPush {
  type: 'unread';
  conversations: UnreadEntry[];
}
/** One conversation: `room`, or `with` (the other party of a direct conversation). */
export interface UnreadEntry {
  room?: string;
  with?: string;
  lastSeq: number;
  readSeq: number;
  unread: number;
}

export type ServerPush =
  | UnreadPush
  | ConnectedPush
  | NoticePush
  | LeftPush
  | ReplyPush
  | ErrorPush
  | PongPush
  | MessagePush
  | TypingPush
  | SignalPush
  | PresencePush;
