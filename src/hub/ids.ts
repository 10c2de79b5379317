import { randomBytes } from 'node:crypto';

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

export function sessionId(): string {
  return randomBytes(12).toString('base64url');
}
