/**
 * Retention's steps on the SQLite store (store/retention.ts decides when and
 * how far): each is one transaction on the writer's connection, bounded by
 * its limit. Messages are in two places, `messages` and the message log
 * (message-log.ts); the steps remove from both, and a file's links go with
 * the last message left that referred to it.
 */
import type { Database } from 'better-sqlite3';
import { planCountTrim, type CountCandidate } from '../count-trim.js';
import type { CountCursor, CountTrim, UploadTrim } from '../store.js';
import { loggedTransaction, type MessageLog } from './message-log.js';

export interface RetentionSteps {
  /** Removes up to `limit` of the oldest messages sent before `before`; returns how many went. */
  trimOlder(before: number, limit: number): number;
  /** Trims conversations from the cursor on to their newest `keep` messages, up to `limit` conversations. */
  trimToCount(keep: number, from: CountCursor, limit: number): CountTrim;
  /** Removes the records of up to `limit` uploads made before `before` that no message refers to. */
  trimUploads(before: number, limit: number): UploadTrim;
}

export function retentionSteps(db: Database, log: MessageLog): RetentionSteps {
  const q = {
    // After a step trimmed a conversation: its links with no message left up to the last one that referred to the
    // file (what is left of a conversation after retention starts above that, in messages or else in the log).
    pruneLinks: db.prepare<{ conv: string }, { file: string }>(
      `DELETE FROM upload_links WHERE conv = @conv
         AND last_seq < COALESCE((SELECT MIN(seq) FROM messages WHERE conv = @conv),
                                 CASE WHEN log_has(@conv) THEN
                                   (SELECT MIN(seq) FROM message_log WHERE bucket = log_bucket(@conv) AND conv = @conv) END,
                                 9223372036854775807) RETURNING file`,
    ),
    flagUnlinked: db.prepare<{ file: string }>(
      'UPDATE uploads SET unlinked = 1 WHERE id = @file AND NOT EXISTS (SELECT 1 FROM upload_links WHERE file = @file)',
    ),
    maybeUnused: db.prepare<[number, number], { id: string }>('SELECT id FROM uploads WHERE unlinked = 1 AND ts < ? ORDER BY ts LIMIT ?'),
    linked: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM upload_links WHERE file = ? LIMIT 1'),
    inUse: db.prepare<[string]>('UPDATE uploads SET unlinked = 0 WHERE id = ?'),
    removeUpload: db.prepare<[string]>('DELETE FROM uploads WHERE id = ?'),
    newest: db.prepare<[string], { seq: number | null }>('SELECT MAX(seq) AS seq FROM messages WHERE conv = ?'),
    older: db.prepare<[number, number], { conv: string; seq: number; ts: number }>('SELECT conv, seq, ts FROM messages WHERE ts < ? ORDER BY ts LIMIT ?'),
    removeOne: db.prepare<[string, number]>('DELETE FROM messages WHERE conv = ? AND seq = ?'),
    countPage: db.prepare<[string, number], CountCandidate>(
      `SELECT c.id AS conv, c.last_seq AS lastSeq,
         COALESCE((SELECT MIN(seq) FROM messages m WHERE m.conv = c.id),
                  CASE WHEN log_has(c.id) THEN
                    (SELECT MIN(seq) FROM message_log l WHERE l.bucket = log_bucket(c.id) AND l.conv = c.id) END) AS oldest
       FROM conversations c WHERE c.id > ? ORDER BY c.id LIMIT ?`,
    ),
    trimConv: db.prepare<[string, number]>('DELETE FROM messages WHERE conv = ? AND seq <= ?'),
  };

  const trimToCount = loggedTransaction(db, log, (keep: number, from: CountCursor, limit: number): CountTrim => {
    const plan = planCountTrim(q.countPage.all(from.after, limit), keep, limit, from);
    let removed = 0;
    for (let i = 0; i < plan.convs.length; i++) {
      const conv = plan.convs[i]!;
      const upTo = plan.upTo[i]!;
      const newestFolded = q.newest.get(conv)?.seq ?? null;
      removed += q.trimConv.run(conv, upTo).changes + log.trimConv(conv, upTo, newestFolded);
      pruneLinks(conv);
    }
    return { removed, next: plan.next };
  });

  function pruneLinks(conv: string): void {
    for (const { file } of q.pruneLinks.all({ conv })) q.flagUnlinked.run({ file });
  }

  // The `limit` oldest messages sent before `before`, wherever they are: a bucket still in the log can hold older
  // ones than a bucket folded before it.
  const trimOlder = loggedTransaction(db, log, (before: number, limit: number): number => {
    const folded = q.older.all(before, limit);
    const logged = log.older(before, limit);
    const convs = new Set<string>();
    let i = 0;
    let j = 0;
    while (i + j < limit && (i < folded.length || j < logged.length)) {
      if (j >= logged.length || (i < folded.length && folded[i]!.ts <= logged[j]!.ts)) {
        const m = folded[i++]!;
        q.removeOne.run(m.conv, m.seq);
        convs.add(m.conv);
      } else {
        const m = logged[j++]!;
        log.remove(m);
        convs.add(m.conv);
      }
    }
    for (const conv of convs) pruneLinks(conv);
    return i + j;
  });

  const trimUploads = db.transaction((before: number, limit: number): UploadTrim => {
    const candidates = q.maybeUnused.all(before, limit);
    const removed: string[] = [];
    for (const { id } of candidates) {
      if (q.linked.get(id)) q.inUse.run(id);
      else {
        q.removeUpload.run(id);
        removed.push(id);
      }
    }
    return { removed, more: candidates.length === limit };
  });

  return { trimOlder, trimToCount, trimUploads };
}
