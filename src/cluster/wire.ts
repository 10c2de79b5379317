/**
 * What nodes say to each other over the broker, and the channels they say it on. One JSON text per envelope: a
 * room message is encoded once by its node and crosses the broker once per node with members in the room, inside
 * that node's batch of the turn; each receiving node decodes it once and encodes it once per codec its members
 * speak.
 *
 * Channels (the broker adds its prefix): `n.<node>` for one node (its batches of room pushes and watch answers, a
 * push to one of its sessions, presence snapshots); `u.<user>` for a user's direct messages, typing and signals,
 * subscribed by nodes with a session of the user; `all` for broadcasts, controls, presence changes and which
 * rooms each node wants, subscribed by every node.
 */
import type { ControlOp } from '../hub/cluster.js';
import type { MessagePush, ServerPush } from '../protocol/pushes.js';
import type { PresenceDelta, PresenceSnapshot } from './presence-state.js';

export type Envelope =
  /** A room's push; `n`: the node that sent it (every envelope carries it; a node ignores its own). */
  | { t: 'room'; n: string; r: string; p: ServerPush }
  /** A direct message for the sessions of user `u` (conversation `c`, seq `s`). */
  | { t: 'dm'; n: string; u: string; c: string; s: number; p: MessagePush }
  /** A push for user `u`'s sessions, or only its session `x`. */
  | { t: 'user'; n: string; u: string; x?: string; p: ServerPush }
  | { t: 'sess'; n: string; x: string; p: ServerPush }
  | { t: 'all'; n: string; p: ServerPush }
  | { t: 'ctl'; n: string; o: ControlOp }
  /** This node's presence changes since its last delta. */
  | { t: 'pd'; n: string; d: PresenceDelta }
  /** Alive, at presence version `v`. */
  | { t: 'hb'; n: string; v: number }
  /**
   * Started, or back after losing the broker (`b`): every node answers with a snapshot, and on `b` reads what
   * its durable conversations may have missed (what the returning node stored while cut off never crossed).
   */
  | { t: 'hello'; n: string; b?: 1 }
  /** Stopping: its sessions are gone. */
  | { t: 'bye'; n: string }
  /** Send me your snapshot (I missed a delta of yours). */
  | { t: 'want'; n: string }
  | { t: 'snap'; n: string; s: PresenceSnapshot }
  /** Node `n` wants room `r`'s pushes from now on (room-routes.ts), its change number `v`; every node answers `wk`. */
  | { t: 'w'; n: string; r: string; v: number }
  /** In a batch to the watcher: this node sends it room `r`'s pushes from here on. */
  | { t: 'wk'; n: string; r: string }
  /** Node `n` no longer wants room `r` (its change number `v`). */
  | { t: 'uw'; n: string; r: string; v: number }
  /** Every room node `n` wants as of its change number `v`, replacing what the receiver held. */
  | { t: 'ws'; n: string; rooms: string[]; v: number }
  /** One turn's envelopes for the receiving node, in order (node-batches.ts); never nested. */
  | { t: 'b'; n: string; e: Envelope[] };

export const ALL = 'all';
export const userChannel = (user: string): string => `u.${user}`;
export const nodeChannel = (node: string): string => `n.${node}`;

/** Envelopes are built with `n` first (JSON keeps the order), so that a node knows its own from the first bytes. */
export function encodeEnvelope(e: Envelope): Buffer {
  return Buffer.from(JSON.stringify(e));
}

/**
 * Recognises this node's own envelopes without parsing them: a node hears its own publishes on the channels it
 * shares with other nodes (`all`; `u.<user>` when the user has a session here too), and parsing each only to drop
 * it would cost as much as a message from elsewhere.
 */
export function ownEnvelopes(node: string): (bytes: Buffer) => boolean {
  const prefix = Buffer.from(`{"n":${JSON.stringify(node)},`);
  return (bytes) => bytes.length > prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

const KINDS = new Set(['room', 'dm', 'user', 'sess', 'all', 'ctl', 'pd', 'hb', 'hello', 'bye', 'want', 'snap', 'w', 'wk', 'uw', 'ws', 'b']);

/**
 * The envelope in `bytes`, or null if it is not one. Nodes trust each other (they share the broker and its
 * credentials), so only the shape every handler relies on is checked: something else on a shared broker, or a
 * node of another version, must not take a node down.
 */
export function decodeEnvelope(bytes: Buffer): Envelope | null {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  return checkEnvelope(v, true);
}

function checkEnvelope(v: unknown, outer: boolean): Envelope | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  if (typeof e['t'] !== 'string' || !KINDS.has(e['t']) || typeof e['n'] !== 'string') return null;
  const p = e['p'];
  if (p !== undefined && (typeof p !== 'object' || p === null || typeof (p as { type?: unknown }).type !== 'string')) return null;
  switch (e['t']) {
    case 'room':
      return typeof e['r'] === 'string' && p !== undefined ? (v as Envelope) : null;
    case 'wk':
      return typeof e['r'] === 'string' ? (v as Envelope) : null;
    case 'w':
    case 'uw':
      return typeof e['r'] === 'string' && typeof e['v'] === 'number' ? (v as Envelope) : null;
    case 'ws':
      return Array.isArray(e['rooms']) && (e['rooms'] as unknown[]).every((r) => typeof r === 'string') && typeof e['v'] === 'number' ? (v as Envelope) : null;
    case 'b': {
      // A part that is not an envelope is left out; the rest still apply.
      if (!outer || !Array.isArray(e['e'])) return null;
      const parts: Envelope[] = [];
      for (const part of e['e'] as unknown[]) {
        const ok = checkEnvelope(part, false);
        if (ok !== null) parts.push(ok);
      }
      return { t: 'b', n: e['n'] as string, e: parts };
    }
    case 'dm':
      return typeof e['u'] === 'string' && typeof e['c'] === 'string' && typeof e['s'] === 'number' && p !== undefined ? (v as Envelope) : null;
    case 'user':
      return typeof e['u'] === 'string' && p !== undefined ? (v as Envelope) : null;
    case 'sess':
      return typeof e['x'] === 'string' && p !== undefined ? (v as Envelope) : null;
    case 'all':
      return p !== undefined ? (v as Envelope) : null;
    case 'ctl':
      return typeof e['o'] === 'object' && e['o'] !== null ? (v as Envelope) : null;
    case 'pd':
      return typeof e['d'] === 'object' && e['d'] !== null && Array.isArray((e['d'] as { ops?: unknown }).ops) ? (v as Envelope) : null;
    case 'hb':
      return typeof e['v'] === 'number' ? (v as Envelope) : null;
    case 'snap':
      return typeof e['s'] === 'object' && e['s'] !== null ? (v as Envelope) : null;
    default:
      return v as Envelope;
  }
}
