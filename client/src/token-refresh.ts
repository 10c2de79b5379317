/**
 * Token refresh on an open session: shortly before the token expires, a new
 * one from `getToken` is sent as `auth`, so a long session is not closed with
 * 4002. A refresh that fails, or yields nothing fresher, is tried again every
 * 5 s; if expiry comes first, the server closes and the client reconnects with
 * a new token.
 */
import { SwitchboardError } from './errors.js';
import type { ClientOptions } from './options.js';
import type { SessionLink } from './requests.js';
import { MAX_TIMER, type Timer } from './timers.js';
import { refreshDelay, tokenExpiry } from './token.js';

const RETRY_MS = 5_000;

export class TokenRefresh {
  private timer: Timer | null = null;

  constructor(
    private readonly options: Pick<ClientOptions, 'getToken' | 'tokenRefreshMarginMs'>,
    /** The session's token: read to time the refresh, replaced once the server took the new one. */
    private readonly credentials: { current: string | undefined },
    private readonly session: SessionLink,
    private readonly onError: (err: SwitchboardError) => void,
  ) {}

  /** Plans the next refresh of the current token (`retryMs`: a retry, that soon but before expiry). */
  schedule(retryMs?: number): void {
    this.cancel();
    const token = this.credentials.current;
    if (!this.options.getToken || token === undefined || !this.session.open()) return;
    const exp = tokenExpiry(token);
    if (exp === null) return;
    const now = Date.now();
    let delay = refreshDelay(exp, now, this.options.tokenRefreshMarginMs ?? 30_000);
    if (retryMs !== undefined) delay = Math.max(1_000, Math.min(retryMs, exp - now - 500));
    this.timer = setTimeout(() => void this.refresh(), Math.min(MAX_TIMER, Math.max(0, delay)));
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async refresh(): Promise<void> {
    this.timer = null;
    const epoch = this.session.epoch();
    let token: string;
    try {
      token = await this.options.getToken!();
    } catch (err) {
      if (epoch !== this.session.epoch()) return;
      this.onError(new SwitchboardError('token_refresh_failed', `getToken failed: ${(err as Error).message}`));
      this.schedule(RETRY_MS);
      return;
    }
    if (epoch !== this.session.epoch() || !this.session.open()) return;
    // A JavaScript app can hand back anything: reading it as a token would throw from this timer.
    if (typeof token !== 'string' || token === '') {
      this.onError(new SwitchboardError('token_refresh_failed', 'getToken returned no token'));
      this.schedule(RETRY_MS);
      return;
    }
    const current = this.credentials.current;
    const oldExp = tokenExpiry(current ?? '') ?? 0;
    const newExp = tokenExpiry(token);
    if (token === current || (newExp !== null && newExp <= oldExp)) {
      // Nothing fresher yet: try again a little later (the server closes with 4002 at expiry, then we reconnect).
      this.schedule(RETRY_MS);
      return;
    }
    try {
      this.send(token, epoch);
    } catch (err) {
      // Not sendable (a token larger than the server's frame limit): reported like a refusal. Thrown from here it
      // would be an unhandled rejection, which ends a Node process.
      this.onError(err instanceof SwitchboardError ? err : new SwitchboardError('token_refresh_failed', (err as Error).message));
      this.schedule(RETRY_MS);
    }
  }

  private send(token: string, epoch: number): void {
    this.session.send({ type: 'auth', token }, {
      type: 'auth',
      onReply: () => {
        if (epoch !== this.session.epoch()) return;
        this.credentials.current = token;
        this.schedule();
      },
      onError: (err) => {
        if (epoch !== this.session.epoch()) return;
        this.onError(err);
        this.schedule(RETRY_MS);
      },
      onLost: () => {},
    });
  }
}
