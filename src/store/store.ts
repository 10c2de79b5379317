/**
 * The Store: where messages, sequence numbers, memberships and read positions
 * live. The hub never sees SQL; it sees this interface, implemented by the
 * embedded SQLite store (default) and the PostgreSQL store.
 *
 * Conversations are named `r:<room>` for rooms and `d:<userA> <userB>` (sorted,
 * space-separated — user ids cannot contain spaces) for direct messages.
 */

export interface NewMessage {
  id: string;
  conv: string;
  from: string;
  contentType: string;
  /** The body as JSON text. */
  body: string;
  ts: number;
  /** The sender's idempotency key, or null. */
  key: string | null;
}

export interface Appended {
  seq: number;
  id: string;
  ts: number;
  /** True when (conv, from, key) was already stored: the original's seq, id and ts are returned. */
  duplicate: boolean;
}

export interface StoredMessage {
  id: string;
  conv: string;
  seq: number;
  from: string;
  contentType: string;
  body: string;
  ts: number;
  key: string | null;
}

export interface HistoryQuery {
  conv: string;
  /** Messages with seq < before (newest first window). */
  before?: number;
  /** Messages with seq > after (oldest first window). */
  after?: number;
  limit: number;
}

export interface HistoryPage {
  /** In ascending seq order. */
  messages: StoredMessage[];
  /** Lowest seq still stored (0 when nothing is). */
  oldestSeq: number;
  lastSeq: number;
}

export interface Membership {
  conv: string;
  lastSeq: number;
  readSeq: number;
}

export interface Retention {
  /** Keep at most this many messages per conversation. */
  maxCount?: number;
  /** Drop messages older than this. */
  maxAgeMs?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * Stores the messages in order, in one transaction, assigning each the next
   * sequence number of its conversation (gap-free, monotonic, also across
   * restarts). Resolves only once the transaction is durable.
   */
  append(batch: readonly NewMessage[]): Promise<Appended[]>;
  history(q: HistoryQuery): Promise<HistoryPage>;
  lastSeq(conv: string): Promise<number>;
  /** Records that `user` belongs to `conv` (idempotent); a new member starts with everything so far read. */
  addMember(user: string, conv: string): Promise<void>;
  removeMember(user: string, conv: string): Promise<void>;
  memberships(user: string): Promise<Membership[]>;
  members(conv: string): Promise<string[]>;
  /** Moves the user's read position forward (never back). */
  markRead(user: string, conv: string, seq: number): Promise<void>;
  /** Deletes what the retention policy no longer keeps; returns how many messages went. */
  trim(policy: Retention, now: number): Promise<number>;
}
