/**
 * Binary frames carry several messages each preceded by its length, a varint
 * (Protobuf's "size-delimited" form): the frame needs no separator that could
 * occur inside a message, and a reader finds each message without parsing the
 * one before. Browser-safe.
 */

/** Bytes a varint of `n` takes. */
export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** `message` with its length in front. */
export function delimit(message: Uint8Array): Uint8Array {
  const n = message.length;
  const out = new Uint8Array(varintLength(n) + n);
  let at = 0;
  let v = n;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  out.set(message, at);
  return out;
}

/**
 * Calls `onMessage` with each length-delimited message of `frame`, in order. A length that is cut short or points
 * past the end of the frame ends the frame: `onError` says so once, and nothing after it is read (there is no way
 * to find where the next message would start).
 */
export function splitDelimited(frame: Uint8Array, onMessage: (bytes: Uint8Array) => void, onError: (reason: string) => void): void {
  let at = 0;
  const end = frame.length;
  while (at < end) {
    let len = 0;
    let scale = 1;
    let i = 0;
    for (;;) {
      if (at >= end) return onError('a message length cut short by the end of the frame');
      const b = frame[at++]!;
      len += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
      if (++i === 5) return onError('a message length longer than 5 bytes');
    }
    if (len > end - at) return onError(`a message length (${len}) past the end of the frame (${end - at} bytes left)`);
    onMessage(frame.subarray(at, at + len));
    at += len;
  }
}
