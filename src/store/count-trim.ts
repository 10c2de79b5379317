/**
 * The plan of one trimToCount step (Store.trimToCount), shared by both
 * stores: given a page of conversations in id order with their last and
 * oldest stored seq, which of their messages go so that each keeps its last
 * `keep`, `limit` messages at most in all. Ids are never compared here: the
 * cursor hands the database its own ids back, so each store's collation
 * decides the order.
 */
import type { CountCursor } from './store.js';

export interface CountCandidate {
  conv: string;
  lastSeq: number;
  /** Lowest seq still stored; null when the conversation has no messages left. */
  oldest: number | null;
}

export interface CountPlan {
  /** Conversations to trim, with the highest seq each loses: messages with seq ≤ upTo go. */
  convs: string[];
  upTo: number[];
  next: CountCursor | null;
}

/** `page`: up to `limit` conversations after `from.after`, in id order. */
export function planCountTrim(page: readonly CountCandidate[], keep: number, limit: number, from: CountCursor): CountPlan {
  const plan: CountPlan = { convs: [], upTo: [], next: page.length < limit ? null : { after: page[page.length - 1]!.conv } };
  let budget = limit;
  let previous = from.after;
  for (const c of page) {
    // A conversation the last step stopped inside keeps the cut of its first visit: were it recomputed, one
    // that gains more messages per step than a step removes would keep the pass going for ever.
    const cut = from.within?.conv === c.conv ? Math.min(c.lastSeq - keep, from.within.upTo) : c.lastSeq - keep;
    if (c.oldest !== null && c.oldest <= cut) {
      if (budget === 0) {
        plan.next = { after: previous };
        break;
      }
      // Sequence numbers are unique: [oldest, upTo] holds at most upTo - oldest + 1 messages, so the budget holds.
      const upTo = Math.min(cut, c.oldest + budget - 1);
      plan.convs.push(c.conv);
      plan.upTo.push(upTo);
      budget -= upTo - c.oldest + 1;
      if (upTo < cut) {
        plan.next = { after: previous, within: { conv: c.conv, upTo: cut } };
        break;
      }
    }
    previous = c.conv;
  }
  return plan;
}
