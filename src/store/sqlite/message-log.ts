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

interface Keyed extends Original {
  conv: string;
}

interface Gone {
  bucket: number;
  conv: string;
  sender: string;
  key: string | null;
}

export class MessageLog {
  private readonly append$: Statement<[number, number, string, number, string, string, string, string, number, string | null]>;
  private readonly foldInsert: Statement<[number]>;
  private readonly foldDelete: Statement<[number]>;
  private readonly after$: Statement<[number, string, number, number], Row>;
  private readonly before$: Statement<[number, string, number, number], Row>;
  private readonly oldest$: Statement<[number, string], { seq: number | null }>;
  private readonly trimOlder$: Statement<[number, number], Gone>;
  private readonly trimConv$: Statement<[number, string, number], Gone>;
  private readonly fold: (bucket: number) => void;
  /** Rows per bucket: which to fold, and to skip empty ones. */
  private readonly rows: number[];
  /** Per bucket: the keyed messages in the log, by keyId(). */
  private readonly keys: Map<string, Keyed>[];
  /** Since the last settle(): rows and keys added, and keys of rows removed, by the transaction under way. */
  private added: { bucket: number; keyId: string | null }[] = [];
  private removed: Gone[] = [];
  private next = 1;
  private turn = 0;

  constructor(
    db: Database,
    private readonly buckets: number,
  ) {
    this.rows = new Array<number>(buckets).fill(0);
    this.keys = Array.from({ length: buckets }, () => new Map<string, Keyed>());
    // Queries that look at a conversation's oldest message find its bucket in SQL too.
    db.function('log_bucket', { deterministic: true }, (conv: unknown) => this.bucketOf(String(conv)));
    this.append$ = db.prepare(`INSERT OR ROLLBACK INTO message_log (bucket, n, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.foldInsert = db.prepare(`INSERT INTO messages (${COLUMNS}) SELECT ${COLUMNS} FROM message_log WHERE bucket = ? ORDER BY conv, seq`);
    this.foldDelete = db.prepare('DELETE FROM message_log WHERE bucket = ?');
    this.after$ = db.prepare(`SELECT ${COLUMNS} FROM message_log WHERE bucket = ? AND conv = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.before$ = db.prepare(
      `SELECT * FROM (SELECT ${COLUMNS} FROM message_log WHERE bucket = ? AND conv = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
    );
    this.oldest$ = db.prepare('SELECT MIN(seq) AS seq FROM message_log WHERE bucket = ? AND conv = ?');
    this.trimOlder$ = db.prepare(
      'DELETE FROM message_log WHERE (bucket, n) IN (SELECT bucket, n FROM message_log WHERE ts < ? ORDER BY ts LIMIT ?) RETURNING bucket, conv, sender, key',
    );
    this.trimConv$ = db.prepare('DELETE FROM message_log WHERE bucket = ? AND conv = ? AND seq <= ? RETURNING bucket, conv, sender, key');
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
    this.append$.run(bucket, this.next++, r.conv, r.seq, r.id, r.sender, r.content_type, r.body, r.ts, r.key);
    this.rows[bucket]!++;
    let keyId: string | null = null;
    if (r.key !== null) {
      keyId = MessageLog.keyId(r.key, r.conv, r.sender);
      this.keys[bucket]!.set(keyId, { seq: r.seq, id: r.id, ts: r.ts, conv: r.conv });
    }
    this.added.push({ bucket, keyId });
  }

  /** A message in the log with this key from this sender in this conversation. */
  original(key: string, conv: string, sender: string): Original | undefined {
    return this.keys[this.bucketOf(conv)]!.get(MessageLog.keyId(key, conv, sender));
  }

  /** After each transaction that appended or trimmed: what it did to the log stands (ok) or was rolled back. */
  settle(ok: boolean): void {
    if (!ok) {
      for (const a of this.added) {
        this.rows[a.bucket]!--;
        if (a.keyId !== null) this.keys[a.bucket]!.delete(a.keyId);
      }
    } else {
      for (const g of this.removed) {
        this.rows[g.bucket]!--;
        if (g.key !== null) this.keys[g.bucket]!.delete(MessageLog.keyId(g.key, g.conv, g.sender));
      }
    }
    this.added = [];
    this.removed = [];
  }

  /** Moves the next bucket in turn that has rows into `messages`, in a transaction of its own. */
  foldNext(): void {
    for (let i = 0; i < this.buckets; i++) {
      const bucket = this.turn;
      this.turn = (this.turn + 1) % this.buckets;
      if (this.rows[bucket]! > 0) {
        this.foldBucket(bucket);
        return;
      }
    }
  }

  /** Moves the bucket with the most rows into `messages` if it holds `atLeast`. */
  foldFullest(atLeast: number): void {
    let fullest = 0;
    for (let b = 1; b < this.buckets; b++) if (this.rows[b]! > this.rows[fullest]!) fullest = b;
    if (this.rows[fullest]! >= atLeast) this.foldBucket(fullest);
  }

  foldAll(): void {
    for (let bucket = 0; bucket < this.buckets; bucket++) if (this.rows[bucket]! > 0) this.foldBucket(bucket);
  }

  private foldBucket(bucket: number): void {
    this.fold(bucket);
    this.rows[bucket] = 0;
    this.keys[bucket]!.clear();
  }

  /** The conversation's messages in the log after `seq`, oldest first. */
  after(conv: string, seq: number, limit: number): Row[] {
    return this.after$.all(this.bucketOf(conv), conv, seq, limit);
  }

  /** The newest `limit` of the conversation's messages in the log before `seq`, oldest first. */
  before(conv: string, seq: number, limit: number): Row[] {
    return this.before$.all(this.bucketOf(conv), conv, seq, limit);
  }

  oldest(conv: string): number | null {
    return this.oldest$.get(this.bucketOf(conv), conv)?.seq ?? null;
  }

  /** Within a transaction: removes up to `limit` of the messages sent before `before`; returns their conversations. */
  trimOlder(before: number, limit: number): string[] {
    return this.forget(this.trimOlder$.all(before, limit));
  }

  /**
   * Within a transaction: removes the conversation's messages up to `upTo`, given the newest seq it has in
   * `messages` (the log holds only newer ones); returns how many went.
   */
  trimConv(conv: string, upTo: number, newestFolded: number | null): number {
    if (newestFolded !== null && upTo <= newestFolded) return 0;
    return this.forget(this.trimConv$.all(this.bucketOf(conv), conv, upTo)).length;
  }

  private forget(gone: Gone[]): string[] {
    for (const g of gone) this.removed.push(g);
    return gone.map((g) => g.conv);
  }

  private static keyId(key: string, conv: string, sender: string): string {
    return JSON.stringify([key, conv, sender]);
  }
}
