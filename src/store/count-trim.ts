/**
 * The plan of one trimToCount step (Store.trimToCount), shared by both
 * stores: given a page of conversations in id order with their last and
 * oldest stored seq, which of their messages go so that each keeps its last
 * `keep`, `limit` messages at most in all. A conversation the budget runs out
 * in is where the next step starts again.
 */
import type { CountTrim } from './store.js';

export interface CountCandidate {
  conv: string;
  lastSeq: number;
  /** Lowest seq still stored; null when the conversation has no messages left. */
  oldest: number | null;
}

export interface CountPlan extends Omit<CountTrim, 'removed'> {
  /** Conversations to trim, with the highest seq each loses: messages with seq ≤ upTo go. */
  convs: string[];
  upTo: number[];
}

/** `page`: up to `limit` conversations after `after`, in id order. */
export function planCountTrim(page: readonly CountCandidate[], keep: number, limit: number, after: string): CountPlan {
  const plan: CountPlan = { convs: [], upTo: [], next: page.length < limit ? null : page[page.length - 1]!.conv };
  let budget = limit;
  let previous = after;
  for (const c of page) {
    const cut = c.lastSeq - keep;
    if (c.oldest !== null && c.oldest <= cut) {
      if (budget === 0) {
        plan.next = previous;
        break;
      }
      // Sequence numbers are unique: [oldest, upTo] holds at most upTo - oldest + 1 messages, so the budget holds.
      const upTo = Math.min(cut, c.oldest + budget - 1);
      plan.convs.push(c.conv);
      plan.upTo.push(upTo);
      budget -= upTo - c.oldest + 1;
      if (upTo < cut) {
        plan.next = previous;
        break;
      }
    }
    previous = c.conv;
  }
  return plan;
}
