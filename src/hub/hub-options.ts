/** What a Hub is built with: its collaborators (store, fan-out, cluster, events) and its limits. */
import type { FanOut } from '../fanout/fanout.js';
import type { DeliveryCounters, LocalFanoutOptions } from '../fanout/local-fanout.js';
import type { RoomKind } from '../protocol/replies.js';
import type { ClusterPort } from './cluster.js';
import type { HubEvents } from './events.js';
import type { Persistence, RoomRegistry } from './persistence.js';
import type { HubSession } from './session.js';

export interface RoomRule {
  match: string;
  kind: RoomKind;
  durable?: boolean;
}

export interface HubOptions {
  /** The outbound layer's flush epoch (the default fan-out's turns). */
  tick: LocalFanoutOptions['tick'];
  now: () => number;
  nextId: () => string;
  roomRules: readonly RoomRule[];
  /** Where the rooms the backend manages are kept (the store); without it they cannot be managed. */
  registry?: RoomRegistry | null;
  /** Told of online/offline, joins and leaves, messages and disconnects (webhooks). */
  events?: HubEvents;
  /** Delivery; by default a LocalFanout on `tick` (a broker wraps one to reach other nodes). */
  fanout?: FanOut<HubSession>;
  /** The default fan-out's delivery counts (metrics). */
  deliveries?: DeliveryCounters;
  /** Where durable conversations are stored; without it every conversation is ephemeral. */
  persistence?: Persistence | null;
  /** Most missed messages replayed by a recovering join or sync (default 1000). */
  recoveryLimit?: number;
  /** Largest history page (default 200). */
  historyMaxLimit?: number;
  /** Last messages each stored room keeps in memory, so that a recovering join that missed only those needs no store read (default 32; 0: none). */
  recentPerRoom?: number;
  /** Most characters of text bodies those messages may hold per room (default 64 Ki); other bodies are not kept. */
  recentCharsPerRoom?: number;
  /** The store's retention (store.retention): what it may have removed is not replayed from memory either. */
  retention?: { maxCount?: number | undefined; maxAgeMs?: number | undefined };
  /** Most direct messages held for a recovering session before it is closed as a slow consumer (default 10000). */
  maxHeld?: number;
  /** Most bytes of them (default 4 MiB, a session's outbound queue limit). */
  maxHeldBytes?: number;
  /**
   * Most bytes a recovering join, or one sync, replays (default 1 MiB): what is missed beyond it is left to the
   * client to page from history, at its own pace, rather than sent in one write a session could not keep up with.
   */
  recoveryMaxBytes?: number;
  presenceEvents: boolean;
  /** The other nodes of a cluster (src/cluster/); without it this hub is the whole server. */
  cluster?: ClusterPort | null;
  /** How long a durable message past a gap waits for the missing ones before they are read from the store (default 50). */
  gapWaitMs?: number;
  /** Runs `fn` after `ms`: the sequencer's waits (default setTimeout, unref'd). */
  defer?: (fn: () => void, ms: number) => void;
  roomsPerSession: number;
  sessionPolicy: 'multiple' | 'replace';
  maxSessionsPerUser: number;
}

