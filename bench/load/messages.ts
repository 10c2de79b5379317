/** What the main thread and the load-generator workers say to each other. */
import type { HistogramSnapshot } from './histogram.js';
import type { SeqCounts } from './seq-tracker.js';

export interface ConnSpec {
  user: string;
  rooms: string[];
  /** Loopback source address (127.0.0.x) to spread connections over port ranges. */
  local?: string;
  /** The server's port for this connection, when it is not the one connect() names (a node of a cluster). */
  port?: number;
  /**
   * The node (0–9) this connection is on, in a cluster: its publishes carry it in the body, and what it receives is
   * timed apart by whether the publisher was on the same node or another (WorkerStats.latencySame/latencyCross).
   */
  node?: number;
  /** Survives a reconnect storm's cut (g's publishers, which keep sending through it). */
  keep?: boolean;
}

/** A connection that publishes: to a room, or direct messages to random users of a numbered set. */
export interface PublisherSpec {
  /** Index of the connection within the worker. */
  conn: number;
  /** Messages per second. */
  rate: number;
  /** How many deliveries one message makes (room size, or 2 for a DM: recipient + sender's own session). */
  fanout: number;
  room?: string;
  /** Direct messages: recipient is `${prefix}${index padded to width}` for a random index in [0, count) other than `self`. */
  dm?: { prefix: string; width: number; count: number; self: number };
  /** Ask for an acknowledgement: the publish carries an `id` (its send time), and the server's reply to it is timed. */
  ack?: boolean;
  /** The publish carries an idempotency key, unique and growing with time (as the SDK's are). */
  key?: boolean;
}

/**
 * How the connections of a wire run (bench/wire.ts) speak and what their receivers do with each message:
 * `bare` — the frame is the body alone (the baseline's --bare hub): the send time is read from it, nothing parsed;
 * `json` — JSON.parse of every line, the send time read from the parsed message's body;
 * `proto` — every frame split by its length prefixes and each message decoded by the protocol's own decoder.
 * The bodies' filler is fresh random letters on every send, so that deflate has no more to find than in text.
 */
export interface WireSpec {
  /** Offered as the subprotocol; null: none (version 1 JSON). */
  protocol: string | null;
  decode: 'bare' | 'json' | 'proto';
  /** Offer permessage-deflate. */
  deflate: boolean;
}

export interface RunPlan {
  publishers: PublisherSpec[];
  /** Monotonic µs (nowUs()): publishing starts. */
  startUs: number;
  /** Latency and windowed counts cover messages from here… */
  warmEndUs: number;
  /** …to here, when publishing stops. */
  endUs: number;
  /** Body length in characters (at least 17: "@" + 15-digit send time + a space). */
  bodyChars: number;
}

export type Request =
  | {
      op: 'connect';
      id: number;
      host: string;
      port: number;
      path: string;
      conns: ConnSpec[];
      inFlight: number;
      timeoutMs: number;
      wire?: WireSpec;
      socketio?: boolean;
      /** Check every room message's seq, per connection and room (bench/load/seq-tracker.ts). */
      track?: boolean;
    }
  | { op: 'run'; id: number; plan: RunPlan }
  /** Cut every connection not `keep` at once, then reconnect them with resume=1 and joins with `since`. */
  | { op: 'storm'; id: number; inFlight: number; timeoutMs: number }
  /** End the running plan's publishing now. */
  | { op: 'stop'; id: number }
  | { op: 'stats'; id: number }
  | { op: 'close'; id: number };

export interface ConnectResult {
  connected: number;
  failed: number;
  /** µs from the first connect to the last join reply. */
  elapsedUs: number;
  firstErrors: string[];
}

export interface StormResult extends ConnectResult {
  /** Monotonic µs (nowUs()): the sockets were destroyed, and the last reconnected session's last join reply came. */
  cutUs: number;
  lastUs: number;
  /** Connections cut. */
  cut: number;
}

export interface RunResult {
  sent: number;
  /** Publisher lag: how far behind its schedule a publisher was at worst (µs). */
  maxLagUs: number;
}

export interface WorkerStats {
  /** Messages (bench bodies) received in all. */
  received: number;
  /** Received with a receive time inside the measured window. */
  receivedInWindow: number;
  /** Text frames received inside the window (a frame may carry several messages). */
  framesInWindow: number;
  /**
   * Data frames inside the window (text or binary), their payload bytes as they came over the wire, the same
   * after inflation, and how many were compressed (permessage-deflate). Counted for every frame, setup included.
   */
  wire: { frames: number; wireBytes: number; payloadBytes: number; compressedFrames: number };
  sent: number;
  sentInWindow: number;
  /** Deliveries the messages sent so far should make (sent × fanout). */
  expected: number;
  expectedInWindow: number;
  /** Latency of messages sent inside the window. */
  latency: HistogramSnapshot;
  /** The same, for recipients with a node (ConnSpec.node): publisher on the recipient's node, or on another. */
  latencySame: HistogramSnapshot;
  latencyCross: HistogramSnapshot;
  /** Replies to publishes that asked for one (`ack`), in all and with a receive time inside the window. */
  acks: number;
  acksInWindow: number;
  /** Acks since the connections were opened, over every run (retried windows too). */
  acksTotal: number;
  /** Publish → reply latency of acknowledged messages sent inside the window. */
  ackLatency: HistogramSnapshot;
  /** Server error pushes received, and the first few of them. */
  errors: number;
  errorSamples: string[];
  /** Other pushes (notices, presence, replies outside setup). */
  otherPushes: number;
  /** Messages not sent because the publisher's connection was gone. */
  skipped: number;
  /** Connections the server closed, or that broke, by code/reason. */
  closes: Record<string, number>;
  /** Event-loop delay while the window lasted (ms). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  maxLagUs: number;
  open: number;
  /** Connections opened with `track`: what their seqs showed. */
  seq?: SeqCounts;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
