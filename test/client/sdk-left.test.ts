/**
 * The app's backend takes a user out of a private room (server API): the SDK hears the `left` push, tells the
 * app, stops keeping the room joined, and does not rejoin it after a reconnect.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { LeftPush } from '../../client/src/types.js';
import { startServer } from '../helpers/server.js';
import { cut, sdk } from './sdk-helpers.js';

const KEY = 'sbk_sdk-left-test';
const API_KEYS = JSON.stringify([{ name: 'admin', hash: createHash('sha256').update(KEY).digest('hex'), scopes: ['admin'] }]);

describe('SDK: taken out of a room by the server', () => {
  it('emits left, forgets the room, and does not rejoin it after a reconnect', async (t) => {
    const server = await startServer(['--auth.dev', 'true', '--api.keys', API_KEYS], { t });
    t.after(() => server.stop());
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${server.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    assert.equal((await api('POST', '/rooms', { name: 'vip', kind: 'private' })).status, 200);
    await api('POST', '/rooms/vip/members', { user: 'alice' });

    const alice = sdk(t, server.wsUrl, { user: 'alice' });
    await alice.connect();
    await alice.join('vip');
    await alice.join('lobby');
    const left = new Promise<LeftPush>((resolve) => alice.on('left', resolve));
    assert.equal((await api('DELETE', '/rooms/vip/members/alice')).status, 200);
    assert.deepEqual(await left, { type: 'left', room: 'vip', reason: 'removed' });
    assert.deepEqual(alice.rooms, ['lobby']);

    // A new session rejoins what the client keeps, and not the room it was taken out of.
    const reconnected = new Promise<void>((resolve) => {
      let dropped = false;
      alice.on('state', (s) => {
        if (s.state !== 'connected') dropped = true;
        else if (dropped) resolve();
      });
    });
    cut(alice);
    await reconnected;
    await alice.join('lobby');
    assert.deepEqual((await alice.joinedRoomsOnServer()).sort(), ['lobby']);
  });
});
