/**
 * A small protocol client for tests, over the `ws` package, in any of the
 * protocol's encodings (`encoding` per client; by default the process's,
 * SWITCHBOARD_TEST_ENCODING = json, lean or proto, version 1's JSON unless set). Every
 * incoming frame is split into its messages (JSON lines, or length-delimited
 * Protobuf decoded to the same plain objects), kept in arrival order so a test
 * can wait for one that has already arrived or is still to come. Timeouts
 * exist only to fail a test that would otherwise hang.
 */
import { isDeepStrictEqual } from 'node:util';
import WebSocket, { type ClientOptions } from 'ws';
import { delimit, splitDelimited } from '../../src/protocol/delimited.js';
import { decodeClientMessage, encodeClientMessage, type PlainCommand } from '../../src/protocol/proto-commands.js';
import { decodeServerMessage } from '../../src/protocol/proto-pushes.js';

export type Msg = Record<string, unknown> & { type: string };
export type Predicate = (m: Msg) => boolean;
export type Closed = { code: number; reason: string };

export const DEFAULT_TIMEOUT_MS = 3_000;

/** `json`: version 1's JSON (no subprotocol); `json2`: version 2's lean JSON; `proto`: version 2's Protobuf. */
export type Encoding = 'json' | 'json2' | 'proto';

/** The subprotocol a client offers for each encoding (version 1 offers none, as clients before version 2 did). */
export const SUBPROTOCOL: Readonly<Record<Encoding, string | undefined>> = { json: undefined, json2: 'switchboard.v2.json', proto: 'switchboard.v2.proto' };

/** The encoding of each of scripts/run-tests.js's passes, by the name SWITCHBOARD_TEST_ENCODING gives it. */
const PASSES: Readonly<Record<string, Encoding>> = { json: 'json', lean: 'json2', proto: 'proto' };

function encodingFromEnv(): Encoding {
  const v = process.env.SWITCHBOARD_TEST_ENCODING || 'json';
  if (Object.hasOwn(PASSES, v)) return PASSES[v]!;
  throw new Error(`SWITCHBOARD_TEST_ENCODING=${v}: expected json, lean or proto`);
}

/** What clients speak unless a test asks for another encoding: scripts/run-tests.js runs marked files under each. */
export const TEST_ENCODING: Encoding = encodingFromEnv();

interface Waiter {
  pred: Predicate;
  consume: boolean;
  resolve(m: Msg): void;
  /** The socket closed: nothing more can arrive. */
  fail(closed: Closed): void;
}

const open = new Set<TestClient>();

/** Closes (terminates) every client still open: for `after` hooks. */
export function closeAllClients(): void {
  for (const c of open) c.terminate();
}

export class TestClient {
  /** Every message received, in order. */
  readonly messages: Msg[] = [];
  /**
   * Frames received (each may hold several messages), as text: a JSON frame as it came, a Protobuf frame as the
   * JSON of its decoded messages, one a line — so a test counts frames and reads their messages in any encoding.
   */
  readonly frames: string[] = [];
  /**
   * What could not be read as a message (a protocol violation by the server): a line that is not JSON, a frame of
   * the other kind (binary on JSON, text on Protobuf), a Protobuf message or length that does not decode.
   */
  readonly garbage: string[] = [];
  /** Resolves once the socket has closed, with the close code the client saw (1006: no close frame). */
  readonly closed: Promise<Closed>;
  /** Set once closed. */
  closeInfo: Closed | null = null;
  /** Number of WebSocket pings received from the server. */
  pings = 0;
  private readonly consumed = new Set<number>();
  private waiters: Waiter[] = [];
  private pingWaiters: { n: number; resolve(): void; fail(closed: Closed): void }[] = [];
  private nextId = 1;

  constructor(
    readonly ws: WebSocket,
    readonly encoding: Encoding = TEST_ENCODING,
  ) {
    open.add(this);
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        open.delete(this);
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        // Nothing more can arrive: fail every wait now rather than at its timeout.
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.fail(this.closeInfo);
        const pingWaiters = this.pingWaiters;
        this.pingWaiters = [];
        for (const w of pingWaiters) w.fail(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // reported through `closed`
    ws.on('ping', () => {
      this.pings++;
      this.pingWaiters = this.pingWaiters.filter((w) => (this.pings >= w.n ? (w.resolve(), false) : true));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => (this.binary ? this.onBinaryEncoded(data, isBinary) : this.onJsonEncoded(data, isBinary)));
  }

  /** Whether this client's encoding uses binary frames. */
  get binary(): boolean {
    return this.encoding === 'proto';
  }

  /**
   * Whether a `message` push carries the message's `id` and the sender's `key` (version 1's JSON). Version 2 leaves
   * both out: a message is known by its conversation and seq there, and the id is in the ack and in history.
   */
  get carriesMessageIds(): boolean {
    return this.encoding === 'json';
  }

  /**
   * A `message` push as this client receives it: `expected` (in version 1's fields) without `id` and `key` where
   * the encoding leaves them out, and, in the lean JSON, without a `contentType` of text.
   */
  asReceived(expected: Record<string, unknown>): Record<string, unknown> {
    if (this.carriesMessageIds) return expected;
    const { id: _id, key: _key, ...rest } = expected;
    if (this.encoding === 'json2' && rest.contentType === 'text') delete rest.contentType;
    return rest;
  }

  private onJsonEncoded(data: Buffer, isBinary: boolean): void {
    const text = isBinary ? `<binary ${data.length} bytes>` : data.toString('utf8');
    this.frames.push(text);
    if (isBinary) {
      this.garbage.push(text);
      return;
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let msg: Msg;
      try {
        msg = JSON.parse(line) as Msg;
      } catch {
        this.garbage.push(line);
        continue;
      }
      this.receive(msg);
    }
  }

  private onBinaryEncoded(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      const text = `<text ${data.length} bytes> ${data.toString('utf8').slice(0, 200)}`;
      this.frames.push(text);
      this.garbage.push(text);
      return;
    }
    const got: Msg[] = [];
    splitDelimited(
      data,
      (bytes) => {
        try {
          got.push(decodeServerMessage(bytes) as unknown as Msg);
        } catch (e) {
          this.garbage.push(`<undecodable ServerMessage: ${(e as Error).message}> ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
        }
      },
      (reason) => this.garbage.push(`<bad length: ${reason}>`),
    );
    this.frames.push(got.map((m) => JSON.stringify(m)).join('\n'));
    for (const m of got) this.receive(m);
  }

  private receive(msg: Msg): void {
    const index = this.messages.length;
    this.messages.push(msg);
    for (const w of [...this.waiters]) {
      if (!w.pred(msg)) continue;
      if (w.consume) {
        // One consuming waiter takes the message; watchers (waitFor) all see it.
        if (this.consumed.has(index)) continue;
        this.consumed.add(index);
      }
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(msg);
    }
  }

  /** The session id from the `connected` push (undefined before it arrived). */
  get session(): string | undefined {
    const c = this.messages.find((m) => m.type === 'connected');
    return c ? String(c.session) : undefined;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private wait(pred: Predicate, timeoutMs: number, consume: boolean, what: string): Promise<Msg> {
    for (let i = 0; i < this.messages.length; i++) {
      const m = this.messages[i]!;
      if (consume && this.consumed.has(i)) continue;
      if (pred(m)) {
        if (consume) this.consumed.add(i);
        return Promise.resolve(m);
      }
    }
    if (this.closeInfo) return Promise.reject(this.closedError(what, this.closeInfo));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${what}: no matching message within ${timeoutMs} ms; received:\n${this.dump()}`));
      }, timeoutMs);
      const waiter: Waiter = {
        pred,
        consume,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        fail: (closed) => {
          clearTimeout(timer);
          reject(this.closedError(what, closed));
        },
      };
      this.waiters.push(waiter);
    });
  }

  private closedError(what: string, closed: Closed): Error {
    return new Error(`${what}: socket closed (${closed.code} ${closed.reason}) before a matching message arrived; received:\n${this.dump()}`);
  }

  /** The first matching message, already received or future, that no earlier `next` returned. */
  next(pred: Predicate | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    return this.wait(toPred(pred), timeoutMs, true, 'next');
  }

  /** The first matching message ever received (or the first to come). Does not consume. */
  waitFor(pred: Predicate | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    return this.wait(toPred(pred), timeoutMs, false, 'waitFor');
  }

  /** Messages received so far that match. */
  all(pred: Predicate | string): Msg[] {
    return this.messages.filter(toPred(pred));
  }

  /** Sends one protocol message (no id added), in this client's encoding. */
  send(msg: Record<string, unknown>): void {
    this.ws.send(this.binary ? delimit(protoOf(msg)) : JSON.stringify(msg));
  }

  /** Sends several messages batched in one frame. */
  sendBatch(msgs: readonly Record<string, unknown>[]): void {
    this.ws.send(this.binary ? Buffer.concat(msgs.map((m) => delimit(protoOf(m)))) : msgs.map((m) => JSON.stringify(m)).join('\n'));
  }

  /** Sends bytes as they are: a string as a text frame, a Buffer as a binary one, unless `binary` says otherwise. */
  sendRaw(data: string | Buffer | Uint8Array, opts: { binary?: boolean } = {}): void {
    this.ws.send(data, { binary: opts.binary ?? typeof data !== 'string' });
  }

  newId(): number {
    return this.nextId++;
  }

  /** Sends `cmd` with a fresh id and resolves with the reply or error carrying that id. */
  async request(cmd: Record<string, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Msg> {
    const id = cmd.id ?? this.newId();
    this.send({ ...cmd, id });
    return this.next((m) => (m.type === 'reply' || m.type === 'error') && m.id === id, timeoutMs);
  }

  /** Like `request`, but fails unless the answer is a reply; resolves with its data. */
  async call<T = Record<string, unknown>>(cmd: Record<string, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    const r = await this.request(cmd, timeoutMs);
    if (r.type !== 'reply') throw new Error(`${JSON.stringify(cmd)} failed: ${JSON.stringify(r)}`);
    return r.data as T;
  }

  /**
   * Round trip through the server: once the pong is here, everything the server
   * queued for this session before it read the ping has arrived too.
   */
  async barrier(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    const id = `barrier-${this.newId()}`;
    this.send({ type: 'ping', id });
    await this.next((m) => m.type === 'pong' && m.id === id, timeoutMs);
  }

  /** Resolves once the server has sent at least `n` WebSocket pings. */
  waitForPings(n: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    if (this.pings >= n) return Promise.resolve();
    if (this.closeInfo) return Promise.reject(new Error(`socket closed (${this.closeInfo.code}) after ${this.pings} of ${n} pings`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pingWaiters = this.pingWaiters.filter((w) => w !== waiter);
        reject(new Error(`only ${this.pings} of ${n} pings within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        n,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (closed: Closed) => {
          clearTimeout(timer);
          reject(new Error(`socket closed (${closed.code} ${closed.reason}) after ${this.pings} of ${n} pings`));
        },
      };
      this.pingWaiters.push(waiter);
    });
  }

  /** Resolves with the close the client saw, failing after `timeoutMs`. */
  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms; received:\n${this.dump()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes politely and waits for the close handshake. */
  async close(code = 1000, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Closed> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code);
    return this.waitClosed(timeoutMs);
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** The TCP socket under the WebSocket (to pause reading, as a slow consumer would). */
  get socket(): import('node:net').Socket {
    return (this.ws as unknown as { _socket: import('node:net').Socket })._socket;
  }

  dump(max = 30): string {
    const tail = this.messages.slice(-max).map((m) => '  ' + JSON.stringify(m).slice(0, 300));
    return (this.messages.length > max ? `  … ${this.messages.length - max} earlier\n` : '') + tail.join('\n');
  }
}

/**
 * A command as a `ClientMessage`. Protobuf has no room for what the schema does not name (an unknown type, a field
 * such as `from`, a number where a string goes): such a command would reach the server as another one, and a test
 * of how the server refuses it would pass for the wrong reason. It is refused here instead: such a test belongs to
 * a file (or a test) that runs under JSON only.
 */
function protoOf(msg: Record<string, unknown>): Uint8Array {
  const cmd = msg as PlainCommand;
  let bytes: Uint8Array;
  try {
    bytes = encodeClientMessage(cmd);
  } catch (e) {
    throw new Error(`${JSON.stringify(msg)} has no Protobuf form (${(e as Error).message}): a test of it runs under JSON only`);
  }
  // What the server would read from the JSON, where an omitted contentType means text, as it does in Protobuf.
  const asJson = JSON.parse(JSON.stringify(msg)) as Record<string, unknown>;
  if (asJson.contentType === 'text') delete asJson.contentType;
  const decoded = decodeClientMessage(bytes);
  if (!isDeepStrictEqual(decoded, asJson))
    throw new Error(`${JSON.stringify(msg)} reads as ${JSON.stringify(decoded)} in Protobuf: a test of it runs under JSON only`);
  return bytes;
}

function toPred(p: Predicate | string): Predicate {
  return typeof p === 'string' ? (m) => m.type === p : p;
}

export interface ConnectOptions extends ClientOptions {
  timeoutMs?: number;
  /** The encoding this client speaks (default TEST_ENCODING); it offers that encoding's subprotocol. */
  encoding?: Encoding;
  /**
   * The subprotocols offered instead, in order of preference (to see which one the server picks). The server
   * must still answer the encoding's own, or the connection is refused here.
   */
  protocols?: readonly string[];
}

/**
 * Opens a WebSocket and resolves once it is open (not once the session is
 * identified: a refused identity is a close after the open). Rejects if the
 * handshake itself is refused.
 */
export function connect(url: string, opts: ConnectOptions = {}): Promise<TestClient> {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, encoding = TEST_ENCODING, protocols, ...wsOpts } = opts;
  const wanted = SUBPROTOCOL[encoding];
  const offered = protocols ?? (wanted === undefined ? [] : [wanted]);
  const ws = new WebSocket(url, [...offered], wsOpts);
  const client = new TestClient(ws, encoding);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`could not connect to ${url} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      // Anything else would have the two sides read each other's frames in different encodings.
      if (wanted !== undefined && ws.protocol !== wanted) {
        ws.terminate();
        return reject(new Error(`the server answered subprotocol ${JSON.stringify(ws.protocol)} to an offer of ${JSON.stringify(offered)}; ${encoding} needs ${wanted}`));
      }
      resolve(client);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      ws.terminate();
      const err = new Error(`handshake refused: HTTP ${res.statusCode}`) as Error & { statusCode?: number };
      err.statusCode = res.statusCode;
      reject(err);
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Connects as a dev user (`?user=NAME`) and waits for the `connected` push. */
export async function connectUser(wsUrl: string, user: string, opts: ConnectOptions = {}): Promise<TestClient> {
  return connectWith(`${wsUrl}?user=${encodeURIComponent(user)}`, opts);
}

/** Connects with a token in the URL and waits for the `connected` push. */
export async function connectToken(wsUrl: string, token: string, opts: ConnectOptions = {}): Promise<TestClient> {
  return connectWith(`${wsUrl}?token=${encodeURIComponent(token)}`, opts);
}

/** Connects to a full URL (credentials and flags in its query) and waits for the `connected` push. */
export async function connectWith(url: string, opts: ConnectOptions = {}): Promise<TestClient> {
  const c = await connect(url, opts);
  // Rejects with the close code if the server refuses the identity.
  await c.waitFor('connected', opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  return c;
}

/** Messages of one conversation in the order received. */
export function roomMessages(c: TestClient, room: string): Msg[] {
  return c.all((m) => m.type === 'message' && m.room === room);
}
