/**
 * The server API's endpoints: what each takes, what it answers, and what it
 * asks of the hub. Who may is decided by the access rules, the same ones the
 * WebSocket commands use (a `BackendActor` with the API key's scopes); the
 * hub's refusals become HTTP statuses here.
 */
import { SignJWT } from 'jose';
import type { z } from 'zod';
import type { BackendActor } from '../access/actor.js';
import { mayAdminister, mayReadDirect, maySendDirect } from '../access/rules.js';
import type { Hub } from '../hub/hub.js';
import { check } from '../hub/errors.js';
import { checkBody } from '../protocol/commands.js';
import { CloseCode } from '../protocol/codes.js';
import type { NoticePush } from '../protocol/pushes.js';
import { ApiError, type FileAnswer } from './http.js';
import * as S from './schemas.js';

export interface RouteContext<P, Q, B> {
  actor: BackendActor;
  params: P;
  query: Q;
  body: B;
}

export interface Route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Below /api/v1, with `{name}` segments. */
  path: string;
  summary: string;
  params: P;
  query: Q;
  body: B | null;
  /** The JSON answer's schema, or a file's content type (its `run` returns a `Download`). */
  response: z.ZodType | FileAnswer;
  run(ctx: RouteContext<z.infer<P>, z.infer<Q>, z.infer<B>>): unknown;
}

export interface ApiDeps {
  hub: Hub;
  now(): number;
  maxTextLength: number;
  maxBatch: number;
  tokenMaxTtlSeconds: number;
  /** Signs a client token, or null when the server has no key it may sign with (only a public key, or dev mode). */
  signToken: ((claims: Record<string, unknown>, ttlSeconds: number) => Promise<string>) | null;
}

const SYSTEM = 'System';

export function route<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(r: Route<P, Q, B>): Route {
  return r as unknown as Route;
}

function validBody(contentType: string, body: unknown, deps: ApiDeps): void {
  const problem = checkBody(contentType, body, deps.maxTextLength);
  if (problem) throw new ApiError(400, 'invalid_request', problem, 'body');
}

function notice(push: { text?: string | undefined; data?: unknown }, now: number): NoticePush {
  const n: NoticePush = { type: 'notice', from: SYSTEM, text: push.text ?? '', ts: now };
  if (push.data !== undefined) n.data = push.data;
  return n;
}

export function apiRoutes(deps: ApiDeps): Route[] {
  const { hub } = deps;
  return [
    route({
      method: 'POST',
      path: '/rooms/{room}/publish',
      summary: 'Publish a message to a room (any kind, push-only included), as System or a named user; answered after it is stored.',
      params: S.roomParam,
      query: S.noQuery,
      body: S.publishBody,
      response: S.ack,
      run: ({ actor, params, body }) => {
        validBody(body.contentType, body.body, deps);
        return hub.publishAs(actor, params.room, body.from ?? SYSTEM, body.contentType, body.body, body.key);
      },
    }),
    route({
      method: 'POST',
      path: '/publish/batch',
      summary: 'Publish many messages (to one or many rooms) in one request: stored in one commit, each answered in order.',
      params: S.noQuery,
      query: S.noQuery,
      body: S.batchBody,
      response: S.batchResult,
      run: async ({ actor, body }) => {
        // A key without the publish scope is refused as a whole, not message by message.
        check(maySendDirect(actor));
        if (body.messages.length > deps.maxBatch) throw new ApiError(400, 'invalid_request', `at most ${deps.maxBatch} messages in one batch (api.maxBatch)`, 'messages');
        // Every publish is handed to the store in this same turn: the committer writes them as one transaction.
        const pending = body.messages.map((m) => {
          try {
            validBody(m.contentType, m.body, deps);
            return Promise.resolve(hub.publishAs(actor, m.room, m.from ?? SYSTEM, m.contentType, m.body, m.key));
          } catch (err) {
            return Promise.reject(err);
          }
        });
        const settled = await Promise.allSettled(pending);
        return {
          results: settled.map((r) => {
            if (r.status === 'fulfilled') return { ok: true, ...r.value };
            const e = r.reason as { code?: unknown; message?: unknown };
            return { ok: false, code: typeof e.code === 'string' ? e.code : 'internal', message: typeof e.message === 'string' ? e.message : 'internal error' };
          }),
        };
      },
    }),
    route({
      method: 'POST',
      path: '/users/{user}/send',
      summary: 'Send a direct message to a user (every session), stored, from System or a named sender.',
      params: S.userParam,
      query: S.noQuery,
      body: S.sendBody,
      response: S.ack,
      run: ({ actor, params, body }) => {
        validBody(body.contentType, body.body, deps);
        return hub.directFrom(actor, body.from ?? SYSTEM, params.user, body.contentType, body.body, body.key);
      },
    }),
    route({
      method: 'POST',
      path: '/sessions/{session}/push',
      summary: 'Push a notice (text and/or data) to one session; ephemeral, never stored.',
      params: S.sessionParam,
      query: S.noQuery,
      body: S.noticeBody,
      response: S.countResult,
      run: ({ actor, params, body }) => {
        check(maySendDirect(actor));
        if (!hub.pushToSession(params.session, notice(body, deps.now()))) throw new ApiError(404, 'not_found', `no session ${params.session} on this server`, 'session');
        return { sessions: 1 };
      },
    }),
    route({
      method: 'POST',
      path: '/broadcast',
      summary: 'Push a notice to every connected session; ephemeral, never stored.',
      params: S.noQuery,
      query: S.noQuery,
      body: S.noticeBody,
      response: S.countResult,
      run: ({ actor, body }) => {
        check(maySendDirect(actor));
        return { sessions: hub.broadcast(notice(body, deps.now())) };
      },
    }),
    route({
      method: 'POST',
      path: '/users/{user}/disconnect',
      summary: `Close every session of a user (close code ${CloseCode.Disconnected}); with banSeconds, refuse its reconnects meanwhile.`,
      params: S.userParam,
      query: S.noQuery,
      body: S.disconnectUserBody,
      response: S.countResult,
      run: ({ actor, params, body }) => {
        check(mayAdminister(actor));
        if (body.banSeconds !== undefined) hub.ban(params.user, deps.now() + body.banSeconds * 1000);
        return { sessions: hub.disconnectUser(params.user, CloseCode.Disconnected, body.reason ?? 'disconnected by the server') };
      },
    }),
    route({
      method: 'POST',
      path: '/sessions/{session}/disconnect',
      summary: `Close one session (close code ${CloseCode.Disconnected}).`,
      params: S.sessionParam,
      query: S.noQuery,
      body: S.disconnectSessionBody,
      response: S.countResult,
      run: ({ actor, params, body }) => {
        check(mayAdminister(actor));
        if (!hub.disconnectSession(params.session, CloseCode.Disconnected, body.reason ?? 'disconnected by the server'))
          throw new ApiError(404, 'not_found', `no session ${params.session} on this server`, 'session');
        return { sessions: 1 };
      },
    }),
    route({
      method: 'GET',
      path: '/rooms/{room}/presence',
      summary: 'Who is in a room now, with how many sessions each.',
      params: S.roomParam,
      query: S.noQuery,
      body: null,
      response: S.presenceResult,
      run: ({ actor, params }) => hub.presence(actor, params.room),
    }),
    route({
      method: 'GET',
      path: '/users/{user}/presence',
      summary: 'Whether a user is online, and its sessions.',
      params: S.userParam,
      query: S.noQuery,
      body: null,
      response: S.userPresenceResult,
      run: ({ actor, params }) => {
        check(mayReadDirect(actor));
        const sessions = hub.sessionIdsOf(params.user).map((id) => ({ id }));
        return { user: params.user, online: sessions.length > 0, sessions };
      },
    }),
    route({
      method: 'GET',
      path: '/rooms/{room}/history',
      summary: 'Stored messages of a room, paged as the WebSocket `history` command pages them.',
      params: S.roomParam,
      query: S.historyQuery,
      body: null,
      response: S.historyResult,
      run: ({ actor, params, query }) => hub.history(actor, { room: params.room }, query),
    }),
    route({
      method: 'GET',
      path: '/users/{user}/direct/{other}/history',
      summary: 'Stored messages between two users, as `user` sees them, paged as `history`.',
      params: S.directParams,
      query: S.historyQuery,
      body: null,
      response: S.historyResult,
      run: ({ actor, params, query }) => hub.directHistory(actor, params.user, params.other, query),
    }),
    route({
      method: 'GET',
      path: '/rooms',
      summary: 'Rooms the server API manages, and rooms in use on this server, with their settings and counts.',
      params: S.noQuery,
      query: S.noQuery,
      body: null,
      response: S.roomsResult,
      run: ({ actor }) => ({ rooms: hub.admin.list(actor) }),
    }),
    route({
      method: 'POST',
      path: '/rooms',
      summary: 'Create a managed room: its kind, durability and retention win over the room rules.',
      params: S.noQuery,
      query: S.noQuery,
      body: S.createRoomBody,
      response: S.roomView,
      run: ({ actor, body }) => hub.admin.create(actor, body.name, body),
    }),
    route({
      method: 'GET',
      path: '/rooms/{room}',
      summary: "A room's effective settings (managed or from the room rules) and counts.",
      params: S.roomParam,
      query: S.noQuery,
      body: null,
      response: S.roomView,
      run: ({ actor, params }) => hub.admin.view(actor, params.room),
    }),
    route({
      method: 'PATCH',
      path: '/rooms/{room}',
      summary: "Change a managed room's settings; a new kind applies at once, durability once the room is empty.",
      params: S.roomParam,
      query: S.noQuery,
      body: S.updateRoomBody,
      response: S.roomView,
      run: ({ actor, params, body }) => hub.admin.update(actor, params.room, body),
    }),
    route({
      method: 'DELETE',
      path: '/rooms/{room}',
      summary: 'Delete a managed room and its member list: its sessions leave it (told with a `left` push); stored messages stay.',
      params: S.roomParam,
      query: S.noQuery,
      body: null,
      response: S.countResult,
      run: ({ actor, params }) => hub.admin.remove(actor, params.room),
    }),
    route({
      method: 'GET',
      path: '/rooms/{room}/members',
      summary: "A room's member list (who may join it when it is private, besides token grants).",
      params: S.roomParam,
      query: S.noQuery,
      body: null,
      response: S.membersResult,
      run: ({ actor, params }) => hub.admin.members(actor, params.room),
    }),
    route({
      method: 'POST',
      path: '/rooms/{room}/members',
      summary: "Add a user to a room's member list.",
      params: S.roomParam,
      query: S.noQuery,
      body: S.memberBody,
      response: S.addedResult,
      run: ({ actor, params, body }) => hub.admin.addMember(actor, params.room, body.user),
    }),
    route({
      method: 'DELETE',
      path: '/rooms/{room}/members/{user}',
      summary: "Take a user off a room's member list: its sessions leave the room at once (told with a `left` push).",
      params: S.memberParams,
      query: S.noQuery,
      body: null,
      response: S.removedResult,
      run: ({ actor, params }) => hub.admin.removeMember(actor, params.room, params.user),
    }),
    route({
      method: 'POST',
      path: '/tokens',
      summary: 'Mint a short-lived client token (JWT) for a user, with the private rooms it grants.',
      params: S.noQuery,
      query: S.noQuery,
      body: S.tokenBody,
      response: S.tokenResult,
      run: async ({ actor, body }) => {
        check(mayAdminister(actor));
        if (!deps.signToken) throw new ApiError(409, 'unavailable', 'this server verifies tokens with a public key (or dev identities) and cannot sign any: set auth.jwt.secret');
        const ttl = Math.min(body.ttlSeconds ?? deps.tokenMaxTtlSeconds, deps.tokenMaxTtlSeconds);
        const token = await deps.signToken({ sub: body.user, ...(body.rooms ? { rooms: body.rooms } : {}) }, ttl);
        return { token, expiresAt: Math.floor(deps.now() / 1000) + ttl };
      },
    }),
  ];
}

/** A signer for HS* tokens with the server's own secret and claims settings, or null. */
export function tokenSigner(jwt: { secret?: string | undefined; algorithms?: string[] | undefined; issuer?: string | undefined; audience?: string | undefined; roomsClaim: string }, now: () => number): ApiDeps['signToken'] {
  if (!jwt.secret) return null;
  const key = new TextEncoder().encode(jwt.secret);
  const alg = jwt.algorithms?.find((a) => a.startsWith('HS')) ?? 'HS256';
  return async (claims, ttl) => {
    const { rooms, ...rest } = claims;
    const body: Record<string, unknown> = { ...rest };
    if (rooms !== undefined) body[jwt.roomsClaim] = rooms;
    const iat = Math.floor(now() / 1000);
    let t = new SignJWT(body).setProtectedHeader({ alg }).setIssuedAt(iat).setExpirationTime(iat + ttl);
    if (jwt.issuer) t = t.setIssuer(jwt.issuer);
    if (jwt.audience) t = t.setAudience(jwt.audience);
    return t.sign(key);
  };
}
