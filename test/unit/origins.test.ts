/** originPolicy (transport/origins.ts) on requests that name their page and host as a browser would. */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { originPolicy } from '../../src/transport/origins.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
/** A page at `origin` whose request went to `host`. */
const from = (origin: string, host: string, extra: Record<string, string> = {}): IncomingMessage => req({ origin, host, ...extra });

describe('originPolicy', () => {
  it('without dev identities and without a list: no check', () => {
    const p = originPolicy([]);
    assert.equal(p.allows(from('http://evil.example:8080', 'evil.example:8080')), true);
    assert.equal(p.allows(from('https://anywhere.example', '127.0.0.1:8080')), true);
  });

  it('without dev identities, with a list: the own page under any name (Host or X-Forwarded-Host)', () => {
    const p = originPolicy(['https://app.example.com']);
    assert.equal(p.allows(from('https://chat.example.com', 'chat.example.com')), true);
    assert.equal(p.allows(from('https://chat.example.com', '127.0.0.1:8080', { 'x-forwarded-host': 'chat.example.com' })), true);
    assert.equal(p.allows(from('https://evil.example', 'chat.example.com')), false);
  });

  it('with dev identities: the own page only at an IP address or localhost, however written', () => {
    for (const list of [[], ['https://app.example.com']]) {
      const p = originPolicy(list, { dev: true });
      const own = (origin: string, host: string): boolean => p.allows(from(origin, host));
      assert.equal(own('http://evil.example:8080', 'evil.example:8080'), false, `rebound, list ${list}`);
      assert.equal(own('http://evil.example:8080', '127.0.0.1:8080'), false);
      assert.equal(p.allows(from('http://evil.example:8080', '127.0.0.1:8080', { 'x-forwarded-host': 'evil.example:8080' })), false);
      // A name that only looks local is a DNS name like any other.
      assert.equal(own('http://localhost.evil.example:8080', 'localhost.evil.example:8080'), false);
      assert.equal(own('http://127.0.0.1.nip.io:8080', '127.0.0.1.nip.io:8080'), false);
      assert.equal(own('http://127.0.0.1:8080', '127.0.0.1:8080'), true);
      assert.equal(own('http://LOCALHOST:8080', 'localhost:8080'), true);
      assert.equal(own('http://[::1]:8080', '[::1]:8080'), true);
      assert.equal(own('http://192.168.1.5:8080', '192.168.1.5:8080'), true, 'a LAN address: not rebindable');
      assert.equal(p.allows(req({ host: 'evil.example:8080' })), true, 'no Origin: not a browser');
    }
  });

  it('with dev identities and no list: pages on this machine only', () => {
    const p = originPolicy([], { dev: true });
    assert.equal(p.allows(from('http://localhost:5173', '127.0.0.1:8080')), true);
    assert.equal(p.allows(from('http://127.0.0.2:3000', '127.0.0.1:8080')), true);
    assert.equal(p.allows(from('http://[::1]:3000', '127.0.0.1:8080')), true);
    assert.equal(p.allows(from('http://192.168.1.9:3000', '127.0.0.1:8080')), false, 'another machine');
    assert.equal(p.allows(from('https://evil.example', '127.0.0.1:8080')), false);
    assert.equal(p.allows(from('null', '127.0.0.1:8080')), false);
  });

  it('with dev identities and a list: listed pages and `*` are let through whatever their name', () => {
    assert.equal(originPolicy(['https://app.example.com'], { dev: true }).allows(from('https://app.example.com', 'app.example.com')), true);
    assert.equal(originPolicy(['https://app.example.com'], { dev: true }).allows(from('http://localhost:5173', '127.0.0.1:8080')), false);
    assert.equal(originPolicy(['*'], { dev: true }).allows(from('http://evil.example:8080', 'evil.example:8080')), true);
  });
});
