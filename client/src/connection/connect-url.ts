/**
 * The URL of a connection attempt. The identity goes in the query only when it
 * must: a dev user name always, a token only with `tokenTransport: 'query'`
 * (else it goes in the first message, out of URL logs); the resume request
 * goes with the identity, since an `auth` message carries it otherwise.
 */
import type { ClientOptions } from '../options.js';

export interface ConnectUrlParts extends Pick<ClientOptions, 'url' | 'user' | 'tokenTransport'> {
  /** The token for this attempt, if any. */
  token: string | undefined;
  /** Ask the server to hold DMs until the first sync. */
  resume: boolean;
}

/** Throws (TypeError) when `url` is no URL. */
export function connectUrl({ url, user, tokenTransport, token, resume }: ConnectUrlParts): string {
  const u = new URL(url);
  if (user !== undefined && token === undefined) u.searchParams.set('user', user);
  if (token !== undefined && tokenTransport === 'query') u.searchParams.set('token', token);
  if (resume && (token === undefined || tokenTransport === 'query')) u.searchParams.set('resume', '1');
  return u.toString();
}
