/**
 * The access rules as tables: for each rule, rows of (actor, arguments) and
 * the verdict — null (allowed) or the refusal, with the exact message clients
 * are shown today.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasJoined, isBackend, type Actor, type BackendActor, type UserActor } from '../../src/access/actor.js';
import {
  mayAdminister,
  mayJoin,
  mayPublish,
  mayReadFile,
  mayReadHistory,
  maySeePresence,
  maySendDirect,
  mayType,
  needsStoredMembership,
  type Verdict,
} from '../../src/access/rules.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { RoomKind } from '../../src/protocol/replies.js';

// ── actors ──────────────────────────────────────────────────────────────────

/** A user with no grants, in no room. */
const nobody: UserActor = { user: 'nina', grants: [] };
/** A user whose token grants `private:team*`, in no room. */
const granted: UserActor = { user: 'gus', grants: ['private:team*'] };
/** A user whose session has joined rooms (one of them private, without a grant: e.g. revoked by a token refresh). */
const member: UserActor = { user: 'meg', grants: [], rooms: new Set(['general', 'push:news', 'private:ops']) };

const keyNone: BackendActor = { backend: 'none', scopes: [] };
const keyRead: BackendActor = { backend: 'reader', scopes: ['read'] };
const keyPublish: BackendActor = { backend: 'publisher', scopes: ['publish'] };
const keyAdmin: BackendActor = { backend: 'admin', scopes: ['admin'] };

const ACTORS: Record<string, Actor> = { nobody, granted, member, keyNone, keyRead, keyPublish, keyAdmin };
const BACKENDS: BackendActor[] = [keyNone, keyRead, keyPublish, keyAdmin];

function nameOf(actor: Actor): string {
  return Object.keys(ACTORS).find((k) => ACTORS[k] === actor)!;
}

const forbidden = (message: string): Verdict => ({ code: ErrorCode.Forbidden, message });
const notJoined = (message: string): Verdict => ({ code: ErrorCode.NotJoined, message });
const noScope = (scope: string): Verdict => forbidden(`this API key has no ${scope} scope`);

type Row<A extends unknown[]> = [actor: Actor, ...args: [...A, Verdict]];

/** Runs every row of a rule's table as its own test. */
function table<A extends unknown[]>(rule: string, fn: (actor: Actor, ...args: A) => Verdict, rows: Row<A>[]): void {
  describe(rule, () => {
    for (const row of rows) {
      const [actor, ...rest] = row;
      const args = rest.slice(0, -1) as A;
      const expected = rest.at(-1) as Verdict;
      const title = `${nameOf(actor)} ${JSON.stringify(args)} → ${expected ? `${expected.code}: ${expected.message}` : 'allowed'}`;
      it(title, () => {
        assert.deepEqual(fn(actor, ...args), expected);
      });
    }
  });
}

// ── the rules ───────────────────────────────────────────────────────────────

table<[string, RoomKind]>('mayJoin', mayJoin, [
  [nobody, 'general', 'public', null],
  [nobody, 'push:news', 'push', null],
  [nobody, 'private:team-a', 'private', forbidden('room private:team-a is private and your token does not grant it')],
  [granted, 'private:team-a', 'private', null],
  [granted, 'private:team', 'private', null],
  [granted, 'private:tea', 'private', forbidden('room private:tea is private and your token does not grant it')],
  [granted, 'private:other', 'private', forbidden('room private:other is private and your token does not grant it')],
  [granted, 'general', 'public', null],
  // Joining is decided by the grant, not by rooms already joined.
  [member, 'private:ops', 'private', forbidden('room private:ops is private and your token does not grant it')],
  [member, 'general', 'public', null],
  ...BACKENDS.map((k): Row<[string, RoomKind]> => [k, 'general', 'public', forbidden('the server API joins no rooms')]),
  [keyAdmin, 'private:team-a', 'private', forbidden('the server API joins no rooms')],
]);

table<[string, RoomKind]>('mayPublish', mayPublish, [
  [nobody, 'general', 'public', notJoined('join room general before publishing to it')],
  // The membership check comes first, even in a push-only room.
  [nobody, 'push:news', 'push', notJoined('join room push:news before publishing to it')],
  [granted, 'private:team-a', 'private', notJoined('join room private:team-a before publishing to it')],
  [member, 'general', 'public', null],
  [member, 'private:ops', 'private', null],
  [member, 'push:news', 'push', forbidden('room push:news is push-only: only the server API publishes to it')],
  [member, 'elsewhere', 'public', notJoined('join room elsewhere before publishing to it')],
  [keyNone, 'general', 'public', noScope('publish')],
  [keyRead, 'general', 'public', noScope('publish')],
  [keyPublish, 'general', 'public', null],
  [keyPublish, 'push:news', 'push', null],
  [keyPublish, 'private:team-a', 'private', null],
  [keyAdmin, 'push:news', 'push', null],
  [keyAdmin, 'general', 'public', null],
]);

table<[string, RoomKind]>('mayType', mayType, [
  [nobody, 'general', 'public', notJoined('not in room general')],
  [granted, 'private:team-a', 'private', notJoined('not in room private:team-a')],
  [member, 'general', 'public', null],
  [member, 'private:ops', 'private', null],
  [member, 'push:news', 'push', forbidden('room push:news is push-only')],
  [nobody, 'push:news', 'push', notJoined('not in room push:news')],
  ...BACKENDS.map((k): Row<[string, RoomKind]> => [k, 'general', 'public', forbidden('the server API does not type')]),
]);

table<[]>('maySendDirect', maySendDirect, [
  [nobody, null],
  [granted, null],
  [member, null],
  [keyNone, noScope('publish')],
  [keyRead, noScope('publish')],
  [keyPublish, null],
  [keyAdmin, null],
]);

table<[string, RoomKind]>('maySeePresence', maySeePresence, [
  [nobody, 'general', 'public', null],
  [nobody, 'push:news', 'push', null],
  [nobody, 'private:team-a', 'private', forbidden('room private:team-a is private')],
  [granted, 'private:team-a', 'private', null],
  [granted, 'private:other', 'private', forbidden('room private:other is private')],
  // A member sees the list of a private room it has joined, grant or not.
  [member, 'private:ops', 'private', null],
  [member, 'private:team-a', 'private', forbidden('room private:team-a is private')],
  [keyNone, 'general', 'public', noScope('read')],
  [keyPublish, 'general', 'public', noScope('read')],
  [keyRead, 'general', 'public', null],
  [keyRead, 'private:team-a', 'private', null],
  [keyAdmin, 'private:team-a', 'private', null],
]);

table<[string, boolean]>('mayReadHistory', mayReadHistory, [
  [nobody, 'general', false, forbidden('only members of general may read its history')],
  [nobody, 'general', true, null],
  // A grant is not membership.
  [granted, 'private:team-a', false, forbidden('only members of private:team-a may read its history')],
  [granted, 'private:team-a', true, null],
  [member, 'general', false, null],
  [member, 'private:ops', false, null],
  [member, 'elsewhere', false, forbidden('only members of elsewhere may read its history')],
  [member, 'elsewhere', true, null],
  // For the backend, stored membership means nothing: only the read scope does.
  [keyNone, 'general', true, noScope('read')],
  [keyPublish, 'general', true, noScope('read')],
  [keyRead, 'general', false, null],
  [keyAdmin, 'general', false, null],
]);

table<[boolean]>('mayReadFile', mayReadFile, [
  [nobody, true, null],
  [nobody, false, forbidden('no such file')],
  [granted, false, forbidden('no such file')],
  [member, false, forbidden('no such file')],
  [member, true, null],
  [keyNone, true, noScope('read')],
  [keyPublish, true, noScope('read')],
  [keyRead, false, null],
  [keyAdmin, false, null],
]);

table<[]>('mayAdminister', mayAdminister, [
  [nobody, forbidden('only the server API manages rooms and users')],
  [granted, forbidden('only the server API manages rooms and users')],
  [member, forbidden('only the server API manages rooms and users')],
  [keyNone, noScope('admin')],
  [keyRead, noScope('admin')],
  [keyPublish, noScope('admin')],
  [keyAdmin, null],
]);

describe('needsStoredMembership', () => {
  const rows: [Actor, string, boolean][] = [
    [nobody, 'general', true],
    [granted, 'private:team-a', true],
    [member, 'general', false],
    [member, 'private:ops', false],
    [member, 'elsewhere', true],
    ...BACKENDS.map((k): [Actor, string, boolean] => [k, 'general', false]),
  ];
  for (const [actor, room, expected] of rows) {
    it(`${nameOf(actor)} ${room} → ${expected}`, () => {
      assert.equal(needsStoredMembership(actor, room), expected);
    });
  }

  it('agrees with mayReadHistory: when it says no store read is needed, the stored answer does not matter', () => {
    for (const actor of Object.values(ACTORS))
      for (const room of ['general', 'private:ops', 'elsewhere']) {
        if (needsStoredMembership(actor, room)) continue;
        assert.deepEqual(mayReadHistory(actor, room, false), mayReadHistory(actor, room, true), `${nameOf(actor)} ${room}`);
      }
  });
});

describe('actors', () => {
  it('isBackend tells the backend from a user', () => {
    for (const k of BACKENDS) assert.equal(isBackend(k), true);
    for (const u of [nobody, granted, member]) assert.equal(isBackend(u), false);
  });

  it('hasJoined reads the rooms set; a user acting outside a session has joined nothing', () => {
    assert.equal(hasJoined(member, 'general'), true);
    assert.equal(hasJoined(member, 'elsewhere'), false);
    assert.equal(hasJoined(nobody, 'general'), false);
  });

  it('admin implies read and publish in every scoped rule, and only admin administers', () => {
    const scoped = [
      () => mayPublish(keyAdmin, 'general', 'public'),
      () => maySendDirect(keyAdmin),
      () => maySeePresence(keyAdmin, 'private:x', 'private'),
      () => mayReadHistory(keyAdmin, 'general', false),
      () => mayReadFile(keyAdmin, false),
      () => mayAdminister(keyAdmin),
    ];
    for (const rule of scoped) assert.equal(rule(), null, String(rule));
    // But read does not imply publish, nor publish read.
    assert.notEqual(mayPublish(keyRead, 'general', 'public'), null);
    assert.notEqual(maySeePresence(keyPublish, 'general', 'public'), null);
  });

  it('every refusal carries a code from the protocol', () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    const verdicts: Verdict[] = [];
    for (const actor of Object.values(ACTORS))
      for (const [room, kind] of [
        ['general', 'public'],
        ['push:news', 'push'],
        ['private:team-a', 'private'],
      ] as [string, RoomKind][]) {
        verdicts.push(mayJoin(actor, room, kind), mayPublish(actor, room, kind), mayType(actor, room, kind), maySeePresence(actor, room, kind));
        verdicts.push(mayReadHistory(actor, room, false), mayReadFile(actor, false), maySendDirect(actor), mayAdminister(actor));
      }
    for (const v of verdicts) if (v) assert.ok(codes.has(v.code), v.code);
    assert.ok(verdicts.some((v) => v !== null));
  });
});
