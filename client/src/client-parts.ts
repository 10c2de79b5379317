/**
 * The client's parts and how they are wired: each gets a few functions (the
 * session as a SessionLink, the client's events, its requests), never the
 * client, and this is the one place that says which part hears of a session
 * opening, the connection closing or the client closing — and in what order,
 * which matters: rooms and DMs are recovered before waiting requests and
 * queued messages go out.
 */
import { ConnectionLifecycle } from './connection/lifecycle.js';
import { Conversations } from './conversations.js';
import { Credentials } from './credentials.js';
import { StreamGroup } from './events.js';
import { Media } from './media.js';
import type { QueuedTarget } from './offline-queue.js';
import type { ClientOptions, EmitEvent, RequestOptions } from './options.js';
import { Outbox } from './outbox.js';
import { dispatchPush, type PushTargets } from './push-dispatch.js';
import { randomKey } from './random-key.js';
import { Requests, type SessionLink } from './requests.js';
import { TokenRefresh } from './token-refresh.js';

export interface ClientParts {
  life: ConnectionLifecycle;
  requests: Requests;
  conversations: Conversations;
  outbox: Outbox;
  media: Media;
  streams: StreamGroup;
}

export interface ClientLink {
  emit: EmitEvent;
  /** The client's own `request`: a room the client does not keep is left with requests as the app's. */
  request(command: { type: 'join' | 'leave'; room: string }, opts: RequestOptions): Promise<{ room: string }>;
}

export function wireParts(options: ClientOptions, { emit, request }: ClientLink): ClientParts {
  // `life` is made last, as it needs the others; until then nothing calls what reads it.
  let life: ConnectionLifecycle;
  const requests = new Requests({
    live: () => life.session !== null && life.transport !== null,
    write: (msg) => life.writer.write(msg),
    closed: () => life.closed,
  });
  /** The session as the parts that work on it see it. */
  const session: SessionLink = {
    epoch: () => life.epoch,
    open: () => life.session !== null,
    send: requests.send,
  };
  const streams = new StreamGroup(() => life.closed);
  const credentials = new Credentials(options);
  const tokenRefresh = new TokenRefresh(options, credentials, session, (err) => emit('error', err));
  const conversations = new Conversations(options, {
    session,
    emit,
    rooms: {
      leave: (room, opts) => request({ type: 'leave', room }, opts),
      endMembership: async (room, opts) => {
        await request({ type: 'join', room }, opts);
        return request({ type: 'leave', room }, opts);
      },
      ready: () => outbox.flush(),
    },
  });
  /** Whether the outbox may send to a conversation now. */
  const canSend = (target: QueuedTarget): boolean => 'to' in target || conversations.canPublish(target.room);
  const outbox = new Outbox(options.maxQueue ?? 1000, session, canSend, () => (options.generateKey ?? randomKey)());
  const media = new Media(options, credentials);
  const pushTargets: PushTargets = {
    requests,
    me: () => life.user,
    message: (m) => conversations.onMessage(m, life.user),
    unread: (u) => conversations.onUnread(u),
    left: (room) => conversations.removed(room),
    emit,
  };
  life = new ConnectionLifecycle({
    options,
    credentials,
    tokenRefresh,
    emit,
    session: {
      wantsResume: () => conversations.wantsResume(),
      opened: () => {
        // Recovery: what the app had before the drop comes back first.
        conversations.recover();
        requests.sendWaiting();
        outbox.flush();
      },
      lost: () => {
        conversations.connectionLost();
        outbox.connectionLost();
        requests.loseAll();
      },
      stopped: (err) => requests.failWaiting(err),
      closed: (err) => {
        requests.failWaiting(err);
        conversations.close(err);
        outbox.close(err);
        streams.endAll();
      },
      push: (m) => dispatchPush(m, pushTargets),
    },
  });
  return { life, requests, conversations, outbox, media, streams };
}
