/**
 * The user's read position: what the open conversation shows while the tab is
 * visible has been read. A burst of messages makes one `read` (it waits a
 * moment); the sidebar's unread counts follow at once.
 */
import type { SwitchboardClient } from '../../client/src/index.js';
import { targetOf, type Conv } from './conversation.js';

const READ_DELAY_MS = 300;

export interface ReadHooks {
  /** The open conversation. */
  current(): Conv | null;
  /** Signed out, or the conversation is no longer on the page. */
  gone(c: Conv): boolean;
  /** A read position moved: the unread counts change. */
  changed(): void;
}

export class ReadMarker {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: Pick<SwitchboardClient, 'read'>,
    private readonly hooks: ReadHooks,
  ) {}

  /** Marks the open conversation read, shortly. */
  soon(): void {
    const c = this.hooks.current();
    clearTimeout(this.timer);
    if (c) this.timer = setTimeout(() => this.now(c), READ_DELAY_MS);
  }

  now(c: Conv): void {
    if (this.hooks.gone(c) || document.visibilityState !== 'visible' || c.lastSeq <= c.readSeq) return;
    c.readSeq = c.lastSeq;
    this.hooks.changed();
    this.client.read(targetOf(c), c.lastSeq).catch(() => {
      // The next view marks it again.
    });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
