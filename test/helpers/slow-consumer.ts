import type { TestClient } from './client.js';

/**
 * Limits for a server that closes slow consumers early (a 64 KiB queue) and lets one publisher send as fast as it
 * can (no rate limit to speak of, frames of up to 1 MiB).
 */
export const SLOW_CONSUMER_LIMITS: readonly string[] = [
  '--limits.maxQueueBytes',
  '65536',
  // The publisher sends far faster than the default rate limit allows.
  '--limits.messagesPerSecond',
  '1000000',
  '--limits.burst',
  '1000000',
  '--limits.maxFrameBytes',
  String(1024 * 1024),
];

export interface PublishUntilOptions {
  /** The most messages it sends (so a broken server fails instead of hanging); 40,000 unless told. */
  max?: number;
  /** Whether every message carries a key (`m0`, `m1`, …); true unless told. */
  keys?: boolean;
}

/**
 * Publishes 2 kB messages to `room` in frames of 100 until `done()`, at most `max` of them, pacing itself on its own
 * copies. Returns how many it sent.
 */
export async function publishUntil(publisher: TestClient, room: string, done: () => boolean | Promise<boolean>, opts: PublishUntilOptions = {}): Promise<number> {
  const { max = 40_000, keys = true } = opts;
  const body = 'x'.repeat(2_000);
  const perFrame = 100;
  let sent = 0;
  while (!(await done()) && sent < max) {
    const batch = [];
    for (let i = 0; i < perFrame; i++) batch.push(keys ? { type: 'publish', room, body, key: `m${sent + i}` } : { type: 'publish', room, body });
    publisher.sendBatch(batch);
    sent += perFrame;
    // Wait for the publisher's own copy of the last one: paces the loop to what the server has accepted.
    await publisher.waitFor((m) => m.type === 'message' && m.room === room && m.seq === sent, 10_000);
  }
  return sent;
}
