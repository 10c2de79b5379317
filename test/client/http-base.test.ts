/**
 * Where the SDK sends uploads and loads files from: under `httpUrl` when given
 * (a server behind a proxy's path prefix keeps its prefix), else under the
 * WebSocket URL's origin, as before the option took a path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SwitchboardClient, type ClientOptions } from '../../client/src/index.js';
import { httpBaseOf, serverUrl } from '../../client/src/upload.js';

/** A client that never connects, whose uploads are answered here; `posted` holds the URLs it posted to. */
function offlineClient(opts: Pick<ClientOptions, 'url'> & Partial<ClientOptions>): { client: SwitchboardClient; posted: string[] } {
  const posted: string[] = [];
  const fetch = async (url: string | URL | Request): Promise<Response> => {
    posted.push(String(url));
    return Response.json({ id: 'F1abcdef', url: '/files/F1abcdef', name: 'a.txt', mime: 'text/plain', size: 1 }, { status: 201 });
  };
  return { client: new SwitchboardClient({ user: 'alice', reconnect: false, fetch, ...opts }), posted };
}

describe('client SDK: HTTP URLs', () => {
  it('the HTTP base: the WebSocket origin by default, httpUrl with its path when given', () => {
    assert.equal(httpBaseOf('ws://127.0.0.1:8080/ws'), 'http://127.0.0.1:8080/');
    assert.equal(httpBaseOf('wss://chat.example.com/chat/ws?x=1'), 'https://chat.example.com/');
    assert.equal(httpBaseOf('wss://example.com/sb/ws', 'https://example.com/sb/'), 'https://example.com/sb/');
    assert.equal(httpBaseOf('wss://example.com/sb/ws', 'https://example.com/sb'), 'https://example.com/sb/', 'a prefix without its slash is still a folder');
    assert.equal(httpBaseOf('wss://example.com/sb/ws', 'https://example.com/sb/?x=1#top'), 'https://example.com/sb/', 'query and fragment dropped');
  });

  it('routes and server-relative file paths resolve under the base; absolute URLs stay', () => {
    const base = 'https://example.com/sb/';
    assert.equal(serverUrl(base, 'upload').toString(), 'https://example.com/sb/upload');
    assert.equal(serverUrl(base, '/files/F1abcdef').toString(), 'https://example.com/sb/files/F1abcdef');
    assert.equal(serverUrl(base, '/files/F1abcdef/cat%20photo.png').toString(), 'https://example.com/sb/files/F1abcdef/cat%20photo.png');
    assert.equal(serverUrl(base, 'https://cdn.example.net/x.png').toString(), 'https://cdn.example.net/x.png');
    assert.equal(serverUrl('http://127.0.0.1:8080/', '/files/F1abcdef').toString(), 'http://127.0.0.1:8080/files/F1abcdef');
  });

  it('without httpUrl: uploads and file URLs at the WebSocket origin, as before', async () => {
    const { client, posted } = offlineClient({ url: 'ws://127.0.0.1:8080/chat/ws' });
    try {
      await client.upload('x', { name: 'a.txt', mime: 'text/plain' });
      assert.deepEqual(posted, ['http://127.0.0.1:8080/upload?name=a.txt&user=alice']);
      assert.equal(client.fileUrl('/files/F1abcdef'), 'http://127.0.0.1:8080/files/F1abcdef?user=alice');
    } finally {
      await client.close();
    }
  });

  it('with httpUrl under a prefix: uploads and file URLs keep the prefix', async () => {
    const { client, posted } = offlineClient({ url: 'wss://example.com/sb/chat/ws', httpUrl: 'https://example.com/sb' });
    try {
      const up = await client.upload('x', { name: 'a.txt', mime: 'text/plain' });
      assert.deepEqual(posted, ['https://example.com/sb/upload?name=a.txt&user=alice']);
      assert.equal(client.fileUrl(up.url), 'https://example.com/sb/files/F1abcdef?user=alice');
      assert.equal(client.fileUrl('/files/F1abcdef/a.txt'), 'https://example.com/sb/files/F1abcdef/a.txt?user=alice');
    } finally {
      await client.close();
    }
  });

  it("never puts the user's credentials on a URL that is not the server's files/ (a body's URL is the sender's to choose)", async () => {
    const { client } = offlineClient({ url: 'wss://example.com/sb/chat/ws', httpUrl: 'https://example.com/sb' });
    try {
      for (const url of ['https://evil.example/files/F1abcdef', '//evil.example/files/F1abcdef', 'https://example.com/other/files/F1abcdef', '/upload', '/sb-not/files/F1abcdef', '/files/../../bank/transfer', '/files/./F1abcdef', '/files/F1abcdef/..'])
        assert.doesNotMatch(client.fileUrl(url), /user=alice/, url);
      assert.equal(client.fileUrl('https://evil.example/x.png'), 'https://evil.example/x.png');
    } finally {
      await client.close();
    }
  });
});
