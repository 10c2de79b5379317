/** SQLite schema, one migration per entry; PRAGMA user_version records how many have run. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE conversations (
     id TEXT PRIMARY KEY,
     last_seq INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE messages (
     conv TEXT NOT NULL,
     seq INTEGER NOT NULL,
     id TEXT NOT NULL,
     sender TEXT NOT NULL,
     content_type TEXT NOT NULL,
     body TEXT NOT NULL,
     ts INTEGER NOT NULL,
     key TEXT,
     PRIMARY KEY (conv, seq)
   ) WITHOUT ROWID;
   CREATE UNIQUE INDEX messages_by_key ON messages (conv, sender, key) WHERE key IS NOT NULL;
   CREATE INDEX messages_by_ts ON messages (ts);
   CREATE TABLE members (
     user TEXT NOT NULL,
     conv TEXT NOT NULL,
     read_seq INTEGER NOT NULL,
     PRIMARY KEY (user, conv)
   ) WITHOUT ROWID;
   CREATE INDEX members_by_conv ON members (conv);
   CREATE TABLE uploads (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     name TEXT NOT NULL,
     mime TEXT NOT NULL,
     size INTEGER NOT NULL,
     ts INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE upload_links (
     file TEXT NOT NULL,
     conv TEXT NOT NULL,
     PRIMARY KEY (file, conv)
   ) WITHOUT ROWID;`,
  // Idempotency keys indexed key first. Ordered by (conv, sender, key), each commit dirtied one index page per
  // sender and conversation in it, ~one more WAL frame per message; keys that grow with time (the SDK's are v7
  // UUIDs) now land on the index's last page or two. Conversation and sender stay in the index: clients choose
  // keys, and many senders reusing one ("1", "2", …) must not make a lookup read a row per sender.
  `DROP INDEX messages_by_key;
   CREATE UNIQUE INDEX messages_by_key ON messages (key, conv, sender) WHERE key IS NOT NULL;`,
  // Retention removes files with the messages that referred to them. A link remembers the last message in its
  // conversation that did: links made before this cover everything stored then (and go now if nothing is left of
  // it); one written without it (by a server of the version before, sharing the database during an upgrade) is
  // never dropped, so its file stays. `unlinked` marks the uploads to look at: set on upload and when a last link
  // goes, cleared when a look finds the file in use, so retention never reads the same in-use upload twice.
  `ALTER TABLE upload_links ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 9223372036854775807;
   UPDATE upload_links SET last_seq = COALESCE((SELECT last_seq FROM conversations WHERE id = upload_links.conv), 0);
   DELETE FROM upload_links
     WHERE last_seq < COALESCE((SELECT MIN(seq) FROM messages m WHERE m.conv = upload_links.conv), 9223372036854775807);
   CREATE INDEX upload_links_by_conv ON upload_links (conv, last_seq);
   ALTER TABLE uploads ADD COLUMN unlinked INTEGER NOT NULL DEFAULT 1;
   CREATE INDEX uploads_unlinked ON uploads (ts) WHERE unlinked = 1;`,
  // The room registry: rooms the app's backend manages through the server API, and the member lists of its
  // private rooms (not `members`, which is conversation membership with read positions). A member list may name a
  // room that is not registered. The webhook queue: events for the app's backend, each kept until its receiver
  // answered 2xx; due ones are read per endpoint in (next_at, created_at, id) order, and the oldest go first when an
  // endpoint's queue is cut back.
  `CREATE TABLE rooms (
     name TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'push')),
     durable INTEGER NOT NULL,
     max_count INTEGER,
     max_age_days REAL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE TABLE room_members (
     room TEXT NOT NULL,
     user TEXT NOT NULL,
     PRIMARY KEY (room, user)
   ) WITHOUT ROWID;
   CREATE TABLE webhook_events (
     id TEXT PRIMARY KEY,
     endpoint TEXT NOT NULL,
     body TEXT NOT NULL,
     attempts INTEGER NOT NULL,
     next_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   CREATE INDEX webhook_events_due ON webhook_events (endpoint, next_at, created_at);
   CREATE INDEX webhook_events_by_age ON webhook_events (endpoint, created_at);`,
];
