/**
 * Client commands in Protobuf (`ClientMessage` of switchboard.proto) and back
 * to the plain objects the JSON encoding gives: the server checks both with
 * the same schemas (commands.ts), so a command means the same in either
 * encoding and is refused with the same error. Browser-safe: the SDK encodes
 * with it.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ClientMessageSchema, type ClientMessage } from './gen/switchboard_pb.js';
import { bodyToProto, mediaFromProto, requestIdFromProto, requestIdToProto } from './proto-pushes.js';
import { fromJsonBytes, toJsonBytes } from './proto-json.js';
import { safeNumber, strictFromBinary } from './proto-wire.js';
import { setOwn } from './records.js';

type ClientInit = MessageInitShape<typeof ClientMessageSchema>;
/** A command as the JSON encoding has it: `type`, maybe `id`, and its fields. */
export type PlainCommand = Record<string, unknown> & { type: string };

/** Sets only what is there: the schemas refuse nothing for an absent optional field, but a present one is checked. */
function put(out: PlainCommand, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

function num(v: bigint | undefined): number | undefined {
  return v === undefined ? undefined : safeNumber(v);
}

function body(b: { case: 'text'; value: string } | { case: 'media'; value: Parameters<typeof mediaFromProto>[0] } | { case: 'json'; value: Uint8Array } | { case: undefined; value?: undefined }): unknown {
  return b.case === 'text' ? b.value : b.case === 'media' ? mediaFromProto(b.value) : b.case === 'json' ? fromJsonBytes(b.value) : undefined;
}

/**
 * The command a `ClientMessage` carries, shaped as in JSON. Throws on bytes that are not one: a varint or length
 * cut short, a wrong wire type, invalid UTF-8, JSON bytes that are not JSON, a 64-bit value past 2^53 - 1, no
 * command this version knows. Unknown fields are ignored.
 */
export function decodeClientMessage(bytes: Uint8Array): PlainCommand {
  return plainOf(strictFromBinary(ClientMessageSchema, bytes));
}

function plainOf(m: ClientMessage): PlainCommand {
  const c = m.command;
  if (c.case === undefined) throw new Error('a ClientMessage with no command this version knows');
  const out: PlainCommand = { type: c.case };
  put(out, 'id', requestIdFromProto(m.id));
  switch (c.case) {
    case 'auth':
      out.token = c.value.token;
      put(out, 'resume', c.value.resume);
      break;
    case 'ping':
    case 'rooms':
      break;
    case 'join':
      out.room = c.value.room;
      put(out, 'since', num(c.value.since));
      break;
    case 'leave':
    case 'presence':
      out.room = c.value.room;
      break;
    case 'publish':
    case 'send':
      if (c.case === 'publish') out.room = c.value.room;
      else out.to = c.value.to;
      if (c.value.contentType !== '') out.contentType = c.value.contentType;
      put(out, 'body', body(c.value.body));
      put(out, 'key', c.value.key);
      break;
    case 'typing':
      put(out, 'room', c.value.room);
      put(out, 'to', c.value.to);
      put(out, 'active', c.value.active);
      break;
    case 'signal':
      out.to = c.value.to;
      put(out, 'session', c.value.session);
      out.callId = c.value.callId;
      out.kind = c.value.kind;
      put(out, 'data', c.value.data === undefined ? undefined : fromJsonBytes(c.value.data));
      break;
    case 'history':
      put(out, 'room', c.value.room);
      put(out, 'with', c.value.with);
      put(out, 'before', num(c.value.before));
      put(out, 'after', num(c.value.after));
      put(out, 'limit', c.value.limit);
      break;
    case 'sync': {
      put(out, 'with', c.value.with);
      const s = c.value.since;
      if (s.case === 'seq') out.since = safeNumber(s.value);
      else if (s.case === 'map') {
        // Kept as sent, like JSON's: a user may be named `__proto__`.
        const since: Record<string, number> = {};
        for (const [user, seq] of Object.entries(s.value.seqs)) setOwn(since, user, safeNumber(seq));
        out.since = since;
      }
      break;
    }
    case 'read':
      put(out, 'room', c.value.room);
      put(out, 'with', c.value.with);
      out.seq = safeNumber(c.value.seq);
      break;
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function big(v: unknown): bigint | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
}
function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

/**
 * A command (the JSON shape) as a `ClientMessage`. Fields the schema has no room for are dropped; the SDK and
 * tests build commands from the types of commands.ts, so none are.
 */
export function encodeClientMessage(cmd: PlainCommand): Uint8Array {
  return toBinary(ClientMessageSchema, create(ClientMessageSchema, initOf(cmd)));
}

function initOf(cmd: PlainCommand): ClientInit {
  const id = requestIdToProto(cmd.id as string | number | undefined);
  const contentType = str(cmd.contentType) ?? 'text';
  const t = cmd.type;
  const command = ((): ClientInit['command'] => {
    switch (t) {
      case 'auth':
        return { case: 'auth', value: { token: str(cmd.token) ?? '', resume: bool(cmd.resume) } };
      case 'ping':
        return { case: 'ping', value: {} };
      case 'rooms':
        return { case: 'rooms', value: {} };
      case 'join':
        return { case: 'join', value: { room: str(cmd.room) ?? '', since: big(cmd.since) } };
      case 'leave':
        return { case: 'leave', value: { room: str(cmd.room) ?? '' } };
      case 'presence':
        return { case: 'presence', value: { room: str(cmd.room) ?? '' } };
      case 'publish':
        return {
          case: 'publish',
          value: { room: str(cmd.room) ?? '', contentType: contentType === 'text' ? '' : contentType, body: bodyToProto(contentType, cmd.body), key: str(cmd.key) },
        };
      case 'send':
        return {
          case: 'send',
          value: { to: str(cmd.to) ?? '', contentType: contentType === 'text' ? '' : contentType, body: bodyToProto(contentType, cmd.body), key: str(cmd.key) },
        };
      case 'typing':
        return { case: 'typing', value: { room: str(cmd.room), to: str(cmd.to), active: bool(cmd.active) } };
      case 'signal':
        return {
          case: 'signal',
          value: {
            to: str(cmd.to) ?? '',
            session: str(cmd.session),
            callId: str(cmd.callId) ?? '',
            kind: str(cmd.kind) ?? '',
            ...(cmd.data !== undefined ? { data: toJsonBytes(cmd.data) } : {}),
          },
        };
      case 'history':
        return {
          case: 'history',
          value: {
            room: str(cmd.room),
            with: str(cmd.with),
            before: big(cmd.before),
            after: big(cmd.after),
            limit: typeof cmd.limit === 'number' ? cmd.limit : undefined,
          },
        };
      case 'sync': {
        const since = cmd.since;
        if (typeof since === 'number') return { case: 'sync', value: { with: str(cmd.with), since: { case: 'seq', value: BigInt(since) } } };
        const seqs: Record<string, bigint> = {};
        // setOwn: `seqs['__proto__'] = …` would set the prototype, and the entry of a user so named would be lost.
        for (const [user, seq] of Object.entries((since ?? {}) as Record<string, number>)) setOwn(seqs, user, BigInt(seq));
        return { case: 'sync', value: { with: str(cmd.with), since: { case: 'map', value: { seqs } } } };
      }
      case 'read':
        return { case: 'read', value: { room: str(cmd.room), with: str(cmd.with), seq: big(cmd.seq) ?? 0n } };
      default:
        throw new Error(`no such command: ${t}`);
    }
  })();
  return { id, command };
}
