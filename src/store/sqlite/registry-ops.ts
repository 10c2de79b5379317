/**
 * The worker's room registry and webhook queue ops (the tables of schema.ts's fourth migration): their requests,
 * prepared statements and answers. They run on the worker's connection, in the order requests arrive, like every
 * other op; worker.ts's op switch hands them here.
 */
import type Database from 'better-sqlite3';
import type { RoomRecord, WebhookEvent } from '../store.js';

export type RegistryRequest =
  | { id: number; op: 'createRoom'; room: RoomRecord }
  | { id: number; op: 'updateRoom'; room: RoomRecord }
  | { id: number; op: 'deleteRoom'; name: string }
  | { id: number; op: 'getRoom'; name: string }
  | { id: number; op: 'listRooms' }
  | { id: number; op: 'addRoomMember'; room: string; user: string }
  | { id: number; op: 'removeRoomMember'; room: string; user: string }
  | { id: number; op: 'listRoomMembers'; room: string }
  | { id: number; op: 'allRoomMembers' }
  | { id: number; op: 'enqueueWebhooks'; events: WebhookEvent[] }
  | { id: number; op: 'dueWebhooks'; endpoint: string; now: number; limit: number }
  | { id: number; op: 'deleteWebhook'; eventId: string }
  | { id: number; op: 'retryWebhook'; eventId: string; attempts: number; nextAt: number }
  | { id: number; op: 'countWebhooks'; endpoint: string }
  | { id: number; op: 'dropOldestWebhooks'; endpoint: string; keep: number };

interface RoomRow {
  name: string;
  kind: RoomRecord['kind'];
  durable: number;
  max_count: number | null;
  max_age_days: number | null;
  created_at: number;
}

interface WebhookRow {
  id: string;
  endpoint: string;
  body: string;
  attempts: number;
  next_at: number;
  created_at: number;
}

type RoomParams = { name: string; kind: string; durable: number; maxCount: number | null; maxAgeDays: number | null; createdAt: number };

const ROOM_COLUMNS = 'name, kind, durable, max_count, max_age_days, created_at';
const WEBHOOK_COLUMNS = 'id, endpoint, body, attempts, next_at, created_at';

/** Prepares the statements on the worker's connection; the function returned answers one request. */
export function registryOps(db: Database.Database): (req: RegistryRequest) => unknown {
  const q = {
    createRoom: db.prepare<RoomParams>(
      `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES (@name, @kind, @durable, @maxCount, @maxAgeDays, @createdAt) ON CONFLICT (name) DO NOTHING`,
    ),
    updateRoom: db.prepare<RoomParams>(
      'UPDATE rooms SET kind = @kind, durable = @durable, max_count = @maxCount, max_age_days = @maxAgeDays WHERE name = @name',
    ),
    deleteRoom: db.prepare<[string]>('DELETE FROM rooms WHERE name = ?'),
    deleteRoomMembers: db.prepare<[string]>('DELETE FROM room_members WHERE room = ?'),
    getRoom: db.prepare<[string], RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE name = ?`),
    listRooms: db.prepare<[], RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms ORDER BY name`),
    addMember: db.prepare<[string, string]>('INSERT INTO room_members (room, user) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    removeMember: db.prepare<[string, string]>('DELETE FROM room_members WHERE room = ? AND user = ?'),
    listMembers: db.prepare<[string], { user: string }>('SELECT user FROM room_members WHERE room = ? ORDER BY user'),
    allMembers: db.prepare<[], { room: string; user: string }>('SELECT room, user FROM room_members ORDER BY room, user'),
    enqueue: db.prepare<[string, string, string, number, number, number]>(
      `INSERT INTO webhook_events (${WEBHOOK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ),
    due: db.prepare<[string, number, number], WebhookRow>(
      `SELECT ${WEBHOOK_COLUMNS} FROM webhook_events
       WHERE endpoint = ? AND next_at <= ? ORDER BY next_at, created_at, id LIMIT ?`,
    ),
    deleteWebhook: db.prepare<[string]>('DELETE FROM webhook_events WHERE id = ?'),
    retry: db.prepare<[number, number, string]>('UPDATE webhook_events SET attempts = ?, next_at = ? WHERE id = ?'),
    count: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM webhook_events WHERE endpoint = ?'),
    // The newest `keep` are skipped; every one older goes.
    dropOldest: db.prepare<{ endpoint: string; keep: number }>(
      `DELETE FROM webhook_events WHERE endpoint = @endpoint AND id IN (
         SELECT id FROM webhook_events WHERE endpoint = @endpoint
         ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET @keep)`,
    ),
  };

  const deleteRoom = db.transaction((name: string): boolean => {
    if (q.deleteRoom.run(name).changes === 0) return false;
    q.deleteRoomMembers.run(name);
    return true;
  });

  const enqueue = db.transaction((events: WebhookEvent[]): void => {
    for (const e of events) q.enqueue.run(e.id, e.endpoint, e.body, e.attempts, e.nextAt, e.createdAt);
  });

  return (req) => {
    switch (req.op) {
      case 'createRoom':
        return q.createRoom.run(roomParams(req.room)).changes > 0;
      case 'updateRoom':
        return q.updateRoom.run(roomParams(req.room)).changes > 0;
      case 'deleteRoom':
        return deleteRoom(req.name);
      case 'getRoom': {
        const row = q.getRoom.get(req.name);
        return row ? toRoom(row) : null;
      }
      case 'listRooms':
        return q.listRooms.all().map(toRoom);
      case 'addRoomMember':
        return q.addMember.run(req.room, req.user).changes > 0;
      case 'removeRoomMember':
        return q.removeMember.run(req.room, req.user).changes > 0;
      case 'listRoomMembers':
        return q.listMembers.all(req.room).map((r) => r.user);
      case 'allRoomMembers':
        return q.allMembers.all();
      case 'enqueueWebhooks':
        enqueue(req.events);
        return null;
      case 'dueWebhooks':
        return q.due.all(req.endpoint, req.now, req.limit).map(toWebhook);
      case 'deleteWebhook':
        q.deleteWebhook.run(req.eventId);
        return null;
      case 'retryWebhook':
        q.retry.run(req.attempts, req.nextAt, req.eventId);
        return null;
      case 'countWebhooks':
        return q.count.get(req.endpoint)!.n;
      case 'dropOldestWebhooks':
        return q.dropOldest.run({ endpoint: req.endpoint, keep: req.keep }).changes;
    }
  };
}

function roomParams(r: RoomRecord): RoomParams {
  return { name: r.name, kind: r.kind, durable: r.durable ? 1 : 0, maxCount: r.maxCount, maxAgeDays: r.maxAgeDays, createdAt: r.createdAt };
}

function toRoom(r: RoomRow): RoomRecord {
  return { name: r.name, kind: r.kind, durable: r.durable !== 0, maxCount: r.max_count, maxAgeDays: r.max_age_days, createdAt: r.created_at };
}

function toWebhook(r: WebhookRow): WebhookEvent {
  return { id: r.id, endpoint: r.endpoint, body: r.body, attempts: r.attempts, nextAt: r.next_at, createdAt: r.created_at };
}
