/**
 * The PostgreSQL store's write path: appending messages, joins and read marks.
 *
 * A batch of messages is one statement (data-modifying CTEs): the stored-key
 * lookup, the conversations' seq bump, the insert and the senders' read marks
 * in one round trip. A batch with nothing else in it runs as that statement
 * alone, in its own implicit transaction (committed, and synced to disk with
 * synchronous_commit on, before the reply), so that a commit costs one round
 * trip rather than five: BEGIN, three statements and COMMIT each woke the
 * backend and the event loop once, and at fp's shape the commit's turns, not
 * the disk, were what a publish waited for.
 */
import type pg from 'pg';
import type { Appended, MemberRef, NewMessage, ReadMark, WriteBatch } from '../store.js';

/** The uploader, or a member of a conversation that refers to the file. */
export const CAN_READ_UPLOAD = `SELECT 1 FROM uploads u WHERE u.id = $1 AND (u.owner = $2 OR EXISTS (
  SELECT 1 FROM upload_links l JOIN members m ON m.conv = l.conv WHERE l.file = u.id AND m."user" = $2))`;

/**
 * The append statement. `t` is the batch in submission order (ord); `dup`, only when some message has a key,
 * finds the keys stored earlier (the join on key skips unkeyed rows; without keys it is left out so that the
 * planner never weighs a join against the whole messages table). Conversations are bumped in id order, the lock
 * order every node uses; each message's seq is its conversation's new last_seq less what follows it in the batch.
 * Every CTE sees the snapshot the statement began with: the read marks are computed from `s`, not re-read.
 */
function appendSql(keyed: boolean): string {
  const dup = keyed
    ? `dup AS (SELECT t.ord, m.seq, m.id, m.ts FROM t JOIN messages m ON m.conv = t.conv AND m.sender = t.sender AND m.key = t.key),
       fresh AS (SELECT * FROM t WHERE NOT EXISTS (SELECT 1 FROM dup WHERE dup.ord = t.ord)),`
    : 'fresh AS (SELECT * FROM t),';
  return `WITH t AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
        WITH ORDINALITY AS x(conv, id, sender, content_type, body, ts, key, ord)
    ), ${dup}
    n AS (SELECT conv, count(*) AS k FROM fresh GROUP BY conv),
    cv AS (
      INSERT INTO conversations (id, last_seq) SELECT conv, k FROM n ORDER BY conv
      ON CONFLICT (id) DO UPDATE SET last_seq = conversations.last_seq + EXCLUDED.last_seq RETURNING id, last_seq
    ),
    s AS (
      SELECT f.*, cv.last_seq - n.k + row_number() OVER (PARTITION BY f.conv ORDER BY f.ord) AS seq
        FROM fresh f JOIN n ON n.conv = f.conv JOIN cv ON cv.id = f.conv
    ),
    ins AS (
      INSERT INTO messages (conv, seq, id, sender, content_type, body, ts, key)
        SELECT conv, seq, id, sender, content_type, body, ts, key FROM s
    ),
    rd AS (
      UPDATE members m SET read_seq = x.seq FROM (SELECT sender, conv, MAX(seq) AS seq FROM s GROUP BY sender, conv) x
        WHERE m."user" = x.sender AND m.conv = x.conv AND m.read_seq < x.seq
    )
    SELECT ord, seq, NULL AS id, NULL AS ts FROM s${keyed ? ' UNION ALL SELECT ord, seq, id, ts FROM dup' : ''}`;
}

/** Prepared once per connection (named), so that PostgreSQL parses the statement once rather than per commit. */
const APPEND = { plain: { name: 'switchboard_append', text: appendSql(false) }, keyed: { name: 'switchboard_append_keyed', text: appendSql(true) } };

interface AppendRow {
  ord: string;
  seq: string;
  id: string | null;
  ts: string | null;
}

/** Nothing but messages that refer to no file: the append statement is the whole transaction. */
export function isPlainAppend(batch: WriteBatch): boolean {
  return batch.joins.length === 0 && batch.leaves.length === 0 && batch.reads.length === 0 && batch.messages.every((m) => m.fileId === null);
}

/**
 * Rows are inserted in (user, conv) order, the same on every node: a direct message joins both users, sender first,
 * and two nodes' first commits of one conversation inserting the pair in opposite orders deadlocked.
 */
export async function join(c: pg.Client, joins: MemberRef[]): Promise<void> {
  await c.query(
    `INSERT INTO members ("user", conv, read_seq)
       SELECT t.u, t.c, COALESCE((SELECT last_seq FROM conversations WHERE id = t.c), 0)
         FROM (SELECT DISTINCT u, c FROM unnest($1::text[], $2::text[]) AS x(u, c)) t ORDER BY t.u, t.c
     ON CONFLICT DO NOTHING`,
    [joins.map((j) => j.user), joins.map((j) => j.conv)],
  );
}

/** Read marks go forward only, and no further than the conversation's last message (else later ones would never count as unread). */
export async function markRead(c: pg.Client, reads: ReadMark[]): Promise<void> {
  await c.query(
    `UPDATE members m SET read_seq = t.s
       FROM (SELECT x.u, x.c, LEAST(MAX(x.s), COALESCE((SELECT last_seq FROM conversations WHERE id = x.c), 0)) AS s
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS x(u, c, s) GROUP BY x.u, x.c) t
     WHERE m."user" = t.u AND m.conv = t.c AND m.read_seq < t.s`,
    [reads.map((r) => r.user), reads.map((r) => r.conv), reads.map((r) => r.seq)],
  );
}

export async function appendMessages(c: pg.Client, batch: WriteBatch): Promise<Appended[]> {
  const msgs = batch.messages;
  const out: (Appended | null)[] = new Array(msgs.length).fill(null);
  const hasFiles = msgs.some((m) => m.fileId !== null);
  // Repeats of a key inside this batch take the first one's result; keys stored earlier are found by the statement,
  // or, when a file is referred to, first: a resend of a stored message is a duplicate even if its file is gone.
  const firstByKey = new Map<string, number>();
  const repeatOf = new Map<number, number>();
  msgs.forEach((m, i) => {
    if (m.key === null) return;
    const k = `${m.conv}\n${m.from}\n${m.key}`;
    const first = firstByKey.get(k);
    if (first === undefined) firstByKey.set(k, i);
    else repeatOf.set(i, first);
  });
  if (hasFiles && firstByKey.size > 0) await findStored(c, msgs, [...firstByKey.values()], out);
  // Referring to a file shares it with the conversation: only someone who may read it can.
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.fileId === null || out[i] !== null || repeatOf.has(i)) continue;
    // Held until this commit ends: retention, removing unused uploads, skips one being linked (FOR KEY SHARE
    // rather than FOR SHARE, so that retention marking it for a look does not wait).
    const { rowCount } = await c.query(`${CAN_READ_UPLOAD} FOR KEY SHARE OF u`, [m.fileId, m.from]);
    if (!rowCount) out[i] = { seq: 0, id: m.id, ts: m.ts, duplicate: false, refused: true };
  }
  const fresh: number[] = [];
  msgs.forEach((_, i) => {
    if (out[i] === null && !repeatOf.has(i)) fresh.push(i);
  });
  if (fresh.length > 0) {
    const f = fresh.map((i) => msgs[i]!);
    const { rows } = await c.query<AppendRow>({
      ...(f.some((m) => m.key !== null) ? APPEND.keyed : APPEND.plain),
      values: [f.map((m) => m.conv), f.map((m) => m.id), f.map((m) => m.from), f.map((m) => m.contentType), f.map((m) => m.body), f.map((m) => m.ts), f.map((m) => m.key)],
    });
    for (const r of rows) {
      const i = fresh[Number(r.ord) - 1]!;
      const m = msgs[i]!;
      out[i] = r.id === null ? { seq: Number(r.seq), id: m.id, ts: m.ts, duplicate: false } : { seq: Number(r.seq), id: r.id, ts: Number(r.ts), duplicate: true };
    }
    if (hasFiles) await link(c, fresh.filter((i) => !out[i]!.duplicate).map((i) => ({ m: msgs[i]!, seq: out[i]!.seq })));
  }
  for (const [i, first] of repeatOf) out[i] = { ...out[first]!, duplicate: true };
  return out as Appended[];
}

/** Messages among `which` whose key is stored already get the stored one's result. */
async function findStored(c: pg.Client, msgs: readonly NewMessage[], which: readonly number[], out: (Appended | null)[]): Promise<void> {
  const { rows } = await c.query<{ conv: string; sender: string; key: string; seq: string; id: string; ts: string }>(
    `SELECT m.conv, m.sender, m.key, m.seq, m.id, m.ts FROM messages m
       JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(c, s, k) ON m.conv = t.c AND m.sender = t.s AND m.key = t.k`,
    [which.map((i) => msgs[i]!.conv), which.map((i) => msgs[i]!.from), which.map((i) => msgs[i]!.key)],
  );
  const stored = new Map(rows.map((r) => [`${r.conv}\n${r.sender}\n${r.key}`, r]));
  for (const i of which) {
    const m = msgs[i]!;
    const s = stored.get(`${m.conv}\n${m.from}\n${m.key}`);
    if (s) out[i] = { seq: Number(s.seq), id: s.id, ts: Number(s.ts), duplicate: true };
  }
}

/** The conversations now referring to each file, with the last message that does. */
async function link(c: pg.Client, stored: { m: NewMessage; seq: number }[]): Promise<void> {
  const links = stored.flatMap(({ m, seq }) => (m.fileId === null ? [] : [{ file: m.fileId, conv: m.conv, seq }]));
  if (links.length === 0) return;
  await c.query(
    `INSERT INTO upload_links (file, conv, last_seq)
       SELECT file, conv, MAX(seq) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(file, conv, seq)
       GROUP BY file, conv ORDER BY file, conv
     ON CONFLICT (file, conv) DO UPDATE SET last_seq = GREATEST(upload_links.last_seq, EXCLUDED.last_seq)`,
    [links.map((l) => l.file), links.map((l) => l.conv), links.map((l) => l.seq)],
  );
}
