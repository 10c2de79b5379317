/**
 * The newest messages, kept in arrival order until they are folded into
 * `messages`.
 *
 * `messages` is ordered by (conversation, seq), so storing a message changes
 * the page at the end of its own conversation: a commit of n messages in n
 * rooms wrote n pages (4 KiB each) to the WAL, and SQLite's work per page
 * (checksums, copies, the sync, the checkpoint's copy) was most of the
 * writer's time. A commit appends to `message_log` instead, where the rows of
 * one bucket of conversations lie one after another: a commit writes a page
 * or two per bucket it touches. A bucket that has filled up (or, when all is
 * quiet, the next one in turn) moves, in a transaction of its own, into
 * `messages`; by then each of its conversations has many messages waiting,
 * which fill a page or so together.
 *
 * Whatever reads messages reads both. A bucket moves whole, so a
 * conversation's messages in the log are all newer than its messages in
 * `messages`: a page of history is a read of one and then of the other. The
 * idempotency keys of the messages in the log are kept here in memory, for
 * the duplicate check a commit makes.
 */
import type { Database, Statement } from 'better-sqlite3';

export interface Row {
  conv: string;
  seq: number;
  id: string;
  sender: string;
  content_type: string;
  body: string;
  ts: number;
  key: string | null;
}

export const COLUMNS = 'conv, seq, id, sender, content_type, body, ts, key';

/** The original of a resent message: what its ack said. */
export interface Original {
  seq: number;
  id: string;
  ts: number;
}

/** What the log keeps in memory of each row, by its `n`. */
interface Entry {
  conv: string;
  /** keyId() of a keyed message, else null. */
  keyId: string | null;
}

/** A row of the log, for age retention to choose from. */
export interface Aged {
  bucket: number;
  n: number;
  conv: string;
  ts: number;
}

export class MessageLog {
  private readonly append$: Statement<[number, number, string, number, string, string, string, string, number, string | null]>;
  private readonly foldInsert: Statement<[number]>;
  private readonly foldDelete: Statement<[number]>;
  private readonly after$: Statement<[number, string, number, number], Row>;
  private readonly before$: Statement<[number, string, number, number], Row>;
  private readonly oldest$: Statement<[number, string], { seq: number | null }>;
  private readonly older$: Statement<[number, number], Aged>;
  private readonly remove$: Statement<[number, number]>;
  private readonly trimConv$: Statement<[number, string, number], { bucket: number; n: number }>;
  private readonly fold: (bucket: number) => void;
  /**
   * Per bucket, in memory: each row (its conversation and key) by `n`; the keyed messages by keyId(); rows per
   * conversation, so that reads skip the log for a conversation with nothing in it. The log's own text is not
   * read back for these: a string with a lone surrogate does not come back from SQLite as it went in.
   */
  private readonly entries: Map<number, Entry>[];
  private readonly keys: Map<string, Original>[];
  private readonly convRows: Map<string, number>[];
  /** Since the last settle(): rows added and rows removed by the transaction under way. */
  private added: { bucket: number; n: number }[] = [];
  private removed: { bucket: number; n: number }[] = [];
  private next = 1;
  private turn = 0;

  constructor(
    db: Database,
    private readonly buckets: number,
  ) {
    this.entries = Array.from({ length: buckets }, () => new Map<number, Entry>());
    this.keys = Array.from({ length: buckets }, () => new Map<string, Original>());
    this.convRows = Array.from({ length: buckets }, () => new Map<string, number>());
    // Queries that look for a conversation's oldest message in the log (retention) ask these first.
    db.function('log_bucket', { deterministic: true }, (conv: unknown) => this.bucketOf(String(conv)));
    db.function('log_has', { deterministic: false }, (conv: unknown) => (this.has(String(conv)) ? 1 : 0));
    this.append$ = db.prepare(`INSERT OR ROLLBACK INTO message_log (bucket, n, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.foldInsert = db.prepare(`INSERT INTO messages (${COLUMNS}) SELECT ${COLUMNS} FROM message_log WHERE bucket = ? ORDER BY conv, seq`);
    this.foldDelete = db.prepare('DELETE FROM message_log WHERE bucket = ?');
    this.after$ = db.prepare(`SELECT ${COLUMNS} FROM message_log WHERE bucket = ? AND conv = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.before$ = db.prepare(
      `SELECT * FROM (SELECT ${COLUMNS} FROM message_log WHERE bucket = ? AND conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
    );
    this.oldest$ = db.prepare('SELECT MIN(seq) AS seq FROM message_log WHERE bucket = ? AND conv = ?');
    this.older$ = db.prepare('SELECT bucket, n, conv, ts FROM message_log WHERE ts < ? ORDER BY ts LIMIT ?');
    this.remove$ = db.prepare('DELETE FROM message_log WHERE bucket = ? AND n = ?');
    this.trimConv$ = db.prepare('DELETE FROM message_log WHERE bucket = ? AND conv = ? AND seq <= ? RETURNING bucket, n');
    this.fold = db.transaction((bucket: number) => {
      this.foldInsert.run(bucket);
      this.foldDelete.run(bucket);
    });
    // What the log held when the server stopped (it folds all at close, so after a crash): into `messages` now,
    // whatever the buckets were then; the counts and keys above start from an empty log.
    db.transaction(() => {
      db.prepare(`INSERT INTO messages (${COLUMNS}) SELECT ${COLUMNS} FROM message_log ORDER BY conv, seq`).run();
      db.prepare('DELETE FROM message_log').run();
    })();
  }

  bucketOf(conv: string): number {
    // FNV-1a: spreads rooms named alike ("room1", "room2", …) over the buckets.
    let h = 0x811c9dc5;
    for (let i = 0; i < conv.length; i++) h = Math.imul(h ^ conv.charCodeAt(i), 0x01000193);
    return (h >>> 0) % this.buckets;
  }

  /** Within a transaction, followed by settle(). */
  append(r: Row): void {
    const bucket = this.bucketOf(r.conv);
    const n = this.next++;
    this.append$.run(bucket, n, r.conv, r.seq, r.id, r.sender, r.content_type, r.body, r.ts, r.key);
    let keyId: string | null = null;
    if (r.key !== null) {
      keyId = MessageLog.keyId(r.key, r.conv, r.sender);
      this.keys[bucket]!.set(keyId, { seq: r.seq, id: r.id, ts: r.ts });
    }
    this.entries[bucket]!.set(n, { conv: r.conv, keyId });
    this.count(bucket, r.conv, 1);
    this.added.push({ bucket, n });
  }

  /** A message in the log with this key from this sender in this conversation. */
  original(key: string, conv: string, sender: string): Original | undefined {
    return this.keys[this.bucketOf(conv)]!.get(MessageLog.keyId(key, conv, sender));
  }

  /** After each transaction that appended or trimmed: what it did to the log stands (ok) or was rolled back. */
  settle(ok: boolean): void {
    // Rolled back, the rows it added are not there; committed, the rows it removed are gone.
    for (const { bucket, n } of ok ? this.removed : this.added) {
      const entry = this.entries[bucket]!.get(n);
      if (!entry) continue;
      this.entries[bucket]!.delete(n);
      if (entry.keyId !== null) this.keys[bucket]!.delete(entry.keyId);
      this.count(bucket, entry.conv, -1);
    }
    this.added = [];
    this.removed = [];
  }

  /** Whether the conversation has messages in the log. */
  has(conv: string): boolean {
    return this.convRows[this.bucketOf(conv)]!.has(conv);
  }

  private count(bucket: number, conv: string, delta: number): void {
    const rows = this.convRows[bucket]!;
    const left = (rows.get(conv) ?? 0) + delta;
    if (left > 0) rows.set(conv, left);
    else rows.delete(conv);
  }

  /** Moves the next bucket in turn that has rows into `messages`, in a transaction of its own. */
  foldNext(): void {
    for (let i = 0; i < this.buckets; i++) {
      const bucket = this.turn;
      this.turn = (this.turn + 1) % this.buckets;
      if (this.entries[bucket]!.size > 0) {
        this.foldBucket(bucket);
        return;
      }
    }
  }

  /** Moves the bucket with the most rows into `messages` if it holds `atLeast`. */
  foldFullest(atLeast: number): void {
    let fullest = 0;
    for (let b = 1; b < this.buckets; b++) if (this.entries[b]!.size > this.entries[fullest]!.size) fullest = b;
    if (this.entries[fullest]!.size >= atLeast) this.foldBucket(fullest);
  }

  foldAll(): void {
    for (let bucket = 0; bucket < this.buckets; bucket++) if (this.entries[bucket]!.size > 0) this.foldBucket(bucket);
  }

  private foldBucket(bucket: number): void {
    this.fold(bucket);
    this.entries[bucket]!.clear();
    this.keys[bucket]!.clear();
    this.convRows[bucket]!.clear();
  }

  /** The conversation's messages in the log after `seq`, oldest first. */
  after(conv: string, seq: number, limit: number): Row[] {
    return this.has(conv) ? this.after$.all(this.bucketOf(conv), conv, seq, limit) : [];
  }

  /** The newest `limit` of the conversation's messages in the log before `seq`, oldest first. */
  before(conv: string, seq: number, limit: number): Row[] {
    return this.has(conv) ? this.before$.all(this.bucketOf(conv), conv, seq, limit) : [];
  }

  oldest(conv: string): number | null {
    return this.has(conv) ? (this.oldest$.get(this.bucketOf(conv), conv)?.seq ?? null) : null;
  }

  /** The oldest `limit` messages in the log sent before `before`, oldest first (a scan of the log). */
  older(before: number, limit: number): Aged[] {
    return this.older$.all(before, limit);
  }

  /** Within a transaction: removes one row that older() found. */
  remove(row: Aged): void {
    this.remove$.run(row.bucket, row.n);
    this.removed.push({ bucket: row.bucket, n: row.n });
  }

  /**
   * Within a transaction: removes the conversation's messages up to `upTo`, given the newest seq it has in
   * `messages` (the log holds only newer ones); returns how many went.
   */
  trimConv(conv: string, upTo: number, newestFolded: number | null): number {
    if (!this.has(conv) || (newestFolded !== null && upTo <= newestFolded)) return 0;
    const gone = this.trimConv$.all(this.bucketOf(conv), conv, upTo);
    for (const g of gone) this.removed.push(g);
    return gone.length;
  }

  private static keyId(key: string, conv: string, sender: string): string {
    return JSON.stringify([key, conv, sender]);
  }
}

/** A transaction that may append to or remove from the log, which learns afterwards whether it stood. */
export function loggedTransaction<A extends unknown[], R>(db: Database, log: MessageLog, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A): R => {
    try {
      const r = tx(...args);
      log.settle(true);
      return r;
    } catch (e) {
      log.settle(false);
      throw e;
    }
  };
}
