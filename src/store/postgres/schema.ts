/** PostgreSQL schema, one migration per entry; the `switchboard_migrations` table records which have run. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     last_seq BIGINT NOT NULL
   );
   CREATE TABLE messages (
     conv TEXT NOT NULL,
     seq BIGINT NOT NULL,
     id TEXT NOT NULL,
     sender TEXT NOT NULL,
     content_type TEXT NOT NULL,
     body TEXT NOT NULL,
     ts BIGINT NOT NULL,
     key TEXT,
     PRIMARY KEY (conv, seq)
   );
   CREATE UNIQUE INDEX messages_by_key ON messages (conv, sender, key) WHERE key IS NOT NULL;
   CREATE INDEX messages_by_ts ON messages (ts);
   CREATE TABLE members (
     "user" TEXT NOT NULL,
     conv TEXT NOT NULL,
     read_seq BIGINT NOT NULL,
     PRIMARY KEY ("user", conv)
   );
   CREATE INDEX members_by_conv ON members (conv);
   CREATE TABLE uploads (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     name TEXT NOT NULL,
     mime TEXT NOT NULL,
     size BIGINT NOT NULL,
     ts BIGINT NOT NULL
   );
   CREATE TABLE upload_links (
     file TEXT NOT NULL,
     conv TEXT NOT NULL,
     PRIMARY KEY (file, conv)
   );`,
  // Retention removes files with the messages that referred to them. A link remembers the last message in its
  // conversation that did: links made before this cover everything stored then (and go now if nothing is left of
  // it); one written without it (by a server of the version before, sharing the database during an upgrade) is
  // never dropped, so its file stays. `unlinked` marks the uploads to look at: set on upload and when a last link
  // goes, cleared when a look finds the file in use, so retention never reads the same in-use upload twice.
  `ALTER TABLE upload_links ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 9223372036854775807;
   UPDATE upload_links l SET last_seq = COALESCE((SELECT last_seq FROM conversations c WHERE c.id = l.conv), 0);
   DELETE FROM upload_links l
     WHERE l.last_seq < COALESCE((SELECT MIN(seq) FROM messages m WHERE m.conv = l.conv), 9223372036854775807);
   CREATE INDEX upload_links_by_conv ON upload_links (conv, last_seq);
   ALTER TABLE uploads ADD COLUMN unlinked BOOLEAN NOT NULL DEFAULT true;
   CREATE INDEX uploads_unlinked ON uploads (ts) WHERE unlinked;`,
  // The room registry: rooms the app's backend manages through the server API, and the member lists of its
  // private rooms (not `members`, which is conversation membership with read positions). A member list may name a
  // room that is not registered. Names and users compare by bytes (COLLATE "C"), so that lists come in the order
  // SQLite gives them, whatever the database's locale. The webhook queue: events for the app's backend, each kept
  // until its receiver answered 2xx; due ones are read per endpoint in (next_at, created_at, id) order, and the
  // oldest go first when an endpoint's queue is cut back.
  `CREATE TABLE rooms (
     name TEXT COLLATE "C" PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'push')),
     durable BOOLEAN NOT NULL,
     max_count BIGINT,
     max_age_days DOUBLE PRECISION,
     created_at BIGINT NOT NULL
   );
   CREATE TABLE room_members (
     room TEXT COLLATE "C" NOT NULL,
     "user" TEXT COLLATE "C" NOT NULL,
     PRIMARY KEY (room, "user")
   );
   CREATE TABLE webhook_events (
     id TEXT COLLATE "C" PRIMARY KEY,
     endpoint TEXT NOT NULL,
     body TEXT NOT NULL,
     attempts INT NOT NULL,
     next_at BIGINT NOT NULL,
     created_at BIGINT NOT NULL
   );
   CREATE INDEX webhook_events_due ON webhook_events (endpoint, next_at, created_at, id);
   CREATE INDEX webhook_events_by_age ON webhook_events (endpoint, created_at, id);`,
];
