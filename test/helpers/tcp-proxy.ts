/**
 * A TCP proxy a test controls, between the server and a backend (PostgreSQL): `cut()` ends every connection
 * through it and refuses new ones (accepted and closed at once, as a dead link looks to the client), `restore()`
 * lets them through again, on the same port.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections made through the proxy since it started. */
  readonly connections: number;
  cut(): void;
  restore(): void;
  /** Cuts and stops listening. */
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  let connections = 0;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (!open) return void client.destroy();
    connections++;
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    open = false;
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    get connections() {
      return connections;
    },
    cut,
    restore: () => {
      open = true;
    },
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
