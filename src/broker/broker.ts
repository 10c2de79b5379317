/**
 * What carries messages between the nodes of one Switchboard: a publish/subscribe bus on an existing engine
 * (Redis, NATS), or in-process for tests. It knows nothing of rooms or sessions: channels are opaque names chosen
 * by the cluster layer (src/cluster/), payloads opaque bytes.
 *
 * Guarantees every implementation gives, and no more (the cluster layer is built on exactly these):
 * - at most once: a message published while the connection is down, or in flight when it drops, may be lost;
 *   `publish` says so when it knows (false) and never queues without bound;
 * - per publisher and channel, messages arrive in the order they were published;
 * - a node that subscribes to a channel it publishes on receives its own messages too (the cluster layer tags
 *   each with the node's id and ignores its own);
 * - subscriptions are kept across reconnects: after `state(true)` every channel subscribed before is again.
 */
export interface Broker {
  /** `redis`, `nats` or `memory`: for logs and metrics. */
  readonly kind: string;
  /**
   * Connects and starts delivering to `handlers`. Resolves once connected; rejects if the first connection cannot
   * be made within a few seconds (a node should not start serving as part of a cluster it cannot reach). Later
   * losses are reported through `handlers.state` and retried with backoff for ever.
   */
  start(handlers: BrokerHandlers): Promise<void>;
  /** Fire and forget; false if the message was dropped because the broker is unreachable now. */
  publish(channel: string, payload: Buffer): boolean;
  /** Idempotent; takes effect at once if connected, otherwise on reconnect. */
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  /** Connected and every subscription in place. */
  readonly up: boolean;
  /** Disconnects; no handler is called after it resolves. */
  stop(): Promise<void>;
}

export interface BrokerHandlers {
  message(channel: string, payload: Buffer): void;
  /**
   * The connection was lost (`false`, once per loss), or is back with every subscription restored (`true`):
   * messages published by others meanwhile were not received.
   */
  state(up: boolean): void;
  /** Something worth a log line (a failed reconnect attempt, say); throttled by the caller. */
  warn?(message: string, err?: unknown): void;
}
