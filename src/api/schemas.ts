/**
 * The server API's inputs and outputs, as zod schemas: requests are
 * validated with them and the OpenAPI document is generated from them, so
 * the two cannot disagree. Fields are the protocol's own (room names, user
 * ids, content types, keys), with the same rules as over the WebSocket.
 */
import { z } from 'zod';
import { fields } from '../protocol/commands.js';

const { room, user, contentType, messageKey, seq, jsonValue } = fields;

export const roomParam = z.object({ room });
export const userParam = z.object({ user });
export const sessionParam = z.object({ session: z.string().min(1).max(64) });
export const directParams = z.object({ user, other: user });

const message = {
  /** Published on behalf of this user; without it the message is from `System`. */
  from: user.optional(),
  contentType: contentType.default('text'),
  body: jsonValue,
  /** Idempotency key: a resend with the same key (and sender) is answered with the original's ack and not stored twice. */
  key: messageKey.optional(),
};

export const publishBody = z.strictObject(message);
export const batchBody = z.strictObject({ messages: z.array(z.strictObject({ room, ...message })).min(1) });
export const sendBody = z.strictObject(message);
export const noticeBody = z
  .strictObject({ text: z.string().min(1).max(10_000).optional(), data: jsonValue.optional() })
  .refine((b) => b.text !== undefined || b.data !== undefined, { message: 'a push needs text, data or both' });
export const disconnectUserBody = z.strictObject({
  reason: z.string().max(120).optional(),
  /** Refuse the user's new connections for this many seconds (close code 4010 at connect). */
  banSeconds: z.number().int().min(1).max(30 * 86_400).optional(),
});
export const disconnectSessionBody = z.strictObject({ reason: z.string().max(120).optional() });
export const historyQuery = z
  .strictObject({
    before: z.coerce.number().pipe(seq).optional(),
    after: z.coerce.number().pipe(seq).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .refine((q) => q.before === undefined || q.after === undefined, { message: 'history takes before or after, not both' });
export const tokenBody = z.strictObject({
  user,
  /** Private rooms (names or `prefix*`) the token grants. */
  rooms: z.array(z.string().min(1).max(101)).max(1000).optional(),
  /** Lifetime; at most api.tokenMaxTtlSeconds (default and most: one day). */
  ttlSeconds: z.number().int().min(1).optional(),
});
export const noQuery = z.strictObject({});
export const emptyBody = z.strictObject({});

export const ack = z.object({ id: z.string(), seq: z.number().int(), ts: z.number().int(), duplicate: z.boolean().optional() });
export const batchResult = z.object({
  results: z.array(
    z.union([ack.extend({ ok: z.literal(true) }), z.object({ ok: z.literal(false), code: z.string(), message: z.string() })]),
  ),
});
export const countResult = z.object({ sessions: z.number().int() });
export const presenceResult = z.object({ room: z.string(), users: z.array(z.object({ user: z.string(), sessions: z.number().int() })) });
export const userPresenceResult = z.object({ user: z.string(), online: z.boolean(), sessions: z.array(z.object({ id: z.string() })) });
export const historyResult = z.object({
  room: z.string().optional(),
  with: z.string().optional(),
  messages: z.array(z.record(z.string(), z.unknown())),
  oldestSeq: z.number().int(),
  lastSeq: z.number().int(),
  hasMore: z.boolean(),
});
const kind = z.enum(['public', 'private', 'push']);
export const roomView = z.object({
  room: z.string(),
  kind,
  durable: z.boolean(),
  /** Created through the server API (its settings win over the room rules). */
  managed: z.boolean(),
  maxCount: z.number().int().nullable(),
  maxAgeDays: z.number().nullable(),
  createdAt: z.number().int().nullable(),
  /** Users and sessions in the room on this server now. */
  users: z.number().int(),
  sessions: z.number().int(),
});
export const roomsResult = z.object({ rooms: z.array(roomView) });
const roomSettings = {
  kind: kind.optional(),
  /** Store its messages (history, recovery, offline delivery). Default true. */
  durable: z.boolean().optional(),
  /** Keep at most this many messages (null: the server's store.retention.maxCount). */
  maxCount: z.number().int().positive().nullable().optional(),
  /** Drop messages older than this (null: the server's store.retention.maxAgeDays). */
  maxAgeDays: z.number().positive().nullable().optional(),
};
export const createRoomBody = z.strictObject({ name: room, ...roomSettings });
export const updateRoomBody = z.strictObject(roomSettings);
export const memberBody = z.strictObject({ user });
export const memberParams = z.object({ room, user });
export const membersResult = z.object({ room: z.string(), users: z.array(z.string()) });
export const addedResult = z.object({ added: z.boolean() });
export const removedResult = z.object({ removed: z.boolean(), sessions: z.number().int() });
export const tokenResult = z.object({ token: z.string(), expiresAt: z.number().int() });
export const errorBody = z.object({ code: z.string(), message: z.string(), field: z.string().optional() });

const count = z.number().int().nonnegative();
/** GET /admin/stats: what the admin console draws (docs/operations.md, "Stats"). */
export const adminStats = z.object({
  /** When these figures were taken (ms since epoch). */
  ts: z.number().int(),
  uptimeSec: z.number().int(),
  /** Sockets, whatever their state (waiting for `auth`, open, closing). */
  connections: count,
  sessions: count,
  users: count,
  rooms: count,
  /** Counters since start, never going down: rates are differences between two calls over their `ts`. */
  totals: z.object({
    /** Messages received from clients over WebSocket, every command type. */
    messagesIn: count,
    /** Pushes handed to sessions (a room message to N members: N). */
    deliveries: count,
    framesOut: count,
    bytesOut: count,
    slowConsumerCloses: count,
  }),
  store: z.object({
    /** Over the commits of the last minute; null when there were none. */
    commitP50Ms: z.number().nullable(),
    commitP99Ms: z.number().nullable(),
    /** Messages accepted and not yet stored. */
    backlog: count,
  }),
  /** Bytes waiting to reach clients: in sockets, and held while they drain. */
  queueBytes: count,
  /** At most 10, most sessions first. */
  topRoomsByMembers: z.array(z.object({ room: z.string(), sessions: count, users: count })),
  /** At most 10, busiest first: messages per second over about the last 10 s. */
  topRoomsByRate: z.array(z.object({ room: z.string(), messagesPerSec: z.number() })),
  /** The last 20, newest first. */
  recentSlowConsumers: z.array(z.object({ ts: z.number().int(), session: z.string(), user: z.string(), unsentBytes: count, droppedMessages: count })),
});
export type AdminStats = z.infer<typeof adminStats>;
export const profileQuery = z.strictObject({
  /** How long to profile: 1-60 s (default 10). */
  seconds: z.coerce.number().int().min(1).max(60).default(10),
});
