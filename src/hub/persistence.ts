/**
 * The hub's durable side: what it needs from storage, and nothing more. The
 * hub owns this port; the store's Committer implements it (group commit over
 * the Store interface), and the records here are the ones the Store reads and
 * writes. Conversations are named as in conversations.ts.
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
  /** An uploaded file the message refers to: members of the conversation may then download it. */
  fileId: string | null;
}

export interface MemberRef {
  user: string;
  conv: string;
}

export interface ReadMark extends MemberRef {
  seq: number;
}

export interface Appended {
  seq: number;
  id: string;
  ts: number;
  /** True when (conv, from, key) was already stored: the original's seq, id and ts are returned. */
  duplicate: boolean;
  /** Set when the message was not stored because it refers to a file its sender may not read. */
  refused?: boolean;
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

export type AppendDone = (err: Error | null, result: Appended | null) => void;

export interface Persistence {
  /** Queues a message; false when the backlog is full (the caller refuses the publish). */
  append(msg: NewMessage, joins: readonly MemberRef[] | null, done: AppendDone): boolean;
  join(ref: MemberRef): void;
  leave(ref: MemberRef): void;
  read(mark: ReadMark): Promise<void>;
  history(q: HistoryQuery): Promise<HistoryPage>;
  memberships(user: string): Promise<Membership[]>;
  isMember(user: string, conv: string): Promise<boolean>;
}

/** A room the app's backend manages (server API), as the store keeps it. */
export interface RoomRecord {
  name: string;
  kind: 'public' | 'private' | 'push';
  durable: boolean;
  /** Retention for this room; null: the server's store.retention setting. */
  maxCount: number | null;
  maxAgeDays: number | null;
  createdAt: number;
}

/** Where the room registry is kept (the Store implements it). Every write answers whether it changed anything. */
export interface RoomRegistry {
  createRoom(room: RoomRecord): Promise<boolean>;
  updateRoom(room: RoomRecord): Promise<boolean>;
  deleteRoom(name: string): Promise<boolean>;
  addRoomMember(room: string, user: string): Promise<boolean>;
  removeRoomMember(room: string, user: string): Promise<boolean>;
}
