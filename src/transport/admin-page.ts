/**
 * The admin console's files (web/admin, built into dist/web/admin/), served at
 * `/admin/` whatever `server.webRoot` serves at `/`: like the server API it
 * uses, it is part of the server, not of the site. The page is nothing without
 * an API key (it asks for one, and every call it makes sends it), so serving
 * it opens nothing.
 *
 * `/admin` is redirected to `/admin/` with a relative `Location`, so that the
 * page's relative URLs (its script, `../api/v1/…`) resolve under a reverse
 * proxy's path prefix too. Anything else under `/admin/` is this handler's:
 * a file of a custom web root's own `admin/` folder is never served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { staticFiles, type WebFiles } from './static-files.js';

export const ADMIN_PATH = '/admin';

/** A route handler: true when it answered. */
export function adminPage(files: WebFiles): (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean {
  const serve = staticFiles(files);
  return (req, res, pathname) => {
    if (pathname === ADMIN_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res, pathname);
      res.writeHead(301, { location: 'admin/', 'content-length': 0 });
      res.end();
      return true;
    }
    if (!pathname.startsWith(`${ADMIN_PATH}/`)) return false;
    return serve(req, res, pathname.slice(ADMIN_PATH.length)) || notFound(res, pathname);
  };
}

function notFound(res: ServerResponse, pathname: string): true {
  const text = JSON.stringify({ error: 'not_found', message: `no such path: ${pathname}` });
  res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return true;
}
