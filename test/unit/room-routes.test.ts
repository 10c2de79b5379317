/**
 * The cluster's routing of room pushes (src/cluster/room-routes.ts, node-batches.ts) and the batch on the wire:
 * which nodes a room's push goes to, when a node's watch of a room is complete, and one envelope per destination
 * and turn, in order, with a malformed part left out rather than the whole batch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeBatches } from '../../src/cluster/node-batches.js';
import { RoomRoutes } from '../../src/cluster/room-routes.js';
import { decodeEnvelope, type Envelope } from '../../src/cluster/wire.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const dests = (routes: RoomRoutes, room: string): string[] => [...(routes.destinations(room) ?? [])].sort();

describe('RoomRoutes: who wants which room', () => {
  it('adds and removes wants per node and room, and a list replaces what a node wanted', () => {
    const r = new RoomRoutes();
    r.add('b', 'x', 1);
    r.add('c', 'x', 1);
    r.add('b', 'y', 2);
    assert.deepEqual(dests(r, 'x'), ['b', 'c']);
    r.remove('c', 'x', 2);
    r.remove('c', 'x', 3); // twice: nothing
    assert.deepEqual(dests(r, 'x'), ['b']);
    r.replace('b', ['y', 'z'], 5);
    assert.deepEqual(dests(r, 'x'), []);
    assert.deepEqual(dests(r, 'z'), ['b']);
    r.dropNode('b');
    assert.deepEqual(r.sizes(), { rooms: 0, nodes: 0, mine: 0, pending: 0 });
    // Forgotten, a node starts again from nothing: what it says next applies.
    r.add('b', 'x', 1);
    assert.deepEqual(dests(r, 'x'), ['b']);
  });

  it('a list older than a change already applied does not undo it; a change older than a list applied since does nothing', () => {
    const r = new RoomRoutes();
    // b's list as of its change 4 (x and y) left in a batch after b's change 5 (z wanted) and 6 (y no longer) went on the all-nodes channel.
    r.add('b', 'z', 5);
    r.remove('b', 'y', 6);
    r.replace('b', ['x', 'y'], 4);
    assert.deepEqual(dests(r, 'x'), ['b']);
    assert.deepEqual(dests(r, 'y'), [], 'change 6 stands');
    assert.deepEqual(dests(r, 'z'), ['b'], 'change 5 stands');
    // A later list; then a change it already includes arrives late: nothing.
    r.replace('b', ['x'], 9);
    assert.deepEqual(dests(r, 'z'), []);
    r.add('b', 'z', 7);
    assert.deepEqual(dests(r, 'z'), []);
    r.replace('b', ['x', 'z'], 8); // an older list: nothing
    assert.deepEqual(dests(r, 'z'), []);
    r.add('b', 'z', 10);
    assert.deepEqual(dests(r, 'z'), ['b']);
  });

  it("a watch completes once every node known when it was asked has answered, or is gone", async () => {
    const r = new RoomRoutes();
    let done = false;
    const watch = r.want('x', ['b', 'c'], 0).then(() => (done = true));
    r.acked('b', 'x');
    r.acked('b', 'y'); // another room's answer: nothing
    await turn();
    assert.equal(done, false, 'c has not answered');
    r.dropNode('c');
    await watch;
    assert.deepEqual(r.wanted(), ['x']);
    assert.deepEqual(r.pendingRooms(), []);
  });

  it('with no other node a watch completes at once; one nobody answers is given up after the age asked', async () => {
    const r = new RoomRoutes();
    await r.want('alone', [], 0);
    let done = false;
    void r.want('x', ['old-version-node'], 1_000).then(() => (done = true));
    assert.deepEqual(r.giveUp(1_500, 1_000), []);
    assert.deepEqual(r.giveUp(2_001, 1_000), ['x']);
    await turn();
    assert.equal(done, true);
  });

  it('asked again while pending, both asks wait for the nodes of either', async () => {
    const r = new RoomRoutes();
    const order: string[] = [];
    void r.want('x', ['b'], 0).then(() => order.push('first'));
    r.unwant('x');
    void r.want('x', ['b', 'c'], 1).then(() => order.push('second'));
    r.acked('b', 'x');
    await turn();
    assert.deepEqual(order, []);
    r.acked('c', 'x');
    await turn();
    assert.deepEqual(order, ['first', 'second']);
  });
});

describe('NodeBatches: one envelope per destination and turn', () => {
  it('sends what a turn added for each node as one batch, in order, which decodes to the parts', async () => {
    const sent: { node: string; payload: Buffer; parts: number }[] = [];
    const batches = new NodeBatches('a', (node, payload, parts) => sent.push({ node, payload, parts }));
    const room = (n: number): string => JSON.stringify({ n: 'a', t: 'room', r: 'x', p: { type: 'typing', n } });
    batches.add('b', JSON.stringify({ n: 'a', t: 'wk', r: 'x' }));
    batches.add('b', room(1));
    batches.add('c', room(1));
    batches.add('b', room(2));
    batches.add('gone', room(1));
    batches.drop('gone');
    assert.equal(sent.length, 0, 'nothing before the turn ends');
    await turn();
    assert.deepEqual(
      sent.map((s) => [s.node, s.parts]),
      [
        ['b', 3],
        ['c', 1],
      ],
    );
    const b = decodeEnvelope(sent[0]!.payload) as Extract<Envelope, { t: 'b' }>;
    assert.equal(b.t, 'b');
    assert.equal(b.n, 'a');
    assert.deepEqual(
      b.e.map((e) => e.t),
      ['wk', 'room', 'room'],
    );
    await turn();
    assert.equal(sent.length, 2, 'an empty turn sends nothing');
  });

  it('under load the next batch waits batchMs after the last began; after a lone part, the next goes at the end of its turn', async () => {
    let now = 1_000;
    const sent: number[] = [];
    const batches = new NodeBatches('a', (_node, _payload, parts) => sent.push(parts), 20, () => now);
    const part = JSON.stringify({ n: 'a', t: 'wk', r: 'x' });
    batches.add('b', part);
    await turn();
    assert.deepEqual(sent, [1], 'a lone part goes at once');
    batches.add('b', part);
    batches.add('b', part);
    await turn();
    assert.deepEqual(sent, [1, 2]);
    now += 5;
    batches.add('b', part);
    await turn();
    assert.deepEqual(sent, [1, 2], 'waits out the rest of the 20 ms');
    batches.add('b', part);
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(sent, [1, 2, 2], 'then both in one batch');
  });

  it('a batch keeps its good parts when one is malformed, and is refused when nested or not a list', () => {
    const good = { n: 'a', t: 'room', r: 'x', p: { type: 'typing' } };
    const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    const b = decodeEnvelope(bytes({ n: 'a', t: 'b', e: [good, { n: 'a', t: 'room' }, 7, { n: 'a', t: 'b', e: [good] }, good] }));
    assert.ok(b !== null && b.t === 'b');
    assert.equal(b.e.length, 2);
    assert.equal(decodeEnvelope(bytes({ n: 'a', t: 'b', e: 'x' })), null);
    assert.equal(decodeEnvelope(bytes({ n: 'a', t: 'ws', rooms: ['x', 1], v: 1 })), null);
    assert.equal(decodeEnvelope(bytes({ n: 'a', t: 'ws', rooms: ['x'] })), null, 'no change number');
    assert.deepEqual(decodeEnvelope(bytes({ n: 'a', t: 'ws', rooms: ['x'], v: 1 })), { n: 'a', t: 'ws', rooms: ['x'], v: 1 });
    assert.equal(decodeEnvelope(bytes({ n: 'a', t: 'w', r: 'x' })), null);
  });
});
