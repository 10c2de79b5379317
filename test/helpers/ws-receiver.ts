/** What a WebSocket client reads from server frames: ws's own parser, fed the bytes the server writes. */
import { createRequire } from 'node:module';

// @types/ws does not declare the Receiver; ws exports it at runtime.
interface ReceiverLike {
  write(chunk: Buffer): boolean;
  on(event: 'message', cb: (data: Buffer, isBinary: boolean) => void): this;
  on(event: 'error', cb: (err: Error) => void): this;
}
type ReceiverCtor = new (opts: { isServer: boolean; maxPayload?: number }) => ReceiverLike;
const { Receiver } = createRequire(import.meta.url)('ws') as { Receiver: ReceiverCtor };

/** The message ws's client-side parser reads from one (unmasked) server frame. */
export function parseWithWs(frame: Buffer): Promise<{ payload: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const r = new Receiver({ isServer: false, maxPayload: 0 });
    r.on('message', (data, isBinary) => resolve({ payload: Buffer.from(data), isBinary }));
    r.on('error', reject);
    r.write(frame);
  });
}
