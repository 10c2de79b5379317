/**
 * The embedded store: SQLite (WAL) in a worker thread. Every write is a message
 * to the worker; writes are answered in the order they were made. A second
 * thread checkpoints the WAL (checkpointer.ts) so that commits never wait
 * for one. The reads sessions wait on run on a read-only connection in this
 * thread (reader.ts): they see every commit whose answer has come back, and
 * possibly one whose answer is on its way, which the hub allows for (a cluster's
 * reads can be ahead of its deliveries the same way).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Appended, ConversationTrimRule, CountCursor, CountTrim, HistoryPage, HistoryQuery, Membership, RoomRecord, Store, Upload, UploadTrim, WebhookEvent, WriteBatch } from '../store.js';
import type { CheckpointerOptions } from './checkpointer.js';
import { lockDatabaseFile, type FileLock } from './file-lock.js';
import { Reader } from './reader.js';
import type { Request, Response, WorkerOptions } from './worker.js';
import { packBatch, unpackResults, type PackedResults } from './wire.js';

/**
 * How often the checkpointer copies the WAL back (ms); the writer restarts the WAL after each. At 20,000 msg/s
 * the WAL takes ~40,000 frames a second: half a second keeps it near 80 MB.
 */
const CHECKPOINT_INTERVAL_MS = 500;
/** The reader's page cache: the recent tails of conversations and the members table, not the writer's working set. */
const READER_CACHE_MIB = 16;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Payload = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private worker: Worker | null = null;
  private checkpointer: Worker | null = null;
  /** Null for an in-memory database, which only the writer's connection can see. */
  private reader: Reader | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Open and not being closed: only then is the writer's end a loss to report. */
  private running = false;
  /** `<file>.lock`, held from open to close: one process per database file (file-lock.ts). */
  private lock: FileLock | null = null;

  constructor(
    private readonly options: WorkerOptions,
    private readonly warn: (message: string) => void = () => {},
    /**
     * Called once if the writer thread ends while the store is open (a crash: out of memory, a bug). The store
     * cannot work from then on; the server stops so that a supervisor starts it again (nothing acknowledged is
     * lost: an ack follows the commit).
     */
    private readonly lost: (err: Error) => void = () => {},
  ) {}

  async open(): Promise<void> {
    // A second server on the same file is refused before the writer thread opens it.
    if (this.options.file !== ':memory:' && this.options.file !== '') this.lock = await lockDatabaseFile(this.options.file);
    try {
      await this.openWriter();
    } catch (err) {
      this.releaseLock();
      throw err;
    }
  }

  private async openWriter(): Promise<void> {
    // The checkpointer tells the writer when to copy the rest (checkpointer.ts), directly, not through this thread.
    const channel = this.options.file !== ':memory:' ? new MessageChannel() : null;
    const workerData: WorkerOptions = channel ? { ...this.options, checkpoints: channel.port1 } : this.options;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData, transferList: channel ? [channel.port1] : [] });
    this.worker = worker;
    worker.on('message', (res: Response) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.value);
      else p.reject(res.code === undefined ? new Error(`sqlite: ${res.error}`) : Object.assign(new Error(`sqlite: ${res.error}`), { code: res.code }));
    });
    worker.on('error', (err: Partial<Error>) => this.fail(worker, new Error(`the SQLite writer thread failed: ${err.message ?? String(err)}`)));
    worker.on('exit', (code) => this.fail(worker, new Error(`the SQLite writer thread exited with code ${code}`)));
    // The first call proves the database opened and migrated.
    await this.call({ op: 'lastSeq', conv: '' });
    if (channel) {
      this.reader = new Reader(this.options.file, READER_CACHE_MIB);
      this.startCheckpointer(channel.port2);
    }
    this.running = true;
  }

  private startCheckpointer(writer: MessagePort): void {
    const data: CheckpointerOptions = { file: this.options.file, synchronous: this.options.synchronous, intervalMs: CHECKPOINT_INTERVAL_MS, writer };
    const c = new Worker(new URL('./checkpointer.js', import.meta.url), { workerData: data, transferList: [writer] });
    this.checkpointer = c;
    // It works for the writer; it must never be what keeps the process running.
    c.unref();
    let warned = false;
    c.on('message', (m: { error?: string }) => {
      if (m.error && !warned) this.warn(`WAL checkpoint failed (commits checkpoint for themselves meanwhile): ${m.error}`);
      if (m.error) warned = true;
    });
    c.on('error', (err) => this.warn(`WAL checkpointer stopped (commits checkpoint for themselves from now on): ${err.message}`));
    c.on('exit', () => {
      if (this.checkpointer === c) this.checkpointer = null;
    });
  }

  private async stopCheckpointer(): Promise<void> {
    const c = this.checkpointer;
    if (!c) return;
    this.checkpointer = null;
    const closed = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.postMessage('close');
    await Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 5000).unref())]);
    await c.terminate();
  }

  async close(): Promise<void> {
    this.running = false;
    try {
      if (!this.worker) return;
      const w = this.worker;
      // The writer closes last: closing the last connection checkpoints everything and removes the WAL.
      await this.stopCheckpointer();
      this.closeReader();
      await this.call({ op: 'close' });
      this.worker = null;
      await w.terminate();
    } finally {
      // Also after the writer thread ended by itself (close is then all that is left to do).
      this.closeReader();
      this.releaseLock();
    }
  }

  private closeReader(): void {
    this.reader?.close();
    this.reader = null;
  }

  private releaseLock(): void {
    this.lock?.release();
    this.lock = null;
  }

  async commit(batch: WriteBatch): Promise<Appended[]> {
    return unpackResults(batch, (await this.call({ op: 'commit', batch: packBatch(batch) })) as PackedResults);
  }
  history(q: HistoryQuery): Promise<HistoryPage> {
    const viaWriter = (): Promise<HistoryPage> => this.call({ op: 'history', q }) as Promise<HistoryPage>;
    return this.reader && this.worker ? this.reader.run((r) => r.history(q), viaWriter) : viaWriter();
  }
  lastSeq(conv: string): Promise<number> {
    return this.call({ op: 'lastSeq', conv }) as Promise<number>;
  }
  isMember(user: string, conv: string): Promise<boolean> {
    const viaWriter = (): Promise<boolean> => this.call({ op: 'isMember', user, conv }) as Promise<boolean>;
    return this.reader && this.worker ? this.reader.run((r) => r.isMember(user, conv), viaWriter) : viaWriter();
  }
  memberships(users: readonly string[]): Promise<Map<string, Membership[]>> {
    const viaWriter = (): Promise<Map<string, Membership[]>> => this.call({ op: 'memberships', users: [...users] }) as Promise<Map<string, Membership[]>>;
    return this.reader && this.worker ? this.reader.run((r) => r.memberships(users), viaWriter) : viaWriter();
  }
  members(conv: string): Promise<string[]> {
    return this.call({ op: 'members', conv }) as Promise<string[]>;
  }
  async addUpload(upload: Upload): Promise<void> {
    await this.call({ op: 'addUpload', upload });
  }
  getUpload(fileId: string): Promise<Upload | null> {
    return this.call({ op: 'getUpload', fileId }) as Promise<Upload | null>;
  }
  canReadUpload(fileId: string, user: string): Promise<boolean> {
    return this.call({ op: 'canReadUpload', fileId, user }) as Promise<boolean>;
  }
  trimOlder(before: number, limit: number): Promise<number> {
    return this.call({ op: 'trimOlder', before, limit }) as Promise<number>;
  }
  trimToCount(keep: number, from: CountCursor, limit: number): Promise<CountTrim> {
    return this.call({ op: 'trimToCount', keep, from, limit }) as Promise<CountTrim>;
  }
  trimConversation(conv: string, rule: ConversationTrimRule, limit: number): Promise<number> {
    return this.call({ op: 'trimConversation', conv, rule, limit }) as Promise<number>;
  }
  trimUploads(before: number, limit: number): Promise<UploadTrim> {
    return this.call({ op: 'trimUploads', before, limit }) as Promise<UploadTrim>;
  }

  createRoom(room: RoomRecord): Promise<boolean> {
    return this.call({ op: 'createRoom', room }) as Promise<boolean>;
  }
  updateRoom(room: RoomRecord): Promise<boolean> {
    return this.call({ op: 'updateRoom', room }) as Promise<boolean>;
  }
  deleteRoom(name: string): Promise<boolean> {
    return this.call({ op: 'deleteRoom', name }) as Promise<boolean>;
  }
  getRoom(name: string): Promise<RoomRecord | null> {
    return this.call({ op: 'getRoom', name }) as Promise<RoomRecord | null>;
  }
  listRooms(): Promise<RoomRecord[]> {
    return this.call({ op: 'listRooms' }) as Promise<RoomRecord[]>;
  }
  addRoomMember(room: string, user: string): Promise<boolean> {
    return this.call({ op: 'addRoomMember', room, user }) as Promise<boolean>;
  }
  removeRoomMember(room: string, user: string): Promise<boolean> {
    return this.call({ op: 'removeRoomMember', room, user }) as Promise<boolean>;
  }
  listRoomMembers(room: string): Promise<string[]> {
    return this.call({ op: 'listRoomMembers', room }) as Promise<string[]>;
  }
  allRoomMembers(): Promise<{ room: string; user: string }[]> {
    return this.call({ op: 'allRoomMembers' }) as Promise<{ room: string; user: string }[]>;
  }

  async enqueueWebhooks(events: readonly WebhookEvent[]): Promise<void> {
    await this.call({ op: 'enqueueWebhooks', events: [...events] });
  }
  dueWebhooks(endpoint: string, now: number, limit: number): Promise<WebhookEvent[]> {
    return this.call({ op: 'dueWebhooks', endpoint, now, limit }) as Promise<WebhookEvent[]>;
  }
  async deleteWebhook(eventId: string): Promise<void> {
    await this.call({ op: 'deleteWebhook', eventId });
  }
  async retryWebhook(eventId: string, attempts: number, nextAt: number): Promise<void> {
    await this.call({ op: 'retryWebhook', eventId, attempts, nextAt });
  }
  countWebhooks(endpoint: string): Promise<number> {
    return this.call({ op: 'countWebhooks', endpoint }) as Promise<number>;
  }
  dropOldestWebhooks(endpoint: string, keep: number): Promise<number> {
    return this.call({ op: 'dropOldestWebhooks', endpoint, keep }) as Promise<number>;
  }

  private call(payload: Payload): Promise<unknown> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error('sqlite store is not open'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...payload, id } as Request);
    });
  }

  /** The writer thread is gone: every call in flight fails, and so does every later one. */
  private fail(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.worker = null;
    this.closeReader();
    void this.stopCheckpointer();
    if (this.running) {
      this.running = false;
      this.lost(err);
    }
  }
}
