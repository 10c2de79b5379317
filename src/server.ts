/**
 * Puts the parts together: config → auth, hub, outbound flusher, timer wheel,
 * gateway, HTTP server. Returns a handle to stop it gracefully.
 */
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { serverApi } from './api/server-api.js';
import { tokenSigner } from './api/routes.js';
import { Authenticator, resolveDevMode } from './auth/authenticator.js';
import { checkDeployment } from './config/deployment.js';
import { ConfigError } from './config/load.js';
import type { Config } from './config/schema.js';
import { Hub } from './hub/hub.js';
import { messageIdSource } from './transport/ids.js';
import type { Logger } from './observe/logger.js';
import { DebugTools } from './observe/debug.js';
import { Metrics } from './observe/metrics.js';
import { metricsRoute } from './observe/metrics-route.js';
import { CloseCode } from './protocol/codes.js';
import { Flusher } from './outbound/flusher.js';
import { Gateway } from './transport/gateway.js';
import { TimerWheel } from './transport/heartbeat.js';
import { adminPage } from './transport/admin-page.js';
import { createHttpServer } from './transport/http-server.js';
import { FsBlobStore, type BlobStore } from './media/blob-store.js';
import { sweepStrayBlobs } from './media/sweep.js';
import { uploadRoutes } from './media/uploads.js';
import { openBroker } from './broker/open-broker.js';
import { ClusterNode } from './cluster/cluster-node.js';
import { Committer } from './store/committer.js';
import { StoreHealth } from './store/health.js';
import { describeStore, openStore } from './store/open-store.js';
import { RetentionTimer } from './store/retention.js';
import type { Store } from './store/store.js';
import { readTlsFiles, type TlsFiles } from './transport/tls-files.js';
import { Webhooks } from './webhooks/webhooks.js';
import { dirname, resolve } from 'node:path';

export interface RunningServer {
  readonly hub: Hub;
  /** http(s)://host:port */
  readonly url: string;
  /** ws(s)://host:port/path */
  readonly wsUrl: string;
  readonly port: number;
  /**
   * Stops accepting, closes every session with 1001, waits up to shutdown.graceMs. Idempotent. `drain: false`
   * skips shutdown.drainMs (a server that can no longer store messages should not go on taking them).
   */
  stop(opts?: { drain?: boolean }): Promise<void>;
  /** Reads the TLS certificate and key again (renewed), for connections from now on; logs what it did. */
  reload(): void;
  /**
   * Settles if the server can no longer work (its embedded store's writer thread ended): the caller stops it and
   * exits, so that a supervisor starts it again. Never settles otherwise.
   */
  readonly failed: Promise<Error>;
}

const BUNDLED_WEB = fileURLToPath(new URL('../web/', import.meta.url));
/**
 * The bundled chat's pages load nothing but its own scripts, styles, files and WebSocket, and no other site may
 * frame them: a script that got into a message could not run or send anything elsewhere, and the chat cannot be
 * shown under another page's clicks. (A custom `server.webRoot` sets its own policy.)
 */
const CHAT_PAGE_HEADERS = pageHeaders(
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
);
/**
 * The admin console (`/admin/`, transport/admin-page.ts), served from the bundled build whatever `server.webRoot`
 * says: stricter still than the chat — its own scripts and styles (no inline ones), its own API calls, no media.
 */
const BUNDLED_ADMIN = fileURLToPath(new URL('../web/admin/', import.meta.url));
const ADMIN_PAGE_HEADERS = pageHeaders(
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
);

/** A bundled page's headers: its content policy, no framing by other sites, no referrer. */
function pageHeaders(csp: string): Record<string, string> {
  return { 'content-security-policy': csp, 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' };
}
/**
 * The start-up sweep of the uploads folder leaves files written more recently than this: an upload under way
 * writes its bytes a moment before its record (media/sweep.ts).
 */
const STRAY_BLOB_AGE_MS = 3_600_000;
/** How long a stop waits for webhook deliveries in flight before aborting them (they stay queued). */
const WEBHOOK_STOP_GRACE_MS = 2_000;
/** How often the store's health is probed while commits say nothing of it (no traffic, or failing), and how long a probe may take. */
const STORE_PROBE_INTERVAL_MS = 2_000;
const STORE_PROBE_TIMEOUT_MS = 5_000;

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // The command's refusals (workers without a broker, several nodes on SQLite), for every caller.
  checkDeployment(config);
  const { dev, error } = resolveDevMode(config.auth, config.server.host);
  if (error) throw new ConfigError(error);
  if (dev)
    log.warn(
      'DEV AUTH IS ON: anyone can connect as any user with ?user=NAME. Configure auth.jwt.secret or auth.jwt.publicKey before exposing this server.',
    );
  // What can be refused from config alone is checked before the store opens: a start that fails later must close
  // the store, whose writer thread would otherwise keep a process that serves nothing alive.
  const auth = new Authenticator(config.auth, dev);
  const tlsFiles = readTlsFiles(config.server.tls);
  const blobs = config.uploads.enabled ? new FsBlobStore(resolve(config.uploads.dir)) : null;
  await blobs?.open().catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`uploads.dir: cannot keep files in ${resolve(config.uploads.dir)} (${err.code ?? err.message}); or set uploads.enabled=false`);
  });
  let storeLost!: (err: Error) => void;
  const failed = new Promise<Error>((resolve) => (storeLost = resolve));
  const store = await openStore(config.store, (message) => log.warn({ part: 'store' }, message), storeLost);
  log.info({ store: describeStore(config.store) }, 'store open');
  try {
    return await serve(config, log, { store, blobs, tlsFiles, auth, dev, failed });
  } catch (err) {
    await store.close();
    throw err;
  }
}

interface Parts {
  store: Store;
  blobs: BlobStore | null;
  tlsFiles: TlsFiles | null;
  auth: Authenticator;
  dev: boolean;
  failed: Promise<Error>;
}

/** Everything on top of an open store; the caller closes the store if this fails. */
async function serve(config: Config, log: Logger, { store, blobs, tlsFiles, auth, dev, failed }: Parts): Promise<RunningServer> {
  const now = Date.now;
  // Counted by the parts through their counters interfaces; read by /metrics and the admin stats (observe/).
  const metrics = new Metrics({ prometheus: config.metrics.enabled, now });
  // Readiness: whether the store works (store/health.ts), told by each commit and a probe every few seconds.
  const health = new StoreHealth(
    store,
    {
      intervalMs: STORE_PROBE_INTERVAL_MS,
      timeoutMs: STORE_PROBE_TIMEOUT_MS,
      dataDir: config.store.url || config.store.file === ':memory:' ? null : dirname(resolve(config.store.file)),
      minFreeBytes: config.store.minFreeBytes,
    },
    log.child({ part: 'store' }),
  );
  const committer = new Committer(
    store,
    { ...config.store, repeatIntervalMs: config.log.repeatIntervalMs, outcomes: health },
    log.child({ part: 'store' }),
    metrics.store,
  );
  const flusher = new Flusher(config.limits.flushIntervalMs, undefined, metrics.outbound, config.limits.fanoutPeriodMs);
  const { heartbeat, auth: authCfg, limits } = config;
  const wheel = new TimerWheel(
    Math.max(heartbeat.intervalMs, heartbeat.timeoutMs, authCfg.timeoutMs, limits.closeTimeoutMs),
    // Every deadline fires at most a fifth of the shortest configured one late (the auth timeout, say).
    Math.min(heartbeat.intervalMs, heartbeat.timeoutMs, authCfg.timeoutMs, limits.closeTimeoutMs),
    now,
  );
  // Events for the app's backend, queued in the store and delivered by each endpoint's own loop (webhooks/).
  const webhooks = config.webhooks.endpoints.length > 0 ? new Webhooks({ config: config.webhooks, queue: store, log: log.child({ part: 'webhooks' }), now, repeatIntervalMs: config.log.repeatIntervalMs }) : null;
  // Several nodes as one (src/cluster/): what reaches sessions elsewhere crosses the broker.
  const { broker: b } = config;
  const cluster = b.url
    ? new ClusterNode({ broker: openBroker(b.url, b.prefix), heartbeatMs: b.heartbeatMs, leaseMs: b.leaseMs, batchMs: b.batchMs, log: log.child({ part: 'cluster' }), now })
    : null;
  const hub = new Hub({
    cluster,
    gapWaitMs: b.gapWaitMs,
    tick: flusher.tick,
    now,
    nextId: messageIdSource(now),
    roomRules: config.rooms.rules,
    events: webhooks?.events,
    persistence: committer,
    deliveries: metrics.fanout,
    registry: store,
    recoveryLimit: config.store.recoveryLimit,
    recentPerRoom: config.store.recentPerRoom,
    recentCharsPerRoom: config.store.recentCharsPerRoom,
    retention: {
      maxCount: config.store.retention.maxCount,
      maxAgeMs: config.store.retention.maxAgeDays === undefined ? undefined : config.store.retention.maxAgeDays * 86_400_000,
    },
    historyMaxLimit: config.store.historyMaxLimit,
    maxHeld: limits.maxQueueMessages,
    // A replay and the DMs held during it leave together: each gets half of the outbound queue, or the session
    // they are for would be closed as slow.
    maxHeldBytes: Math.floor(limits.maxQueueBytes / 2),
    recoveryMaxBytes: Math.min(config.store.recoveryMaxBytes, Math.floor(limits.maxQueueBytes / 2)),
    presenceEvents: config.rooms.presenceEvents,
    roomsPerSession: limits.roomsPerSession,
    sessionPolicy: config.sessions.policy,
    maxSessionsPerUser: config.sessions.maxPerUser,
  });
  // The rooms the backend manages are answered from memory: read them whole before the first connection.
  const [managedRooms, roomMembers] = await Promise.all([store.listRooms(), store.allRoomMembers()]);
  hub.directory.load(managedRooms, roomMembers);
  if (cluster) {
    cluster.attach(hub.inbound!);
    await cluster.start();
  }
  const gateway = new Gateway({
    config,
    hub,
    flusher,
    wheel,
    auth,
    log: log.child({ part: 'gateway' }),
    now,
    commandCounters: metrics.commands,
  });
  metrics.attach({ hub, gateway, committer, flusher, webhooks: webhooks ? () => webhooks.stats() : undefined, cluster: cluster ?? undefined });
  let ready = false;
  const { webRoot } = config.server;
  const web = webRoot === undefined ? { root: BUNDLED_WEB, headers: CHAT_PAGE_HEADERS } : webRoot ? { root: webRoot } : null;
  const admin = adminPage({ root: BUNDLED_ADMIN, headers: ADMIN_PAGE_HEADERS });
  const media = blobs ? uploadRoutes(config.uploads, auth, store, blobs, log.child({ part: 'media' }), now, metrics.media, config.log.repeatIntervalMs) : undefined;
  const api = serverApi({
    hub,
    now,
    keys: config.api.keys,
    maxBodyBytes: config.api.maxBodyBytes,
    maxBatch: config.api.maxBatch,
    maxTextLength: config.limits.maxTextLength,
    tokenMaxTtlSeconds: config.api.tokenMaxTtlSeconds,
    signToken: tokenSigner(config.auth.jwt, now),
    log: log.child({ part: 'api' }),
    version: 'v1',
    observe: metrics.api,
    stats: () => metrics.stats(),
    debug: config.debug.enabled ? new DebugTools() : null,
    repeatIntervalMs: config.log.repeatIntervalMs,
  });
  const scrape = metricsRoute(metrics, config.metrics, config.api.keys, log.child({ part: 'metrics' }));
  const upgradeFailed = (err: unknown, socket: Duplex): void => {
    log.error({ err }, 'upgrade failed');
    socket.destroy();
  };
  const http = createHttpServer(config, web, tlsFiles, {
    upgrade: (req, socket, head) => {
      // Never an uncaught exception or an unhandled rejection (either would end the process): this connection
      // alone is dropped.
      try {
        gateway.handleUpgrade(req, socket, head)?.catch((err: unknown) => upgradeFailed(err, socket));
      } catch (err) {
        upgradeFailed(err, socket);
      }
    },
    ready: () => ready,
    unready: () => health.problem() ?? cluster?.problem() ?? null,
    route: (req, res, pathname) => scrape(req, res, pathname) || admin(req, res, pathname) || api(req, res, pathname) || (media?.(req, res, pathname) ?? false),
  });
  const { retention: r } = config.store;
  const retention = new RetentionTimer(
    store,
    {
      maxCount: r.maxCount,
      maxAgeMs: r.maxAgeDays === undefined ? undefined : r.maxAgeDays * 86_400_000,
      intervalMs: r.intervalMs,
      stepSize: r.stepSize,
      unusedUploadsMaxAgeMs: blobs ? config.uploads.unusedMaxAgeHours * 3_600_000 : undefined,
      removeFiles: async (ids) => {
        for (const id of ids) await blobs?.remove(id).catch((err: unknown) => log.warn({ err, file: id }, 'could not remove an unused upload'));
      },
      // Managed rooms' own retention, on top of the above (the stricter wins).
      rooms: () => hub.directory.all(),
    },
    now,
    {
      passed: (removed, files) => {
        if (removed > 0) log.info({ removed }, 'retention trimmed messages');
        if (files > 0) log.info({ files }, 'retention removed unused uploads');
      },
      skipped: () => log.debug('retention pass skipped: another node sharing the database is running one'),
      failed: (err) => log.error({ err }, 'retention failed'),
    },
  );
  retention.start();
  // The first look (free space, a probe) before the first request can ask.
  await health.start();
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.server.port, config.server.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    health.stop();
    await retention.stop();
    await cluster?.stop();
    throw err;
  }
  wheel.start();
  // What the store still holds from before (a stop, a crash) goes first.
  webhooks?.start();
  ready = true;
  const sweep = new AbortController();
  const swept = blobs
    ? sweepStrayBlobs(blobs, store, now() - STRAY_BLOB_AGE_MS, sweep.signal).then(
        (files) => files > 0 && log.info({ files }, 'removed upload files no record points to'),
        (err: unknown) => log.warn({ err }, 'could not sweep the uploads folder'),
      )
    : null;
  const port = (http.address() as AddressInfo).port;
  const tls = tlsFiles !== null;
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `${tls ? 'https' : 'http'}://${host}:${port}`;
  const wsUrl = `${tls ? 'wss' : 'ws'}://${host}:${port}${config.server.path}`;
  log.info({ url, ws: wsUrl, devAuth: dev }, 'switchboard listening');

  let stopping: Promise<void> | null = null;
  const stop = ({ drain = true }: { drain?: boolean } = {}): Promise<void> =>
    (stopping ??= (async () => {
      ready = false;
      health.stop();
      const drainMs = drain ? config.shutdown.drainMs : 0;
      if (drainMs > 0) {
        log.info({ sessions: gateway.connections, drainMs }, 'draining: /readyz answers 503, new connections are refused');
        await new Promise((resolve) => setTimeout(resolve, drainMs));
      }
      log.info({ sessions: gateway.connections }, 'shutting down');
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      await gateway.closeAll(CloseCode.GoingAway, 'server shutting down', config.shutdown.graceMs);
      wheel.stop();
      sweep.abort();
      await Promise.all([retention.stop(), swept]);
      http.closeAllConnections();
      await closed;
      // After the sessions left (their presence went out as this node's last delta): the others forget it now.
      await cluster?.stop();
      await committer.drain();
      // After the last hub event (the sessions' disconnects, the last messages stored): what waits in memory is
      // written to the store; deliveries in flight get a moment, then stay queued for the next start.
      await webhooks?.stop(Math.min(config.shutdown.graceMs, WEBHOOK_STOP_GRACE_MS));
      await store.close();
      log.info('stopped');
    })());
  const reload = (): void => {
    if (!tls) return;
    try {
      const files = readTlsFiles(config.server.tls);
      if (files) (http as HttpsServer).setSecureContext(files);
      log.info({ cert: config.server.tls.cert }, 'TLS certificate reloaded');
    } catch (err) {
      log.error({ err }, 'TLS certificate not reloaded: the one read at start stays in use');
    }
  };
  return { hub, url, wsUrl, port, stop, reload, failed };
}
