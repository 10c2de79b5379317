/**
 * Types of the SDK. Everything that crosses the wire comes from the server's
 * own definitions (`src/protocol/*`, and the reply shapes the hub returns),
 * imported with `import type` so that no server code — and not zod — ends up
 * in a browser bundle. Only the SDK's own options and events are declared here.
 */
import type { z } from 'zod';
import type { commandSchemas, CommandType, MediaBody, MEDIA_CONTENT_TYPES, RequestId } from '../../src/protocol/commands.js';
import type {
  ConnectedPush,
  LeftPush,
  MessagePush as WireMessagePush,
  NoticePush,
  PresencePush,
  ServerPush,
  SignalPush,
  TypingPush,
  UnreadEntry,
  UnreadPush,
} from '../../src/protocol/pushes.js';
import type { CloseCode, ErrorCode } from '../../src/protocol/codes.js';
import type { Ack, HistoryResult, JoinResult, PresenceEntry, SyncResult, UploadResult } from '../../src/protocol/replies.js';

export type {
  Ack,
  CloseCode,
  CommandType,
  ConnectedPush,
  ErrorCode,
  HistoryResult,
  JoinResult,
  LeftPush,
  MediaBody,
  NoticePush,
  PresenceEntry,
  PresencePush,
  RequestId,
  ServerPush,
  SignalPush,
  SyncResult,
  TypingPush,
  UnreadEntry,
  UnreadPush,
};

/**
 * A conversation message as the client hands it to the app (live, replayed or
 * from history): identified by its conversation (`room`, or `to` + `from`) and
 * `seq`. `contentType` is always there (`text` when the server left it out).
 * In protocol version 2 a pushed message has no `id` and no `key`: the id is
 * in the sender's ack (`MessageAck`) and in history pages, the key only in the
 * sender's own command — match an optimistic copy by the ack's `seq`. A
 * version 1 server still sends both.
 */
export type MessagePush = Omit<WireMessagePush, 'id' | 'key' | 'contentType'> & {
  contentType: string;
  /** Only in history pages, and from a version 1 server. */
  id?: string;
  /** Only from a version 1 server (the sender's idempotency key). */
  key?: string;
};

/** A command as the app writes it (defaults such as `contentType` optional), without the request `id`. */
export type CommandInput<K extends CommandType> = Omit<z.input<(typeof commandSchemas)[K]>, 'id'>;
/** A command as it is validated by the server (defaults applied). */
export type CommandOf<K extends CommandType> = z.infer<(typeof commandSchemas)[K]>;

/** The `data` of the reply to each command (the server's own result types). */
export interface ReplyData {
  auth: { expiresAt: number | null };
  ping: Record<string, never>;
  join: JoinResult;
  leave: { room: string };
  publish: Ack;
  send: Ack;
  typing: Record<string, never>;
  signal: { sessions: number };
  presence: { room: string; users: PresenceEntry[] };
  rooms: { rooms: string[] };
  history: HistoryResult;
  /** `{conversations: {user: …}}` for `since: {user: seq}`; the single-conversation form for `with` + `since`. */
  sync: SyncResult | ({ with: string } & SyncOutcome);
  read: Record<string, never>;
}

/** How one direct conversation was recovered by `sync`. */
export type SyncOutcome = SyncResult['conversations'][string];

export type MediaContentType = (typeof MEDIA_CONTENT_TYPES)[number];
/** `text`, a media type, or a custom `x-…` type. */
export type ContentType = 'text' | MediaContentType | `x-${string}`;
/** The body a content type takes: a string for text, a {@link MediaBody} for media, anything for custom types. */
export type BodyFor<C extends ContentType> = C extends 'text' ? string : C extends MediaContentType ? MediaBody : unknown;
export type SignalKind = CommandOf<'signal'>['kind'];

/** A conversation: a room, or the direct conversation with another user. */
export type Conversation = { room: string } | { with: string };

/** The acknowledgement of a publish or send: the message's id, seq and ts (`duplicate` when a resend matched a stored key). */
export type MessageAck = Ack & { key: string };

/** What `POST /upload` answers (docs/api.md). */
export type { UploadResult };

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface StateChange {
  state: ConnectionState;
  /** The previous state. */
  previous: ConnectionState;
  /** Reconnect attempts since the last successful connection (0 on the first try). */
  attempt: number;
  /** For `disconnected`: the WebSocket close code (1006: the connection dropped without a close frame). */
  closeCode?: number;
  reason?: string;
  /** For `disconnected`: whether the client will try again on its own. */
  willReconnect?: boolean;
  /** For `disconnected` with `willReconnect`: the delay before the next attempt. */
  retryInMs?: number;
  /** The error that caused a fatal disconnect, if any. */
  error?: Error;
}

/** Messages of a conversation the client could not recover. */
export interface GapEvent {
  conversation: Conversation;
  /** First and last seq of the messages that are missing (inclusive). */
  from: number;
  to: number;
  /**
   * `unrecoverable`: no longer stored (retention) or history failed;
   * `not-durable`: a non-durable room, whose messages are never stored;
   * `reset`: the server's sequence restarted (e.g. a non-durable room after a server restart).
   */
  reason: 'unrecoverable' | 'not-durable' | 'reset';
}

/** The outcome of recovering one conversation after a reconnect. */
export interface RecoveryEvent {
  conversation: Conversation;
  /** The seq the client asked to recover from. */
  since: number;
  /** The conversation's last seq at the server. */
  seq: number;
  /** How many messages the app had missed. */
  missed: number;
  /** `replay`: the server replayed them; `history`: the SDK fetched them page by page; `none`: nothing could be recovered. */
  via: 'replay' | 'history' | 'none';
}

export interface MessageMeta {
  conversation: Conversation;
}
