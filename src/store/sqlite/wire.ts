/**
 * How a write batch crosses to the SQLite worker and how its results come
 * back. postMessage clones its argument; cloning a batch of a few hundred
 * small objects field by field cost the event loop more than the rest of a
 * publish, while cloning one string is a copy. So a batch travels as one
 * JSON text of flat arrays, and the answer as an array of numbers.
 */
import type { Appended, WriteBatch } from '../store.js';

/** Fields per message in PackedBatch.messages. */
export const MESSAGE_FIELDS = 8;

/** [joins: user, conv, …] [messages: id, conv, from, contentType, body, ts, key, fileId, …] [leaves: user, conv, …] [reads: user, conv, seq, …] */
export type PackedBatch = [string[], (string | number | null)[], string[], (string | number)[]];

export function packBatch(b: WriteBatch): string {
  const joins: string[] = [];
  for (const j of b.joins) joins.push(j.user, j.conv);
  const messages: (string | number | null)[] = [];
  for (const m of b.messages) messages.push(m.id, m.conv, m.from, m.contentType, m.body, m.ts, m.key, m.fileId);
  const leaves: string[] = [];
  for (const l of b.leaves) leaves.push(l.user, l.conv);
  const reads: (string | number)[] = [];
  for (const r of b.reads) reads.push(r.user, r.conv, r.seq);
  return JSON.stringify([joins, messages, leaves, reads] satisfies PackedBatch);
}

/**
 * Per message, in order: its seq when stored; REFUSED; or DUPLICATE followed
 * by the original's seq, ts and index into `ids` (the original's id).
 */
export interface PackedResults {
  codes: number[];
  ids: string[];
}

export const REFUSED = -1;
export const DUPLICATE = -2;

export function unpackResults(b: WriteBatch, r: PackedResults): Appended[] {
  const out: Appended[] = new Array(b.messages.length);
  let k = 0;
  for (let i = 0; i < b.messages.length; i++) {
    const m = b.messages[i]!;
    const code = r.codes[k++]!;
    if (code === REFUSED) out[i] = { seq: 0, id: m.id, ts: m.ts, duplicate: false, refused: true };
    else if (code === DUPLICATE) {
      const seq = r.codes[k++]!;
      const ts = r.codes[k++]!;
      out[i] = { seq, id: r.ids[r.codes[k++]!]!, ts, duplicate: true };
    } else out[i] = { seq: code, id: m.id, ts: m.ts, duplicate: false };
  }
  return out;
}
