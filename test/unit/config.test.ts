import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseArgs } from '../../src/cli/args.js';
import { ConfigError, configDescriptions, configKeys, envName, loadConfig, redactConfig, unknownEnvironment } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function writeConfig(content: unknown): string {
  const path = join(dir, `config-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Runs fn, expects a ConfigError and returns its message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.name, 'ConfigError');
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('config defaults', () => {
  it('an empty config parses to the documented defaults', () => {
    const c = loadConfig();
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.server.port, 8080);
    assert.equal(c.server.path, '/ws');
    assert.equal(c.server.webRoot, undefined);
    assert.equal(c.server.headersTimeoutMs, 20_000);
    assert.deepEqual(c.server.allowedOrigins, []);
    assert.equal(c.auth.dev, undefined);
    assert.equal(c.auth.jwt.requireExp, false);
    assert.equal(c.auth.allowDevOnPublicHost, false);
    assert.equal(c.auth.timeoutMs, 5000);
    assert.equal(c.auth.jwt.roomsClaim, 'rooms');
    assert.equal(c.sessions.policy, 'multiple');
    assert.equal(c.sessions.maxPerUser, 10);
    assert.deepEqual(c.heartbeat, { intervalMs: 25_000, timeoutMs: 10_000 });
    assert.deepEqual(c.limits, {
      maxConnections: 10_000,
      maxUnidentified: 1_000,
      maxFrameBytes: 65_536,
      maxTextLength: 8_000,
      messagesPerSecond: 50,
      burst: 100,
      maxRateStrikes: 20,
      roomsPerSession: 100,
      maxQueueBytes: 4 * 1024 * 1024,
      maxQueueMessages: 10_000,
      flushIntervalMs: 10,
      fanoutPeriodMs: 20,
      closeTimeoutMs: 5_000,
    });
    assert.deepEqual(c.rooms.rules, [
      { match: 'private:*', kind: 'private', durable: true },
      { match: 'push:*', kind: 'push', durable: true },
    ]);
    assert.equal(c.rooms.presenceEvents, true);
    assert.equal(c.store.synchronous, 'full');
    assert.equal(c.store.cacheMiB, 64);
    assert.equal(c.store.recoveryMaxBytes, 1024 * 1024);
    assert.equal(c.uploads.idleTimeoutMs, 30_000);
    assert.equal(c.uploads.userBytesPerHour, 1024 * 1024 * 1024);
    assert.deepEqual(c.store.retention, { intervalMs: 60_000, stepSize: 500 });
    assert.equal(c.welcome.enabled, true);
    assert.equal(c.compression.enabled, false);
    assert.equal(c.log.level, 'info');
    assert.deepEqual(c.shutdown, { graceMs: 5000, drainMs: 0 });
    assert.deepEqual(c.webhooks, { endpoints: [], maxQueued: 100_000, retryBaseMs: 1000, retryMaxMs: 3_600_000 });
    assert.deepEqual(loadConfig({ env: {} }), c);
    assert.deepEqual(configSchema.parse({}), c);
  });

  it('lists every leaf key with its kind', () => {
    assert.equal(configKeys.get('server.port'), 'number');
    assert.equal(configKeys.get('server.host'), 'string');
    assert.equal(configKeys.get('server.tls.cert'), 'string');
    assert.equal(configKeys.get('auth.dev'), 'boolean');
    assert.equal(configKeys.get('auth.jwt.secret'), 'string');
    assert.equal(configKeys.get('sessions.policy'), 'string');
    assert.equal(configKeys.get('log.level'), 'string');
    assert.equal(configKeys.get('rooms.rules'), 'json');
    assert.equal(configKeys.get('auth.jwt.algorithms'), 'json');
    assert.equal(configKeys.get('limits.maxFrameBytes'), 'number');
    assert.equal(configKeys.get('webhooks.endpoints'), 'json');
    assert.equal(configKeys.get('webhooks.maxQueued'), 'number');
    assert.equal(configKeys.get('webhooks.maxAttempts'), 'number');
    assert.equal(configKeys.get('webhooks.retryBaseMs'), 'number');
    assert.equal(configKeys.get('webhooks.retryMaxMs'), 'number');
    assert.equal(configKeys.has('server'), false, 'objects are not leaves');
    assert.equal(configKeys.has('auth.jwt'), false);
  });

  it('describes every key in one line, from the schema (what --help prints)', () => {
    const missing = [...configKeys.keys()].filter((k) => !configDescriptions.get(k)?.trim());
    assert.deepEqual(missing, [], 'every key needs a .describe() in src/config/schema.ts');
    for (const [key, text] of configDescriptions) {
      assert.ok(configKeys.has(key), `${key}: described but not a key`);
      assert.doesNotMatch(text, /\n/, `${key}: one line`);
      assert.ok(text.length <= 120, `${key}: ${text.length} characters; keep it to one short line`);
    }
    // Read through the wrappers: a description on a key with a default, on an optional one, after a refine.
    assert.match(configDescriptions.get('server.port')!, /port/);
    assert.match(configDescriptions.get('auth.jwt.issuer')!, /iss/);
    assert.match(configDescriptions.get('webhooks.endpoints')!, /webhook/);
  });
});

describe('environment variables', () => {
  it('maps dotted keys to SWITCHBOARD_ names', () => {
    assert.equal(envName('limits.maxFrameBytes'), 'SWITCHBOARD_LIMITS_MAX_FRAME_BYTES');
    assert.equal(envName('server.port'), 'SWITCHBOARD_SERVER_PORT');
    assert.equal(envName('auth.jwt.secret'), 'SWITCHBOARD_AUTH_JWT_SECRET');
    assert.equal(envName('auth.allowDevOnPublicHost'), 'SWITCHBOARD_AUTH_ALLOW_DEV_ON_PUBLIC_HOST');
    assert.equal(envName('heartbeat.intervalMs'), 'SWITCHBOARD_HEARTBEAT_INTERVAL_MS');
    assert.equal(envName('store.cacheMiB'), 'SWITCHBOARD_STORE_CACHE_MIB');
    // Every key has a distinct variable.
    const names = [...configKeys.keys()].map(envName);
    assert.equal(new Set(names).size, names.length);
  });

  it('converts numbers, booleans, strings and JSON', () => {
    const c = loadConfig({
      env: {
        SWITCHBOARD_SERVER_PORT: '9000',
        SWITCHBOARD_LIMITS_MESSAGES_PER_SECOND: '2.5',
        SWITCHBOARD_AUTH_DEV: 'yes',
        SWITCHBOARD_ROOMS_PRESENCE_EVENTS: 'off',
        SWITCHBOARD_WELCOME_ENABLED: 'FALSE',
        SWITCHBOARD_COMPRESSION_ENABLED: '1',
        SWITCHBOARD_SERVER_HOST: '0.0.0.0',
        SWITCHBOARD_LOG_LEVEL: 'debug',
        SWITCHBOARD_ROOMS_RULES: '[{"match":"vip-*","kind":"private"}]',
        SWITCHBOARD_AUTH_ALLOW_DEV_ON_PUBLIC_HOST: 'true',
      },
    });
    assert.equal(c.server.port, 9000);
    assert.equal(c.limits.messagesPerSecond, 2.5);
    assert.equal(c.auth.dev, true);
    assert.equal(c.rooms.presenceEvents, false);
    assert.equal(c.welcome.enabled, false);
    assert.equal(c.compression.enabled, true);
    assert.equal(c.server.host, '0.0.0.0');
    assert.equal(c.log.level, 'debug');
    assert.deepEqual(c.rooms.rules, [{ match: 'vip-*', kind: 'private', durable: true }]);
    assert.equal(c.auth.allowDevOnPublicHost, true);
  });

  it('a string setting that looks like a number stays a string', () => {
    const c = loadConfig({ env: { SWITCHBOARD_SERVER_HOST: '1234', SWITCHBOARD_AUTH_JWT_SECRET: '0123456789012345' } });
    assert.equal(c.server.host, '1234');
    assert.equal(c.auth.jwt.secret, '0123456789012345');
  });

  it('takes a list written plainly, with commas, as well as JSON', () => {
    const c = loadConfig({ env: { SWITCHBOARD_AUTH_JWT_ALGORITHMS: 'HS256, HS512', SWITCHBOARD_UPLOADS_ALLOWED_TYPES: 'image/png' } });
    assert.deepEqual(c.auth.jwt.algorithms, ['HS256', 'HS512']);
    assert.deepEqual(c.uploads.allowedTypes, ['image/png']);
    assert.deepEqual(loadConfig({ overrides: { 'auth.jwt.algorithms': '["ES256"]' } }).auth.jwt.algorithms, ['ES256']);
    // What looks like JSON and is not stays an error.
    assert.match(configError(() => loadConfig({ overrides: { 'auth.jwt.algorithms': '["ES256"' } })), /auth\.jwt\.algorithms/);
  });

  it('lists the SWITCHBOARD_ variables that name no setting, with the one each may have meant', () => {
    assert.deepEqual(
      unknownEnvironment({ SWITCHBOARD_AUTH_JWT_SECRETS: 'x', SWITCHBOARD_SERVICE_PORT_HTTP: '8080', SWITCHBOARD_CONFIG: 'f.json', SWITCHBOARD_SERVER_PORT: '1', PATH: '/bin' }),
      [{ name: 'SWITCHBOARD_AUTH_JWT_SECRETS', meant: 'SWITCHBOARD_AUTH_JWT_SECRET' }, { name: 'SWITCHBOARD_SERVICE_PORT_HTTP' }],
    );
  });

  it('ignores empty and unrelated variables', () => {
    const c = loadConfig({ env: { SWITCHBOARD_SERVER_PORT: '', PATH: '/bin', SWITCHBOARD_NOT_A_KEY: 'x' } });
    assert.equal(c.server.port, 8080);
  });

  it('reads the file named by SWITCHBOARD_CONFIG', () => {
    const file = writeConfig({ server: { port: 1234 } });
    assert.equal(loadConfig({ env: { SWITCHBOARD_CONFIG: file } }).server.port, 1234);
  });
});

describe('precedence: defaults < file < environment < flags', () => {
  it('flags override env, env overrides the file, the file overrides defaults', () => {
    const file = writeConfig({ server: { port: 1111, host: '10.0.0.1', path: '/file' }, limits: { burst: 7 } });
    const env = { SWITCHBOARD_SERVER_PORT: '2222', SWITCHBOARD_SERVER_HOST: '10.0.0.2' };
    const c = loadConfig({ file, env, overrides: { 'server.port': '3333' } });
    assert.equal(c.server.port, 3333, 'flag wins');
    assert.equal(c.server.host, '10.0.0.2', 'env beats file');
    assert.equal(c.server.path, '/file', 'file beats default');
    assert.equal(c.limits.burst, 7);
    assert.equal(c.limits.roomsPerSession, 100, 'default');
    // The file's other keys in the same object survive an env override of one key.
    assert.equal(loadConfig({ file, env: { SWITCHBOARD_SERVER_PORT: '2222' } }).server.path, '/file');
  });

  it('an explicit file beats SWITCHBOARD_CONFIG', () => {
    const a = writeConfig({ server: { port: 1 } });
    const b = writeConfig({ server: { port: 2 } });
    assert.equal(loadConfig({ file: b, env: { SWITCHBOARD_CONFIG: a } }).server.port, 2);
  });
});

describe('config errors', () => {
  it('a bad env value names the key and the variable', () => {
    const msg = configError(() => loadConfig({ env: { SWITCHBOARD_SERVER_PORT: 'eighty' } }));
    assert.match(msg, /server\.port/);
    assert.match(msg, /environment variable SWITCHBOARD_SERVER_PORT/);
  });

  it('a bad flag value names the key and the flag', () => {
    const msg = configError(() => loadConfig({ overrides: { 'server.port': '70000' } }));
    assert.match(msg, /server\.port/);
    assert.match(msg, /flag --server\.port/);
    const bool = configError(() => loadConfig({ overrides: { 'auth.dev': 'maybe' } }));
    assert.match(bool, /auth\.dev/);
    assert.match(bool, /flag --auth\.dev/);
  });

  it('a bad file value names the key and the file', () => {
    const file = writeConfig({ limits: { maxFrameBytes: 10 } });
    const msg = configError(() => loadConfig({ file }));
    assert.match(msg, /limits\.maxFrameBytes/);
    assert.ok(msg.includes(file), msg);
  });

  it('the source named is the one that set the bad value', () => {
    const file = writeConfig({ server: { port: 'abc' } });
    const msg = configError(() => loadConfig({ file, env: { SWITCHBOARD_SERVER_PORT: 'xyz' } }));
    assert.match(msg, /environment variable SWITCHBOARD_SERVER_PORT/);
    assert.ok(!msg.includes('config file'), msg);
  });

  it('an error inside a JSON value names the variable that set it', () => {
    const msg = configError(() => loadConfig({ env: { SWITCHBOARD_ROOMS_RULES: '[{"match":"a","kind":"nope"}]' } }));
    assert.match(msg, /rooms\.rules\.0\.kind/);
    assert.match(msg, /environment variable SWITCHBOARD_ROOMS_RULES/);
    assert.ok(!msg.includes('defaults'), msg);
    const flag = configError(() => loadConfig({ overrides: { 'rooms.rules': '[{"match":""}]' } }));
    assert.match(flag, /flag --rooms\.rules/);
  });

  it('webhook endpoints come from the environment as JSON; a bad one names its field and the variable', () => {
    const endpoint = { name: 'app', url: 'https://app.example.com/hooks', secret: 's'.repeat(16), events: ['message.created'], rooms: ['support-*'] };
    const c = loadConfig({ env: { SWITCHBOARD_WEBHOOKS_ENDPOINTS: JSON.stringify([endpoint]), SWITCHBOARD_WEBHOOKS_MAX_ATTEMPTS: '10' } });
    assert.deepEqual(c.webhooks.endpoints, [{ ...endpoint, timeoutMs: 5000 }]);
    assert.equal(c.webhooks.maxAttempts, 10);
    const msg = configError(() => loadConfig({ env: { SWITCHBOARD_WEBHOOKS_ENDPOINTS: JSON.stringify([{ ...endpoint, secret: 'short' }]) } }));
    assert.match(msg, /webhooks\.endpoints\.0\.secret/);
    assert.match(msg, /environment variable SWITCHBOARD_WEBHOOKS_ENDPOINTS/);
    const url = configError(() => loadConfig({ overrides: { 'webhooks.endpoints': JSON.stringify([{ ...endpoint, url: 'file:///etc/passwd' }]) } }));
    assert.match(url, /webhooks\.endpoints\.0\.url/);
    const backoff = configError(() => loadConfig({ overrides: { 'webhooks.retryBaseMs': '5000', 'webhooks.retryMaxMs': '1000' } }));
    assert.match(backoff, /retryMaxMs/);
  });

  it('a cross-field error names where the offending values came from', () => {
    const tls = configError(() => loadConfig({ overrides: { 'server.tls.cert': '/c.pem' } }));
    assert.match(tls, /server\.tls/);
    assert.match(tls, /flag --server\.tls\.cert/);
    assert.ok(!tls.includes('defaults'), tls);
    const both = configError(() =>
      loadConfig({ env: { SWITCHBOARD_AUTH_JWT_SECRET: 'x'.repeat(16), SWITCHBOARD_AUTH_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----' } }),
    );
    assert.match(both, /SWITCHBOARD_AUTH_JWT_(SECRET|PUBLIC_KEY)/);
  });

  it('a bad enum value is refused', () => {
    assert.match(configError(() => loadConfig({ env: { SWITCHBOARD_SESSIONS_POLICY: 'sometimes' } })), /sessions\.policy/);
    assert.match(configError(() => loadConfig({ overrides: { 'log.level': 'loud' } })), /log\.level/);
  });

  it('refuses a room rule whose pattern could never match a room', () => {
    for (const match of ['team-*-x', '**', 'has space', '', 'x'.repeat(101)]) {
      const msg = configError(() => loadConfig({ file: writeConfig({ rooms: { rules: [{ match }] } }) }));
      assert.match(msg, /rooms\.rules\.0\.match/, `${JSON.stringify(match)}: ${msg}`);
    }
    for (const match of ['*', 'team-*', 'general', 'private:x.y_z-1'])
      assert.equal(loadConfig({ file: writeConfig({ rooms: { rules: [{ match }] } }) }).rooms.rules[0]!.match, match);
  });

  it('refuses an unknown key in the file, naming it', () => {
    const file = writeConfig({ server: { prot: 8080 } });
    const msg = configError(() => loadConfig({ file }));
    assert.match(msg, /prot/);
    assert.match(msg, /unknown/);
    const top = configError(() => loadConfig({ file: writeConfig({ srever: {} }) }));
    assert.match(top, /srever/);
  });

  it('refuses an unknown flag key', () => {
    const msg = configError(() => loadConfig({ overrides: { 'server.prot': '1' } }));
    assert.match(msg, /server\.prot/);
    assert.match(msg, /unknown option/);
  });

  it('refuses an unreadable or invalid file', () => {
    assert.match(configError(() => loadConfig({ file: join(dir, 'missing.json') })), /cannot read/);
    assert.match(configError(() => loadConfig({ file: writeConfig('{ not json') })), /not valid JSON/);
  });

  it('cross-field rules: tls needs cert and key; jwt takes a secret or a public key, not both', () => {
    assert.match(configError(() => loadConfig({ overrides: { 'server.tls.cert': '/c.pem' } })), /tls/);
    assert.equal(loadConfig({ overrides: { 'server.tls.cert': '/c.pem', 'server.tls.key': '/k.pem' } }).server.tls.key, '/k.pem');
    const both = configError(() =>
      loadConfig({ overrides: { 'auth.jwt.secret': 'x'.repeat(16), 'auth.jwt.publicKey': '-----BEGIN PUBLIC KEY-----' } }),
    );
    assert.match(both, /either/);
    assert.match(configError(() => loadConfig({ overrides: { 'auth.jwt.secret': 'short' } })), /16/);
  });
});

describe('redactConfig', () => {
  it('masks the JWT secret without touching the original', () => {
    const c = loadConfig({ overrides: { 'auth.jwt.secret': 's'.repeat(20) } });
    const r = redactConfig(c);
    assert.equal(r.auth.jwt.secret, '***');
    assert.equal(c.auth.jwt.secret, 's'.repeat(20));
    assert.equal(redactConfig(loadConfig()).auth.jwt.secret, undefined);
  });

  it("masks the password in the PostgreSQL URL, and only that", () => {
    const c = loadConfig({ overrides: { 'store.url': 'postgres://chat:s3cret@db.internal:5432/switchboard?sslmode=require' } });
    assert.equal(redactConfig(c).store.url, 'postgres://chat:***@db.internal:5432/switchboard?sslmode=require');
    assert.equal(redactConfig(loadConfig({ overrides: { 'store.url': 'postgres://db/sb' } })).store.url, 'postgres://db/sb');
  });
});

describe('parseArgs', () => {
  it('reads --key value and --key=value', () => {
    const a = parseArgs(['--limits.maxFrameBytes', '131072', '--server.path=/socket', '--welcome.text=a=b']);
    assert.deepEqual(a.overrides, { 'limits.maxFrameBytes': '131072', 'server.path': '/socket', 'welcome.text': 'a=b' });
    assert.equal(a.help, false);
    assert.equal(a.printConfig, false);
    assert.equal(a.configFile, undefined);
  });

  it('a boolean flag without a value means true', () => {
    assert.deepEqual(parseArgs(['--compression.enabled']).overrides, { 'compression.enabled': 'true' });
    assert.deepEqual(parseArgs(['--compression.enabled', '--port', '1']).overrides, {
      'compression.enabled': 'true',
      'server.port': '1',
    });
    assert.deepEqual(parseArgs(['--welcome.enabled', 'false']).overrides, { 'welcome.enabled': 'false' });
    assert.deepEqual(parseArgs(['--welcome.enabled=false']).overrides, { 'welcome.enabled': 'false' });
  });

  it('a boolean flag followed by -c is true, and -c still reads its file', () => {
    const a = parseArgs(['--compression.enabled', '-c', 'conf.json']);
    assert.deepEqual(a.overrides, { 'compression.enabled': 'true' });
    assert.equal(a.configFile, 'conf.json');
  });

  it('--port, --host and --path are aliases', () => {
    const a = parseArgs(['--port', '9000', '--host=0.0.0.0', '--path', '/rt']);
    assert.deepEqual(a.overrides, { 'server.port': '9000', 'server.host': '0.0.0.0', 'server.path': '/rt' });
  });

  it('--dev turns dev auth on', () => {
    assert.deepEqual(parseArgs(['--dev']).overrides, { 'auth.dev': 'true' });
    assert.deepEqual(parseArgs(['--dev', '--port', '1']).overrides, { 'auth.dev': 'true', 'server.port': '1' });
  });

  it('-c FILE and --config FILE name the config file', () => {
    assert.equal(parseArgs(['-c', 'a.json']).configFile, 'a.json');
    assert.equal(parseArgs(['--config', 'b.json']).configFile, 'b.json');
    assert.equal(parseArgs(['--config=c.json']).configFile, 'c.json');
    assert.deepEqual(parseArgs(['-c', 'a.json']).overrides, {});
  });

  it('help, print-config and the start subcommand', () => {
    assert.equal(parseArgs(['-h']).help, true);
    assert.equal(parseArgs(['--help']).help, true);
    assert.equal(parseArgs(['--print-config']).printConfig, true);
    assert.deepEqual(parseArgs(['start', '--port', '1']).overrides, { 'server.port': '1' });
    assert.deepEqual(parseArgs([]), { help: false, printConfig: false, overrides: {} });
  });

  it('refuses unknown options, stray arguments and missing values', () => {
    assert.match(configError(() => parseArgs(['--nope', '1'])), /unknown option --nope/);
    assert.match(configError(() => parseArgs(['stray'])), /unexpected argument/);
    assert.match(configError(() => parseArgs(['--port', '1', 'extra'])), /unexpected argument/);
    assert.match(configError(() => parseArgs(['--port'])), /needs a value/);
    assert.match(configError(() => parseArgs(['-c'])), /needs a value/);
  });

  it('its overrides feed loadConfig', () => {
    const { overrides } = parseArgs(['--port', '0', '--dev', '--limits.burst=3']);
    const c = loadConfig({ overrides });
    assert.equal(c.server.port, 0);
    assert.equal(c.auth.dev, true);
    assert.equal(c.limits.burst, 3);
  });
});
