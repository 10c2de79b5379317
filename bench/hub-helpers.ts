/** What the benchmark's comparison servers (bench/baseline-server.ts, bench/socketio-server.ts) share: options and numbering. */
import type { MessagePush } from '../src/protocol/pushes.js';

/** `--name value` from the command line, or the fallback. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i !== -1 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Per-conversation sequence numbers and message ids, as Switchboard's pushes carry them. */
export class Numbering {
  private readonly seqs = new Map<string, number>();
  private counter = 0;

  /** The last seq given in a conversation (0: none yet). */
  seq(key: string): number {
    return this.seqs.get(key) ?? 0;
  }

  nextSeq(key: string): number {
    const s = this.seq(key) + 1;
    this.seqs.set(key, s);
    return s;
  }

  nextId(): string {
    return `${Date.now().toString(36)}-${(this.counter++).toString(36)}`;
  }

  /** The push of a message published in a room (its seq the room's next). */
  roomMessage(room: string, from: string, body: unknown, contentType: string | undefined): MessagePush {
    return { type: 'message', id: this.nextId(), room, seq: this.nextSeq(`r:${room}`), from, contentType: contentType ?? 'text', body, ts: Date.now() };
  }

  /** The push of a direct message (its seq the pair's next, whichever way it goes). */
  directMessage(from: string, to: string, body: unknown, contentType: string | undefined): MessagePush {
    const key = from < to ? `d:${from}\0${to}` : `d:${to}\0${from}`;
    return { type: 'message', id: this.nextId(), to, seq: this.nextSeq(key), from, contentType: contentType ?? 'text', body, ts: Date.now() };
  }
}
