/**
 * Calls to the server API (/api/v1) with the operator's key, sent as
 * `Authorization: Bearer` (never in a URL). URLs are relative to the page
 * (`/admin/` → `../api/v1/…`), so the console also works under a reverse
 * proxy's path prefix. A refusal becomes an `ApiError` whose message says what
 * to do about it.
 */

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Method = 'GET' | 'POST' | 'DELETE';

export class Api {
  private readonly base = new URL('../api/v1/', location.href);
  /** The operator's key while signed in (main.ts sets and clears it). */
  key = '';

  /** `path` is below /api/v1, without its leading slash; segments from user input go through `seg()`. */
  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'unreachable', 'Could not reach the server.');
    }
    const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
    if (res.ok && json) return json as T;
    const code = typeof json?.code === 'string' ? json.code : `http_${res.status}`;
    throw new ApiError(res.status, code, explain(res.status, code, typeof json?.message === 'string' ? json.message : ''));
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.call<T>('POST', path, body);
  }
}

/** A path segment from user input (a user id may hold `/`, `?` or `#`). */
export const seg = (s: string): string => encodeURIComponent(s);

function explain(status: number, code: string, message: string): string {
  if (status === 401) return 'This server does not know that API key (or it was removed from api.keys and the server restarted).';
  if (status === 403) return `This API key may not do that: ${message || 'it lacks the scope'}. Disconnecting users and managing rooms need a key with the admin scope.`;
  if (status === 404 && code === 'not_found' && message.startsWith('no such endpoint')) return `This server does not have that endpoint (${message.replace(/^no such endpoint: /, '')}): is it an older version?`;
  if (message) return message.charAt(0).toUpperCase() + message.slice(1);
  return `The server answered HTTP ${status}.`;
}
