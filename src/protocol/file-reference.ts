/**
 * A media body's reference to a file stored on this server: `/files/<id>` or `/files/<id>/<name>`, nothing else
 * under `/files/`. Shared by the server, which refuses other `/files/…` URLs, and the client SDK, which loads only
 * these with the user's credentials: `/files/../x` would make a reader's browser request any path of the site.
 * (It lives in the protocol package, which both import.)
 */
export const FILE_REFERENCE = /^\/files\/([A-Za-z0-9_-]{8,64})(?:\/(?!\.\.?$)[^/?#\\]*)?$/;

/** The file id a body's `url` refers to on this server, or null for any other URL. */
export function fileIdOf(url: string): string | null {
  return FILE_REFERENCE.exec(url)?.[1] ?? null;
}
