/**
 * Typing indicators both ways: who is typing in each conversation (their
 * `typing` pushes), and our own indicator while the user writes.
 */
import type { SwitchboardClient } from '../../client/src/index.js';
import type { Conv } from './conversation.js';

/** Without news from a typist for this long, they stopped (their `stop` may be lost with a connection). */
const TYPING_SHOWN_MS = 6_000;
/** Our indicator is repeated this often while the user types, so it outlives the others' timeout. */
const TYPING_REPEAT_MS = 3_000;
/** A pause this long in the user's typing stops our indicator. */
const TYPING_IDLE_MS = 4_000;

/** The others typing in a conversation; `changed` is told when a conversation's typists change. */
export class IncomingTyping {
  constructor(private readonly changed: (c: Conv) => void) {}

  update(c: Conv, user: string, active: boolean): void {
    clearTimeout(c.typing.get(user));
    if (!active) c.typing.delete(user);
    else c.typing.set(user, setTimeout(() => this.clear(c, user), TYPING_SHOWN_MS));
    this.changed(c);
  }

  clear(c: Conv, user: string): void {
    if (!c.typing.has(user)) return;
    clearTimeout(c.typing.get(user));
    c.typing.delete(user);
    this.changed(c);
  }

  /** Forgets everyone at once, without telling (the caller renders afterwards). */
  forgetAll(c: Conv): void {
    for (const t of c.typing.values()) clearTimeout(t);
    c.typing.clear();
  }
}

export function typingText(users: readonly string[]): string {
  return users.length === 0
    ? ''
    : users.length === 1
      ? `${users[0]} is typing…`
      : users.length === 2
        ? `${users[0]} and ${users[1]} are typing…`
        : 'Several people are typing…';
}

/** Our own indicator: at most one conversation at a time, stopped when the user stops, sends or leaves it. */
export class OutgoingTyping {
  private key = '';
  private last = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly client: Pick<SwitchboardClient, 'state' | 'typing'>,
    private readonly find: (key: string) => Conv | null,
  ) {}

  /** The user edited the text for conversation `c`. */
  input(c: Conv | null, hasText: boolean): void {
    if (!this.canTypeIn(c)) return;
    if (!hasText) return this.stop();
    const now = Date.now();
    if (this.key !== c.key || now - this.last > TYPING_REPEAT_MS) {
      if (this.key && this.key !== c.key) this.stop();
      this.client.typing(c.kind === 'room' ? { room: c.name } : { to: c.name }, true);
      this.key = c.key;
      this.last = now;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stop(), TYPING_IDLE_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
    const c = this.key ? this.find(this.key) : null;
    this.key = '';
    if (this.canTypeIn(c)) this.client.typing(c.kind === 'room' ? { room: c.name } : { to: c.name }, false);
  }

  private canTypeIn(c: Conv | null): c is Conv {
    return c !== null && this.client.state === 'connected' && (c.kind === 'dm' || (c.join === 'joined' && !c.pushOnly));
  }
}
