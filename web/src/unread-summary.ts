/**
 * The unread summary the server sends after each connect: where each of the
 * user's conversations stands (its last seq, the user's read position). Each
 * is put on the page (a room is joined too); a room joined before the summary
 * came but not in it is a new membership, read up to the join.
 */
import type { UnreadPush } from '../../client/src/index.js';
import type { Conv } from './conversation.js';

export interface SummaryHooks {
  /** The page's conversation, made if it has none. */
  conv(kind: Conv['kind'], name: string): Conv;
  join(c: Conv): void;
}

export function applyUnreadSummary(u: UnreadPush, convs: ReadonlyMap<string, Conv>, hooks: SummaryHooks): void {
  for (const c of convs.values()) c.inSummary = false;
  for (const e of u.conversations) {
    const c = e.room !== undefined ? hooks.conv('room', e.room) : e.with !== undefined ? hooks.conv('dm', e.with) : null;
    if (!c) continue;
    c.inSummary = true;
    c.lastSeq = Math.max(c.lastSeq, e.lastSeq);
    c.readSeq = Math.max(c.readSeq, e.readSeq);
    if (c.kind === 'room' && c.join === 'none') hooks.join(c);
  }
  for (const c of convs.values()) {
    if (c.joinSeq !== undefined && !c.inSummary) c.readSeq = Math.max(c.readSeq, c.joinSeq);
    c.joinSeq = undefined;
  }
}
