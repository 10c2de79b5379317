/**
 * Filling a gap from history against a scripted session: a page that times
 * out or that the server cannot serve for a moment is asked again before what
 * it would have held is given up as a gap; a refusal is not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it, type TestContext } from 'node:test';
import { ServerError, TimeoutError, type SwitchboardError } from '../../client/src/errors.js';
import { GapFiller } from '../../client/src/gap-filler.js';
import { roomKey, Sequencer, type ConvKey } from '../../client/src/recovery.js';
import type { PendingRequest } from '../../client/src/requests.js';
import type { MessagePush, RecoveryEvent } from '../../client/src/types.js';

const R = roomKey('general');

/** What the session answers to each history request, in turn: an error, or the seqs of a page. */
type Answer = ServerError | TimeoutError | number[];

function harness(answers: Answer[], from = { position: 5, since: 5, seqAtServer: 8, recovered: false }) {
  const delivered: number[] = [];
  const gaps: [number, number][] = [];
  const errors: SwitchboardError[] = [];
  const asked: unknown[] = [];
  let recovered!: (e: RecoveryEvent) => void;
  const recovery = new Promise<RecoveryEvent>((resolve) => (recovered = resolve));
  let erred!: () => void;
  const errorSeen = new Promise<void>((resolve) => (erred = resolve));
  const seq = new Sequencer<MessagePush>({
    deliver: (_k: ConvKey, m) => delivered.push(m.seq),
    gap: (_k, from, to) => gaps.push([from, to]),
    stall: () => {},
  });
  const session = {
    epoch: () => 1,
    open: () => true,
    send: (cmd: Record<string, unknown>, handlers: PendingRequest) => {
      asked.push(cmd.after);
      const answer = answers.shift() ?? [];
      queueMicrotask(() => {
        if (answer instanceof ServerError || answer instanceof TimeoutError) handlers.onError(answer);
        else
          handlers.onReply({
            room: 'general',
            messages: answer.map((n) => ({ type: 'message', room: 'general', seq: n, id: `m${n}`, from: 'carol', contentType: 'text', body: `#${n}`, ts: n })),
            hasMore: false,
            oldestSeq: 1,
            lastSeq: 8,
          });
      });
      return asked.length;
    },
  };
  const filler = new GapFiller(seq, session, {}, { recovery: (e) => recovered(e), error: (e) => (errors.push(e), erred()) }, () => 1);
  seq.track(R, from.position);
  seq.beginRecovery(R);
  // By default a rejoin with since 5: the server could not replay 6..8.
  filler.afterRecovery(R, from.since, from.seqAtServer, from.recovered, Math.max(0, from.seqAtServer - from.since), true, 1);
  return { delivered, gaps, errors, asked, recovery, errorSeen };
}

const timeout = (): TimeoutError => new TimeoutError('history: no reply within 10000 ms', 10_000);

/** The pauses between attempts do not keep the process alive (in an app the connection does): this does, until the test ends. */
function keepAlive(t: TestContext): void {
  const alive = setInterval(() => {}, 1_000);
  t.after(() => clearInterval(alive));
}

describe('client gap filler', () => {
  it('asks again for a page that timed out or that the server could not serve, and delivers it', async (t) => {
    keepAlive(t);
    const h = harness([timeout(), new ServerError('unavailable', 'store busy', 'history'), [6, 7, 8]]);
    const event = await h.recovery;
    assert.equal(event.via, 'history');
    assert.deepEqual(h.delivered, [6, 7, 8]);
    assert.deepEqual(h.gaps, []);
    assert.deepEqual(h.errors, []);
    assert.deepEqual(h.asked, [5, 5, 5]);
  });

  it('gives the range up as a gap after a few attempts, with an error event', async (t) => {
    keepAlive(t);
    const h = harness([timeout(), timeout(), timeout(), timeout(), [6, 7, 8]]);
    await h.errorSeen;
    await h.recovery;
    assert.equal(h.asked.length, 4);
    assert.deepEqual(h.gaps, [[6, 8]]);
    assert.deepEqual(h.delivered, []);
    assert.equal(h.errors[0]!.code, 'timeout');
  });

  it('a server whose counter is behind our position: reads the conversation again from its counter', async (t) => {
    keepAlive(t);
    // We saw up to 50; the server (its store restored from an older backup) is at 3, and 4 came in meanwhile.
    const h = harness([[4]], { position: 50, since: 50, seqAtServer: 3, recovered: true });
    const event = await h.recovery;
    assert.equal(event.seq, 3);
    assert.deepEqual(h.asked, [3]);
    assert.deepEqual(h.delivered, [4]);
    assert.deepEqual(h.gaps, []);
  });

  it('does not keep a Node process alive while it pauses before asking again', () => {
    // A page times out; nothing else is left to do: the process ends without waiting out the 1 s pause.
    const script = `
      import { GapFiller } from ${JSON.stringify(new URL('../../client/src/gap-filler.js', import.meta.url).href)};
      import { TimeoutError } from ${JSON.stringify(new URL('../../client/src/errors.js', import.meta.url).href)};
      import { roomKey, Sequencer } from ${JSON.stringify(new URL('../../client/src/recovery.js', import.meta.url).href)};
      const seq = new Sequencer({ deliver() {}, gap() {}, stall() {} });
      const session = { epoch: () => 1, open: () => true, send: (cmd, h) => (queueMicrotask(() => h.onError(new TimeoutError('t', 1))), 1) };
      const filler = new GapFiller(seq, session, {}, { recovery() {}, error() {} });
      seq.track(roomKey('r'), 5);
      filler.afterRecovery(roomKey('r'), 5, 8, false, 3, true, 1);
    `;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(performance.now() - t0 < 900, `ended after ${Math.round(performance.now() - t0)} ms`);
  });

  it('does not ask again after a refusal', async (t) => {
    keepAlive(t);
    const h = harness([new ServerError('forbidden', 'not a member', 'history'), [6, 7, 8]]);
    await h.errorSeen;
    await h.recovery;
    assert.equal(h.asked.length, 1);
    assert.deepEqual(h.gaps, [[6, 8]]);
  });
});
