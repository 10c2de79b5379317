/**
 * The Node counterpart of Go's pprof, for `debug.enabled` (api/admin-routes.ts serves it to `admin` keys): a CPU
 * profile over some seconds through the inspector's Profiler, and a heap snapshot streamed as V8 writes it. One at
 * a time: a second asked for meanwhile gets null (409). Both open in Chrome DevTools (Performance / Memory).
 *
 * A heap snapshot pauses the process while V8 takes it (a second or more for a large heap) and holds every string
 * in memory, tokens and messages included: it is for the operator, never for a client.
 */
import { Session } from 'node:inspector';
import type { Readable } from 'node:stream';
import { getHeapSnapshot } from 'node:v8';

export class DebugTools {
  private busy = false;

  async cpuProfile(seconds: number): Promise<Buffer | null> {
    if (this.busy) return null;
    this.busy = true;
    const session = new Session();
    try {
      session.connect();
      const post = (method: string, params?: object): Promise<unknown> =>
        new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
      await post('Profiler.enable');
      await post('Profiler.start');
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      await post('Profiler.disable');
      return Buffer.from(JSON.stringify(profile));
    } finally {
      session.disconnect();
      this.busy = false;
    }
  }

  heapSnapshot(): Readable | null {
    if (this.busy) return null;
    this.busy = true;
    let stream: Readable;
    try {
      stream = getHeapSnapshot();
    } catch (err) {
      this.busy = false;
      throw err;
    }
    // Written out, failed, or its client went away (the answer's pipeline destroys it): the next may start.
    stream.once('close', () => (this.busy = false));
    return stream;
  }
}
