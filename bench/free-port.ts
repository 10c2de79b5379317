/** A TCP port for a server the harness (or a test) starts itself. */
import { createServer } from 'node:net';

/** A port nothing listens on now: the system's choice for port 0, released at once. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
