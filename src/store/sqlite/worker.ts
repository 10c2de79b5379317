/**
 * The SQLite store's worker thread: owns the only connection, so disk syncs
 * never block the event loop that serves sockets. Requests arrive in order and
 * run one at a time; a `commit` is one transaction (group commit).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { planConversationTrim } from '../conversation-trim.js';
import { planCountTrim, type CountCandidate } from '../count-trim.js';
import type { ConversationTrimRule, CountCursor, CountTrim, HistoryQuery, Upload, UploadTrim } from '../store.js';
import type { CheckpointTail } from './checkpointer.js';
import { readQueries } from './reads.js';
import { registryOps, type RegistryRequest } from './registry-ops.js';
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
  | { id: number; op: 'trimConversation'; conv: string; rule: ConversationTrimRule; limit: number }
  | { id: number; op: 'trimUploads'; before: number; limit: number }
  /** The room registry and the webhook queue (registry-ops.ts). */
  | RegistryRequest
  | { id: number; op: 'close' };

/** `code`: SQLite's (SQLITE_FULL, SQLITE_BUSY…) or the system's (ENOSPC), when the error had one. */
export type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string; code?: string };

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

const COLUMNS = 'conv, seq, id, sender, content_type, body, ts, key';
const q = {
  // INDEXED BY: the primary key's conversation prefix would otherwise look tempting, and it means a scan.
  byKey: db.prepare<[string, string, string], { seq: number; id: string; ts: number }>(
    'SELECT seq, id, ts FROM messages INDEXED BY messages_by_key WHERE key = ? AND conv = ? AND sender = ?',
  ),
  bump: db.prepare<[string], { last_seq: number }>(
    'INSERT INTO conversations (id, last_seq) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq',
  ),
  insert: db.prepare(`INSERT INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
  link: db.prepare<[string, string, number]>(
    'INSERT INTO upload_links (file, conv, last_seq) VALUES (?, ?, ?) ON CONFLICT (file, conv) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
  ),
  // After a step trimmed a conversation: its links with no message left up to the last one that referred to the
  // file (what is left of a conversation after retention starts above that).
  pruneLinks: db.prepare<{ conv: string }, { file: string }>(
    `DELETE FROM upload_links WHERE conv = @conv
       AND last_seq < COALESCE((SELECT MIN(seq) FROM messages WHERE conv = @conv), 9223372036854775807) RETURNING file`,
  ),
  flagUnlinked: db.prepare<{ file: string }>(
    'UPDATE uploads SET unlinked = 1 WHERE id = @file AND NOT EXISTS (SELECT 1 FROM upload_links WHERE file = @file)',
  ),
  maybeUnused: db.prepare<[number, number], { id: string }>('SELECT id FROM uploads WHERE unlinked = 1 AND ts < ? ORDER BY ts LIMIT ?'),
  linked: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM upload_links WHERE file = ? LIMIT 1'),
  inUse: db.prepare<[string]>('UPDATE uploads SET unlinked = 0 WHERE id = ?'),
  removeUpload: db.prepare<[string]>('DELETE FROM uploads WHERE id = ?'),
  lastSeq: db.prepare<[string], { last_seq: number }>('SELECT last_seq FROM conversations WHERE id = ?'),
  join: db.prepare<[string, string, string]>(
    'INSERT INTO members (user, conv, read_seq) VALUES (?, ?, COALESCE((SELECT last_seq FROM conversations WHERE id = ?), 0)) ON CONFLICT DO NOTHING',
  ),
  leave: db.prepare<[string, string]>('DELETE FROM members WHERE user = ? AND conv = ?'),
  /** The sender's own read mark, at the seq just given to its message. */
  read: db.prepare<[number, string, string, number]>('UPDATE members SET read_seq = ? WHERE user = ? AND conv = ? AND read_seq < ?'),
  /** A client's read mark: forward only, and no further than the last message (else later ones would never count as unread). */
  readTo: db.prepare<{ seq: number; user: string; conv: string }>(
    `UPDATE members SET read_seq = MIN(@seq, COALESCE((SELECT last_seq FROM conversations WHERE id = @conv), 0))
     WHERE user = @user AND conv = @conv AND read_seq < MIN(@seq, COALESCE((SELECT last_seq FROM conversations WHERE id = @conv), 0))`,
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
  trimOlder: db.prepare<[number, number], { conv: string }>(
    'DELETE FROM messages WHERE (conv, seq) IN (SELECT conv, seq FROM messages WHERE ts < ? ORDER BY ts LIMIT ?) RETURNING conv',
  ),
  countPage: db.prepare<[string, number], CountCandidate>(
    `SELECT c.id AS conv, c.last_seq AS lastSeq, (SELECT MIN(seq) FROM messages m WHERE m.conv = c.id) AS oldest
     FROM conversations c WHERE c.id > ? ORDER BY c.id LIMIT ?`,
  ),
  trimConv: db.prepare<[string, number]>('DELETE FROM messages WHERE conv = ? AND seq <= ?'),
  oldestOf: db.prepare<[string, number], { seq: number; ts: number }>('SELECT seq, ts FROM messages WHERE conv = ? ORDER BY seq LIMIT ?'),
};

const registry = registryOps(db);
const reads = readQueries(db);

const commit = db.transaction((text: string): PackedResults => {
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
      const dup = q.byKey.get(key, conv, from);
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
    q.insert.run(conv, seq, id, from, messages[i + 3], messages[i + 4], messages[i + 5], key);
    if (fileId !== null) q.link.run(fileId, conv, seq);
    q.read.run(seq, from, conv, seq);
    codes.push(seq);
  }
  for (let i = 0; i < leaves.length; i += 2) q.leave.run(leaves[i]!, leaves[i + 1]!);
  for (let i = 0; i < reads.length; i += 3) q.readTo.run({ seq: reads[i + 2] as number, user: reads[i] as string, conv: reads[i + 1] as string });
  return { codes, ids };
});

const trimToCount = db.transaction((keep: number, from: CountCursor, limit: number): CountTrim => {
  const plan = planCountTrim(q.countPage.all(from.after, limit), keep, limit, from);
  let removed = 0;
  for (let i = 0; i < plan.convs.length; i++) {
    const conv = plan.convs[i]!;
    removed += q.trimConv.run(conv, plan.upTo[i]!).changes;
    pruneLinks(conv);
  }
  return { removed, next: plan.next };
});

/** Read lazily: the plan stops at the first message that stays, so a conversation with nothing to lose costs one row. */
const trimConversation = db.transaction((conv: string, rule: ConversationTrimRule, limit: number): number => {
  const last = q.lastSeq.get(conv)?.last_seq;
  if (last === undefined) return 0;
  const upTo = planConversationTrim(last, q.oldestOf.iterate(conv, limit), rule);
  if (upTo === null) return 0;
  const removed = q.trimConv.run(conv, upTo).changes;
  pruneLinks(conv);
  return removed;
});

function pruneLinks(conv: string): void {
  for (const { file } of q.pruneLinks.all({ conv })) q.flagUnlinked.run({ file });
}

const trimOlder = db.transaction((before: number, limit: number): number => {
  const gone = q.trimOlder.all(before, limit);
  for (const conv of new Set(gone.map((r) => r.conv))) pruneLinks(conv);
  return gone.length;
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

function handle(req: Request): unknown {
  switch (req.op) {
    case 'commit':
      return commit(req.batch);
    case 'history':
      return reads.history(req.q);
    case 'lastSeq':
      return q.lastSeq.get(req.conv)?.last_seq ?? 0;
    case 'isMember':
      return reads.isMember(req.user, req.conv);
    case 'memberships':
      return reads.memberships(req.users);
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
      return trimOlder(req.before, req.limit);
    case 'trimUploads':
      return trimUploads(req.before, req.limit);
    case 'trimToCount':
      return trimToCount(req.keep, req.from, req.limit);
    case 'trimConversation':
      return trimConversation(req.conv, req.rule, req.limit);
    case 'createRoom':
    case 'updateRoom':
    case 'deleteRoom':
    case 'getRoom':
    case 'listRooms':
    case 'addRoomMember':
    case 'removeRoomMember':
    case 'listRoomMembers':
    case 'allRoomMembers':
    case 'enqueueWebhooks':
    case 'dueWebhooks':
    case 'deleteWebhook':
    case 'retryWebhook':
    case 'countWebhooks':
    case 'dropOldestWebhooks':
      return registry(req);
    case 'close':
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

let commits = 0;
parentPort!.on('message', (req: Request) => {
  if (req.op === 'commit' && opts.exitAfterCommits !== undefined && commits++ >= opts.exitAfterCommits) process.exit(70);
  let res: Response;
  try {
    res = { id: req.id, ok: true, value: handle(req) };
  } catch (e) {
    const { message, code } = e as Error & { code?: unknown };
    res = typeof code === 'string' ? { id: req.id, ok: false, error: message, code } : { id: req.id, ok: false, error: message };
  }
  parentPort!.postMessage(res);
  if (req.op === 'close') {
    opts.checkpoints?.close();
    parentPort!.close();
  }
});
