/**
 * Stable codes a client can switch on. The strings and numbers here are part of
 * the public protocol (docs/protocol.md): never renumber, only add.
 */

/** Error codes carried in `{"type":"error","code":...}` replies. */
export const ErrorCode = {
  /** The frame or a line in it is not valid JSON. */
  InvalidJson: 'invalid_json',
  /** A message in a binary frame is not a valid `ClientMessage` (Protobuf encoding), or its length is wrong. */
  Malformed: 'malformed',
  /** `type` is missing or names no command. */
  UnknownType: 'unknown_type',
  /** The command's fields failed validation (missing, wrong type, unknown field such as `from`). */
  InvalidRequest: 'invalid_request',
  /** Authenticated commands sent before `auth` succeeded. */
  NotAuthenticated: 'not_authenticated',
  /** The token could not be verified (used on re-auth; at connect a close code is used). */
  InvalidToken: 'invalid_token',
  /** The user may not do this (private room without grant, publish to a push-only room). */
  Forbidden: 'forbidden',
  /** The session has not joined the room it publishes to or asks about. */
  NotJoined: 'not_joined',
  /** A configured count limit was reached (rooms per session). */
  LimitExceeded: 'limit_exceeded',
  /** Messages arrive faster than the session's rate limit. */
  RateLimited: 'rate_limited',
  /** The target user has no session on this server. */
  UserOffline: 'user_offline',
  /** The message could not be stored now (storage down or backlogged); resend it with the same key. */
  Unavailable: 'unavailable',
  /** Something failed on the server; the request may be retried. */
  Internal: 'internal',
  /** No such room, member or session (server API). */
  NotFound: 'not_found',
  /** It exists already (server API: creating a room that is there). */
  Conflict: 'conflict',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes. 1xxx are RFC 6455; 4xxx are Switchboard's own. */
export const CloseCode = {
  Normal: 1000,
  /** Server shutting down (graceful stop); reconnect to another node or later. */
  GoingAway: 1001,
  /**
   * The connection ended without a close frame: never sent by a server (RFC 6455 reserves it), but what each side
   * reports itself when a socket just goes (a network failure, a failed handshake).
   */
  Abnormal: 1006,
  /** Binary frame where text was expected. */
  Unsupported: 1003,
  /** Frame larger than `limits.maxFrameBytes` (sent by the transport). */
  TooBig: 1009,
  /** Too many connections on this server (`limits.maxConnections`); retry later. */
  TryAgainLater: 1013,
  /** No token, or a token that fails verification. */
  Unauthorized: 4001,
  /** The token's `exp` has passed (at connect, or while connected without a refresh). */
  TokenExpired: 4002,
  /** Another session of the same user replaced this one (`sessions.policy = "replace"`). */
  Replaced: 4003,
  /** No pong within `heartbeat.timeoutMs` of a ping. */
  HeartbeatTimeout: 4004,
  /** The session's outbound queue overflowed (`limits.maxQueueBytes` / `maxQueueMessages`). */
  SlowConsumer: 4005,
  /** The session kept sending above its rate limit after being told. */
  Flood: 4006,
  /** The user already holds `sessions.maxPerUser` sessions. */
  TooManySessions: 4007,
  /** No `auth` message within `auth.timeoutMs` of connecting without a token. */
  AuthTimeout: 4009,
  /** The app's backend disconnected this session or every session of its user (server API). */
  Disconnected: 4010,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
