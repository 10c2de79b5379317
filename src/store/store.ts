/**
 * The Store: where messages, sequence numbers, memberships and read positions
 * live, and the room registry and webhook queue below. The hub never sees
 * SQL; it sees this interface, implemented by the embedded SQLite store
 * (default) and the PostgreSQL store.
 *
 * Conversations are named `r:<room>` for rooms and `d:<userA> <userB>` (sorted,
 * space-separated — user ids cannot contain spaces) for direct messages.
 *
 * The room registry (`rooms`, `room_members`) holds the rooms the app's
 * backend manages through the server API: each room's kind, durability and
 * retention, and the member lists of its private rooms. It is read whole when
 * the server starts. Member lists are the backend's word on who may join; they
 * are not the conversation memberships (with read positions) above.
 *
 * The webhook queue (`webhook_events`) holds the events to deliver to the
 * app's backend, at least once: an event stays until its receiver answered
 * 2xx, and is tried again at `nextAt` after a failure, also after a restart.
 */
import type { Appended, HistoryPage, HistoryQuery, MemberRef, Membership, NewMessage, ReadMark, RoomRecord, StoredMessage } from '../hub/persistence.js';

export type { Appended, HistoryPage, HistoryQuery, MemberRef, Membership, NewMessage, ReadMark, RoomRecord, StoredMessage };

/** Everything one group commit writes, in one transaction. */
export interface WriteBatch {
  /** Recorded first; a new member has read everything stored before it joined. Idempotent. */
  joins: MemberRef[];
  /** Appended in order; each sender's read position moves to its own message. */
  messages: NewMessage[];
  leaves: MemberRef[];
  /** Read positions only move forward. */
  reads: ReadMark[];
}

export interface Upload {
  id: string;
  owner: string;
  name: string;
  mime: string;
  size: number;
  ts: number;
}

export interface Retention {
  /** Keep at most this many messages per conversation. */
  maxCount?: number;
  /** Drop messages older than this. */
  maxAgeMs?: number;
}

/** What one conversation's trim removes (Store.trimConversation): messages either rule says go. */
export interface ConversationTrimRule {
  /** Keep the conversation's last this many messages. */
  keep?: number;
  /** Remove messages older than this (ms since the epoch). */
  before?: number;
}

/** Where trimming conversations to a count goes on (Store.trimToCount); `{ after: '' }` starts a pass. */
export interface CountCursor {
  /** The next step looks at the conversations whose ids come after this one. */
  after: string;
  /** The conversation the last step's budget ran out in, and the highest seq it loses in this pass (fixed at its first visit). */
  within?: { conv: string; upTo: number };
}

/** One step of removing unused uploads. */
export interface UploadTrim {
  /** Uploads whose records went: their bytes are the caller's to remove. */
  removed: string[];
  /** The step looked at as many uploads as it was allowed: there may be more. */
  more: boolean;
}

/** One step of trimming conversations to a count. */
export interface CountTrim {
  removed: number;
  /** Where the next step goes on; null when every conversation has been looked at. */
  next: CountCursor | null;
}

/** An event waiting in the webhook queue until its receiver answers 2xx. */
export interface WebhookEvent {
  /** Unique event id. */
  id: string;
  /** The configured endpoint's name. */
  endpoint: string;
  /** The exact JSON text that is signed and sent. */
  body: string;
  /** Deliveries tried so far. */
  attempts: number;
  /** ms since the epoch: not to be tried before. */
  nextAt: number;
  /** ms since the epoch. */
  createdAt: number;
}

/**
 * Writes complete in the order they were made. A read sees at least every
 * write whose answer has arrived, and may see one whose answer is still on its
 * way (SQLite reads beside its writer thread); each commit is seen whole or not
 * at all. The hub relies on no more: a recovering join's read covers what was
 * delivered before it, and the room's state drops what the read already
 * covered when its commit's answer comes (docs/architecture.md, "Recovery").
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * Writes a batch in one transaction. Messages get the next sequence number of
   * their conversation (gap-free, monotonic, also across restarts); a message
   * whose (conv, from, key) is already stored is not stored again and its
   * original is returned. Resolves only once the transaction is durable.
   */
  commit(batch: WriteBatch): Promise<Appended[]>;
  history(q: HistoryQuery): Promise<HistoryPage>;
  lastSeq(conv: string): Promise<number>;
  isMember(user: string, conv: string): Promise<boolean>;
  /** Every conversation each user belongs to (users without any are absent). One query for many users. */
  memberships(users: readonly string[]): Promise<Map<string, Membership[]>>;
  members(conv: string): Promise<string[]>;
  addUpload(u: Upload): Promise<void>;
  getUpload(id: string): Promise<Upload | null>;
  /** The uploader, or a member of a conversation where a stored message refers to the file. */
  canReadUpload(id: string, user: string): Promise<boolean>;

  /* The room registry. Names and users are ordered by their bytes (code points), the same in both stores. */
  /** False (and nothing written) if a room of that name exists. */
  createRoom(room: RoomRecord): Promise<boolean>;
  /** Replaces kind, durable, maxCount and maxAgeDays (not createdAt); false if there is no such room. */
  updateRoom(room: RoomRecord): Promise<boolean>;
  /** Removes the room and its members in one transaction; false if there is no such room. Its messages stay. */
  deleteRoom(name: string): Promise<boolean>;
  getRoom(name: string): Promise<RoomRecord | null>;
  /** Every room, ordered by name. */
  listRooms(): Promise<RoomRecord[]>;
  /**
   * Adds to a private room's member list, managed by the backend; false if already a member. A room that is not
   * in the registry may have members too (they are just stored).
   */
  addRoomMember(room: string, user: string): Promise<boolean>;
  /** False if not a member. */
  removeRoomMember(room: string, user: string): Promise<boolean>;
  /** Ordered by user. */
  listRoomMembers(room: string): Promise<string[]>;
  /** Every (room, user), ordered by room and user: for loading at start. */
  allRoomMembers(): Promise<{ room: string; user: string }[]>;

  /* The webhook queue (at-least-once delivery: an event stays until its receiver answered 2xx). */
  /** In one transaction; an event whose id is already queued is left as it is. */
  enqueueWebhooks(events: readonly WebhookEvent[]): Promise<void>;
  /** An endpoint's events with nextAt <= now, ordered by (nextAt, createdAt, id), at most `limit`. */
  dueWebhooks(endpoint: string, now: number, limit: number): Promise<WebhookEvent[]>;
  /** Delivered: removes the event (no error if it is not queued). */
  deleteWebhook(id: string): Promise<void>;
  /** A delivery failed: records the attempts so far and when to try next. */
  retryWebhook(id: string, attempts: number, nextAt: number): Promise<void>;
  countWebhooks(endpoint: string): Promise<number>;
  /** Removes an endpoint's oldest events (by createdAt, id) beyond the newest `keep`; returns how many went. */
  dropOldestWebhooks(endpoint: string, keep: number): Promise<number>;

  /*
   * Retention, in bounded steps (store/retention.ts runs a pass): a step removes at most `limit` messages, so
   * that writes queued behind it wait milliseconds, not the length of a pass. These calls are not ordered
   * with the others (PostgreSQL runs them on a connection of their own).
   */
  /** Removes up to `limit` of the messages older than `before` (ms since the epoch), oldest first; returns how many went. */
  trimOlder(before: number, limit: number): Promise<number>;
  /**
   * Trims the conversations from `from` on, in id order, to their last `keep` messages: looks at up to
   * `limit` conversations and removes up to `limit` messages.
   */
  trimToCount(keep: number, from: CountCursor, limit: number): Promise<CountTrim>;
  /**
   * Removes up to `limit` of one conversation's oldest messages (by seq) that lie beyond its last `keep` or are
   * older than `before` (ms since the epoch); returns how many went. What goes is always the conversation's
   * oldest part: a step looks at no more than its `limit` oldest messages, and the age rule stops at the first
   * message that is not older than `before` (one stamped earlier behind it, as a clock stepped back can leave,
   * waits until that one goes). Neither set: nothing goes. A managed room's own retention uses it.
   */
  trimConversation(conv: string, rule: ConversationTrimRule, limit: number): Promise<number>;
  /*
   * All three trims also drop a file's link to a conversation (what lets its members download it) once no message
   * there up to the last one that referred to the file is left.
   */
  /**
   * Looks at up to `limit` of the uploads made before `before` (ms since the epoch) that may be unused (never
   * linked, or their last link dropped since they were last looked at), oldest first, and removes the records of
   * those no stored message refers to.
   */
  trimUploads(before: number, limit: number): Promise<UploadTrim>;
  /**
   * Runs `pass` (a retention pass) unless another node sharing this database is running one: resolves to null
   * without running it then. Nodes sharing a database would otherwise each repeat every pass, all but the first
   * finding nothing to remove after walking every conversation. A store only one node uses leaves it out.
   */
  retentionLease?<T>(pass: () => Promise<T>): Promise<T | null>;
}

export function emptyBatch(): WriteBatch {
  return { joins: [], messages: [], leaves: [], reads: [] };
}
