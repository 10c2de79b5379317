/**
 * What nodes say to each other over the broker, and the channels they say it on. One JSON text per message:
 * a room message crosses the broker once per publishing node, whatever the number of nodes and members; each
 * receiving node decodes it once and encodes it once per codec its members speak.
 *
 * Channels (the broker adds its prefix): `r.<room>` for a room's pushes, subscribed by nodes with members in
 * it; `u.<user>` for a user's direct messages, typing and signals, subscribed by nodes with a session of the
 * user; `n.<node>` for one node (a push to one of its sessions, presence snapshots); `all` for broadcasts,
 * controls and presence changes, subscribed by every node.
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
  /** Sent by a node to itself on a room's channel: once it arrives, the subscription is in place. */
  | { t: 'ping'; n: string; r: string };

export const ALL = 'all';
export const roomChannel = (room: string): string => `r.${room}`;
export const userChannel = (user: string): string => `u.${user}`;
export const nodeChannel = (node: string): string => `n.${node}`;

/** Envelopes are built with `n` first (JSON keeps the order), so that a node knows its own from the first bytes. */
export function encodeEnvelope(e: Envelope): Buffer {
  return Buffer.from(JSON.stringify(e));
}

/**
 * Recognises this node's own envelopes without parsing them: a node hears its own publishes on every channel it
 * shares with other nodes (every room message it sends comes back), and parsing each only to drop it would cost
 * as much as a message from elsewhere. `own(bytes)` is its own envelope; `ownPing(bytes)` one of its room pings.
 */
export function ownEnvelopes(node: string): { own(bytes: Buffer): boolean; ownPing(bytes: Buffer): boolean } {
  const prefix = Buffer.from(`{"n":${JSON.stringify(node)},`);
  const ping = Buffer.from(`{"n":${JSON.stringify(node)},"t":"ping"`);
  const starts = (bytes: Buffer, head: Buffer): boolean => bytes.length > head.length && bytes.compare(head, 0, head.length, 0, head.length) === 0;
  return { own: (bytes) => starts(bytes, prefix), ownPing: (bytes) => starts(bytes, ping) };
}

const KINDS = new Set(['room', 'dm', 'user', 'sess', 'all', 'ctl', 'pd', 'hb', 'hello', 'bye', 'want', 'snap', 'ping']);

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
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  if (typeof e['t'] !== 'string' || !KINDS.has(e['t']) || typeof e['n'] !== 'string') return null;
  const p = e['p'];
  if (p !== undefined && (typeof p !== 'object' || p === null || typeof (p as { type?: unknown }).type !== 'string')) return null;
  switch (e['t']) {
    case 'room':
      return typeof e['r'] === 'string' && p !== undefined ? (v as Envelope) : null;
    case 'ping':
      return typeof e['r'] === 'string' ? (v as Envelope) : null;
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
