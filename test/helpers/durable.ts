/**
 * Helpers for the durable-conversation tests: temp folders that go away with
 * the test, pipelined publishing that keeps every ack, and history paging.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Msg, TestClient } from './client.js';

/** A fresh folder removed after the test (and, failing that, when the process exits). */
export function tempDir(t: { after(fn: () => unknown): void }, prefix = 'switchboard-durable-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  t.after(remove);
  process.on('exit', remove);
  return dir;
}

/** Flags giving a server the SQLite file and uploads folder inside `dir` (so a restart finds the same data). */
export function sqliteFlags(dir: string): string[] {
  return ['--store.file', join(dir, 'switchboard.db'), '--uploads.dir', join(dir, 'uploads')];
}

/** Rate limits out of the way: these tests send hundreds of messages per session. */
export const NO_RATE_LIMIT = ['--limits.messagesPerSecond', '1000000', '--limits.burst', '1000000', '--limits.maxRateStrikes', '1000000'];

export interface Ack {
  id: string;
  seq: number;
  ts: number;
  duplicate?: boolean;
}

export interface PumpResult {
  /** The ack of cmds[i], when it came (a reply); undefined when none did. */
  acks: (Ack | undefined)[];
  /** Error replies, by index. */
  errors: Map<number, Msg>;
  /** How many commands were written to the socket. */
  sent: number;
  /** True when the socket closed before every command was answered. */
  cut: boolean;
}

/**
 * Sends `cmds` with at most `window` unanswered at a time, recording each
 * answer. Resolves once all are answered or the socket has closed (a crash).
 * `onAck` runs synchronously as each ack arrives.
 */
export function pump(
  c: TestClient,
  cmds: readonly Record<string, unknown>[],
  opts: { window?: number; timeoutMs?: number; onAck?: (i: number, ack: Ack) => void; shouldStop?: () => boolean } = {},
): Promise<PumpResult> {
  const window = opts.window ?? 16;
  const result: PumpResult = { acks: new Array(cmds.length).fill(undefined), errors: new Map(), sent: 0, cut: false };
  let next = 0;
  let outstanding = 0;
  return new Promise((resolve) => {
    const finish = (): void => {
      if (outstanding === 0 && (next >= cmds.length || result.cut || opts.shouldStop?.())) resolve(result);
    };
    const fill = (): void => {
      while (!result.cut && outstanding < window && next < cmds.length && !opts.shouldStop?.() && c.isOpen) {
        const i = next++;
        outstanding++;
        result.sent++;
        c.request(cmds[i]!, opts.timeoutMs ?? 15_000).then(
          (r) => {
            outstanding--;
            if (r.type === 'reply') {
              const ack = r.data as Ack;
              result.acks[i] = ack;
              opts.onAck?.(i, ack);
            } else result.errors.set(i, r);
            fill();
            finish();
          },
          () => {
            // The socket closed (or the answer never came): nothing more will.
            outstanding--;
            result.cut = true;
            finish();
          },
        );
      }
      if (!c.isOpen) result.cut = true;
      finish();
    };
    fill();
  });
}

export type Target = { room: string } | { with: string };

export interface HistoryData {
  room?: string;
  with?: string;
  messages: Msg[];
  oldestSeq: number;
  lastSeq: number;
  hasMore: boolean;
}

/** Every stored message of a conversation, oldest first, paged forward with `after`. */
export async function fullHistory(c: TestClient, target: Target, pageSize = 200): Promise<{ messages: Msg[]; lastSeq: number; oldestSeq: number; pages: number }> {
  const messages: Msg[] = [];
  let after = 0;
  let pages = 0;
  for (;;) {
    const page = await c.call<HistoryData>({ type: 'history', ...target, after, limit: pageSize });
    pages++;
    messages.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return { messages, lastSeq: page.lastSeq, oldestSeq: page.oldestSeq, pages };
    after = Number(page.messages[page.messages.length - 1]!.seq);
  }
}

/** The seqs of `msgs`, in order. */
export function seqs(msgs: readonly Msg[]): number[] {
  return msgs.map((m) => Number(m.seq));
}

/** [from, from+1, …, to]. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/** Messages of a direct conversation between the client's user and `other`. */
export function isDmWith(me: string, other: string): (m: Msg) => boolean {
  return (m) => m.type === 'message' && m.room === undefined && ((m.from === me && m.to === other) || (m.from === other && m.to === me));
}

export function isRoomMsg(room: string): (m: Msg) => boolean {
  return (m) => m.type === 'message' && m.room === room;
}
