/**
 * Routes each validated command to its handler. A handler returns the reply's
 * data or throws a HubError; the caller turns either into a reply or an error
 * carrying the request's id. `auth` and `ping` belong to the connection
 * itself and are handled before this table.
 */
import { type CommandOf, type CommandType, checkBody } from '../protocol/commands.js';
import { ErrorCode } from '../protocol/codes.js';
import { HubError } from '../hub/errors.js';
import type { Hub } from '../hub/hub.js';
import type { HubSession } from '../hub/session.js';

export interface DispatchLimits {
  maxTextLength: number;
}

export type RoutedType = Exclude<CommandType, 'auth' | 'ping'>;
type Handler<K extends RoutedType> = (s: HubSession, cmd: CommandOf<K>, hub: Hub, limits: DispatchLimits) => unknown;

function body(contentType: string, value: unknown, limits: DispatchLimits): void {
  const problem = checkBody(contentType, value, limits.maxTextLength);
  if (problem) throw new HubError(ErrorCode.InvalidRequest, problem);
}

export const handlers: { [K in RoutedType]: Handler<K> } = {
  join: (s, c, hub) => hub.join(s, c.room, c.since),
  leave: (s, c, hub) => {
    hub.leave(s, c.room);
    return { room: c.room };
  },
  publish: (s, c, hub, limits) => {
    body(c.contentType, c.body, limits);
    return hub.publish(s, c.room, c.contentType, c.body, c.key);
  },
  send: (s, c, hub, limits) => {
    body(c.contentType, c.body, limits);
    return hub.sendDirect(s, c.to, c.contentType, c.body, c.key);
  },
  typing: (s, c, hub) => {
    hub.typing(s, c, c.active);
    return {};
  },
  signal: (s, c, hub) => hub.signal(s, c.to, c.callId, c.kind, c.data, c.session),
  presence: (s, c, hub) => hub.presence(s, c.room),
  rooms: (s) => ({ rooms: [...s.rooms] }),
  history: (s, c, hub) => hub.history(s, c.room !== undefined ? { room: c.room } : { with: c.with! }, c),
  sync: (s, c, hub) => {
    if (typeof c.since !== 'number') return hub.sync(s, c.since);
    const partner = c.with!;
    return hub.sync(s, { [partner]: c.since }).then((r) => ({ with: partner, ...r.conversations[partner] }));
  },
  read: (s, c, hub) => {
    const stored = hub.read(s, c.room !== undefined ? { room: c.room } : { with: c.with! }, c.seq);
    return stored ? stored.then(() => ({})) : {};
  },
};

export function isRouted(type: CommandType): type is RoutedType {
  return type !== 'auth' && type !== 'ping';
}
