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
];
