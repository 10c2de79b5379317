/**
 * Where the server's pushes go, all but `connected` (which opens a session:
 * the connection's life cycle takes that one): answers to the requests they
 * answer, messages and the unread summary to the conversations, the rest to
 * the app as events.
 */
import { ServerError } from './errors.js';
import type { EmitEvent } from './options.js';
import type { Requests } from './requests.js';
import type { ConnectedPush, MessagePush, ServerPush, UnreadPush } from './types.js';

export interface PushTargets {
  requests: Pick<Requests, 'take'>;
  /** The signed-in user (null before the first session). */
  me(): string | null;
  message(m: MessagePush): void;
  /** Heard before the app hears it, so recovery knows where the direct conversations stand. */
  unread(u: UnreadPush): void;
  /** The server took the session out of a room: no longer kept joined. */
  left(room: string): void;
  emit: EmitEvent;
}

export function dispatchPush(m: Exclude<ServerPush, ConnectedPush>, to: PushTargets): void {
  switch (m.type) {
    case 'reply':
      return to.requests.take(m.id)?.onReply(m.data);
    case 'error': {
      const p = to.requests.take(m.id);
      const err = new ServerError(m.code, m.message, p?.type);
      if (!p) return to.emit('error', err);
      p.onError(err);
      return;
    }
    case 'pong':
      return to.requests.take(m.id)?.onReply({});
    case 'message':
      // The lean JSON leaves out `contentType` when it is text; the app sees it either way.
      if (m.contentType === undefined) m.contentType = 'text';
      return to.message(m);
    case 'unread':
      to.unread(m);
      return to.emit('unread', m);
    case 'presence':
      return to.emit('presence', m);
    case 'typing':
      if (m.from !== to.me()) to.emit('typing', m);
      return;
    case 'signal':
      return to.emit('signal', m);
    case 'notice':
      return to.emit('notice', m);
    case 'left':
      to.left(m.room);
      return to.emit('left', m);
    default:
      // A push type from a newer server: ignored.
      return;
  }
}
