/**
 * The PostgreSQL store's room registry and webhook queue (the tables of schema.ts's third migration). A base class
 * of PostgresStore, so that these calls run on the store's one ordered connection like all its others: one at a
 * time, in the order the calls were made (the Store contract). Several nodes may share the tables: every write is
 * one statement, or one transaction, that settles a conflict by itself (ON CONFLICT, rows counted).
 */
import type { RoomRecord, Store, WebhookEvent } from '../store.js';
import type { SerialConnection } from './serial-connection.js';

type RegistryPart =
  | 'createRoom'
  | 'updateRoom'
  | 'deleteRoom'
  | 'getRoom'
  | 'listRooms'
  | 'addRoomMember'
  | 'removeRoomMember'
  | 'listRoomMembers'
  | 'allRoomMembers'
  | 'enqueueWebhooks'
  | 'dueWebhooks'
  | 'deleteWebhook'
  | 'retryWebhook'
  | 'countWebhooks'
  | 'dropOldestWebhooks';

interface RoomRow {
  name: string;
  kind: RoomRecord['kind'];
  durable: boolean;
  max_count: string | null;
  max_age_days: number | null;
  created_at: string;
}

interface WebhookRow {
  id: string;
  endpoint: string;
  body: string;
  attempts: number;
  next_at: string;
  created_at: string;
}

const ROOM_COLUMNS = 'name, kind, durable, max_count, max_age_days, created_at';
const WEBHOOK_COLUMNS = 'id, endpoint, body, attempts, next_at, created_at';

export class PostgresRegistry implements Pick<Store, RegistryPart> {
  /** `db`: the store's ordered connection. */
  constructor(protected readonly db: SerialConnection) {}

  createRoom(r: RoomRecord): Promise<boolean> {
    return this.db.run(async (c) => {
      const { rowCount } = await c.query(
        `INSERT INTO rooms (${ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING`,
        [r.name, r.kind, r.durable, r.maxCount, r.maxAgeDays, r.createdAt],
      );
      return rowCount! > 0;
    });
  }

  updateRoom(r: RoomRecord): Promise<boolean> {
    return this.db.run(async (c) => {
      const { rowCount } = await c.query('UPDATE rooms SET kind = $2, durable = $3, max_count = $4, max_age_days = $5 WHERE name = $1', [
        r.name,
        r.kind,
        r.durable,
        r.maxCount,
        r.maxAgeDays,
      ]);
      return rowCount! > 0;
    });
  }

  deleteRoom(name: string): Promise<boolean> {
    return this.db.run(async (c) => {
      await c.query('BEGIN');
      try {
        const { rowCount } = await c.query('DELETE FROM rooms WHERE name = $1', [name]);
        if (rowCount! > 0) await c.query('DELETE FROM room_members WHERE room = $1', [name]);
        await c.query('COMMIT');
        return rowCount! > 0;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    });
  }

  getRoom(name: string): Promise<RoomRecord | null> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms WHERE name = $1`, [name]);
      return rows[0] ? toRoom(rows[0]) : null;
    });
  }

  listRooms(): Promise<RoomRecord[]> {
    return this.db.run(async (c) => (await c.query<RoomRow>(`SELECT ${ROOM_COLUMNS} FROM rooms ORDER BY name`)).rows.map(toRoom));
  }

  addRoomMember(room: string, user: string): Promise<boolean> {
    return this.db.run(async (c) => (await c.query('INSERT INTO room_members (room, "user") VALUES ($1, $2) ON CONFLICT DO NOTHING', [room, user])).rowCount! > 0);
  }

  removeRoomMember(room: string, user: string): Promise<boolean> {
    return this.db.run(async (c) => (await c.query('DELETE FROM room_members WHERE room = $1 AND "user" = $2', [room, user])).rowCount! > 0);
  }

  listRoomMembers(room: string): Promise<string[]> {
    return this.db.run(async (c) =>
      (await c.query<{ user: string }>('SELECT "user" FROM room_members WHERE room = $1 ORDER BY "user"', [room])).rows.map((r) => r.user),
    );
  }

  allRoomMembers(): Promise<{ room: string; user: string }[]> {
    return this.db.run(async (c) => (await c.query<{ room: string; user: string }>('SELECT room, "user" FROM room_members ORDER BY room, "user"')).rows);
  }

  /** One statement, so one transaction. */
  enqueueWebhooks(events: readonly WebhookEvent[]): Promise<void> {
    return this.db.run(async (c) => {
      if (events.length === 0) return;
      await c.query(
        `INSERT INTO webhook_events (${WEBHOOK_COLUMNS})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[])
         ON CONFLICT (id) DO NOTHING`,
        [
          events.map((e) => e.id),
          events.map((e) => e.endpoint),
          events.map((e) => e.body),
          events.map((e) => e.attempts),
          events.map((e) => e.nextAt),
          events.map((e) => e.createdAt),
        ],
      );
    });
  }

  dueWebhooks(endpoint: string, now: number, limit: number): Promise<WebhookEvent[]> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<WebhookRow>(
        `SELECT ${WEBHOOK_COLUMNS} FROM webhook_events WHERE endpoint = $1 AND next_at <= $2 ORDER BY next_at, created_at, id LIMIT $3`,
        [endpoint, now, limit],
      );
      return rows.map(toWebhook);
    });
  }

  deleteWebhook(id: string): Promise<void> {
    return this.db.run(async (c) => {
      await c.query('DELETE FROM webhook_events WHERE id = $1', [id]);
    });
  }

  retryWebhook(id: string, attempts: number, nextAt: number): Promise<void> {
    return this.db.run(async (c) => {
      await c.query('UPDATE webhook_events SET attempts = $2, next_at = $3 WHERE id = $1', [id, attempts, nextAt]);
    });
  }

  countWebhooks(endpoint: string): Promise<number> {
    return this.db.run(async (c) => {
      const { rows } = await c.query<{ n: string }>('SELECT COUNT(*) AS n FROM webhook_events WHERE endpoint = $1', [endpoint]);
      return Number(rows[0]!.n);
    });
  }

  /** The newest `keep` are skipped; every one older goes. */
  dropOldestWebhooks(endpoint: string, keep: number): Promise<number> {
    return this.db.run(async (c) => {
      const { rowCount } = await c.query(
        `DELETE FROM webhook_events WHERE endpoint = $1 AND id IN (
           SELECT id FROM webhook_events WHERE endpoint = $1 ORDER BY created_at DESC, id DESC OFFSET $2)`,
        [endpoint, Math.max(0, keep)],
      );
      return rowCount ?? 0;
    });
  }
}

function toRoom(r: RoomRow): RoomRecord {
  return {
    name: r.name,
    kind: r.kind,
    durable: r.durable,
    maxCount: r.max_count === null ? null : Number(r.max_count),
    maxAgeDays: r.max_age_days,
    createdAt: Number(r.created_at),
  };
}

function toWebhook(r: WebhookRow): WebhookEvent {
  return { id: r.id, endpoint: r.endpoint, body: r.body, attempts: r.attempts, nextAt: Number(r.next_at), createdAt: Number(r.created_at) };
}
