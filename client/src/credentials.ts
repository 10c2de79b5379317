/**
 * What the client presents as its identity: a token (static, or from
 * `getToken`) or a development user name — to the WebSocket at each
 * connection attempt, and over HTTP for uploads and file URLs. It remembers a
 * token the server refused, so a `getToken` that keeps handing it back stops
 * the client instead of making it reconnect forever.
 */
import { CloseCode } from '../../src/protocol/codes.js';
import { AuthError, SwitchboardError } from './errors.js';
import type { ClientOptions } from './options.js';
import { tokenExpiry } from './token.js';
import type { UploadAuth } from './upload.js';

export class Credentials {
  /** The token of the current (or last) connection; a refresh replaces it. */
  current: string | undefined;
  private refused: string | null = null;
  private staticTokenUsed = false;

  constructor(private readonly options: Pick<ClientOptions, 'token' | 'getToken' | 'user'>) {
    this.current = options.token;
  }

  /**
   * The token for the next connection attempt (undefined: none to send).
   * Throws AuthError when `getToken` returns the token the server refused.
   */
  async forConnect(): Promise<string | undefined> {
    const { getToken } = this.options;
    if (!getToken) return this.options.token;
    // A static token given with getToken is used for the first attempt; getToken for every later one.
    if (this.options.token !== undefined && !this.staticTokenUsed) {
      this.staticTokenUsed = true;
      return this.options.token;
    }
    const token = await getToken();
    if (typeof token !== 'string' || token === '') throw new SwitchboardError('invalid_token', 'getToken returned no token');
    if (this.refused !== null && token === this.refused) throw new AuthError(CloseCode.Unauthorized, 'getToken returned the token the server refused');
    return token;
  }

  /** The server refused the current token. */
  refuseCurrent(): void {
    this.refused = this.current ?? null;
  }

  /** A session opened, or the app called connect(): a token refused before may be tried again. */
  forgetRefusal(): void {
    this.refused = null;
  }

  /** For `POST /upload`: the current token, or a fresh one from `getToken` when it is about to expire. */
  async forUpload(): Promise<UploadAuth> {
    let token = this.current;
    if (token !== undefined) {
      const exp = tokenExpiry(token);
      if (exp !== null && exp <= Date.now() + 1_000 && this.options.getToken) token = await this.options.getToken();
      return { token };
    }
    if (this.options.getToken) return { token: await this.options.getToken() };
    if (this.options.user !== undefined) return { user: this.options.user };
    return {};
  }

  /** For a file URL's query (`<img>`/`<video>` cannot send headers): no call to `getToken`, the URL is built synchronously. */
  forFileUrl(): UploadAuth {
    if (this.current !== undefined) return { token: this.current };
    if (this.options.user !== undefined) return { user: this.options.user };
    return {};
  }
}
