/**
 * A server that sends pushes not in the protocol's shape (a bug, or not a Switchboard server at all) gets an
 * `error` event, not an exception out of the socket's handler, which would end a Node process.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';
import { SwitchboardClient, type SwitchboardError } from '../../client/src/index.js';

/** A WebSocket server that answers every connection with `lines` (one frame each). */
async function fakeServer(lines: readonly string[]): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    for (const l of lines) ws.send(l);
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

const CONNECTED = { type: 'connected', session: 's1', user: 'alice', heartbeat: { intervalMs: 25_000, timeoutMs: 10_000 }, limits: { maxFrameBytes: 65_536, messagesPerSecond: 50, burst: 100, roomsPerSession: 100, maxTextLength: 8_000 } };

describe('client SDK: a server that sends pushes out of shape', () => {
  const clients: SwitchboardClient[] = [];
  const servers: { close(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  async function clientOf(lines: readonly unknown[]): Promise<{ client: SwitchboardClient; firstError: Promise<SwitchboardError> }> {
    const srv = await fakeServer(lines.map((l) => JSON.stringify(l)));
    servers.push(srv);
    const client = new SwitchboardClient({ url: srv.url, user: 'alice', reconnect: { initialMs: 50, maxMs: 100, maxAttempts: 2 } });
    clients.push(client);
    const firstError = new Promise<SwitchboardError>((resolve) => client.once('error', resolve));
    return { client, firstError };
  }

  it('a connected push without limits: an error event, the connection dropped and tried again, no exception', async () => {
    const { client, firstError } = await clientOf([{ type: 'connected', session: 's1', user: 'alice' }]);
    const connecting = client.connect();
    const err = await firstError;
    assert.equal(err.code, 'invalid_frame');
    assert.match(err.message, /connected push/);
    await assert.rejects(connecting, (e: SwitchboardError) => e.code === 'reconnect_gave_up');
  });

  it('an unread summary with junk in it: an error event, and the session goes on', async () => {
    const { client, firstError } = await clientOf([CONNECTED, { type: 'unread', conversations: [null] }, { type: 'notice', from: 'System', text: 'still here', ts: 1 }]);
    const notice = new Promise((resolve) => client.once('notice', resolve));
    await client.connect();
    assert.equal((await firstError).code, 'invalid_frame');
    await notice;
    assert.equal(client.state, 'connected');
  });
});
