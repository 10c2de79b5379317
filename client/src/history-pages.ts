/**
 * Walking a conversation's stored messages page by page, for the app
 * (`client.historyPages`). The cursor is the seq at the edge of the last page,
 * so a page never repeats one before it.
 */
import type { HistoryOptions } from './options.js';
import type { HistoryResult, MessagePush } from './types.js';

export interface PageOptions {
  /** `backward` (default): newest page first, from before `from` or the newest; `forward`: oldest first, after `from` (default 0). */
  direction?: 'backward' | 'forward';
  from?: number;
  pageSize?: number;
  timeoutMs?: number;
}

/** Pages from `fetchPage` (one `history` request) until there are no more; each page is oldest-first. */
export async function* pageHistory(
  fetchPage: (opts: HistoryOptions) => Promise<HistoryResult>,
  opts: PageOptions,
): AsyncGenerator<MessagePush[], void, undefined> {
  const forward = opts.direction === 'forward';
  let cursor = opts.from ?? (forward ? 0 : undefined);
  for (;;) {
    const page = await fetchPage({
      limit: opts.pageSize ?? 50,
      timeoutMs: opts.timeoutMs,
      ...(forward ? { after: cursor } : cursor !== undefined ? { before: cursor } : {}),
    });
    if (page.messages.length === 0) return;
    yield page.messages;
    if (!page.hasMore) return;
    cursor = forward ? page.messages[page.messages.length - 1]!.seq : page.messages[0]!.seq;
  }
}
