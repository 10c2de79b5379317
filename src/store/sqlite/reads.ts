/**
 * The reads that sessions wait on — history pages (a recovering join reads one per room), whether a user belongs
 * to a conversation, and the memberships behind the unread summary — as statements prepared on one connection.
 * The writer thread prepares them on its own connection; the event loop's read-only connection (reader.ts) on
 * another, so that the two answer alike.
 */
import type Database from 'better-sqlite3';
import type { HistoryPage, HistoryQuery, Membership, StoredMessage } from '../store.js';

interface Row {
  conv: string;
  seq: number;
  id: string;
  sender: string;
  content_type: string;
  body: string;
  ts: number;
  key: string | null;
}

export interface ReadQueries {
  history(h: HistoryQuery): HistoryPage;
  isMember(user: string, conv: string): boolean;
  memberships(users: readonly string[]): Map<string, Membership[]>;
}

const COLUMNS = 'conv, seq, id, sender, content_type, body, ts, key';

export function readQueries(db: Database.Database): ReadQueries {
  const q = {
    lastSeq: db.prepare<[string], { last_seq: number }>('SELECT last_seq FROM conversations WHERE id = ?'),
    oldest: db.prepare<[string], { seq: number | null }>('SELECT MIN(seq) AS seq FROM messages WHERE conv = ?'),
    before: db.prepare<[string, number, number], Row>(
      `SELECT * FROM (SELECT ${COLUMNS} FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
    ),
    after: db.prepare<[string, number, number], Row>(`SELECT ${COLUMNS} FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?`),
    isMember: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM members WHERE user = ? AND conv = ?'),
    memberships: db.prepare<[string], { user: string; conv: string; last_seq: number | null; read_seq: number }>(
      `SELECT m.user, m.conv, c.last_seq, m.read_seq FROM members m LEFT JOIN conversations c ON c.id = m.conv
       WHERE m.user IN (SELECT value FROM json_each(?)) ORDER BY m.user, m.conv`,
    ),
  };
  // One read transaction for a page and the numbers around it: a commit between the statements would otherwise
  // give a page whose lastSeq is past its last message, or below it.
  const history = db.transaction((h: HistoryQuery): HistoryPage => {
    const rows =
      h.after !== undefined ? q.after.all(h.conv, h.after, h.limit) : q.before.all(h.conv, h.before ?? Number.MAX_SAFE_INTEGER, h.limit);
    return { messages: rows.map(toMessage), oldestSeq: q.oldest.get(h.conv)?.seq ?? 0, lastSeq: q.lastSeq.get(h.conv)?.last_seq ?? 0 };
  });
  return {
    history: (h) => history(h),
    isMember: (user, conv) => q.isMember.get(user, conv) !== undefined,
    memberships(users) {
      const out = new Map<string, Membership[]>();
      for (const r of q.memberships.all(JSON.stringify(users))) {
        let list = out.get(r.user);
        if (!list) out.set(r.user, (list = []));
        list.push({ conv: r.conv, lastSeq: r.last_seq ?? 0, readSeq: r.read_seq });
      }
      return out;
    },
  };
}

function toMessage(r: Row): StoredMessage {
  return { id: r.id, conv: r.conv, seq: r.seq, from: r.sender, contentType: r.content_type, body: r.body, ts: r.ts, key: r.key };
}
