import type { RoomKind } from '../config/schema.js';
import type { HubSession } from './session.js';
import type { SharedBatch } from '../outbound/shared-batch.js';

export class Room {
  readonly members = new Set<HubSession>();
  /** user → how many of that user's sessions are in the room. */
  readonly presence = new Map<string, number>();
  /** Last sequence number of a non-durable room (durable ones: the store numbers them). */
  seq = 0;
  /** The batch this turn's messages go into, or a stale one from an earlier turn. */
  batch: SharedBatch | null = null;

  constructor(
    readonly name: string,
    readonly kind: RoomKind,
    /** Messages go through the store before anyone receives them. */
    readonly durable: boolean,
  ) {}
}
