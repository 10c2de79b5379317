/**
 * Every setting Switchboard has, with its default. The same schema validates a
 * config file, environment variables (SWITCHBOARD_LIMITS_MAX_FRAME_BYTES for
 * limits.maxFrameBytes) and flags (--limits.maxFrameBytes 65536).
 */
import { z } from 'zod';
import { isRoomPattern } from '../access/patterns.js';

const roomRule = z.strictObject({
  /** Exact room name, or a prefix ending in `*` (`team-*`). */
  match: z
    .string()
    .refine(isRoomPattern, 'a room name (1-100 characters of A-Z a-z 0-9 _ . : -), or a prefix of one followed by a single trailing *'),
  kind: z.enum(['public', 'private', 'push']).default('public'),
  /** Store the room's messages (history, recovery, offline delivery); false: pure pub/sub. */
  durable: z.boolean().default(true),
});

/** What the app's backend may hear about through webhooks (docs/api.md, "Webhooks"). */
export const WEBHOOK_EVENT_TYPES = ['message.created', 'user.online', 'user.offline', 'room.member.joined', 'room.member.left', 'session.disconnected'] as const;

const webhookEndpoint = z.strictObject({
  /** Names the endpoint in logs and in the store's queue: keep it when the URL changes, or what is queued is left behind. */
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 _ . -'),
  url: z
    .string()
    .refine((u) => {
      try {
        const p = new URL(u).protocol;
        return p === 'http:' || p === 'https:';
      } catch {
        return false;
      }
    }, 'an http:// or https:// URL'),
  /** Signs every delivery (HMAC-SHA256): the receiver checks the Switchboard-Signature header with it. */
  secret: z.string().min(16, 'a webhook secret must be at least 16 characters'),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1),
  /**
   * For message.created: the rooms whose messages are sent (names or `prefix*`). Unset: every room; `[]`: none.
   * Direct messages are sent only when their recipient had no session (for a mobile push notification).
   */
  rooms: z
    .array(z.string().refine(isRoomPattern, 'a room name, or a prefix of one followed by a single trailing *'))
    .optional(),
  /** How long one delivery may take (until the answer's headers) before it counts as failed and is retried. */
  timeoutMs: z.number().int().min(100).max(120_000).default(5000),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Path of the WebSocket endpoint. */
      path: z.string().startsWith('/').default('/ws'),
      /** Folder served at `/`. Unset: the bundled web chat; empty string: serve no files. */
      webRoot: z.string().optional(),
      tls: z
        .strictObject({ cert: z.string().optional(), key: z.string().optional() })
        .prefault({})
        .refine((t) => (t.cert === undefined) === (t.key === undefined), 'tls needs both cert and key (file paths)'),
      /**
       * How long a client may take to send a request's headers (the WebSocket upgrade too) before its connection
       * is dropped: a connection trickling headers holds a socket and counts toward no other limit.
       */
      headersTimeoutMs: z.number().int().min(1000).max(300_000).default(20_000),
      /**
       * Web pages (`https://app.example.com`, or `*`) that may connect from a browser and use the HTTP routes
       * across origins (CORS). Empty: no Origin check and no CORS headers. The server's own page always may.
       */
      allowedOrigins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'an origin is scheme://host[:port], or *')).default([]),
    })
    .prefault({}),
  auth: z
    .strictObject({
      /** Accept `?user=NAME` without a token. Unset: on only when no JWT key is configured and the host is loopback. */
      dev: z.boolean().optional(),
      /** Dev identities on a non-loopback address must be asked for by name. */
      allowDevOnPublicHost: z.boolean().default(false),
      /** How long a connection without a token may wait before sending `auth`. */
      timeoutMs: z.number().int().positive().default(5000),
      jwt: z
        .strictObject({
          /** HS256/384/512 shared secret. */
          secret: z.string().min(16, 'jwt secret must be at least 16 characters').optional(),
          /** PEM public key (SPKI) for RS*, PS* or ES* tokens, or a path to a PEM file. */
          publicKey: z.string().optional(),
          algorithms: z.array(z.string()).optional(),
          issuer: z.string().optional(),
          audience: z.string().optional(),
          /** Refuse tokens without an `exp` claim (4001): a token that never expires cannot be taken back. */
          requireExp: z.boolean().default(false),
          /** Claim listing the private rooms the user may join (names or `prefix*`). */
          roomsClaim: z.string().default('rooms'),
        })
        .prefault({})
        .refine((j) => !(j.secret && j.publicKey), 'configure either auth.jwt.secret or auth.jwt.publicKey, not both'),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      /** `multiple`: a user may hold several sessions; `replace`: a new session closes the user's older ones. */
      policy: z.enum(['multiple', 'replace']).default('multiple'),
      maxPerUser: z.number().int().positive().default(10),
    })
    .prefault({}),
  heartbeat: z
    .strictObject({
      intervalMs: z.number().int().min(50).default(25_000),
      timeoutMs: z.number().int().min(50).default(10_000),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxConnections: z.number().int().positive().default(10_000),
      /**
       * Connections that came without credentials and may still send `auth` (for up to auth.timeoutMs). Past it
       * such connections are refused (1013): they would otherwise take the places of users who can identify.
       */
      maxUnidentified: z.number().int().positive().default(1_000),
      maxFrameBytes: z.number().int().min(1024).default(64 * 1024),
      maxTextLength: z.number().int().positive().default(8_000),
      messagesPerSecond: z.number().positive().default(50),
      burst: z.number().int().positive().default(100),
      /** Messages refused for rate within one second before the session is closed (4006). */
      maxRateStrikes: z.number().int().positive().default(20),
      roomsPerSession: z.number().int().positive().default(100),
      /** Bytes queued for a session that has not read them yet before it is closed (4005). */
      maxQueueBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
      /** Messages queued for a session that has not read them yet before it is closed (4005). */
      maxQueueMessages: z.number().int().positive().default(10_000),
      /**
       * Longest pause between two writes to the sockets. After a flush to sessions that receive steadily
       * (members of busy rooms) the server pauses as long as the flush took, at most this long, so that what
       * arrives meanwhile shares frames (fewer writes per delivery); a quiet server writes at once (session/
       * flusher.ts). 0: write every event-loop turn, however busy.
       */
      flushIntervalMs: z.number().int().min(0).max(1000).default(10),
      /** How long a closing connection may take to answer the close frame before it is cut off. */
      closeTimeoutMs: z.number().int().positive().default(5_000),
    })
    .prefault({}),
  compression: z
    .strictObject({
      /** Offer permessage-deflate to clients that ask for it. */
      enabled: z.boolean().default(false),
      /** Frames smaller than this are sent uncompressed. */
      thresholdBytes: z.number().int().nonnegative().default(1024),
    })
    .prefault({}),
  welcome: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** `{user}` is replaced by the user id. */
      text: z.string().default('Welcome to Switchboard, {user}!'),
    })
    .prefault({}),
  rooms: z
    .strictObject({
      /** First matching rule decides a room's kind; unmatched rooms are public. */
      rules: z.array(roomRule).default([
        { match: 'private:*', kind: 'private', durable: true },
        { match: 'push:*', kind: 'push', durable: true },
      ]),
      /** Send join/leave presence events to room members. */
      presenceEvents: z.boolean().default(true),
    })
    .prefault({}),
  store: z
    .strictObject({
      /** `postgres://…` to use PostgreSQL; unset: the embedded SQLite store in `store.file`. */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'store.url must be a postgres:// URL')
        .optional(),
      /** SQLite database file (created on first start). */
      file: z.string().default('data/switchboard.db'),
      /** SQLite fsync policy: `full` survives power loss, `normal` survives a process crash. */
      synchronous: z.enum(['full', 'normal']).default('full'),
      /** The SQLite writer's page cache, in MiB (its RSS grows by up to this much as the database grows). */
      cacheMiB: z.number().int().min(1).default(64),
      /** Messages waiting to be stored before publishes are refused with `unavailable`. */
      maxPending: z.number().int().positive().default(50_000),
      /** Most messages written in one transaction. */
      maxBatch: z.number().int().positive().default(5_000),
      /** Most missed messages replayed on a recovering join or sync; more is answered "too old". */
      recoveryLimit: z.number().int().positive().default(1_000),
      /**
       * Most bytes one recovering join or sync replays; what it missed beyond that is answered "too old" and the
       * client pages it from history at its own pace (one replay far above the outbound queue limit would close
       * even a client that reads at full speed as a slow consumer).
       */
      recoveryMaxBytes: z.number().int().min(1024).default(1024 * 1024),
      /** Largest history page. */
      historyMaxLimit: z.number().int().positive().default(200),
      retention: z
        .strictObject({
          /** Keep at most this many messages per conversation. */
          maxCount: z.number().int().positive().optional(),
          /** Drop messages older than this many days. */
          maxAgeDays: z.number().positive().optional(),
          /** How long after one retention pass the next starts. */
          intervalMs: z.number().int().positive().default(60_000),
          /** Most messages removed (and conversations or unused uploads looked at) in one step of a pass: writes wait for one step at most. */
          stepSize: z.number().int().positive().default(500),
        })
        .prefault({}),
    })
    .prefault({}),
  uploads: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Where uploaded files are kept. */
      dir: z.string().default('data/uploads'),
      maxBytes: z.number().int().positive().default(20 * 1024 * 1024),
      /**
       * Bytes each user may upload per hour (refilled continuously); past it uploads are refused with 429 until
       * enough time has passed. Counted per server, in memory.
       */
      userBytesPerHour: z.number().int().positive().default(1024 * 1024 * 1024),
      /** An upload that sends nothing for this long is dropped (and its partial file removed). */
      idleTimeoutMs: z.number().int().min(1000).default(30_000),
      /**
       * Uploads that no stored message refers to — never sent, or their messages gone with retention — are
       * removed (record and bytes) once this many hours old, by the background retention pass.
       */
      unusedMaxAgeHours: z.number().min(0).default(24),
      /** Allowed MIME types; `type/*` allows a whole family. */
      allowedTypes: z
        .array(z.string())
        .default(['image/*', 'audio/*', 'video/*', 'text/plain', 'application/pdf', 'application/zip', 'application/octet-stream']),
    })
    .prefault({}),
  api: z
    .strictObject({
      /**
       * Keys the app's backend calls the server API (/api/v1) with: a name (for logs), the SHA-256 of the key
       * (hex; `switchboard api-key` makes a key and prints it), and what it may do. No keys: the API answers 401.
       */
      keys: z
        .array(
          z.strictObject({
            name: z.string().min(1).max(64),
            hash: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the key, 64 hex digits (switchboard api-key prints one)'),
            scopes: z.array(z.enum(['publish', 'read', 'admin'])).min(1),
          }),
        )
        .default([]),
      /** Largest request body the API reads; larger ones are refused with 413. */
      maxBodyBytes: z.number().int().min(1024).default(1024 * 1024),
      /** Most messages in one batch publish. */
      maxBatch: z.number().int().positive().max(10_000).default(1000),
      /** Longest lifetime of a client token the API mints. */
      tokenMaxTtlSeconds: z.number().int().positive().default(86_400),
    })
    .prefault({}),
  webhooks: z
    .strictObject({
      /** Where events go (JSON list; SWITCHBOARD_WEBHOOKS_ENDPOINTS takes it as JSON). Empty: no webhooks. */
      endpoints: z
        .array(webhookEndpoint)
        .default([])
        .refine((list) => new Set(list.map((e) => e.name)).size === list.length, 'endpoint names must be unique'),
      /** Most events kept per endpoint (queued in the store, not yet answered 2xx); past it the oldest are dropped, counted and logged. */
      maxQueued: z.number().int().positive().default(100_000),
      /**
       * Deliveries of one event before it is given up (dropped, counted and logged). Unset: never; an event is
       * retried, at most retryMaxMs apart, until its receiver answers 2xx or maxQueued pushes it out.
       */
      maxAttempts: z.number().int().positive().optional(),
      /** The n-th retry waits a random time between 0 and min(retryMaxMs, retryBaseMs * 2^(n-1)) (full jitter). */
      retryBaseMs: z.number().int().positive().default(1000),
      retryMaxMs: z.number().int().positive().default(3_600_000),
    })
    .prefault({})
    .refine((w) => w.retryMaxMs >= w.retryBaseMs, 'webhooks.retryMaxMs must be at least webhooks.retryBaseMs'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      /** Write logs to this file instead of stdout. */
      file: z.string().optional(),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      /** How long a graceful stop waits for sockets to close before it ends them. */
      graceMs: z.number().int().nonnegative().default(5_000),
      /**
       * How long a graceful stop first goes on serving its sessions while `/readyz` answers 503 and new
       * connections are refused, so that a load balancer sees it leave before its sessions are closed.
       */
      drainMs: z.number().int().nonnegative().max(600_000).default(0),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type RoomKind = z.infer<typeof roomRule>['kind'];
