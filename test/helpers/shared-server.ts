import { after, before } from 'node:test';
import { closeAllClients } from './client.js';
import { startServer, type TestServer } from './server.js';

/**
 * One server for the enclosing describe block: started before its tests,
 * stopped (with every client closed) after them. Returns a getter, since the
 * server exists only once `before` has run.
 */
export function serverFor(flags: readonly string[]): () => TestServer {
  let srv: TestServer | undefined;
  before(async () => {
    srv = await startServer(flags);
  });
  after(async () => {
    closeAllClients();
    await srv?.stop();
  });
  return () => srv!;
}
