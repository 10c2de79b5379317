/**
 * Close codes the SDK reports itself, for a connection that ended without a
 * close frame. RFC 6455 reserves them for that: no server sends them, so the
 * protocol's CloseCode (src/protocol/codes.ts: what a server closes with) does
 * not list them.
 */
export const LocalCloseCode = {
  /** Dropped without a close frame: a network failure, a failed handshake, `drop()`, or no connection at all. */
  Abnormal: 1006,
} as const;
