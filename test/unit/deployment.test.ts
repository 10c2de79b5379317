/** checkDeployment (src/config/deployment.ts): the settings that only make sense together. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDeployment, workerCount } from '../../src/config/deployment.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const config = (overrides: Record<string, string>) => loadConfig({ overrides });
const PG = 'postgres://u@db/sb';

describe('deployment checks', () => {
  it('auto is one worker per core, at least 1 and at most 256', () => {
    assert.equal(workerCount('auto', 1), 1);
    assert.equal(workerCount('auto', 8), 8);
    assert.equal(workerCount('auto', 0), 1);
    assert.equal(workerCount('auto', 1000), 256);
    assert.equal(workerCount(3, 8), 3);
  });

  it('lets one process, or workers with a broker and PostgreSQL, through', () => {
    checkDeployment(config({}));
    checkDeployment(config({ 'server.workers': 'auto' }), 1);
    checkDeployment(config({ 'server.workers': '4', 'broker.url': 'redis://r:6379', 'store.url': PG }));
    checkDeployment(config({ 'server.workers': 'auto', 'broker.url': 'nats://n:4222', 'store.url': PG }), 16);
    checkDeployment(config({ 'broker.url': 'memory://t', 'store.url': PG }));
  });

  it('refuses workers without a broker, and nodes on the embedded SQLite store', () => {
    const refused = (o: Record<string, string>, re: RegExp, cores?: number): void =>
      assert.throws(() => checkDeployment(config(o), cores), (e: Error) => e instanceof ConfigError && re.test(e.message));
    refused({ 'server.workers': '2', 'store.url': PG }, /^server\.workers is 2 but broker\.url is not set/);
    refused({ 'server.workers': 'auto', 'store.url': PG }, /server\.workers is auto \(8 on this machine, one per core\)/, 8);
    refused({ 'server.workers': '2', 'broker.url': 'redis://r:6379' }, /embedded SQLite file.*Use PostgreSQL \(store\.url/);
    refused({ 'broker.url': 'redis://r:6379' }, /^broker\.url is set .*own file/);
    refused({ 'server.workers': '2', 'broker.url': 'memory://', 'store.url': PG }, /memory:\/\/, which joins only the nodes inside one process/);
    refused({ 'server.workers': '2' }, /^cannot run as configured:\n {2}- .*broker\.url is not set.*\n {2}- .*PostgreSQL/);
  });
});
