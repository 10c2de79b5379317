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
      host: z.string().min(1).default('127.0.0.1').describe('address to listen on (0.0.0.0 for all)'),
      port: z.number().int().min(0).max(65535).default(8080).describe('port to listen on (0 picks a free one)'),
      path: z.string().startsWith('/').default('/ws').describe('path of the WebSocket endpoint'),
      webRoot: z.string().optional().describe('folder served at / (unset: the bundled web chat; "": serve no files)'),
      tls: z
        .strictObject({
          cert: z.string().optional().describe('PEM certificate file; with server.tls.key set too, the server speaks HTTPS/WSS'),
          key: z.string().optional().describe('PEM private key file of server.tls.cert'),
        })
        .prefault({})
        .refine((t) => (t.cert === undefined) === (t.key === undefined), 'tls needs both cert and key (file paths)'),
      /**
       * How long a client may take to send a request's headers (the WebSocket upgrade too) before its connection
       * is dropped: a connection trickling headers holds a socket and counts toward no other limit.
       */
      headersTimeoutMs: z
        .number()
        .int()
        .min(1000)
        .max(300_000)
        .default(20_000)
        .describe("a client that takes longer to send a request's headers is answered 408 and dropped"),
      /**
       * Web pages (`https://app.example.com`, or `*`) that may connect from a browser and use the HTTP routes
       * across origins (CORS). Empty: no Origin check and no CORS headers. The server's own page always may.
       */
      allowedOrigins: z
        .array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'an origin is scheme://host[:port], or *'))
        .default([])
        .describe('browser origins (https://app.example.com, or *) that may connect and use the HTTP routes (CORS)'),
      /**
       * Processes serving one listening port on this machine (Node's cluster module), coordinated through the
       * broker: `auto` is one per core. More than one needs `broker.url` and a shared store (PostgreSQL).
       */
      workers: z
        .union([z.literal('auto'), z.number().int().min(1).max(256)])
        .default(1)
        .describe('processes behind the one listening port (auto: one per core); more than 1 needs broker.url and store.url'),
    })
    .prefault({}),
  auth: z
    .strictObject({
      dev: z.boolean().optional().describe('accept ?user=NAME without a token (unset: on only with no JWT key and a loopback host)'),
      /** Dev identities on a non-loopback address must be asked for by name. */
      allowDevOnPublicHost: z.boolean().default(false).describe('allow dev identities on a non-loopback address (never in production)'),
      timeoutMs: z.number().int().positive().default(5000).describe('how long a connection without credentials may take to send `auth` (then 4009)'),
      jwt: z
        .strictObject({
          secret: z
            .string()
            .min(16, 'jwt secret must be at least 16 characters')
            .optional()
            .describe('HS256/384/512 shared secret (16+ characters) that verifies tokens; best given in the environment'),
          publicKey: z.string().optional().describe('PEM public key (SPKI) for RS*, PS* or ES* tokens, or a path to a PEM file'),
          algorithms: z
            .array(z.string())
            .optional()
            .describe('token algorithms accepted, e.g. ["ES256"] (unset: HS256/384/512 for a secret, any the public key can verify)'),
          issuer: z.string().optional().describe('the `iss` claim every token must carry (unset: not checked)'),
          audience: z.string().optional().describe('a value the `aud` claim of every token must name (unset: not checked)'),
          requireExp: z
            .boolean()
            .default(false)
            .describe('refuse tokens without an `exp` claim (4001): a token that never expires cannot be taken back'),
          roomsClaim: z.string().default('rooms').describe('claim listing the private rooms the user may join (names or `prefix*`)'),
        })
        .prefault({})
        .refine((j) => !(j.secret && j.publicKey), 'configure either auth.jwt.secret or auth.jwt.publicKey, not both'),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      policy: z
        .enum(['multiple', 'replace'])
        .default('multiple')
        .describe("multiple: a user may hold several sessions; replace: a new session closes the user's older ones (4003)"),
      maxPerUser: z.number().int().positive().default(10).describe('sessions per user under policy multiple (then 4007)'),
    })
    .prefault({}),
  heartbeat: z
    .strictObject({
      intervalMs: z.number().int().min(50).default(25_000).describe('how often the server pings each session'),
      timeoutMs: z.number().int().min(50).default(10_000).describe('how long a session may take to answer a ping before it is closed (4004)'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxConnections: z.number().int().positive().default(10_000).describe('connections per server (then 1013)'),
      /**
       * Connections that came without credentials and may still send `auth` (for up to auth.timeoutMs). Past it
       * such connections are refused (1013): they would otherwise take the places of users who can identify.
       */
      maxUnidentified: z.number().int().positive().default(1_000).describe('connections waiting to send their first `auth` (then 1013)'),
      maxFrameBytes: z.number().int().min(1024).default(64 * 1024).describe('largest message accepted, fragments reassembled (then 1009)'),
      maxTextLength: z.number().int().positive().default(8_000).describe('longest text message body'),
      messagesPerSecond: z
        .number()
        .positive()
        .default(50)
        .describe('sustained messages per session (every line a client sends counts, ping and typing too)'),
      burst: z.number().int().positive().default(100).describe('messages per session at once, above the sustained rate'),
      maxRateStrikes: z.number().int().positive().default(20).describe('messages refused for rate within one second before a flood close (4006)'),
      roomsPerSession: z.number().int().positive().default(100).describe('rooms one session may join'),
      maxQueueBytes: z.number().int().min(1024).default(4 * 1024 * 1024).describe('bytes queued for a session that has not read them yet before it is closed (4005)'),
      maxQueueMessages: z.number().int().positive().default(10_000).describe('messages queued for a session that has not read them yet before it is closed (4005)'),
      /**
       * Longest pause between two writes to the sockets. After a flush to sessions that receive steadily
       * (members of busy rooms) the server pauses as long as the flush took, at most this long, so that what
       * arrives meanwhile shares frames (fewer writes per delivery); a quiet server writes at once (outbound/
       * flusher.ts). 0: write every event-loop turn, however busy.
       */
      flushIntervalMs: z.number().int().min(0).max(1000).default(10).describe('longest pause between two rounds of socket writes on a busy server (0: write every event-loop turn)'),
      /**
       * After a round of socket writes to at least 256 steadily receiving sessions (a big room's fan-out, or this
       * node's part of it), the next round starts no sooner than this after that one began: a round's length
       * depends on how many of the room's members this node holds, the batching should not (outbound/flusher.ts).
       * 0: such rounds are paced like the others. Nothing when flushIntervalMs is 0.
       */
      fanoutPeriodMs: z
        .number()
        .int()
        .min(0)
        .max(1000)
        .default(20)
        .describe("shortest time between the starts of two rounds of socket writes after one to a big room's members (0: none)"),
      closeTimeoutMs: z.number().int().positive().default(5_000).describe('how long a closing connection may take to answer the close frame before it is cut off'),
    })
    .prefault({}),
  compression: z
    .strictObject({
      enabled: z.boolean().default(false).describe('offer permessage-deflate to clients that ask for it'),
      thresholdBytes: z.number().int().nonnegative().default(1024).describe('frames smaller than this are sent uncompressed'),
    })
    .prefault({}),
  welcome: z
    .strictObject({
      enabled: z.boolean().default(true).describe('send the System welcome notice on connect'),
      text: z.string().default('Welcome to Switchboard, {user}!').describe('text of the welcome notice; {user} is replaced by the user id'),
    })
    .prefault({}),
  rooms: z
    .strictObject({
      /** First matching rule decides a room's kind; unmatched rooms are public. */
      rules: z
        .array(roomRule)
        .default([
          { match: 'private:*', kind: 'private', durable: true },
          { match: 'push:*', kind: 'push', durable: true },
        ])
        .describe("JSON list of {match, kind, durable}: the first match decides a room's kind; setting it replaces the defaults"),
      presenceEvents: z.boolean().default(true).describe('send join/leave presence events to room members'),
    })
    .prefault({}),
  store: z
    .strictObject({
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'store.url must be a postgres:// URL')
        .optional()
        .describe('postgres://user:pass@host/db to use PostgreSQL (unset: the embedded SQLite store in store.file)'),
      file: z.string().default('data/switchboard.db').describe('SQLite database file (created on first start)'),
      synchronous: z
        .enum(['full', 'normal'])
        .default('full')
        .describe('SQLite fsync policy: full survives power loss, normal survives a process crash'),
      /** The SQLite writer's page cache, in MiB (its RSS grows by up to this much as the database grows). */
      cacheMiB: z.number().int().min(1).default(64).describe("the SQLite writer's page cache, in MiB"),
      maxPending: z.number().int().positive().default(50_000).describe('messages waiting to be stored before publishes are refused with `unavailable`'),
      maxBatch: z.number().int().positive().default(5_000).describe('most messages written in one transaction'),
      groupCommitMs: z.number().int().min(0).max(1000).default(4)
        .describe('under load, a commit starts at most once per this many ms, so that publishes share one disk sync (0: at once)'),
      /** Most missed messages replayed on a recovering join or sync; more is answered "too old". */
      recoveryLimit: z.number().int().positive().default(1_000).describe('most missed messages one join or sync with `since` replays'),
      /**
       * Most bytes one recovering join or sync replays; what it missed beyond that is answered "too old" and the
       * client pages it from history at its own pace (one replay far above the outbound queue limit would close
       * even a client that reads at full speed as a slow consumer).
       */
      recoveryMaxBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024)
        .describe('most bytes one join or sync with `since` replays; beyond it the client pages history'),
      /**
       * After a network blip every client rejoins at once, most a few messages behind: the last messages of each
       * stored room with members on this node are kept in memory, and a recovering join that missed only those is
       * answered without a store read. Costs up to this many messages' memory per such room.
       */
      recentPerRoom: z.number().int().min(0).default(32).describe('last messages per stored room kept in memory for recovering joins (0: none)'),
      recentCharsPerRoom: z.number().int().min(0).default(64 * 1024).describe('most characters of text bodies those messages hold per room'),
      historyMaxLimit: z.number().int().positive().default(200).describe('largest history page'),
      /**
       * The SQLite store's folder needs this much free space or /readyz answers 503 ("disk full"), before writes
       * fail for want of it; after a full disk, readiness comes back once this much is free again (README, "Disk
       * full"). Not checked for PostgreSQL, whose disk is the database server's.
       */
      minFreeBytes: z
        .number()
        .int()
        .nonnegative()
        .default(64 * 1024 * 1024)
        .describe("/readyz answers 503 while the SQLite store's disk has less free space than this (0: only failed writes count)"),
      retention: z
        .strictObject({
          maxCount: z.number().int().positive().optional().describe('keep at most this many messages per conversation (unset: no limit)'),
          maxAgeDays: z.number().positive().optional().describe('drop messages older than this many days (unset: no limit)'),
          intervalMs: z.number().int().positive().default(60_000).describe('how long after one retention pass the next starts'),
          /** Most messages removed (and conversations or unused uploads looked at) in one step of a pass: writes wait for one step at most. */
          stepSize: z.number().int().positive().default(500).describe('most messages removed in one retention step (one short transaction)'),
        })
        .prefault({}),
    })
    .prefault({}),
  broker: z
    .strictObject({
      /**
       * What carries messages between nodes: unset, this process is the whole server (in-process delivery); a
       * redis:// or nats:// URL joins every node that names the same broker (and prefix) into one server.
       */
      url: z
        .string()
        .regex(/^(redis|rediss|nats|memory):\/\//, 'broker.url must be a redis://, rediss:// or nats:// URL')
        .optional()
        .describe('redis://host:6379 or nats://host:4222 to run several nodes as one (unset: this process alone)'),
      /** Keeps several Switchboard clusters apart on one broker: every channel and key starts with it. */
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/, '1-32 characters of A-Z a-z 0-9 _ -')
        .default('switchboard')
        .describe('start of every channel name on the broker (several clusters may share one broker)'),
      /** How often a node tells the others it is alive (with its presence version). */
      heartbeatMs: z.number().int().min(100).max(60_000).default(2_000).describe('how often a node tells the others it is alive'),
      /**
       * How long a node's sessions and presence outlive its last word: a node killed without a goodbye leaves no
       * ghost after this.
       */
      leaseMs: z.number().int().min(500).max(300_000).default(15_000).describe("how long a silent node's sessions still count as online"),
      /**
       * A durable message that arrives from another node with a seq past the next one waits this long for the
       * missing ones (they are usually a hop behind) before they are read from the store.
       */
      gapWaitMs: z.number().int().min(0).max(10_000).default(50).describe('how long a message past a gap waits for the missing ones before the store is read'),
      /**
       * Under load, what a node sends another (a room's messages, typing) waits this long after the last batch to
       * it so that more share one publish; a message that comes alone goes at once (cluster/node-batches.ts).
       */
      batchMs: z.number().int().min(0).max(100).default(2).describe('under load, shortest time between two batches of room messages to another node (0: every event-loop turn)'),
    })
    .prefault({})
    .refine((b) => b.heartbeatMs * 2 < b.leaseMs, 'broker.leaseMs must be more than twice broker.heartbeatMs'),
  uploads: z
    .strictObject({
      enabled: z.boolean().default(true).describe('accept media uploads at /upload'),
      dir: z.string().default('data/uploads').describe('folder where uploaded files are kept'),
      maxBytes: z.number().int().positive().default(20 * 1024 * 1024).describe('largest upload, in bytes'),
      /**
       * Bytes each user may upload per hour (refilled continuously); past it uploads are refused with 429 until
       * enough time has passed. Counted per server, in memory.
       */
      userBytesPerHour: z
        .number()
        .int()
        .positive()
        .default(1024 * 1024 * 1024)
        .describe('bytes each user may upload per hour (then 429 with Retry-After)'),
      idleTimeoutMs: z
        .number()
        .int()
        .min(1000)
        .default(30_000)
        .describe('an upload that sends nothing for this long is dropped (and its partial file removed)'),
      /**
       * Uploads that no stored message refers to — never sent, or their messages gone with retention — are
       * removed (record and bytes) once this many hours old, by the background retention pass.
       */
      unusedMaxAgeHours: z.number().min(0).default(24).describe('an upload no stored message refers to is deleted once this many hours old'),
      allowedTypes: z
        .array(z.string())
        .default(['image/*', 'audio/*', 'video/*', 'text/plain', 'application/pdf', 'application/zip', 'application/octet-stream'])
        .describe('MIME types accepted; type/* allows a whole family'),
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
        .default([])
        .describe('JSON list of server API keys {name, hash, scopes}; `switchboard api-key` makes a key and prints its entry'),
      maxBodyBytes: z.number().int().min(1024).default(1024 * 1024).describe('largest server API request body; larger ones are refused with 413'),
      maxBatch: z.number().int().positive().max(10_000).default(1000).describe('most messages in one batch publish'),
      tokenMaxTtlSeconds: z.number().int().positive().default(86_400).describe('longest lifetime (and the default) of a client token the API mints'),
    })
    .prefault({}),
  webhooks: z
    .strictObject({
      /** Where events go (JSON list; SWITCHBOARD_WEBHOOKS_ENDPOINTS takes it as JSON). Empty: no webhooks. */
      endpoints: z
        .array(webhookEndpoint)
        .default([])
        .refine((list) => new Set(list.map((e) => e.name)).size === list.length, 'endpoint names must be unique')
        .describe('JSON list of webhook receivers {name, url, secret, events, rooms?, timeoutMs?} (empty: no webhooks)'),
      /** Most events kept per endpoint (queued in the store, not yet answered 2xx); past it the oldest are dropped, counted and logged. */
      maxQueued: z.number().int().positive().default(100_000).describe('events kept per endpoint until answered 2xx; past it the oldest are dropped'),
      /**
       * Deliveries of one event before it is given up (dropped, counted and logged). Unset: never; an event is
       * retried, at most retryMaxMs apart, until its receiver answers 2xx or maxQueued pushes it out.
       */
      maxAttempts: z.number().int().positive().optional().describe('failed deliveries after which an event is given up (unset: retried until delivered)'),
      /** The n-th retry waits a random time between 0 and min(retryMaxMs, retryBaseMs * 2^(n-1)) (full jitter). */
      retryBaseMs: z.number().int().positive().default(1000).describe('the first retry waits up to this long, doubling with each retry (random, full jitter)'),
      retryMaxMs: z.number().int().positive().default(3_600_000).describe('longest wait between two attempts of one event'),
    })
    .prefault({})
    .refine((w) => w.retryMaxMs >= w.retryBaseMs, 'webhooks.retryMaxMs must be at least webhooks.retryBaseMs'),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('least severe log level written: fatal, error, warn, info, debug, trace, or silent'),
      file: z.string().optional().describe('write JSON logs to this file instead of stdout (reopened on SIGHUP)'),
      /**
       * An error that can repeat per message or request (a store that is down fails every commit) is logged at
       * once, then at most once per this interval with a count of its repeats (`repeated`) and the last one's error.
       */
      repeatIntervalMs: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('a repeating error is logged at once, then once per this many ms with the count of its repeats'),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true).describe('serve Prometheus metrics at metrics.path (docs/operations.md lists them)'),
      path: z
        .string()
        .regex(/^\/[A-Za-z0-9._~\/-]*$/, 'a path such as /metrics')
        .refine((p) => p !== '/api' && !p.startsWith('/api/'), 'not under /api (the server API)')
        .default('/metrics')
        .describe('path of the Prometheus metrics'),
      requireKey: z
        .boolean()
        .default(false)
        .describe('ask a scrape for an API key with the read or admin scope (Authorization: Bearer KEY); default: open, like most exporters'),
    })
    .prefault({}),
  debug: z
    .strictObject({
      /** Heavy and revealing (a heap snapshot holds every message and token in memory): off unless asked for. */
      enabled: z
        .boolean()
        .default(false)
        .describe('offer CPU profiles and heap snapshots at /api/v1/debug/* to API keys with the admin scope'),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      graceMs: z.number().int().nonnegative().default(5_000).describe('how long a graceful stop waits for sockets to close before it ends them'),
      /**
       * How long a graceful stop first goes on serving its sessions while `/readyz` answers 503 and new
       * connections are refused, so that a load balancer sees it leave before its sessions are closed.
       */
      drainMs: z
        .number()
        .int()
        .nonnegative()
        .max(600_000)
        .default(0)
        .describe('how long a graceful stop first keeps serving while /readyz answers 503 and new connections are refused'),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type RoomKind = z.infer<typeof roomRule>['kind'];
