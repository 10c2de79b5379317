/**
 * Filling a gap from history against a scripted session: a page that times
 * out or that the server cannot serve for a moment is asked again before what
 * it would have held is given up as a gap; a refusal is not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerError, TimeoutError, type SwitchboardError } from '../../client/src/errors.js';
import { GapFiller } from '../../client/src/gap-filler.js';
import { roomKey, Sequencer, type ConvKey } from '../../client/src/recovery.js';
import type { PendingRequest } from '../../client/src/requests.js';
import type { MessagePush, RecoveryEvent } from '../../client/src/types.js';

const R = roomKey('general');

/** What the session answers to each history request, in turn: an error, or the seqs of a page. */
type Answer = ServerError | TimeoutError | number[];

function harness(answers: Answer[]) {
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
  seq.track(R, 5);
  seq.beginRecovery(R);
  // A rejoin with since 5: the server could not replay 6..8.
  filler.afterRecovery(R, 5, 8, false, 3, true, 1);
  return { delivered, gaps, errors, asked, recovery, errorSeen };
}

const timeout = (): TimeoutError => new TimeoutError('history: no reply within 10000 ms', 10_000);

describe('client gap filler', () => {
  it('asks again for a page that timed out or that the server could not serve, and delivers it', async () => {
    const h = harness([timeout(), new ServerError('unavailable', 'store busy', 'history'), [6, 7, 8]]);
    const event = await h.recovery;
    assert.equal(event.via, 'history');
    assert.deepEqual(h.delivered, [6, 7, 8]);
    assert.deepEqual(h.gaps, []);
    assert.deepEqual(h.errors, []);
    assert.deepEqual(h.asked, [5, 5, 5]);
  });

  it('gives the range up as a gap after a few attempts, with an error event', async () => {
    const h = harness([timeout(), timeout(), timeout(), timeout(), [6, 7, 8]]);
    await h.errorSeen;
    await h.recovery;
    assert.equal(h.asked.length, 4);
    assert.deepEqual(h.gaps, [[6, 8]]);
    assert.deepEqual(h.delivered, []);
    assert.equal(h.errors[0]!.code, 'timeout');
  });

  it('does not ask again after a refusal', async () => {
    const h = harness([new ServerError('forbidden', 'not a member', 'history'), [6, 7, 8]]);
    await h.errorSeen;
    await h.recovery;
    assert.equal(h.asked.length, 1);
    assert.deepEqual(h.gaps, [[6, 8]]);
  });
});
