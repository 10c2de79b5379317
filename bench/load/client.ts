/**
 * A minimal WebSocket client for the load generator: one TCP socket, a fixed
 * HTTP upgrade request, and a frame parser that hands text payloads to a sink
 * without copying or decoding them. Reads go through `onread` into one buffer
 * per worker thread (no Buffer and no stream event per read), and frames we
 * send are masked with a zero key, so a pre-encoded frame is sent as it is.
 *
 * It is deliberately not the `ws` client: at a million deliveries a second the
 * generator must cost less than the server it measures.
 */
import net from 'node:net';
import { constants as zlib, inflateRawSync } from 'node:zlib';

/** Monotonic microseconds, the same clock (CLOCK_MONOTONIC) in every thread and process on the machine. */
export function nowUs(): number {
  const t = process.hrtime();
  return t[0] * 1e6 + Math.floor(t[1] / 1000);
}

export interface ClientSink {
  /** A complete text frame: its payload is `buf[start, end)`; `buf` is only valid during the call. */
  onText(c: RawClient, buf: Buffer, start: number, end: number, now: number): void;
  /** A complete binary frame (a Protobuf connection), as onText; absent: binary frames are a protocol error. */
  onBinary?(c: RawClient, buf: Buffer, start: number, end: number, now: number): void;
  /**
   * Every data frame, before onText/onBinary: its payload's length as it came over the wire, and after
   * permessage-deflate's inflation (the same when the frame was not compressed).
   */
  onFrameBytes?(c: RawClient, wireBytes: number, payloadBytes: number, compressed: boolean, now: number): void;
  /** The 101 arrived; frames may be sent. */
  onOpen(c: RawClient): void;
  /** The connection is gone: close code from the server's close frame (0 if none), or a socket error. */
  onClose(c: RawClient, code: number, reason: string, error: string | null): void;
}

export interface Target {
  host: string;
  port: number;
  /** Request path with query, e.g. `/ws?user=alice`. */
  path: string;
  localAddress?: string;
  /** Offered in Sec-WebSocket-Protocol (e.g. `switchboard.v2.proto`). */
  protocol?: string;
  /** Offer permessage-deflate (without context takeover, as Switchboard's server answers). */
  deflate?: boolean;
}

const enum State {
  Connecting,
  Handshake,
  Open,
  Closing,
  Closed,
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A client→server frame with a zero masking key (masking is then a no-op, so the payload is sent as is). */
export function clientFrame(payload: Buffer, opcode = 0x1): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    out.writeUInt32BE(len >>> 0, 6);
  }
  out.writeUInt32BE(0, hdr);
  payload.copy(out, hdr + 4);
  return out;
}

/** The four bytes a deflate sender strips from the end of every message (RFC 7692 §7.2.1). */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/**
 * A compressed message's payload, inflated synchronously, as a receiver on its own thread would. With no
 * context takeover each message is a deflate stream of its own: nothing is kept between messages. (zlib's
 * synchronous path closes its stream after each call, so one cannot be kept and reset either.)
 */
export function inflateMessage(payload: Buffer): Buffer {
  // The message ends with a sync flush, not a final block: Z_FINISH would call it truncated.
  return inflateRawSync(Buffer.concat([payload, DEFLATE_TAIL]), { finishFlush: zlib.Z_SYNC_FLUSH });
}

/** Offset of the payload in a frame built by clientFrame. */
export function clientFrameHeaderLength(payloadLength: number): number {
  return (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10) + 4;
}

export class RawClient {
  private state = State.Connecting;
  private readonly socket: net.Socket;
  /** Bytes of an incomplete frame (copied out of the shared read buffer). */
  private chunks: Buffer[] = [];
  private chunkLen = 0;
  private need = 0;
  /** Fragments of a fragmented message (the servers under test do not fragment, but a client must cope). */
  private fragments: Buffer[] | null = null;
  /** RSV1 of the first fragment: the fragmented message is compressed. */
  private fragmentsCompressed = false;
  private fragmentsOpcode = 0x1;
  /** What the 101 answered: the subprotocol ('' none) and whether permessage-deflate is on. */
  protocol = '';
  deflate = false;
  private closeCode = 0;
  private closeReason = '';
  /** Free for the owner: setup bookkeeping. */
  tag: unknown = null;

  constructor(
    readonly index: number,
    target: Target,
    readBuffer: Buffer,
    private readonly sink: ClientSink,
  ) {
    const opts: net.NetConnectOpts = {
      host: target.host,
      port: target.port,
      noDelay: true,
      // The buffer is the one we passed in: a Buffer, whatever the type says.
      onread: { buffer: readBuffer, callback: (n, b) => this.onRead(n, b as Buffer) },
    };
    if (target.localAddress) opts.localAddress = target.localAddress;
    this.socket = net.connect(opts);
    const extra =
      (target.protocol ? `Sec-WebSocket-Protocol: ${target.protocol}\r\n` : '') +
      (target.deflate ? 'Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n' : '');
    this.socket.on('connect', () => {
      this.state = State.Handshake;
      this.socket.write(
        `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    this.socket.on('error', (err) => this.finish(err.message));
    this.socket.on('close', () => this.finish(null));
  }

  get open(): boolean {
    return this.state === State.Open;
  }

  send(frame: Buffer): void {
    if (this.state === State.Open) this.socket.write(frame);
  }

  /** Ends the connection at once (no close handshake: the harness tears thousands down at a time). */
  destroy(): void {
    if (this.state === State.Closed) return;
    this.state = State.Closing;
    this.socket.destroy();
  }

  private finish(error: string | null): void {
    if (this.state === State.Closed) return;
    const destroyed = this.state === State.Closing;
    this.state = State.Closed;
    this.chunks = [];
    this.fragments = null;
    this.sink.onClose(this, 0, '', destroyed ? 'destroyed' : (error ?? 'connection lost without a close frame'));
  }

  private onRead(nread: number, buf: Buffer): boolean {
    if (this.state === State.Closed || this.state === State.Closing) return true;
    const now = nowUs();
    if (this.chunkLen > 0) {
      this.chunks.push(Buffer.from(buf.subarray(0, nread)));
      this.chunkLen += nread;
      if (this.chunkLen < this.need) return true;
      const all = Buffer.concat(this.chunks, this.chunkLen);
      this.chunks = [];
      this.chunkLen = 0;
      this.parse(all, now);
    } else this.parse(buf.subarray(0, nread), now);
    return true;
  }

  private stash(data: Buffer, from: number, need: number): void {
    this.chunks = [Buffer.from(data.subarray(from))];
    this.chunkLen = data.length - from;
    this.need = need;
  }

  private parse(data: Buffer, now: number): void {
    let off = 0;
    const len = data.length;
    if (this.state === State.Handshake) {
      const end = data.indexOf(CRLFCRLF);
      if (end === -1) return this.stash(data, 0, len + 1);
      const status = data.toString('latin1', 0, Math.min(end, 64));
      if (!status.startsWith('HTTP/1.1 101')) {
        this.closeReason = status.split('\r\n', 1)[0]!;
        this.state = State.Closing;
        this.socket.destroy();
        this.sink.onClose(this, 0, this.closeReason, `upgrade refused: ${this.closeReason}`);
        this.state = State.Closed;
        return;
      }
      const head = data.toString('latin1', 0, end);
      this.protocol = /^sec-websocket-protocol:[ \t]*(\S+)/im.exec(head)?.[1] ?? '';
      this.deflate = /^sec-websocket-extensions:.*permessage-deflate/im.test(head);
      this.state = State.Open;
      off = end + 4;
      this.sink.onOpen(this);
    }
    while (off < len && this.state === State.Open) {
      if (len - off < 2) return this.stash(data, off, len - off + 1);
      const b0 = data[off]!;
      const b1 = data[off + 1]!;
      let plen = b1 & 0x7f;
      let hdr = 2;
      if (plen === 126) {
        if (len - off < 4) return this.stash(data, off, len - off + 1);
        plen = data.readUInt16BE(off + 2);
        hdr = 4;
      } else if (plen === 127) {
        if (len - off < 10) return this.stash(data, off, len - off + 1);
        plen = data.readUInt32BE(off + 2) * 2 ** 32 + data.readUInt32BE(off + 6);
        hdr = 10;
      }
      if (b1 & 0x80) {
        this.protocolError('server frame is masked');
        return;
      }
      const start = off + hdr;
      const end = start + plen;
      if (end > len) return this.stash(data, off, end - off);
      this.frame(b0, data, start, end, now);
      off = end;
    }
  }

  private frame(b0: number, data: Buffer, start: number, end: number, now: number): void {
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    switch (opcode) {
      case 0x1:
      case 0x2:
        if (opcode === 0x2 && !this.sink.onBinary) return this.protocolError('unexpected binary frame');
        if (fin) this.message(opcode, (b0 & 0x40) !== 0, data, start, end, now);
        else {
          this.fragments = [Buffer.from(data.subarray(start, end))];
          this.fragmentsCompressed = (b0 & 0x40) !== 0;
          this.fragmentsOpcode = opcode;
        }
        return;
      case 0x0: {
        if (!this.fragments) return this.protocolError('continuation without a start');
        this.fragments.push(Buffer.from(data.subarray(start, end)));
        if (fin) {
          const all = Buffer.concat(this.fragments);
          this.fragments = null;
          this.message(this.fragmentsOpcode, this.fragmentsCompressed, all, 0, all.length, now);
        }
        return;
      }
      case 0x8: {
        this.closeCode = end - start >= 2 ? data.readUInt16BE(start) : 1005;
        this.closeReason = end - start > 2 ? data.toString('utf8', start + 2, end) : '';
        const echo = Buffer.alloc(2);
        echo.writeUInt16BE(this.closeCode === 1005 ? 1000 : this.closeCode);
        this.socket.write(clientFrame(echo, 0x8));
        this.socket.end();
        // The socket's own 'close' follows and finds the state Closed: the sink hears of it once, here.
        this.state = State.Closed;
        this.sink.onClose(this, this.closeCode, this.closeReason, null);
        return;
      }
      case 0x9:
        this.socket.write(clientFrame(Buffer.from(data.subarray(start, end)), 0xa));
        return;
      case 0xa:
        return;
      default:
        return this.protocolError(`unexpected opcode ${opcode}`);
    }
  }

  /** A whole data message: inflated when RSV1 says it is compressed, then handed to the sink. */
  private message(opcode: number, compressed: boolean, data: Buffer, start: number, end: number, now: number): void {
    if (compressed && !this.deflate) return this.protocolError('compressed frame without permessage-deflate');
    let buf = data;
    let from = start;
    let to = end;
    if (compressed) {
      try {
        buf = inflateMessage(data.subarray(start, end));
      } catch (err) {
        return this.protocolError(`a compressed frame that does not inflate: ${(err as Error).message}`);
      }
      from = 0;
      to = buf.length;
    }
    this.sink.onFrameBytes?.(this, end - start, to - from, compressed, now);
    if (opcode === 0x1) this.sink.onText(this, buf, from, to, now);
    else this.sink.onBinary!(this, buf, from, to, now);
  }

  private protocolError(what: string): void {
    this.state = State.Closing;
    this.socket.destroy();
    this.state = State.Closed;
    this.sink.onClose(this, 0, '', `protocol error: ${what}`);
  }
}
