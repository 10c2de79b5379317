/**
 * The SQLite store's worker thread: owns the only connection, so disk syncs
 * never block the event loop that serves sockets. Requests arrive in order and
 * run one at a time; a `commit` is one transaction (group commit).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CountCursor, HistoryPage, HistoryQuery, Membership, StoredMessage, Upload } from '../store.js';
import type { CheckpointTail } from './checkpointer.js';
import { COLUMNS, loggedTransaction, MessageLog, type Row } from './message-log.js';
import { retentionSteps } from './retention-steps.js';
import { SQLITE_MIGRATIONS } from './schema.js';
import { DUPLICATE, MESSAGE_FIELDS, REFUSED, type PackedBatch, type PackedResults } from './wire.js';

export interface WorkerOptions {
  file: string;
  synchronous: 'full' | 'normal';
  /** Page cache in MiB (default 64). */
  cacheMiB?: number;
  /** From the checkpointer thread, if there is one (checkpointer.ts). */
  checkpoints?: MessagePort;
  /** WAL frames at which the writer checkpoints by itself, should the checkpointer fall behind (tests raise it). */
  backstopPages?: number;
  /** Size the -wal file is cut back to when the WAL starts over (tests lower it). */
  walSizeLimitBytes?: number;
  /** Buckets of conversations in the message log (message-log.ts; default 16). */
  logBuckets?: number;
  /** Messages in one bucket of the log at which it folds into `messages`, after a commit (default 1,000). */
  foldAtRows?: number;
  /** How often one bucket folds however few messages the log holds (ms; default 1,000); 0: never by time. */
  foldIntervalMs?: number;
  /** Tests: the thread ends itself after this many commits, as a crash would end it (out of memory, a bug). */
  exitAfterCommits?: number;
}

export type Request =
  /** `batch` is a PackedBatch as JSON text (wire.ts). */
  | { id: number; op: 'commit'; batch: string }
  | { id: number; op: 'history'; q: HistoryQuery }
  | { id: number; op: 'lastSeq'; conv: string }
  | { id: number; op: 'isMember'; user: string; conv: string }
  | { id: number; op: 'memberships'; users: string[] }
  | { id: number; op: 'members'; conv: string }
  | { id: number; op: 'addUpload'; upload: Upload }
  | { id: number; op: 'getUpload'; fileId: string }
  | { id: number; op: 'canReadUpload'; fileId: string; user: string }
  | { id: number; op: 'trimOlder'; before: number; limit: number }
  | { id: number; op: 'trimToCount'; keep: number; from: CountCursor; limit: number }
  | { id: number; op: 'trimUploads'; before: number; limit: number }
  /** Tests: folds the whole message log into `messages`. */
  | { id: number; op: 'fold' }
  | { id: number; op: 'close' };

export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

const opts = workerData as WorkerOptions;
// The thread dying of an error (a database it cannot open or migrate, say) reaches the main thread's `error`
// event as a copy of the error's own enumerable fields; better-sqlite3's errors keep their message in a field that
// is not, so it was lost on the way.
process.on('uncaughtExceptionMonitor', (e: Error & { code?: string }) => {
  if (typeof e !== 'object' || e === null) return;
  const message = e.code && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message;
  Object.defineProperty(e, 'message', { value: message, enumerable: true, configurable: true, writable: true });
});
const CACHE_KIB = (opts.cacheMiB ?? 64) * 1024;
const BACKSTOP_CHECKPOINT_PAGES = opts.backstopPages ?? 100_000;
/** Above one checkpoint round's worth of WAL at 20,000 msg/s (~75 MB), so steady load does not shrink and regrow it. */
const WAL_SIZE_LIMIT_BYTES = opts.walSizeLimitBytes ?? 128 * 1024 * 1024;
if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true });
const db = new Database(opts.file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
db.pragma('busy_timeout = 5000');
// Messages of many conversations land on many pages: a cache that holds the hot ones spares re-reads.
db.pragma(`cache_size = -${CACHE_KIB}`);
// Checkpoints are the checkpointer thread's job (checkpointer.ts); this threshold is only the backstop.
db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
// SQLite reuses the -wal file rather than shrinking it: without a limit, one burst would leave it at its peak size
// for good. The writer is the connection that starts the WAL over, so the limit applies here.
db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
const version = db.pragma('user_version', { simple: true }) as number;
for (let v = version; v < SQLITE_MIGRATIONS.length; v++) {
  db.transaction(() => {
    db.exec(SQLITE_MIGRATIONS[v]!);
    db.pragma(`user_version = ${v + 1}`);
  })();
}

// Under load a bucket folds once it holds FOLD_AT_ROWS messages, whatever the rate: a fold's pause stays about the
// same (a few ms), and so does what it saves (at 20,000 msg/s in f's 500 rooms, a fold every 50 ms, ~30 messages
// per room); history reads of a conversation in the log scan no more than its bucket. A quiet log drains by time,
// a bucket per FOLD_INTERVAL_MS.
const LOG_BUCKETS = opts.logBuckets ?? 16;
const FOLD_AT_ROWS = opts.foldAtRows ?? 1_000;
const FOLD_INTERVAL_MS = opts.foldIntervalMs ?? 1_000;
const log = new MessageLog(db, LOG_BUCKETS);

const q = {
  // INDEXED BY: the primary key's conversation prefix would otherwise look tempting, and it means a scan.
  byKey: db.prepare<[string, string, string], { seq: number; id: string; ts: number }>(
    'SELECT seq, id, ts FROM messages INDEXED BY messages_by_key WHERE key = ? AND conv = ? AND sender = ?',
  ),
  bump: db.prepare<[string], { last_seq: number }>(
    'INSERT INTO conversations (id, last_seq) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq',
  ),
  link: db.prepare<[string, string, number]>(
    'INSERT INTO upload_links (file, conv, last_seq) VALUES (?, ?, ?) ON CONFLICT (file, conv) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
  ),
  lastSeq: db.prepare<[string], { last_seq: number }>('SELECT last_seq FROM conversations WHERE id = ?'),
  oldest: db.prepare<[string], { seq: number | null }>('SELECT MIN(seq) AS seq FROM messages WHERE conv = ?'),
  before: db.prepare<[string, number, number], Row>(
    `SELECT * FROM (SELECT ${COLUMNS} FROM messages WHERE conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
  ),
  after: db.prepare<[string, number, number], Row>(`SELECT ${COLUMNS} FROM messages WHERE conv = ? AND seq > ? ORDER BY seq LIMIT ?`),
  join: db.prepare<[string, string, string]>(
    'INSERT INTO members (user, conv, read_seq) VALUES (?, ?, COALESCE((SELECT last_seq FROM conversations WHERE id = ?), 0)) ON CONFLICT DO NOTHING',
  ),
  leave: db.prepare<[string, string]>('DELETE FROM members WHERE user = ? AND conv = ?'),
  read: db.prepare<[number, string, string, number]>('UPDATE members SET read_seq = ? WHERE user = ? AND conv = ? AND read_seq < ?'),
  isMember: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM members WHERE user = ? AND conv = ?'),
  memberships: db.prepare<[string], { user: string; conv: string; last_seq: number | null; read_seq: number }>(
    `SELECT m.user, m.conv, c.last_seq, m.read_seq FROM members m LEFT JOIN conversations c ON c.id = m.conv
     WHERE m.user IN (SELECT value FROM json_each(?)) ORDER BY m.user, m.conv`,
  ),
  members: db.prepare<[string], { user: string }>('SELECT user FROM members WHERE conv = ? ORDER BY user'),
  addUpload: db.prepare<[string, string, string, string, number, number]>(
    'INSERT INTO uploads (id, owner, name, mime, size, ts) VALUES (?, ?, ?, ?, ?, ?)',
  ),
  getUpload: db.prepare<[string], Upload>('SELECT id, owner, name, mime, size, ts FROM uploads WHERE id = ?'),
  canRead: db.prepare<[string, string, string], { one: number }>(
    `SELECT 1 AS one FROM uploads u WHERE u.id = ? AND (u.owner = ? OR EXISTS (
       SELECT 1 FROM upload_links l JOIN members m ON m.conv = l.conv WHERE l.file = u.id AND m.user = ?))`,
  ),
};

const commit = loggedTransaction(db, log, (text: string): PackedResults => {
  const [joins, messages, leaves, reads] = JSON.parse(text) as PackedBatch;
  for (let i = 0; i < joins.length; i += 2) q.join.run(joins[i]!, joins[i + 1]!, joins[i + 1]!);
  const codes: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < messages.length; i += MESSAGE_FIELDS) {
    const id = messages[i] as string;
    const conv = messages[i + 1] as string;
    const from = messages[i + 2] as string;
    const key = messages[i + 6] as string | null;
    const fileId = messages[i + 7] as string | null;
    if (key !== null) {
      const dup = log.original(key, conv, from) ?? q.byKey.get(key, conv, from);
      if (dup) {
        codes.push(DUPLICATE, dup.seq, dup.ts, ids.push(dup.id) - 1);
        continue;
      }
    }
    // Referring to a file shares it with the conversation: only someone who may read it can.
    if (fileId !== null && q.canRead.get(fileId, from, from) === undefined) {
      codes.push(REFUSED);
      continue;
    }
    const seq = q.bump.get(conv)!.last_seq;
    log.append({ conv, seq, id, sender: from, content_type: messages[i + 3] as string, body: messages[i + 4] as string, ts: messages[i + 5] as number, key });
    if (fileId !== null) q.link.run(fileId, conv, seq);
    q.read.run(seq, from, conv, seq);
    codes.push(seq);
  }
  for (let i = 0; i < leaves.length; i += 2) q.leave.run(leaves[i]!, leaves[i + 1]!);
  for (let i = 0; i < reads.length; i += 3) q.read.run(reads[i + 2] as number, reads[i] as string, reads[i + 1] as string, reads[i + 2] as number);
  return { codes, ids };
});

const retention = retentionSteps(db, log);

function toMessage(r: Row): StoredMessage {
  return { id: r.id, conv: r.conv, seq: r.seq, from: r.sender, contentType: r.content_type, body: r.body, ts: r.ts, key: r.key };
}

/** A conversation's messages in the log are newer than those in `messages`: a page reads one, then the other. */
function history(h: HistoryQuery): HistoryPage {
  let rows: Row[];
  if (h.after !== undefined) {
    rows = q.after.all(h.conv, h.after, h.limit);
    if (rows.length < h.limit) rows = rows.concat(log.after(h.conv, rows.at(-1)?.seq ?? h.after, h.limit - rows.length));
  } else {
    rows = log.before(h.conv, h.before ?? Number.MAX_SAFE_INTEGER, h.limit);
    if (rows.length < h.limit) rows = q.before.all(h.conv, rows[0]?.seq ?? h.before ?? Number.MAX_SAFE_INTEGER, h.limit - rows.length).concat(rows);
  }
  const oldestSeq = q.oldest.get(h.conv)?.seq ?? log.oldest(h.conv) ?? 0;
  return { messages: rows.map(toMessage), oldestSeq, lastSeq: q.lastSeq.get(h.conv)?.last_seq ?? 0 };
}

function handle(req: Request): unknown {
  switch (req.op) {
    case 'commit':
      return commit(req.batch);
    case 'history':
      return history(req.q);
    case 'lastSeq':
      return q.lastSeq.get(req.conv)?.last_seq ?? 0;
    case 'isMember':
      return q.isMember.get(req.user, req.conv) !== undefined;
    case 'memberships': {
      const out = new Map<string, Membership[]>();
      for (const r of q.memberships.all(JSON.stringify(req.users))) {
        let list = out.get(r.user);
        if (!list) out.set(r.user, (list = []));
        list.push({ conv: r.conv, lastSeq: r.last_seq ?? 0, readSeq: r.read_seq });
      }
      return out;
    }
    case 'members':
      return q.members.all(req.conv).map((r) => r.user);
    case 'addUpload': {
      const u = req.upload;
      q.addUpload.run(u.id, u.owner, u.name, u.mime, u.size, u.ts);
      return null;
    }
    case 'getUpload':
      return q.getUpload.get(req.fileId) ?? null;
    case 'canReadUpload':
      return q.canRead.get(req.fileId, req.user, req.user) !== undefined;
    case 'trimOlder':
      return retention.trimOlder(req.before, req.limit);
    case 'trimUploads':
      return retention.trimUploads(req.before, req.limit);
    case 'trimToCount':
      return retention.trimToCount(req.keep, req.from, req.limit);
    case 'fold':
      log.foldAll();
      return null;
    case 'close':
      clearInterval(folding);
      log.foldAll();
      db.close();
      return null;
  }
}

// The checkpointer has copied the bulk of the WAL: copy the rest here, between two commits, so that the next
// commit starts the WAL over (see checkpointer.ts). It costs this thread a few hundred frames' copy.
opts.checkpoints?.on('message', (_: CheckpointTail) => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or failing: the next pass tries again, and the backstop is still there.
  }
});

// Between two requests, as the checkpointer's tail is. A failing fold leaves its rows in the log for the next turn;
// whatever made it fail (a full disk, say) fails commits too, and they report it.
function fold(step: () => void): void {
  try {
    step();
  } catch {
    // The next turn tries again.
  }
}
const folding = FOLD_INTERVAL_MS > 0 ? setInterval(() => fold(() => log.foldNext()), FOLD_INTERVAL_MS) : undefined;

let commits = 0;
parentPort!.on('message', (req: Request) => {
  if (req.op === 'commit' && opts.exitAfterCommits !== undefined && commits++ >= opts.exitAfterCommits) process.exit(70);
  let res: Response;
  try {
    res = { id: req.id, ok: true, value: handle(req) };
  } catch (e) {
    res = { id: req.id, ok: false, error: (e as Error).message };
  }
  parentPort!.postMessage(res);
  // After the answer, so that the commit that filled the log does not wait for the fold.
  if (req.op === 'commit') fold(() => log.foldFullest(FOLD_AT_ROWS));
  if (req.op === 'close') {
    opts.checkpoints?.close();
    parentPort!.close();
  }
});
