/**
 * What the server counts, for Prometheus (`/metrics`, prom-client) and for the admin console's stats
 * (`GET /api/v1/admin/stats`). The parts on the hot path (outbound, fan-out, commands, the committer) import
 * nothing from here: each declares a small counters interface that this class implements, and calls it once per
 * batch where it matters — once per flush run, not per session written; once per room message, not per member.
 * What can be read when asked (sessions, rooms, queue bytes, closes by code, webhooks) is read then, at a scrape
 * or a stats call, and costs nothing in between. Counters kept here are plain numbers; prom-client reads them
 * when scraped.
 *
 * No label holds a user, room, session or anything else that grows with use: labels are command types, close
 * codes, auth kinds, room kinds, route templates, HTTP methods and statuses, upload refusal reasons, and the
 * configured webhook endpoints' names. Metric names and labels: docs/operations.md.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AdminStats } from '../api/schemas.js';
import type { CommandCounters } from '../commands/pipeline.js';
import type { DeliveryCounters } from '../fanout/local-fanout.js';
import type { UploadCounters } from '../media/uploads.js';
import type { OutboundCounters } from '../outbound/flusher.js';
import { CODECS } from '../protocol/codecs.js';
import { commandSchemas, type CommandType } from '../protocol/commands.js';
import type { CommitCounters } from '../store/committer.js';

/** What the metrics read when asked; each is the running server's own object, seen through these few members. */
/** Every encoding, so that a gauge shows 0 rather than no series for one nobody speaks yet. */
const ENCODINGS = CODECS.map((c) => c.name);

export interface MetricSources {
  hub: {
    stats(): { sessions: number; users: number; rooms: number };
    roomList(): readonly { room: string; kind: string; users: number; sessions: number }[];
    takeMessageCounts(visit: (room: string, messages: number) => void): void;
  };
  gateway: {
    readonly connections: number;
    readonly tallies: { readonly closes: ReadonlyMap<number, number>; readonly opened: { readonly token: number; readonly dev: number } };
    readonly slowCloses: { readonly total: number; readonly recent: readonly SlowCloseEntry[] };
    sessionsAndQueues(): { token: number; dev: number; queueBytes: number; byEncoding: Record<string, number> };
  };
  committer: { readonly backlog: number };
  /** Reports what was written outside a flush run (Flusher.report) before the counts are read. */
  flusher: { report(): void };
  /** Per webhook endpoint (configured names), when webhooks are configured. */
  webhooks?: (() => Record<string, { queued: number; delivered: number; failedAttempts: number; dropped: number }>) | undefined;
  /** This node's part of a cluster, when a broker is configured. */
  cluster?:
    | {
        readonly counters: { readonly published: number; readonly received: number; readonly dropped: number; readonly malformed: number };
        nodes(): readonly string[];
        problem(): string | null;
      }
    | undefined;
}

export interface SlowCloseEntry {
  ts: number;
  session: string;
  user: string;
  unsentBytes: number;
  droppedMessages: number;
}

export interface MetricsOptions {
  /** Build the Prometheus registry (metrics.enabled); without it only the stats' figures are kept. */
  prometheus: boolean;
  now: () => number;
}

/** Commits whose durations are kept for the stats' percentiles, and over how long. */
const COMMIT_RING = 1024;
const COMMIT_WINDOW_MS = 60_000;
/** The stats' message rate per room is over about this long. */
const RATE_WINDOW_MS = 10_000;
/** Stats calls closer together than this share one entry of the rate window (it stays a dozen entries long). */
const RATE_SLICE_MS = 1_000;
const TOP = 10;
const ROOM_KINDS = ['public', 'private', 'push'] as const;
const COMMAND_TYPES = Object.keys(commandSchemas) as CommandType[];

export class Metrics {
  /** Null when metrics.enabled is false. */
  readonly registry: Registry | null;
  private sources: MetricSources | null = null;
  private readonly startedAt: number;

  // Counters since start (plain numbers: the hot path adds, prom-client and the stats read).
  private readonly messagesIn: Record<string, number> = {};
  private deliveries = 0;
  private messagesOut = 0;
  private framesOut = 0;
  private bytesOut = 0;
  private uploads = 0;
  private uploadBytes = 0;
  private readonly uploadRefusals = new Map<string, number>();
  private apiHistory = 0;

  // The latest commits' durations (ms) and when they ended, for the stats' percentiles.
  private readonly commitMs = new Float64Array(COMMIT_RING);
  private readonly commitAt = new Float64Array(COMMIT_RING);
  private commits = 0;

  // Messages per room, in slices of the last RATE_WINDOW_MS.
  private rateWindow: { from: number; to: number; counts: Map<string, number> }[] = [];
  private lastTake: number;

  private readonly commitSeconds: Histogram | null = null;
  private readonly commitMessages: Histogram | null = null;
  private readonly commitFailures: Counter | null = null;
  private readonly ackSeconds: Histogram<'type'> | null = null;
  private readonly apiRequests: Counter<'method' | 'route' | 'status'> | null = null;
  private readonly apiSeconds: Histogram<'method' | 'route'> | null = null;

  constructor(private readonly opts: MetricsOptions) {
    this.startedAt = this.lastTake = opts.now();
    for (const t of COMMAND_TYPES) this.messagesIn[t] = 0;
    this.messagesIn.invalid = 0;
    if (!opts.prometheus) {
      this.registry = null;
      return;
    }
    const registry = (this.registry = new Registry());
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
    this.commitSeconds = new Histogram({
      name: 'switchboard_store_commit_seconds',
      help: 'Time one store commit (a batch: messages, joins, leaves, read marks in one transaction) took',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.commitMessages = new Histogram({
      name: 'switchboard_store_commit_messages',
      help: 'Messages written by one store commit (0: memberships and read marks only)',
      buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    });
    this.commitFailures = new Counter({ name: 'switchboard_store_commit_failures_total', help: 'Store commits that failed (their publishes were refused)', registers });
    this.ackSeconds = new Histogram({
      name: 'switchboard_publish_ack_seconds',
      help: 'From running a publish or send to its ack (a stored one: once the store has it); type: publish or send',
      labelNames: ['type'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    // Both series from the start, so that a rate over the first ack is not lost.
    for (const type of ['publish', 'send']) this.ackSeconds.zero({ type });
    this.apiRequests = new Counter({
      name: 'switchboard_api_requests_total',
      help: 'Server API requests answered, by method, route template (never the filled-in path) and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.apiSeconds = new Histogram({
      name: 'switchboard_api_request_duration_seconds',
      help: 'Server API request duration, by method and route template',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers,
    });
    this.register(registry);
  }

  /** The running server's parts, once they exist. */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  // ── the counters interfaces the parts call ─────────────────────────────

  readonly outbound: OutboundCounters = {
    written: (messages, frames, bytes) => {
      this.messagesOut += messages;
      this.framesOut += frames;
      this.bytesOut += bytes;
    },
  };

  readonly fanout: DeliveryCounters = {
    delivered: (sessions) => {
      this.deliveries += sessions;
    },
  };

  readonly commands: CommandCounters = {
    received: (type) => {
      this.messagesIn[type] = (this.messagesIn[type] ?? 0) + 1;
    },
    acked: (type, ms) => {
      this.ackSeconds?.observe({ type }, ms / 1000);
    },
  };

  readonly store: CommitCounters = {
    committed: (ms, messages, ok) => {
      const i = this.commits++ % COMMIT_RING;
      this.commitMs[i] = ms;
      this.commitAt[i] = this.opts.now();
      this.commitSeconds?.observe(ms / 1000);
      this.commitMessages?.observe(messages);
      if (!ok) this.commitFailures?.inc();
    },
  };

  readonly media: UploadCounters = {
    stored: (bytes) => {
      this.uploads++;
      this.uploadBytes += bytes;
    },
    refused: (reason) => {
      this.uploadRefusals.set(reason, (this.uploadRefusals.get(reason) ?? 0) + 1);
    },
  };

  /** A server API request was answered (ServerApiOptions.observe). */
  readonly api = (method: string, route: string, status: number, seconds: number): void => {
    if (route.endsWith('/history')) this.apiHistory++;
    this.apiRequests?.inc({ method, route, status: String(status) });
    this.apiSeconds?.observe({ method, route }, seconds);
  };

  // ── reading ─────────────────────────────────────────────────────────────

  /** The Prometheus text exposition, and its content type; null when metrics.enabled is false. */
  async exposition(): Promise<{ contentType: string; text: string } | null> {
    if (!this.registry) return null;
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  /** GET /api/v1/admin/stats. Takes the rooms' message counts since the last call (a walk over the rooms). */
  stats(): AdminStats {
    const now = this.opts.now();
    const src = this.sources;
    src?.flusher.report();
    const hub = src?.hub.stats() ?? { sessions: 0, users: 0, rooms: 0 };
    const rooms = src?.hub.roomList() ?? [];
    const gateway = src?.gateway;
    const [commitP50Ms, commitP99Ms] = this.commitPercentiles(now);
    return {
      ts: now,
      uptimeSec: Math.floor((now - this.startedAt) / 1000),
      connections: gateway?.connections ?? 0,
      sessions: hub.sessions,
      users: hub.users,
      rooms: hub.rooms,
      totals: {
        messagesIn: this.totalMessagesIn(),
        deliveries: this.deliveries,
        framesOut: this.framesOut,
        bytesOut: this.bytesOut,
        slowConsumerCloses: gateway?.slowCloses.total ?? 0,
      },
      store: { commitP50Ms, commitP99Ms, backlog: src?.committer.backlog ?? 0 },
      queueBytes: gateway?.sessionsAndQueues().queueBytes ?? 0,
      topRoomsByMembers: top(rooms, (r) => r.sessions).map((r) => ({ room: r.room, sessions: r.sessions, users: r.users })),
      topRoomsByRate: this.roomRates(now),
      recentSlowConsumers: (gateway?.slowCloses.recent ?? [])
        .slice(-20)
        .reverse()
        .map((c) => ({ ts: c.ts, session: c.session, user: c.user, unsentBytes: c.unsentBytes, droppedMessages: c.droppedMessages })),
    };
  }

  private totalMessagesIn(): number {
    let n = 0;
    for (const k in this.messagesIn) n += this.messagesIn[k]!;
    return n;
  }

  /** p50 and p99 (ms) of the commits of the last minute, nearest rank; nulls when there were none. */
  private commitPercentiles(now: number): [number | null, number | null] {
    const recent: number[] = [];
    for (let i = 0; i < Math.min(this.commits, COMMIT_RING); i++) if (this.commitAt[i]! > now - COMMIT_WINDOW_MS) recent.push(this.commitMs[i]!);
    if (recent.length === 0) return [null, null];
    recent.sort((a, b) => a - b);
    const at = (q: number): number => round(recent[Math.max(0, Math.ceil(q * recent.length) - 1)]!, 3);
    return [at(0.5), at(0.99)];
  }

  /** The busiest rooms over about the last RATE_WINDOW_MS (since the previous call, if that was longer ago). */
  private roomRates(now: number): AdminStats['topRoomsByRate'] {
    const last = this.rateWindow.at(-1);
    const slice = last && last.to - last.from < RATE_SLICE_MS ? last : { from: this.lastTake, to: now, counts: new Map<string, number>() };
    if (slice !== last) this.rateWindow.push(slice);
    slice.to = now;
    this.sources?.hub.takeMessageCounts((room, n) => slice.counts.set(room, (slice.counts.get(room) ?? 0) + n));
    this.lastTake = now;
    while (this.rateWindow.length > 1 && this.rateWindow[0]!.to <= now - RATE_WINDOW_MS) this.rateWindow.shift();
    const seconds = Math.max(now - this.rateWindow[0]!.from, 1) / 1000;
    const sums = new Map<string, number>();
    for (const s of this.rateWindow) for (const [room, n] of s.counts) sums.set(room, (sums.get(room) ?? 0) + n);
    return top([...sums], ([, n]) => n).map(([room, n]) => ({ room, messagesPerSec: round(n / seconds, 2) }));
  }

  /** The metrics read when scraped (collect), over the plain counters above and the sources. */
  private register(registry: Registry): void {
    const registers = [registry];
    // `this` inside collect() is the metric; the Metrics instance is `m`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const m = this;
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (c: Counter<L>) => void): void => {
      new Counter<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          read(this);
        },
      });
    };
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (g: Gauge<L>, s: MetricSources) => void): void => {
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers,
        collect() {
          if (m.sources) read(this, m.sources);
        },
      });
    };

    gauge('switchboard_connections', 'WebSocket connections, whatever their state (waiting for auth, open, closing)', [], (g, s) => g.set(s.gateway.connections));
    gauge('switchboard_sessions', 'Open sessions, by how they authenticated (token: a JWT; dev: a dev identity)', ['auth'], (g, s) => {
      const { token, dev } = s.gateway.sessionsAndQueues();
      g.set({ auth: 'token' }, token);
      g.set({ auth: 'dev' }, dev);
    });
    gauge('switchboard_sessions_by_encoding', 'Open sessions, by the encoding they speak (json: version 1; switchboard.v2.json, switchboard.v2.proto)', ['encoding'], (g, s) => {
      const { byEncoding } = s.gateway.sessionsAndQueues();
      for (const encoding of ENCODINGS) g.set({ encoding }, byEncoding[encoding] ?? 0);
    });
    gauge('switchboard_users_online', 'Users with at least one session on this server', [], (g, s) => g.set(s.hub.stats().users));
    gauge('switchboard_rooms', 'Rooms with members on this server, by kind', ['kind'], (g, s) => {
      const byKind: Record<string, number> = { public: 0, private: 0, push: 0 };
      for (const r of s.hub.roomList()) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      for (const kind of ROOM_KINDS) g.set({ kind }, byKind[kind]!);
    });
    gauge('switchboard_outbound_queue_bytes', 'Bytes waiting to reach clients: in the sockets, and held by outboxes while their sockets drain', [], (g, s) =>
      g.set(s.gateway.sessionsAndQueues().queueBytes),
    );
    gauge('switchboard_store_backlog_messages', 'Messages accepted and not yet stored (store.maxPending refuses more)', [], (g, s) => g.set(s.committer.backlog));
    let elu = performance.eventLoopUtilization();
    new Gauge({
      name: 'switchboard_event_loop_utilization',
      help: 'Share of time the event loop was busy since the previous scrape (0-1)',
      registers,
      collect() {
        const now = performance.eventLoopUtilization();
        this.set(performance.eventLoopUtilization(now, elu).utilization);
        elu = now;
      },
    });

    counter('switchboard_sessions_opened_total', 'Sessions opened, by how they authenticated', ['auth'], (c) => {
      const opened = m.sources?.gateway.tallies.opened ?? { token: 0, dev: 0 };
      c.inc({ auth: 'token' }, opened.token);
      c.inc({ auth: 'dev' }, opened.dev);
    });
    counter('switchboard_messages_in_total', 'Messages received from clients over WebSocket, by command type (invalid: not JSON, or no known type)', ['type'], (c) => {
      for (const type in m.messagesIn) c.inc({ type }, m.messagesIn[type]!);
    });
    counter('switchboard_deliveries_total', 'Pushes handed to sessions (a room message to N members: N; a direct message: every session of both users)', [], (c) => {
      c.inc(m.deliveries);
    });
    const written = (name: string, help: string, read: () => number): void =>
      counter(name, help, [], (c) => {
        m.sources?.flusher.report();
        c.inc(read());
      });
    written('switchboard_messages_written_total', 'Messages written to clients (pushes, replies, errors), each in some frame', () => m.messagesOut);
    written('switchboard_frames_written_total', 'WebSocket frames written to clients (one per session per flush, carrying many messages)', () => m.framesOut);
    written('switchboard_bytes_written_total', 'Bytes of the frames written to clients (payloads, for compressed connections)', () => m.bytesOut);
    counter('switchboard_closes_total', 'Connections the server closed or refused, by close code (4005 slow consumer, 4006 flood; docs/protocol.md)', ['code'], (c) => {
      for (const [code, n] of m.sources?.gateway.tallies.closes ?? []) c.inc({ code: String(code) }, n);
    });
    counter('switchboard_history_requests_total', 'History pages asked for, over WebSocket (history command) and the server API', ['via'], (c) => {
      c.inc({ via: 'websocket' }, m.messagesIn.history!);
      c.inc({ via: 'api' }, m.apiHistory);
    });
    counter('switchboard_sync_requests_total', 'Sync commands received (direct conversations recovered)', [], (c) => c.inc(m.messagesIn.sync!));
    counter('switchboard_uploads_total', 'Files uploaded and stored', [], (c) => c.inc(m.uploads));
    counter('switchboard_upload_bytes_total', 'Bytes of the files uploaded and stored', [], (c) => c.inc(m.uploadBytes));
    counter('switchboard_upload_refusals_total', 'Uploads refused, by reason (unauthorized, rate_limited, invalid_name, unsupported_type, too_large)', ['reason'], (c) => {
      for (const [reason, n] of m.uploadRefusals) c.inc({ reason }, n);
    });
    const hooks = (name: string, help: string, read: (e: { delivered: number; failedAttempts: number; dropped: number }) => number): void =>
      counter(name, help, ['endpoint'], (c) => {
        for (const [endpoint, e] of Object.entries(m.sources?.webhooks?.() ?? {})) c.inc({ endpoint }, read(e));
      });
    hooks('switchboard_webhook_deliveries_total', 'Webhook events delivered (answered 2xx), by configured endpoint', (e) => e.delivered);
    hooks('switchboard_webhook_retries_total', 'Webhook deliveries that failed and will be tried again (or were given up), by endpoint', (e) => e.failedAttempts);
    hooks('switchboard_webhook_drops_total', 'Webhook events dropped (queue full, maxAttempts reached, store failure at stop), by endpoint', (e) => e.dropped);
    counter('switchboard_broker_messages_total', 'Messages between nodes, by what became of them (published, received, dropped: the broker was away, malformed)', ['outcome'], (c) => {
      const k = m.sources?.cluster?.counters;
      if (!k) return;
      c.inc({ outcome: 'published' }, k.published);
      c.inc({ outcome: 'received' }, k.received);
      c.inc({ outcome: 'dropped' }, k.dropped);
      c.inc({ outcome: 'malformed' }, k.malformed);
    });
    gauge('switchboard_broker_up', 'Whether this node reaches the broker (1) or not (0); absent without a broker', [], (g, s) => {
      if (s.cluster) g.set(s.cluster.problem() === null ? 1 : 0);
    });
    gauge('switchboard_cluster_nodes', 'Other nodes this node hears (within their lease); absent without a broker', [], (g, s) => {
      if (s.cluster) g.set(s.cluster.nodes().length);
    });
    gauge('switchboard_webhook_queued_events', 'Webhook events waiting in the store, by endpoint (about)', ['endpoint'], (g, s) => {
      for (const [endpoint, e] of Object.entries(s.webhooks?.() ?? {})) g.set({ endpoint }, e.queued);
    });
  }
}

/** The first TOP items by `key`, largest first (a pass with a short sorted list: no sort of everything). */
function top<T>(items: Iterable<T>, key: (t: T) => number): T[] {
  const best: T[] = [];
  for (const it of items) {
    const k = key(it);
    if (best.length === TOP && k <= key(best[TOP - 1]!)) continue;
    let i = best.length;
    while (i > 0 && key(best[i - 1]!) < k) i--;
    best.splice(i, 0, it);
    if (best.length > TOP) best.pop();
  }
  return best;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
