import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Message ids: sortable by creation time, unique across restarts and nodes
 * (a random node tag), and cheap (no crypto call per message).
 */
export function messageIdSource(now: () => number = Date.now): () => string {
  const node = randomBytes(4).toString('hex');
  let last = 0;
  let counter = 0;
  return () => {
    const t = now();
    if (t !== last) {
      last = t;
      counter = 0;
    }
    return `${t.toString(36)}-${node}-${(counter++).toString(36)}`;
  };
}

const ID_BYTES = 12;
/** Random bytes for session ids, drawn 256 ids at a time: one crypto call per connection cost more than the rest of the id. */
const pool = Buffer.allocUnsafe(ID_BYTES * 256);
let poolAt = pool.length;

export function sessionId(): string {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const id = pool.toString('base64url', poolAt, poolAt + ID_BYTES);
  poolAt += ID_BYTES;
  return id;
}
