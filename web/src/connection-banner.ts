/**
 * The banner over the chat while it is not connected: what happened, when the
 * next attempt is, how many messages wait; its button reconnects or takes the
 * chat over from another tab. The browser's own network events reconnect too.
 */
import type { StateChange, SwitchboardClient } from '../../client/src/index.js';
import { browserOffline, describeState } from './connection.js';

export interface BannerElements {
  banner: HTMLElement;
  bannerText: HTMLElement;
  bannerAction: HTMLButtonElement;
}

export class ConnectionBanner {
  private state: StateChange = { state: 'connecting', previous: 'disconnected', attempt: 0 };
  private retryAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly el: BannerElements,
    private readonly client: Pick<SwitchboardClient, 'queued' | 'connect' | 'reconnect'>,
    signal: AbortSignal,
  ) {
    el.bannerAction.addEventListener(
      'click',
      () => {
        if (this.state.state === 'disconnected' && !this.state.willReconnect) void client.connect().catch(() => {});
        else client.reconnect();
      },
      { signal },
    );
    // The browser knows about the network before the socket does.
    addEventListener(
      'offline',
      () => {
        this.render();
        if (this.state.state !== 'disconnected' || this.state.willReconnect) client.reconnect();
      },
      { signal },
    );
    addEventListener(
      'online',
      () => {
        this.render();
        if (this.state.state !== 'connected' && (this.state.state !== 'disconnected' || this.state.willReconnect)) client.reconnect();
      },
      { signal },
    );
  }

  /** The SDK's latest state, shown from the next render on. */
  set(s: StateChange): void {
    this.state = s;
    this.retryAt = Date.now() + (s.retryInMs ?? 0);
  }

  render(): void {
    const { el } = this;
    const s = this.state;
    const d = describeState(s, !browserOffline(), this.client.queued, this.retryAt - Date.now());
    // Count down to the next attempt.
    clearTimeout(this.timer);
    if (s.state === 'disconnected' && s.willReconnect && this.retryAt > Date.now()) this.timer = setTimeout(() => this.render(), 1_000);
    el.banner.hidden = d === null;
    if (!d) return;
    el.banner.dataset.kind = d.kind;
    el.bannerText.textContent = d.text;
    el.bannerAction.hidden = d.action === undefined || d.action === 'signin' || (d.action === 'retry' && browserOffline());
    el.bannerAction.textContent = d.action === 'takeover' ? 'Use the chat here' : 'Reconnect now';
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
