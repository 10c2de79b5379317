/**
 * The rooms the SDK keeps joined, against a scripted session: what it sends
 * when the app leaves a room while its join is still on the way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sequencer } from '../../client/src/recovery.js';
import type { PendingRequest } from '../../client/src/requests.js';
import { RoomMembership } from '../../client/src/room-membership.js';
import type { MessagePush } from '../../client/src/types.js';

function harness() {
  let epoch = 1;
  let open = true;
  const sent: { cmd: Record<string, unknown>; handlers: PendingRequest }[] = [];
  const session = {
    epoch: () => epoch,
    open: () => open,
    send: (cmd: Record<string, unknown>, handlers: PendingRequest) => (sent.push({ cmd, handlers }), sent.length),
  };
  const seq = new Sequencer<MessagePush>({ deliver: () => {}, gap: () => {}, stall: () => {} });
  /** Leaves sent as the app's own requests. */
  const requested: string[] = [];
  const rooms = new RoomMembership(seq, session, { afterRecovery: () => {} }, {
    leave: async (room) => (requested.push(room), { room }),
    endMembership: async (room) => (requested.push(`join+leave ${room}`), { room }),
    ready: () => {},
    error: (err) => assert.fail(String(err)),
  });
  /** The connection drops: requests in flight are lost; later a new session opens. */
  const drop = (): void => {
    open = false;
    epoch++;
    for (const s of sent.splice(0)) s.handlers.onLost();
    rooms.connectionLost();
  };
  const reopen = (): void => {
    open = true;
    epoch++;
    rooms.recover();
  };
  const commands = (): string[] => sent.map((s) => `${s.cmd.type as string} ${s.cmd.room as string}`);
  return { rooms, sent, drop, reopen, commands, requested };
}

const JOINED = { room: 'general', kind: 'public', durable: true, seq: 0 };

describe('client room membership', () => {
  it('left while the join was on its way and the connection dropped: the next session ends the membership', () => {
    const h = harness();
    const joined = h.rooms.join('general', {});
    void joined.catch(() => {});
    assert.deepEqual(h.commands(), ['join general']);
    void h.rooms.leave('general', {});
    h.drop();
    h.reopen();
    // The server may have made the user a member before the drop: join, then leave, on the new session.
    assert.deepEqual(h.commands(), ['join general']);
    h.sent[0]!.handlers.onReply(JOINED);
    assert.deepEqual(h.commands(), ['join general', 'leave general']);
  });

  it('ends the membership of a room it does not keep (joined with a plain request, or from an earlier session) with requests of its own', async () => {
    const h = harness();
    assert.deepEqual(await h.rooms.leave('lobby', {}), { room: 'lobby' });
    assert.deepEqual(h.requested, ['join+leave lobby']);
    // A room it keeps and left already is not left again.
    void h.rooms.join('general', {}).catch(() => {});
    h.sent[0]!.handlers.onReply(JOINED);
    await h.rooms.leave('general', {});
    await h.rooms.leave('general', {});
    assert.deepEqual(h.requested, ['join+leave lobby', 'general']);
  });

  it('left while the join was on its way and its reply came: the leave follows on the same session', () => {
    const h = harness();
    void h.rooms.join('general', {}).catch(() => {});
    void h.rooms.leave('general', {});
    h.sent[0]!.handlers.onReply(JOINED);
    assert.deepEqual(h.commands(), ['join general', 'leave general']);
  });
});
