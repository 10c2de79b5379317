/**
 * What happens in the hub that the app's backend may want to hear about
 * (webhooks). The hub calls these synchronously and they must not block:
 * an implementation queues and returns. Presence here is this node's.
 */
import type { MessagePush } from '../protocol/pushes.js';

export interface HubEvents {
  /** The user's first session (on this node) opened. */
  userOnline?(user: string): void;
  /** The user's last session (on this node) closed. */
  userOffline?(user: string): void;
  /** The user's first session entered the room. */
  memberJoined?(room: string, user: string): void;
  /** The user's last session left the room (on purpose, removed, or by disconnecting). */
  memberLeft?(room: string, user: string): void;
  /**
   * A message was stored (durable) or delivered (ephemeral). For a direct message, `recipientOnline` says whether
   * the recipient had a session when it was delivered: an app sends a mobile push notification when it had none.
   */
  messageCreated?(message: MessagePush, recipientOnline: boolean): void;
  /** A session ended, with the close code it was given (1006 when the socket simply went). */
  sessionDisconnected?(session: string, user: string, code: number, reason: string): void;
}
