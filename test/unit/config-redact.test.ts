/** --print-config shows no webhook secret, nor the password in a webhook URL. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, redactConfig } from '../../src/config/load.js';

describe('redactConfig: webhooks', () => {
  it('masks every endpoint secret and URL password, without touching the original', () => {
    const endpoints = [
      { name: 'a', url: 'https://hooks.example/in', secret: 'a-secret-of-16-chars', events: ['user.online'] },
      { name: 'b', url: 'https://user:pw@hooks.example/in', secret: 'another-secret-16chars', events: ['message.created'] },
    ];
    const c = loadConfig({ overrides: { 'webhooks.endpoints': JSON.stringify(endpoints) } });
    const r = redactConfig(c);
    assert.deepEqual(r.webhooks.endpoints.map((e) => [e.secret, e.url]), [
      ['***', 'https://hooks.example/in'],
      ['***', 'https://user:***@hooks.example/in'],
    ]);
    assert.equal(c.webhooks.endpoints[0]!.secret, 'a-secret-of-16-chars');
  });
});
