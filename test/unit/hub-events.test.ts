/** The hub tells its HubEvents what the app's backend may want to hear about (webhooks). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HubEvents } from '../../src/hub/events.js';
import { Hub, type HubOptions } from '../../src/hub/hub.js';
import type { HubSession } from '../../src/hub/session.js';
import type { SharedBatch } from '../../src/outbound/shared-batch.js';

let ids = 0;
class Fake implements HubSession {
  readonly id = `s${++ids}`;
  grants: readonly string[] = [];
  readonly rooms = new Set<string>();
  constructor(readonly user: string) {}
  send(_bytes: Buffer): void {}
  sendShared(_batch: SharedBatch, _start: number): void {}
  close(): void {}
}

function rig(overrides: Partial<HubOptions> = {}) {
  const seen: string[] = [];
  const events: HubEvents = {
    userOnline: (u) => seen.push(`online:${u}`),
    userOffline: (u) => seen.push(`offline:${u}`),
    memberJoined: (r, u) => seen.push(`joined:${r}:${u}`),
    memberLeft: (r, u) => seen.push(`left:${r}:${u}`),
    messageCreated: (m, online) => seen.push(`message:${m.room ?? `to ${m.to}`}:${String(m.body)}:${online ? 'online' : 'offline'}`),
    sessionDisconnected: (s, u, code) => seen.push(`disconnected:${u}:${code}`),
  };
  let n = 0;
  const hub = new Hub({
    tick: { epoch: 1 },
    now: () => 1000,
    nextId: () => `m${++n}`,
    roomRules: [],
    presenceEvents: false,
    roomsPerSession: 10,
    sessionPolicy: 'multiple',
    maxSessionsPerUser: 5,
    events,
    ...overrides,
  });
  return { hub, seen };
}

describe('Hub events', () => {
  it('online at the first session, offline at the last; joined and left once per user; the close code told', () => {
    const { hub, seen } = rig();
    const a1 = new Fake('alice');
    const a2 = new Fake('alice');
    hub.connect(a1);
    hub.connect(a2);
    hub.join(a1, 'general');
    hub.join(a2, 'general');
    hub.leave(a1, 'general');
    hub.disconnect(a1, 4005, 'slow');
    hub.disconnect(a2);
    hub.disconnect(a2, 1000, 'again');
    assert.deepEqual(seen, ['online:alice', 'joined:general:alice', 'disconnected:alice:4005', 'left:general:alice', 'disconnected:alice:1006', 'offline:alice']);
  });

  it('a replaced session does not make its user go offline and online', () => {
    const { hub, seen } = rig({ sessionPolicy: 'replace' });
    hub.connect(new Fake('bob'));
    hub.connect(new Fake('bob'));
    assert.deepEqual(seen, ['online:bob', 'disconnected:bob:4003']);
  });

  it('tells of room messages and of direct messages with whether the recipient was online', () => {
    const { hub, seen } = rig();
    const a = new Fake('alice');
    hub.connect(a);
    hub.join(a, 'general');
    hub.publish(a, 'general', 'text', 'hi');
    hub.sendDirect(a, 'carol', 'text', 'are you there');
    const c = new Fake('carol');
    hub.connect(c);
    hub.sendDirect(a, 'carol', 'text', 'there you are');
    assert.deepEqual(
      seen.filter((e) => e.startsWith('message')),
      ['message:general:hi:online', 'message:to carol:are you there:offline', 'message:to carol:there you are:online'],
    );
  });
});
