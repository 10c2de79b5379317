/**
 * Who asks. Every "may this actor…" question is about one of two actors: a
 * user (a session's identity with the private rooms its token grants, and the
 * rooms it has joined), or the app's backend calling the server API with an
 * API key, which may do what the key's scopes allow.
 */

export interface UserActor {
  readonly user: string;
  /** Private rooms (names or `prefix*`) the user's credential grants. */
  readonly grants: readonly string[];
  /** Rooms the session asking has joined (none for a user acting outside a session). */
  readonly rooms?: ReadonlySet<string>;
}

/** What an API key may do: publish and send (`publish`), read presence and history (`read`), manage (`admin`). */
export type Scope = 'publish' | 'read' | 'admin';

export interface BackendActor {
  /** The API key's name (never the key itself), for logs. */
  readonly backend: string;
  readonly scopes: readonly Scope[];
}

export type Actor = UserActor | BackendActor;

export function isBackend(actor: Actor): actor is BackendActor {
  return 'backend' in actor;
}

/** Whether a user actor's session has joined the room. */
export function hasJoined(actor: UserActor, room: string): boolean {
  return actor.rooms?.has(room) ?? false;
}
