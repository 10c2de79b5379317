/**
 * The PostgreSQL store. One connection, used by one call at a time in the
 * order the calls were made (the Store contract), and one more, opened on
 * first use, for retention. The room registry and the webhook queue are in
 * registry.ts, a base class that shares the ordered connection. A group
 * commit is one set-based statement (unnest arrays, append.ts) however many
 * messages it carries, in a transaction with the batch's joins, leaves and
 * read marks when it has any. Sequence numbers come from a row per
 * conversation that the commit bumps, so they stay gap-free when several
 * nodes share the database.
 */
import pg from 'pg';
import type { Appended, ConversationTrimRule, CountCursor, CountTrim, HistoryPage, HistoryQuery, Membership, Store, StoredMessage, Upload, UploadTrim, WriteBatch } from '../store.js';
import { planConversationTrim } from '../conversation-trim.js';
import { planCountTrim } from '../count-trim.js';
import { appendMessages, CAN_READ_UPLOAD, isPlainAppend, join, markRead } from './append.js';
import { PostgresRegistry } from './registry.js';
import { POSTGRES_MIGRATIONS } from './schema.js';
import { SerialConnection } from './serial-connection.js';

/**
 * A commit that lost a race with another node's is run again from the start, a few times: another node stored the
 * same idempotency key between our check and insert (the retry finds it), or PostgreSQL broke a lock cycle between
 * commits that touch rows in different orders (each lock order we know of is fixed; this is the backstop).
 */
const RETRY_COMMIT_ON = new Set(['23505', '40P01', '40001']);
const COMMIT_ATTEMPTS = 4;
interface MessageRow {
  conv: string;
  seq: string;
  id: string;
  sender: string;
  content_type: string;
  body: string;
  ts: string;
  key: string | null;
}

/** `db`, the ordered connection every call but retention's runs on, comes from PostgresRegistry. */
export class PostgresStore extends PostgresRegistry implements Store {
  readonly kind = 'postgres';
  /**
   * Retention's own connection. Its deletes take only old messages' rows, which a commit reads at most (a resend
   * whose key matches one of them), so commits do not queue behind its steps. A step that waits for a lock that
   * long fails instead, and so does a stuck one: a stopping server waits for the step under way.
   */
  private readonly trimDb: SerialConnection;

  constructor(url: string) {
    super(new SerialConnection(url));
    this.trimDb = new SerialConnection(url, { lock_timeout: 10_000, statement_timeout: 30_000 });
  }

  async open(): Promise<void> {
    await this.db.run(async (c) => {
      await c.query('SELECT pg_advisory_lock(hashtext($1))', ['switchboard_migrations']);
      try {
        await c.query('CREATE TABLE IF NOT EXISTS switchboard_migrations (version INT PRIMARY KEY)');
        const { rows } = await c.query<{ v: number | null }>('SELECT MAX(version) AS v FROM switchboard_migrations');
        for (let v = rows[0]?.v ?? 0; v < POSTGRES_MIGRATIONS.length; v++) {
          await c.query('BEGIN');
          await c.query(POSTGRES_MIGRATIONS[v]!);
          await c.query('INSERT INTO switchboard_migrations (version) VALUES ($1)', [v + 1]);
          await c.query('COMMIT');
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', ['switchboard_migrations']);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.db.close(), this.trimDb.close()]);
  }

  commit(batch: WriteBatch): Promise<Appended[]> {
    return this.db.run(async (c) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.commitOnce(c, batch);
        } catch (e) {
          if (attempt >= COMMIT_ATTEMPTS || !RETRY_COMMIT_ON.has((e as { code?: string }).code ?? '')) throw e;
        }
      }
    });
  }

  private async commitOnce(c: pg.Client, batch: WriteBatch): Promise<Appended[]> {
    // Its own transaction: a failed statement leaves nothing behind and needs no ROLLBACK.
    if (isPlainAppend(batch)) return batch.messages.length > 0 ? appendMessages(c, batch) : [];
    await c.query('BEGIN');
    try {
      if (batch.joins.length > 0) await join(c, batch.joins);
      const out = batch.messages.length > 0 ? await appendMessages(c, batch) : [];
      if (batch.leaves.length > 0)
        await c.query('DELETE FROM members m USING unnest($1::text[], $2::text[]) AS t(u, c) WHERE m."user" = t.u AND m.conv = t.c', [
          batch.leaves.map((l) => l.user),
          batch.leaves.map((l) => l.conv),
        ]);
      if (batch.reads.length > 0) await markRead(c, batch.reads);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }

  history(h: HistoryQuery): Promise<HistoryPage> {
    return this.db.run(async (c) => {
      // The last seq first, and no message past it: each statement sees its own snapshot, and a commit from another
      // node between the two would otherwise give a page that ends below its lastSeq (a join taking that lastSeq
      // would never get the message in between). Seqs are numbered in commit order, so every one up to it is there.
      const meta = await c.query<{ oldest: string | null; last: string | null }>(
        'SELECT (SELECT MIN(seq) FROM messages WHERE conv = $1) AS oldest, (SELECT last_seq FROM conversations WHERE id = $1) AS last',
        [h.conv],
      );
      const last = Number(meta.rows[0]?.last ?? 0);
      const cols = 'conv, seq, id, sender, content_type, body, ts, key';
      const { rows } =
        h.after !== undefined
          ? await c.query<MessageRow>(`SELECT ${cols} FROM messages WHERE conv = $1 AND seq > $2 AND seq <= $4 ORDER BY seq LIMIT $3`, [h.conv, h.after, h.limit, last])
          : await c.query<MessageRow>(
              `SELECT * FROM (SELECT ${cols} FROM messages WHERE conv = $1 AND seq < $2 AND seq <= $4 ORDER BY seq DESC LIMIT $3) t ORDER BY seq`,
              [h.conv, h.before ?? Number.MAX_SAFE_INTEGER, h.limit, last],
            );
      return { messages: rows.map(toMessage), oldestSeq: Number(meta.rows[0]?.oldest ?? 0), lastSeq: last };
    });
  }

  lastSeq(conv: string): Promise<number> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<{ last_seq: string }>('SELECT last_seq FROM conversations WHERE id = $1', [conv]);
      return Number(rows[0]?.last_seq ?? 0);
    });
  }

  isMember(user: string, conv: string): Promise<boolean> {
    return this.db.run(async (c) => (await c.query('SELECT 1 FROM members WHERE "user" = $1 AND conv = $2', [user, conv])).rowCount! > 0);
  }

  memberships(users: readonly string[]): Promise<Map<string, Membership[]>> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<{ user: string; conv: string; last_seq: string | null; read_seq: string }>(
        `SELECT m."user", m.conv, c.last_seq, m.read_seq FROM members m LEFT JOIN conversations c ON c.id = m.conv
         WHERE m."user" = ANY($1::text[]) ORDER BY m."user", m.conv`,
        [users],
      );
      const out = new Map<string, Membership[]>();
      for (const r of rows) {
        let list = out.get(r.user);
        if (!list) out.set(r.user, (list = []));
        list.push({ conv: r.conv, lastSeq: Number(r.last_seq ?? 0), readSeq: Number(r.read_seq) });
      }
      return out;
    });
  }

  members(conv: string): Promise<string[]> {
    return this.db.run(async (c) => (await c.query<{ user: string }>('SELECT "user" FROM members WHERE conv = $1 ORDER BY "user"', [conv])).rows.map((r) => r.user));
  }

  addUpload(u: Upload): Promise<void> {
    return this.db.run(async (c) => {
      await c.query('INSERT INTO uploads (id, owner, name, mime, size, ts) VALUES ($1, $2, $3, $4, $5, $6)', [u.id, u.owner, u.name, u.mime, u.size, u.ts]);
    });
  }

  getUpload(id: string): Promise<Upload | null> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<{ id: string; owner: string; name: string; mime: string; size: string; ts: string }>(
        'SELECT id, owner, name, mime, size, ts FROM uploads WHERE id = $1',
        [id],
      );
      const r = rows[0];
      return r ? { id: r.id, owner: r.owner, name: r.name, mime: r.mime, size: Number(r.size), ts: Number(r.ts) } : null;
    });
  }

  canReadUpload(id: string, user: string): Promise<boolean> {
    return this.db.run(async (c) => {
      const { rowCount } = await c.query(
        CAN_READ_UPLOAD,
        [id, user],
      );
      return rowCount! > 0;
    });
  }

  trimOlder(before: number, limit: number): Promise<number> {
    return this.trimDb.run((c) =>
      retentionTurn(c, async () => {
        const { rows } = await c.query<{ conv: string }>(
          'DELETE FROM messages WHERE (conv, seq) IN (SELECT conv, seq FROM messages WHERE ts < $1 ORDER BY ts LIMIT $2) RETURNING conv',
          [before, limit],
        );
        await pruneLinks(c, [...new Set(rows.map((r) => r.conv))]);
        return rows.length;
      }),
    );
  }

  trimUploads(before: number, limit: number): Promise<UploadTrim> {
    return this.trimDb.run((c) =>
      retentionTurn(c, async () => {
        // Locked first (skipping one a commit is linking right now: it holds the row FOR KEY SHARE), then looked at
        // by a statement of its own, whose snapshot has every link committed before the locks were taken; a commit
        // after that waits for this transaction and then finds the upload gone or in use.
        const { rows } = await c.query<{ id: string }>(
          'SELECT id FROM uploads WHERE unlinked AND ts < $1 ORDER BY ts LIMIT $2 FOR UPDATE SKIP LOCKED',
          [before, limit],
        );
        const ids = rows.map((r) => r.id);
        if (ids.length === 0) return { removed: [], more: false };
        const gone = await c.query<{ id: string }>(
          'DELETE FROM uploads u WHERE u.id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM upload_links l WHERE l.file = u.id) RETURNING id',
          [ids],
        );
        const removed = gone.rows.map((r) => r.id);
        const went = new Set(removed);
        const kept = ids.filter((id) => !went.has(id));
        if (kept.length > 0) await c.query('UPDATE uploads SET unlinked = false WHERE id = ANY($1::text[])', [kept]);
        return { removed, more: ids.length === limit };
      }),
    );
  }

  /**
   * A session-level advisory lock on the retention connection, held for the pass: every step of the pass runs on
   * that connection. Should the connection drop meanwhile, the lock goes with it and another node may start a
   * pass; the steps still take turns (retentionTurn), so the worst case is repeated work, as without a lease.
   */
  async retentionLease<T>(pass: () => Promise<T>): Promise<T | null> {
    const { rows } = await this.trimDb.run((c) => c.query<{ held: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS held', [RETENTION_LEASE]));
    if (!rows[0]?.held) return null;
    try {
      return await pass();
    } finally {
      // On a connection that replaced a dropped one the lock is not held: false, and a notice, nothing worse.
      await this.trimDb.run((c) => c.query('SELECT pg_advisory_unlock(hashtext($1))', [RETENTION_LEASE])).catch(() => {});
    }
  }

  trimToCount(keep: number, from: CountCursor, limit: number): Promise<CountTrim> {
    return this.trimDb.run((c) =>
      retentionTurn(c, async () => {
        const { rows } = await c.query<{ conv: string; last_seq: string; oldest: string | null }>(
          `SELECT c.id AS conv, c.last_seq, (SELECT MIN(seq) FROM messages m WHERE m.conv = c.id) AS oldest
           FROM conversations c WHERE c.id > $1 ORDER BY c.id LIMIT $2`,
          [from.after, limit],
        );
        const page = rows.map((r) => ({ conv: r.conv, lastSeq: Number(r.last_seq), oldest: r.oldest === null ? null : Number(r.oldest) }));
        const plan = planCountTrim(page, keep, limit, from);
        if (plan.convs.length === 0) return { removed: 0, next: plan.next };
        const { rowCount } = await c.query(
          'DELETE FROM messages m USING unnest($1::text[], $2::bigint[]) AS t(conv, up_to) WHERE m.conv = t.conv AND m.seq <= t.up_to',
          [plan.convs, plan.upTo],
        );
        await pruneLinks(c, plan.convs);
        return { removed: rowCount ?? 0, next: plan.next };
      }),
    );
  }

  trimConversation(conv: string, rule: ConversationTrimRule, limit: number): Promise<number> {
    return this.trimDb.run((c) =>
      retentionTurn(c, async () => {
        const last = await c.query<{ last_seq: string }>('SELECT last_seq FROM conversations WHERE id = $1', [conv]);
        if (last.rows.length === 0) return 0;
        const { rows } = await c.query<{ seq: string; ts: string }>('SELECT seq, ts FROM messages WHERE conv = $1 ORDER BY seq LIMIT $2', [conv, limit]);
        const oldest = rows.map((r) => ({ seq: Number(r.seq), ts: Number(r.ts) }));
        const upTo = planConversationTrim(Number(last.rows[0]!.last_seq), oldest, rule);
        if (upTo === null) return 0;
        const { rowCount } = await c.query('DELETE FROM messages WHERE conv = $1 AND seq <= $2', [conv, upTo]);
        await pruneLinks(c, [conv]);
        return rowCount ?? 0;
      }),
    );
  }
}

/** The lock a node holds for a whole retention pass (PostgresStore.retentionLease). */
const RETENTION_LEASE = 'switchboard_retention_pass';

/**
 * One retention step in a transaction that holds the retention lock: nodes sharing the database take turns,
 * since two of them deleting overlapping rows in different orders deadlock (seen with one trimming by age and
 * the other by count).
 */
async function retentionTurn<T>(c: pg.Client, step: () => Promise<T>): Promise<T> {
  await c.query('BEGIN');
  try {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['switchboard_retention']);
    const result = await step();
    await c.query('COMMIT');
    return result;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/**
 * After a step trimmed these conversations: drops their links with no message left up to the last one that
 * referred to the file (what is left of a conversation after retention starts above that), and marks the uploads
 * that lost their last link for a look.
 *
 * Concurrent commits: the cut is also bounded by the conversation's last seq as this statement sees it, so a
 * link that a commit moved on meanwhile (to a message this snapshot does not have) stays when the lock wait ends
 * and the row is checked again. Link rows are locked in (file, conv) order, the order commits upsert them in, so
 * the two cannot deadlock. The mark is a plain update, which a commit's FOR KEY SHARE on the upload does not
 * block; marking an upload that turns out to be in use costs one look.
 */
async function pruneLinks(c: pg.Client, convs: readonly string[]): Promise<void> {
  if (convs.length === 0) return;
  const { rows } = await c.query<{ file: string }>(
    `DELETE FROM upload_links d WHERE (d.file, d.conv) IN (
       SELECT l.file, l.conv FROM upload_links l
         JOIN (SELECT cv.id, LEAST(cv.last_seq + 1, COALESCE((SELECT MIN(seq) FROM messages m WHERE m.conv = cv.id), 9223372036854775807)) AS below
                 FROM conversations cv WHERE cv.id = ANY($1::text[])) t ON l.conv = t.id
       WHERE l.last_seq < t.below
       ORDER BY l.file, l.conv FOR UPDATE OF l
     ) RETURNING d.file`,
    [convs],
  );
  if (rows.length === 0) return;
  await c.query(
    `UPDATE uploads u SET unlinked = true
     WHERE u.id = ANY($1::text[]) AND NOT u.unlinked AND NOT EXISTS (SELECT 1 FROM upload_links l WHERE l.file = u.id)`,
    [[...new Set(rows.map((r) => r.file))]],
  );
}

function toMessage(r: MessageRow): StoredMessage {
  return { id: r.id, conv: r.conv, seq: Number(r.seq), from: r.sender, contentType: r.content_type, body: r.body, ts: Number(r.ts), key: r.key };
}
