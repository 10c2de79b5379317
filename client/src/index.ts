/**
 * switchboard-client: the TypeScript SDK for Switchboard (browsers and Node).
 *
 *     import { SwitchboardClient } from 'switchboard/client';
 *     const client = new SwitchboardClient({ url: 'wss://chat.example.com/ws', getToken });
 *     client.on('message', (m) => render(m));
 *     await client.connect();
 *     await client.join('general');
 *     await client.publish('general', 'hello');
 */
export { SwitchboardClient, randomKey } from './client.js';
export type { ClientEvents, ClientOptions, HistoryOptions, HistoryTarget, MessageOptions, RequestOptions, SignalOptions } from './options.js';
export {
  AuthError,
  ClientClosedError,
  CloseError,
  ConnectionLostError,
  MessageTooLargeError,
  NotConnectedError,
  QueueFullError,
  ServerError,
  SwitchboardError,
  TimeoutError,
  UploadError,
} from './errors.js';
export { EventStream } from './events.js';
export type { BackoffOptions } from './backoff.js';
export type { WebSocketConstructor, WebSocketLike } from './connection/transport.js';
export { DEFAULT_ENCODING, type Encoding } from './wire.js';
export { mediaTypeOf } from './upload.js';
export { fileIdOf } from '../../src/protocol/file-reference.js';
export type { UploadData, UploadOptions } from './upload.js';
export type * from './types.js';
