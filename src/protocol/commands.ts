/**
 * Client → server commands: the one schema both encodings follow. Every command
 * is an object with a `type` and an optional client-chosen `id` that the reply
 * (or error) echoes. Objects are strict: a field the server sets itself, such as
 * `from`, is refused rather than silently trusted or dropped.
 */
import { z } from 'zod';
import { FILE_REFERENCE } from './file-reference.js';

export const ROOM_NAME = /^[A-Za-z0-9_.:-]{1,100}$/;
/**
 * Characters that show as nothing, or change how the text around them is shown: bidirectional marks and
 * overrides, the zero-width space, word joiners and other invisible operators, soft hyphens, Hangul fillers,
 * the BOM. A name holding one looks like another (`alice\u200b` is shown as "alice") or like none at all. The
 * zero-width joiner and non-joiner and variation selectors are allowed: Persian and Indic names and emoji
 * (`نامه‌ها`, `❤️`, `👨‍👩‍👧`) need them.
 */
const INVISIBLE =
  '\\u00ad\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u206f\\u3164\\ufeff\\uffa0\\ufff0-\\ufff8';
/** Control characters (C0, C1) or anything invisible: what no name shown to users may hold. */
export const UNSHOWABLE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f${INVISIBLE}]`);
/**
 * No whitespace, control characters or anything invisible (a name must read as it is: `\u202egpj.exe` shows as
 * "exe.jpg"), and no lone surrogates (a surrogate pair counts as one character): such a string does not come back
 * from the store as it went in (SQLite keeps UTF-8), so a user id would no longer match itself once stored.
 */
export const USER_ID = new RegExp(`^(?:[^\\s\\u0000-\\u001f\\u007f-\\u009f${INVISIBLE}\\ud800-\\udfff]|[\\ud800-\\udbff][\\udc00-\\udfff]){1,128}$`);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
export const BUILTIN_CONTENT_TYPES = ['text', 'image', 'file', 'audio', 'video'] as const;
export const MEDIA_CONTENT_TYPES = ['image', 'file', 'audio', 'video'] as const;
/** Custom content types: lower-case, start with `x-`, so they can never clash with future built-ins. */
export const CUSTOM_CONTENT_TYPE = /^x-[a-z0-9][a-z0-9._-]{0,39}$/;
export const SIGNAL_KINDS = ['offer', 'answer', 'candidate', 'hangup', 'ringing', 'reject'] as const;

const requestId = z.union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.string().min(1).max(64)]);
const room = z.string().regex(ROOM_NAME, 'room names are 1-100 characters of A-Z a-z 0-9 _ . : -');
const user = z.string().regex(USER_ID, 'user ids are 1-128 characters without spaces or control characters');
const contentType = z
  .string()
  .refine((t) => (BUILTIN_CONTENT_TYPES as readonly string[]).includes(t) || CUSTOM_CONTENT_TYPE.test(t), {
    message: 'contentType must be text, image, file, audio, video or a custom type x-…',
  });
/** Client's own key for idempotent publish; a resend with the same key is not stored twice (durable store). */
const messageKey = z
  .string()
  .min(1)
  .max(64)
  .refine((k) => !LONE_SURROGATE.test(k), { message: 'keys must be well-formed Unicode (no lone surrogates)' })
  // PostgreSQL's text cannot hold NUL: one such key would fail the commit of every message written with it.
  .refine((k) => !CONTROL.test(k), { message: 'keys must not contain control characters' });
/**
 * Most levels of arrays and objects in a custom body or a signal's data. Encoding a value (once per message, for
 * every recipient) recurses through it: one nested thousands deep would overflow the stack.
 */
export const MAX_NESTING = 32;
/** Any JSON value nested at most MAX_NESTING deep. */
const jsonValue = z.unknown().refine((v) => !nestedDeeperThan(v, MAX_NESTING), { message: `nested more than ${MAX_NESTING} levels deep` });
/** A per-conversation sequence number. */
const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * `sync`'s `{"user": seq, …}`, kept as sent: a user may be named `__proto__`, which zod's record would drop. A key
 * that is no valid user id is not refused (that conversation is simply empty): a refused sync would leave a
 * resuming session's direct messages held.
 */
const sinceMap = z.custom<Record<string, number>>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.entries(v).every(([k, n]) => k.length > 0 && k.length <= 256 && Number.isSafeInteger(n) && (n as number) >= 0),
  { message: 'since is a seq (with `with`) or {"user": seq, …} with non-negative integer seqs' },
);

/** Media body: what a client needs to show or fetch an uploaded file. */
export const mediaBody = z.strictObject({
  url: z
    .string()
    .min(1)
    .max(2048)
    .refine((u) => !u.startsWith('/files/') || FILE_REFERENCE.test(u), { message: 'a stored file is /files/<id> or /files/<id>/<name>' }),
  name: z
    .string()
    .max(256)
    .refine((n) => !UNSHOWABLE.test(n), { message: 'a file name may not hold control or invisible characters' })
    .optional(),
  mime: z.string().max(128).optional(),
  size: z.number().int().nonnegative().optional(),
  width: z.number().int().nonnegative().optional(),
  height: z.number().int().nonnegative().optional(),
  durationMs: z.number().int().nonnegative().optional(),
  caption: z.string().max(4000).optional(),
});
export type MediaBody = z.infer<typeof mediaBody>;

const base = { id: requestId.optional() };

/**
 * The longest token an `auth` message may carry (characters). The schema does not hold it: a longer token is refused
 * like a bad one (close 4001 before the session is open, `invalid_token` on a refresh; commands/pipeline.ts), not as
 * a malformed request, which would leave a connection without credentials waiting for its auth timeout.
 */
export const MAX_TOKEN_LENGTH = 8192;

export const commandSchemas = {
  auth: z.strictObject({ type: z.literal('auth'), ...base, token: z.string().min(1), resume: z.boolean().optional() }),
  ping: z.strictObject({ type: z.literal('ping'), ...base }),
  join: z.strictObject({ type: z.literal('join'), ...base, room, since: seq.optional() }),
  leave: z.strictObject({ type: z.literal('leave'), ...base, room }),
  publish: z.strictObject({
    type: z.literal('publish'),
    ...base,
    room,
    contentType: contentType.default('text'),
    body: jsonValue,
    key: messageKey.optional(),
  }),
  send: z.strictObject({
    type: z.literal('send'),
    ...base,
    to: user,
    contentType: contentType.default('text'),
    body: jsonValue,
    key: messageKey.optional(),
  }),
  typing: z
    .strictObject({ type: z.literal('typing'), ...base, room: room.optional(), to: user.optional(), active: z.boolean().default(true) })
    .refine((c) => (c.room === undefined) !== (c.to === undefined), { message: 'typing needs exactly one of room or to' }),
  signal: z.strictObject({
    type: z.literal('signal'),
    ...base,
    to: user,
    /** One session of `to` (e.g. the one that called); without it every session of `to` gets the signal. */
    session: z.string().min(1).max(64).optional(),
    callId: z.string().min(1).max(64),
    kind: z.enum(SIGNAL_KINDS),
    data: jsonValue.optional(),
  }),
  presence: z.strictObject({ type: z.literal('presence'), ...base, room }),
  rooms: z.strictObject({ type: z.literal('rooms'), ...base }),
  history: z
    .strictObject({
      type: z.literal('history'),
      ...base,
      room: room.optional(),
      with: user.optional(),
      before: seq.optional(),
      after: seq.optional(),
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .refine((c) => (c.room === undefined) !== (c.with === undefined), { message: 'history needs exactly one of room or with' })
    .refine((c) => c.before === undefined || c.after === undefined, { message: 'history takes before or after, not both' }),
  sync: z
    .strictObject({ type: z.literal('sync'), ...base, with: user.optional(), since: z.union([seq, sinceMap]) })
    .refine((c) => (typeof c.since === 'number') === (c.with !== undefined), {
      message: 'sync takes with and since (a number), or since alone as {"user": seq, …}',
    })
    .refine((c) => typeof c.since === 'number' || Object.keys(c.since).length <= 1000, { message: 'sync at most 1000 conversations at once' }),
  read: z
    .strictObject({ type: z.literal('read'), ...base, room: room.optional(), with: user.optional(), seq })
    .refine((c) => (c.room === undefined) !== (c.with === undefined), { message: 'read needs exactly one of room or with' }),
} as const;

export type CommandType = keyof typeof commandSchemas;
export type Command = { [K in CommandType]: z.infer<(typeof commandSchemas)[K]> }[CommandType];
export type CommandOf<K extends CommandType> = z.infer<(typeof commandSchemas)[K]>;
export type RequestId = z.infer<typeof requestId>;

export function isCommandType(t: unknown): t is CommandType {
  return typeof t === 'string' && Object.prototype.hasOwnProperty.call(commandSchemas, t);
}

/** Whether `value` has arrays or objects more than `levels` deep (it stops looking there: the stack stays shallow). */
export function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (nestedDeeperThan(v, levels - 1)) return true;
  return false;
}

/** Checks a body against its content type; returns an error message or null. */
export function checkBody(type: string, body: unknown, maxTextLength: number): string | null {
  if (type === 'text') {
    if (typeof body !== 'string' || body.length === 0) return 'a text body is a non-empty string';
    if (body.length > maxTextLength) return `text body longer than ${maxTextLength} characters`;
    return null;
  }
  if ((MEDIA_CONTENT_TYPES as readonly string[]).includes(type)) {
    const r = mediaBody.safeParse(body);
    return r.success ? null : `${type} body: ${describeIssues(r.error)}`;
  }
  return body === undefined ? 'body is required' : null;
}

/** One line naming the first bad field, e.g. `room: room names are …`. */
export function describeIssues(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'invalid';
  const path = first.path.join('.');
  if (first.code === 'unrecognized_keys') return `unknown field(s): ${first.keys.join(', ')}`;
  return path ? `${path}: ${first.message}` : first.message;
}

/** The field schemas the commands are made of, for other inputs that carry the same fields (the server API). */
export const fields = { room, user, contentType, messageKey, seq, jsonValue, requestId } as const;
