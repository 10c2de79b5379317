/**
 * Every "may this actor…" question, answered in one place, so that the
 * WebSocket commands and the server API can never disagree. A rule answers
 * null (allowed) or the refusal to send back; the caller turns a refusal into
 * its own error (a reply, an HTTP status). Facts that need the store (is the
 * user a stored member?) are looked up by the caller and passed in.
 */
import { ErrorCode } from '../protocol/codes.js';
import type { RoomKind } from '../protocol/replies.js';
import { hasJoined, isBackend, type Actor, type BackendActor, type Scope } from './actor.js';
import { matchesAny } from './patterns.js';

export interface Refusal {
  code: ErrorCode;
  message: string;
}

export type Verdict = Refusal | null;

function refuse(code: ErrorCode, message: string): Refusal {
  return { code, message };
}

function scoped(actor: BackendActor, scope: Scope): Verdict {
  if (actor.scopes.includes(scope) || actor.scopes.includes('admin')) return null;
  return refuse(ErrorCode.Forbidden, `this API key has no ${scope} scope`);
}

/**
 * Join a room: a private one needs a grant in the user's token, or the user on the room's member list that the
 * backend keeps (`listed`). (The backend joins no rooms; it publishes to them.)
 */
export function mayJoin(actor: Actor, room: string, kind: RoomKind, listed = false): Verdict {
  if (isBackend(actor)) return refuse(ErrorCode.Forbidden, 'the server API joins no rooms');
  if (kind === 'private' && !listed && !matchesAny(actor.grants, room)) return refuse(ErrorCode.Forbidden, `room ${room} is private and your token does not grant it`);
  return null;
}

/** Publish to a room: a user must have joined it, and nobody but the backend publishes to a push-only room. */
export function mayPublish(actor: Actor, room: string, kind: RoomKind): Verdict {
  if (isBackend(actor)) return scoped(actor, 'publish');
  if (!hasJoined(actor, room)) return refuse(ErrorCode.NotJoined, `join room ${room} before publishing to it`);
  if (kind === 'push') return refuse(ErrorCode.Forbidden, `room ${room} is push-only: only the server API publishes to it`);
  return null;
}

/** Say one is typing in a room: as publishing, for a user (nobody writes in a push-only room, so nobody types there). */
export function mayType(actor: Actor, room: string, kind: RoomKind): Verdict {
  if (isBackend(actor)) return refuse(ErrorCode.Forbidden, 'the server API does not type');
  if (!hasJoined(actor, room)) return refuse(ErrorCode.NotJoined, `not in room ${room}`);
  if (kind === 'push') return refuse(ErrorCode.Forbidden, `room ${room} is push-only`);
  return null;
}

/** Send a direct message or a call signal to a user. */
export function maySendDirect(actor: Actor): Verdict {
  return isBackend(actor) ? scoped(actor, 'publish') : null;
}

/** See who is in a room: a private room's list is for its members and those its grant names. */
export function maySeePresence(actor: Actor, room: string, kind: RoomKind, listed = false): Verdict {
  if (isBackend(actor)) return scoped(actor, 'read');
  if (kind === 'private' && !listed && !hasJoined(actor, room) && !matchesAny(actor.grants, room)) return refuse(ErrorCode.Forbidden, `room ${room} is private`);
  return null;
}

/**
 * Read a room's history: for members, joined now or stored as members (`storedMember`, asked of the store only
 * when the session has not joined: see needsStoredMembership).
 */
export function mayReadHistory(actor: Actor, room: string, storedMember: boolean): Verdict {
  if (isBackend(actor)) return scoped(actor, 'read');
  if (!hasJoined(actor, room) && !storedMember) return refuse(ErrorCode.Forbidden, `only members of ${room} may read its history`);
  return null;
}

/** Whether mayReadHistory needs to know if the user is a stored member (a store read). */
export function needsStoredMembership(actor: Actor, room: string): boolean {
  return !isBackend(actor) && !hasJoined(actor, room);
}

/** Read a direct conversation between two users, or who is online: the backend's `read` scope (a user reads its own DMs). */
export function mayReadDirect(actor: Actor): Verdict {
  return isBackend(actor) ? scoped(actor, 'read') : null;
}

/**
 * Download an uploaded file: the backend with `read`, or its uploader, or a member of a conversation where a
 * stored message refers to it (`shared`: the store answers both, for a user).
 */
export function mayReadFile(actor: Actor, shared: boolean): Verdict {
  if (isBackend(actor)) return scoped(actor, 'read');
  return shared ? null : refuse(ErrorCode.Forbidden, 'no such file');
}

/** Read the server's own figures (admin stats; /metrics when it asks for a key): the backend's `read` scope. */
export function mayObserve(actor: Actor): Verdict {
  return isBackend(actor) ? scoped(actor, 'read') : refuse(ErrorCode.Forbidden, "only the server API reads the server's figures");
}

/** Manage rooms and members, disconnect users, mint tokens; profile the process (debug). */
export function mayAdminister(actor: Actor): Verdict {
  return isBackend(actor) ? scoped(actor, 'admin') : refuse(ErrorCode.Forbidden, 'only the server API manages rooms and users');
}
