/** What the hub needs from a connected session: a recipient of the fan-out, and a user actor. */
import type { Recipient } from '../fanout/recipient.js';

export interface HubSession extends Recipient {
  /** Private rooms (names or `prefix*`) this session's credential grants. */
  grants: readonly string[];
  /** Rooms this session has joined. Owned by the hub; the transport only reads it. */
  readonly rooms: Set<string>;
}
