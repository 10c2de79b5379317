/**
 * The WebSocket under the client. Uses the platform's `WebSocket` (browsers,
 * Deno, Bun, Node ≥ 22) or, in Node without one, the `ws` package loaded
 * lazily with a dynamic import — nothing Node-only is imported at module top
 * level, so the SDK bundles for the browser as is. A constructor may also be
 * passed in (`options.WebSocket`).
 */
import { CloseCode } from '../../../src/protocol/codes.js';

/** The part of the WebSocket API the SDK uses: the browser API, which `ws` implements too. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server agreed to ('' or absent: none). */
  readonly protocol?: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/**
 * Any WebSocket class with the browser API: `globalThis.WebSocket`, `ws`'s default export, … It is given the
 * subprotocol that asks for the client's encoding; a class that drops it gets a server speaking version 1's JSON.
 */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => object;

const OPEN = 1;

let wsModule: Promise<WebSocketConstructor> | null = null;

/** The WebSocket class to use: the given one, the platform's, or `ws` (Node). */
export async function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return given;
  const platform = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof platform === 'function') return platform;
  wsModule ??= loadWs();
  return wsModule;
}

async function loadWs(): Promise<WebSocketConstructor> {
  // A computed specifier: bundlers leave it alone, so browser bundles never try to include `ws`.
  const specifier = ['w', 's'].join('');
  try {
    const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as { default?: unknown; WebSocket?: unknown };
    const ctor = (mod.default ?? mod.WebSocket) as WebSocketConstructor | undefined;
    if (typeof ctor !== 'function') throw new Error('the ws module has no WebSocket class');
    return ctor;
  } catch (err) {
    wsModule = null;
    throw new Error(`no WebSocket available: this platform has no global WebSocket and the "ws" package could not be loaded (${(err as Error).message}); pass options.WebSocket`);
  }
}

export interface TransportHandlers {
  open(): void;
  text(data: string): void;
  binary(data: Uint8Array): void;
  /** Called exactly once per transport, after which nothing else is. */
  close(code: number, reason: string): void;
}

/**
 * One connection attempt. Normalizes the platform differences the SDK cares
 * about: text data as a string, binary data as a Uint8Array, one `close`
 * callback whatever happened (handshake failure, remote close, local drop).
 */
export class Transport {
  private closed = false;
  readonly ws: WebSocketLike;

  constructor(Ctor: WebSocketConstructor, url: string, subprotocol: string, private readonly handlers: TransportHandlers) {
    this.ws = new Ctor(url, subprotocol) as WebSocketLike;
    const ws = this.ws;
    if ('binaryType' in ws) (ws as { binaryType: string }).binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (!this.closed) this.handlers.open();
    };
    ws.onmessage = (ev) => {
      if (this.closed) return;
      const data = ev.data;
      if (typeof data === 'string') this.handlers.text(data);
      else if (data instanceof ArrayBuffer) this.handlers.binary(new Uint8Array(data));
      // Node's Buffer (a Uint8Array), from a WebSocket class that ignores binaryType.
      else if (data instanceof Uint8Array) this.handlers.binary(data);
    };
    ws.onerror = () => {
      // A close follows.
    };
    ws.onclose = (ev) => this.finish(typeof ev?.code === 'number' ? ev.code : CloseCode.Abnormal, typeof ev?.reason === 'string' ? ev.reason : '');
  }

  /** The subprotocol the server answered ('' for none). */
  get protocol(): string {
    return typeof this.ws.protocol === 'string' ? this.ws.protocol : '';
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === OPEN;
  }

  send(frame: string | Uint8Array): boolean {
    if (!this.isOpen) return false;
    try {
      this.ws.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** A polite close (close handshake); the `close` callback comes when it completes. */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closed) return;
    try {
      this.ws.close(code, reason);
    } catch {
      this.drop('close failed');
    }
  }

  /**
   * Drops the connection at once, as a network failure would: no handshake,
   * and the `close` callback runs now with 1006. With `ws`, the TCP socket is
   * destroyed (`terminate`); a browser socket is closed in the background.
   */
  drop(reason = 'dropped'): void {
    if (this.closed) return;
    const ws = this.ws as WebSocketLike & { terminate?: () => void };
    try {
      if (typeof ws.terminate === 'function') ws.terminate();
      else ws.close();
    } catch {
      // already gone
    }
    this.finish(CloseCode.Abnormal, reason);
  }

  private finish(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const ws = this.ws;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = () => {};
    this.handlers.close(code, reason);
  }
}
