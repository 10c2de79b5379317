/**
 * What a line costs beyond the one token every line takes (docs/protocol.md, rate limits): a `sync` naming
 * conversations in a map takes one more for every SYNC_CONVERSATIONS_PER_MESSAGE of them. The server charges it
 * and the SDK paces by it.
 */
export const SYNC_CONVERSATIONS_PER_MESSAGE = 20;

export function extraCost(msg: { type?: unknown; since?: unknown }): number {
  if (msg.type !== 'sync' || typeof msg.since !== 'object' || msg.since === null) return 0;
  return Math.floor(Object.keys(msg.since).length / SYNC_CONVERSATIONS_PER_MESSAGE);
}
