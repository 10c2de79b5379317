/** How the console's panels show a failed call: one message, and a key the server no longer knows signs out. */
import { h } from '../../src/dom.js';
import { ApiError } from './api.js';

let unauthorized: (message: string) => void = () => {};

/** main.ts: what to do when a call says the key is unknown (401). */
export function onUnauthorized(fn: (message: string) => void): void {
  unauthorized = fn;
}

/** A paragraph saying what went wrong, for a panel's result area. */
export function failure(err: unknown): HTMLParagraphElement {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.status === 401) unauthorized(message);
  return h('p', { class: 'error', role: 'alert' }, message);
}
