/**
 * Helpers for the SDK's integration tests: SDK clients that are closed after
 * the test, a recorder of what the app was given, a way to cut a connection as
 * a network failure would, a gate that keeps a client offline, and free ports.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { SwitchboardClient, type ClientOptions, type WebSocketConstructor } from '../../client/src/index.js';
import type { Conversation, MessagePush, StateChange } from '../../client/src/types.js';

export type TestContext = { after(fn: () => unknown): void };

/** An SDK client with fast reconnects, closed when the test ends. */
export function sdk(t: TestContext, url: string, opts: Partial<ClientOptions> & ({ user: string } | { token: string } | { getToken: () => string | Promise<string> })): SwitchboardClient {
  const client = new SwitchboardClient({ url, reconnect: { initialMs: 50, maxMs: 400, jitter: 0.5 }, ...opts });
  t.after(() => client.close());
  return client;
}

/** What the app received: every message event, every state change, every gap and error. */
export class Recorder {
  readonly messages: { m: MessagePush; conv: Conversation }[] = [];
  readonly states: StateChange[] = [];
  readonly gaps: unknown[] = [];
  readonly errors: Error[] = [];
  readonly recoveries: unknown[] = [];
  private waiters: { check(): boolean; resolve(): void }[] = [];

  constructor(readonly client: SwitchboardClient) {
    client.on('message', (m, meta) => {
      this.messages.push({ m, conv: meta.conversation });
      this.poke();
    });
    client.on('state', (s) => {
      this.states.push(s);
      this.poke();
    });
    client.on('gap', (g) => this.gaps.push(g));
    client.on('error', (e) => this.errors.push(e));
    client.on('recovery', (r) => {
      this.recoveries.push(r);
      this.poke();
    });
  }

  private poke(): void {
    this.waiters = this.waiters.filter((w) => (w.check() ? (w.resolve(), false) : true));
  }

  /** Messages of one conversation, in the order the app got them. */
  of(conv: Conversation): MessagePush[] {
    return this.messages
      .filter(({ conv: c }) => ('room' in conv ? 'room' in c && c.room === conv.room : 'with' in c && c.with === conv.with))
      .map(({ m }) => m);
  }

  /** Resolves once `check()` holds (checked after every event), failing after `timeoutMs`. */
  until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${what}: not within ${timeoutMs} ms (state ${this.client.state}, ${this.messages.length} messages, errors: ${this.errors.map((e) => e.message).join('; ')})`));
      }, timeoutMs);
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves at the next state change to `state` (after now). */
  nextState(state: StateChange['state'], timeoutMs = 10_000): Promise<StateChange> {
    const from = this.states.length;
    return this.until(() => this.states.slice(from).some((s) => s.state === state), `state ${state}`, timeoutMs).then(
      () => this.states.slice(from).find((s) => s.state === state)!,
    );
  }
}

/** The TCP socket under a connected SDK client (Node, `ws`). */
export function tcpSocket(client: SwitchboardClient): Socket {
  const ws = client._transport?.ws as unknown as { _socket?: Socket } | undefined;
  if (!ws?._socket) throw new Error('client has no live socket');
  return ws._socket;
}

/**
 * The client stops hearing the server while its own frames still go out, as
 * if the network dropped everything coming its way: what arrives is read and
 * thrown away. (Pausing the socket is not enough: when a paused socket is
 * destroyed, ws still parses what it had buffered, so answers "lost" that way
 * may arrive after all.)
 */
export function deafen(client: SwitchboardClient): void {
  const socket = tcpSocket(client);
  socket.removeAllListeners('data');
  socket.on('data', () => {});
  // ws may have paused it for backpressure; a paused socket would keep what arrives, for ws to parse at the end.
  socket.resume();
}

/** Cuts the connection under the client as a network failure would: the TCP socket is destroyed, no close frame. */
export function cut(client: SwitchboardClient): void {
  tcpSocket(client).destroy();
}

/**
 * A WebSocket class whose connections fail while the gate is closed (they go to
 * a port nothing listens on): keeps a client offline for exactly as long as a
 * test wants.
 */
export class Gate {
  open = true;
  readonly WebSocket: WebSocketConstructor;
  constructor() {
    const gate = this;
    this.WebSocket = class GatedWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(gate.open ? url : 'ws://127.0.0.1:9/closed', protocols);
      }
    };
  }
}

/** A TCP port that was free a moment ago. */
export { freePort } from '../../bench/free-port.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** [from, …, to] */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

export const seqsOf = (msgs: readonly MessagePush[]): number[] => msgs.map((m) => m.seq);
