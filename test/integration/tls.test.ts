/** TLS: with a certificate and key configured, the server speaks HTTPS and WSS on the same port. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeAllClients, connectWith } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('TLS (wss)', () => {
  let srv: TestServer;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    makeCertificate(cert, key);
    srv = await startServer(['--auth.dev', 'true', '--server.tls.cert', cert, '--server.tls.key', key]);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('announces https:// and wss:// URLs', () => {
    assert.match(srv.url, /^https:\/\//);
    assert.match(srv.wsUrl, /^wss:\/\//);
  });

  it('serves messages over wss', async () => {
    const c = await connectWith(`${srv.wsUrl}?user=alice`, { rejectUnauthorized: false });
    assert.equal(c.all('connected').length, 1);
    await c.call({ type: 'join', room: 'secure' });
    await c.call({ type: 'publish', room: 'secure', body: 'over TLS' });
    const m = await c.next((x) => x.type === 'message');
    assert.equal(m.body, 'over TLS');
    await c.close();
  });

  it('answers HTTPS requests', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      request(`${srv.url}/healthz`, { rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 200);
  });

  it('on SIGHUP serves a renewed certificate to new connections, and keeps serving the ones it has', async () => {
    const before = await peerFingerprint(srv.port);
    const c = await connectWith(`${srv.wsUrl}?user=carol`, { rejectUnauthorized: false });
    makeCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'));
    const from = srv.logs().length;
    srv.proc.kill('SIGHUP');
    await srv.waitForLog((l) => l.msg === 'TLS certificate reloaded', { from });
    const renewed = await peerFingerprint(srv.port);
    assert.notEqual(renewed, before);
    await c.barrier();
    await c.close();
  });
});

/** A throwaway self-signed certificate for 127.0.0.1, made by the system's openssl. */
function makeCertificate(cert: string, key: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
}

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    }).on('error', reject);
  });
}
