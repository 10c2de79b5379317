/**
 * Server pushes in Protobuf (`ServerMessage` of switchboard.proto) and back to
 * the plain shapes of pushes.ts, which the rest of the server and the SDK use
 * whatever the encoding. Browser-safe: Uint8Array only, no Node APIs.
 *
 * `message` pushes, the one kind a client receives by the thousand, are read
 * by a decoder of their own (readMessage): the generic one builds the whole
 * generated object graph and converts every 64-bit field through BigInt first.
 * test/unit/proto-codec.test.ts checks the two agree, on odd bytes too:
 * both refuse a wrong wire type, invalid UTF-8 and a 64-bit value past 2^53.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { RequestId } from './commands.js';
import type { ErrorCode } from './codes.js';
import { safeNumber, skipField, strictFromBinary, strictMergeFromBinary } from './proto-wire.js';
import { readTextMessage } from './proto-message-reader.js';
import {
  MediaSchema,
  ServerMessageSchema,
  type Media,
  type RequestId as ProtoRequestId,
  type ServerMessage,
  PresencePush_Event,
  Left_Reason,
} from './gen/switchboard_pb.js';
import type { MediaBody } from './commands.js';
import type { MessagePush, ServerPush } from './pushes.js';
import { fromJsonBytes, toJsonBytes } from './proto-json.js';

type ServerInit = MessageInitShape<typeof ServerMessageSchema>;
type BodyInit = { case: 'text'; value: string } | { case: 'media'; value: MediaInit } | { case: 'json'; value: Uint8Array } | { case: undefined };
type MediaInit = Omit<Media, '$typeName' | 'size' | 'durationMs'> & { size?: bigint; durationMs?: bigint };

export function requestIdToProto(id: RequestId | undefined): { value: { case: 'number'; value: bigint } | { case: 'text'; value: string } } | undefined {
  if (id === undefined) return undefined;
  return typeof id === 'number' ? { value: { case: 'number', value: BigInt(id) } } : { value: { case: 'text', value: id } };
}

/** A request id as the client sent it; undefined when absent. Throws on a number past 2^53 - 1. */
export function requestIdFromProto(id: ProtoRequestId | undefined): RequestId | undefined {
  if (!id) return undefined;
  const v = id.value;
  if (v.case === 'number') return safeNumber(v.value);
  if (v.case === 'text') return v.value;
  return undefined;
}

const MEDIA_KEYS = ['url', 'name', 'mime', 'size', 'width', 'height', 'durationMs', 'caption'] as const;
const MEDIA_TYPES = new Set(['image', 'file', 'audio', 'video']);

/**
 * How a body travels: text as a string, a media body as `Media`, anything else as its JSON; none at all as no
 * body (its JSON would be no bytes, which are no JSON: the command missing its body must be refused as in JSON).
 */
export function bodyToProto(contentType: string, body: unknown): BodyInit {
  if (body === undefined) return { case: undefined };
  if (contentType === 'text' && typeof body === 'string') return { case: 'text', value: body };
  if (MEDIA_TYPES.has(contentType) && isMedia(body)) {
    const m: MediaInit = { url: body.url };
    if (body.name !== undefined) m.name = body.name;
    if (body.mime !== undefined) m.mime = body.mime;
    if (body.size !== undefined) m.size = BigInt(body.size);
    if (body.width !== undefined) m.width = body.width;
    if (body.height !== undefined) m.height = body.height;
    if (body.durationMs !== undefined) m.durationMs = BigInt(body.durationMs);
    if (body.caption !== undefined) m.caption = body.caption;
    return { case: 'media', value: m };
  }
  return { case: 'json', value: toJsonBytes(body) };
}

/** A media body that `Media` carries exactly (a stored one is checked by the schema; anything odd goes as JSON). */
function isMedia(body: unknown): body is MediaBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  if (typeof b.url !== 'string') return false;
  for (const k of Object.keys(b)) if (!(MEDIA_KEYS as readonly string[]).includes(k)) return false;
  for (const k of ['size', 'width', 'height', 'durationMs'] as const)
    if (b[k] !== undefined && !(Number.isSafeInteger(b[k]) && (b[k] as number) >= 0 && (k === 'size' || k === 'durationMs' || (b[k] as number) <= 0xffffffff)))
      return false;
  for (const k of ['name', 'mime', 'caption'] as const) if (b[k] !== undefined && typeof b[k] !== 'string') return false;
  return true;
}

export function mediaFromProto(m: Media): MediaBody {
  const out: MediaBody = { url: m.url };
  if (m.name !== undefined) out.name = m.name;
  if (m.mime !== undefined) out.mime = m.mime;
  if (m.size !== undefined) out.size = safeNumber(m.size);
  if (m.width !== undefined) out.width = m.width;
  if (m.height !== undefined) out.height = m.height;
  if (m.durationMs !== undefined) out.durationMs = safeNumber(m.durationMs);
  if (m.caption !== undefined) out.caption = m.caption;
  return out;
}

function dataToProto(data: unknown): Uint8Array | undefined {
  return data === undefined ? undefined : toJsonBytes(data);
}

function toInit(push: ServerPush): ServerInit {
  switch (push.type) {
    case 'message': {
      const m = {
        room: push.room ?? '',
        to: push.to ?? '',
        seq: BigInt(push.seq),
        from: push.from,
        ts: BigInt(push.ts),
        contentType: push.contentType === 'text' ? '' : push.contentType,
        body: bodyToProto(push.contentType, push.body),
      };
      return { push: { case: 'message', value: m } };
    }
    case 'connected':
      return { push: { case: 'connected', value: { session: push.session, user: push.user, heartbeat: push.heartbeat, limits: push.limits } } };
    case 'notice': {
      const data = dataToProto(push.data);
      return { push: { case: 'notice', value: { from: push.from, text: push.text, ts: BigInt(push.ts), ...(data ? { data } : {}) } } };
    }
    case 'reply':
      return { push: { case: 'reply', value: { id: requestIdToProto(push.id), data: toJsonBytes(push.data ?? null) } } };
    case 'error':
      return { push: { case: 'error', value: { id: requestIdToProto(push.id), code: push.code, message: push.message } } };
    case 'pong':
      return { push: { case: 'pong', value: { id: requestIdToProto(push.id) } } };
    case 'typing':
      return { push: { case: 'typing', value: { room: push.room ?? '', to: push.to ?? '', from: push.from, active: push.active } } };
    case 'signal': {
      const data = dataToProto(push.data);
      const value = { from: push.from, session: push.session, callId: push.callId, kind: push.kind, ...(data ? { data } : {}) };
      return { push: { case: 'signal', value } };
    }
    case 'presence':
      return {
        push: { case: 'presence', value: { room: push.room, user: push.user, event: push.event === 'join' ? PresencePush_Event.JOIN : PresencePush_Event.LEAVE } },
      };
    case 'left':
      return { push: { case: 'left', value: { room: push.room, reason: push.reason === 'removed' ? Left_Reason.REMOVED : Left_Reason.DELETED } } };
    case 'unread':
      return {
        push: {
          case: 'unread',
          value: {
            conversations: push.conversations.map((c) => ({
              room: c.room ?? '',
              with: c.with ?? '',
              lastSeq: BigInt(c.lastSeq),
              readSeq: BigInt(c.readSeq),
              unread: BigInt(c.unread),
            })),
          },
        },
      };
  }
}

/** One push as a `ServerMessage` (without its length prefix). */
export function encodeServerMessage(push: ServerPush): Uint8Array {
  return toBinary(ServerMessageSchema, create(ServerMessageSchema, toInit(push)));
}

/** The field number of `message` in `ServerMessage`, as its tag byte: what readMessage takes. */
const MESSAGE_TAG = (1 << 3) | WireType.LengthDelimited;

/**
 * One `ServerMessage` as the push it stands for. Throws an Error on bytes that are not one (a truncated varint, a
 * length past the end, a wrong wire type, invalid UTF-8, a 64-bit value past 2^53 - 1, JSON bytes that are not
 * JSON) and on a push of a kind this version does not know.
 */
export function decodeServerMessage(bytes: Uint8Array): ServerPush {
  const text = readTextMessage(bytes);
  if (text) return text;
  if (bytes.length > 0 && bytes[0] === MESSAGE_TAG) {
    const r = new BinaryReader(bytes);
    r.tag();
    const end = r.uint32() + r.pos;
    // Only when the message is the whole of the bytes: anything after it (unknown fields) takes the general path.
    if (end === bytes.length) return readMessage(r, bytes, end);
  }
  return fromProto(strictFromBinary(ServerMessageSchema, bytes));
}

function fromProto(m: ServerMessage): ServerPush {
  const p = m.push;
  switch (p.case) {
    case 'message': {
      const v = p.value;
      const push = { type: 'message' } as MessagePush;
      if (v.room !== '') push.room = v.room;
      if (v.to !== '') push.to = v.to;
      push.seq = safeNumber(v.seq);
      push.from = v.from;
      push.contentType = v.contentType === '' ? 'text' : v.contentType;
      const b = v.body;
      push.body = b.case === 'text' ? b.value : b.case === 'media' ? mediaFromProto(b.value) : b.case === 'json' ? fromJsonBytes(b.value) : undefined;
      push.ts = safeNumber(v.ts);
      return push;
    }
    case 'connected': {
      const { session, user, heartbeat, limits } = p.value;
      return {
        type: 'connected',
        session,
        user,
        heartbeat: { intervalMs: heartbeat?.intervalMs ?? 0, timeoutMs: heartbeat?.timeoutMs ?? 0 },
        limits: {
          maxFrameBytes: limits?.maxFrameBytes ?? 0,
          messagesPerSecond: limits?.messagesPerSecond ?? 0,
          burst: limits?.burst ?? 0,
          roomsPerSession: limits?.roomsPerSession ?? 0,
          maxTextLength: limits?.maxTextLength ?? 0,
        },
      };
    }
    case 'notice': {
      const v = p.value;
      return { type: 'notice', from: 'System', text: v.text, ...(v.data !== undefined ? { data: fromJsonBytes(v.data) } : {}), ts: safeNumber(v.ts) };
    }
    case 'reply':
      return withId({ type: 'reply', data: fromJsonBytes(p.value.data) }, p.value.id) as ServerPush;
    case 'error':
      return withId({ type: 'error', code: p.value.code as ErrorCode, message: p.value.message }, p.value.id) as ServerPush;
    case 'pong':
      return withId({ type: 'pong' }, p.value.id) as ServerPush;
    case 'typing': {
      const v = p.value;
      return { type: 'typing', ...(v.room !== '' ? { room: v.room } : {}), ...(v.to !== '' ? { to: v.to } : {}), from: v.from, active: v.active };
    }
    case 'signal': {
      const v = p.value;
      return { type: 'signal', from: v.from, session: v.session, callId: v.callId, kind: v.kind, ...(v.data !== undefined ? { data: fromJsonBytes(v.data) } : {}) };
    }
    case 'presence':
      return { type: 'presence', room: p.value.room, user: p.value.user, event: presenceEvent(p.value.event) };
    case 'left':
      return { type: 'left', room: p.value.room, reason: leftReason(p.value.reason) };
    case 'unread':
      return {
        type: 'unread',
        conversations: p.value.conversations.map((c) => ({
          ...(c.room !== '' ? { room: c.room } : {}),
          ...(c.with !== '' ? { with: c.with } : {}),
          lastSeq: safeNumber(c.lastSeq),
          readSeq: safeNumber(c.readSeq),
          unread: safeNumber(c.unread),
        })),
      };
    case undefined:
      throw new Error('a ServerMessage with no push this version knows');
  }
}

// An enum value this version does not know (or none) would otherwise read as one it does.
function presenceEvent(e: PresencePush_Event): 'join' | 'leave' {
  if (e === PresencePush_Event.JOIN) return 'join';
  if (e === PresencePush_Event.LEAVE) return 'leave';
  throw new Error(`a presence event this version does not know (${e})`);
}
function leftReason(r: Left_Reason): 'removed' | 'deleted' {
  if (r === Left_Reason.REMOVED) return 'removed';
  if (r === Left_Reason.DELETED) return 'deleted';
  throw new Error(`a reason for left this version does not know (${r})`);
}

function withId<T extends object>(push: T, id: ProtoRequestId | undefined): T & { id?: RequestId } {
  const rid = requestIdFromProto(id);
  return rid === undefined ? push : { ...push, id: rid };
}

/**
 * A uint64 varint as a number (seq, ts), the way the generic reader's uint64 + safeNumber reads it but without
 * BigInt for the usual few bytes; past 8 bytes (non-canonical, or too large) it is left to them.
 */
function uint53(r: BinaryReader, bytes: Uint8Array): number {
  const start = r.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = bytes[r.pos++];
    if (b === undefined) throw new RangeError('premature EOF');
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (value > Number.MAX_SAFE_INTEGER) throw new Error(`a 64-bit value past 2^53 - 1 (${value})`);
      return value;
    }
    scale *= 128;
  }
  r.pos = start;
  return safeNumber(BigInt(r.uint64()));
}

/** How deep unknown groups may nest inside a `message` push: what fromBinary allows at that depth (100 - 2). */
const GROUP_LIMIT_IN_MESSAGE = 98;

/** The wire type of each field of `Message` (switchboard.proto), by field number. */
const MESSAGE_WIRE: readonly (WireType | undefined)[] = [
  undefined,
  WireType.LengthDelimited, // 1 room
  WireType.LengthDelimited, // 2 to
  WireType.Varint, // 3 seq
  WireType.LengthDelimited, // 4 from
  WireType.Varint, // 5 ts
  WireType.LengthDelimited, // 6 content_type
  WireType.LengthDelimited, // 7 text
  WireType.LengthDelimited, // 8 media
  WireType.LengthDelimited, // 9 json
];

/**
 * Fields of `Message` (see switchboard.proto), read straight into the push. What the generic decoder would make
 * of the same bytes, checked as strictly: the last of a repeated field wins, two `media` in a row merge, unknown
 * fields are skipped.
 */
function readMessage(r: BinaryReader, bytes: Uint8Array, end: number): MessagePush {
  const push = { type: 'message' } as MessagePush;
  let contentType = 'text';
  // The body oneof: the last member wins, and is converted only then (as fromProto does).
  let body: { case: 'text'; value: string } | { case: 'media'; value: Media } | { case: 'json'; value: Uint8Array } | undefined;
  let seq = 0;
  let ts = 0;
  let from = '';
  while (r.pos < end) {
    const [field, wire] = r.tag();
    const expected = MESSAGE_WIRE[field];
    if (expected === undefined) {
      skipField(r, bytes, wire, field, GROUP_LIMIT_IN_MESSAGE);
      continue;
    }
    if (wire !== expected) throw new Error(`Message field ${field} has the wrong wire type (${wire})`);
    switch (field) {
      case 1:
        push.room = r.string(true);
        break;
      case 2:
        push.to = r.string(true);
        break;
      case 3:
        seq = uint53(r, bytes);
        break;
      case 4:
        from = r.string(true);
        break;
      case 5:
        ts = uint53(r, bytes);
        break;
      case 6:
        contentType = r.string(true) || 'text';
        break;
      case 7:
        body = { case: 'text', value: r.string(true) };
        break;
      case 8:
        body = { case: 'media', value: strictMergeFromBinary(MediaSchema, body?.case === 'media' ? body.value : create(MediaSchema), r.bytes()) };
        break;
      case 9:
        body = { case: 'json', value: r.bytes() };
        break;
    }
  }
  if (r.pos !== end) throw new Error('a field past the end of the message');
  if (push.room === '') delete push.room;
  if (push.to === '') delete push.to;
  push.seq = seq;
  push.from = from;
  push.contentType = contentType;
  push.body = body === undefined ? undefined : body.case === 'text' ? body.value : body.case === 'media' ? mediaFromProto(body.value) : fromJsonBytes(body.value);
  push.ts = ts;
  return push;
}
