/**
 * Where the page finds its server. A reverse proxy may serve Switchboard under
 * a path prefix (`/sb/` → the server's `/`), so every URL is resolved relative
 * to the page, never to the site root; and the WebSocket path is the server's
 * setting (`server.path`), which it tells in `client-config.json` (docs/api.md).
 */
export interface Endpoints {
  /** The WebSocket endpoint, e.g. `wss://example.com/sb/ws`. */
  websocket: string;
  /** The base of the server's HTTP routes (`upload`, `files/…`): the page's folder, e.g. `https://example.com/sb/`. */
  http: string;
}

export async function loadEndpoints(pageUrl: string = location.href): Promise<Endpoints> {
  const http = new URL('.', pageUrl);
  const res = await fetch(new URL('client-config.json', http), { cache: 'no-store' });
  if (!res.ok) throw new Error(`client-config.json answered HTTP ${res.status}`);
  const { websocketPath } = (await res.json()) as { websocketPath?: unknown };
  if (typeof websocketPath !== 'string' || !websocketPath.startsWith('/')) throw new Error('client-config.json has no websocketPath');
  // The server's path is absolute on the server; under a proxy's prefix it is relative to the page's folder.
  const websocket = new URL(websocketPath.slice(1), http);
  websocket.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return { websocket: websocket.toString(), http: http.toString() };
}
