/**
 * The plan of one trimConversation step (Store.trimConversation), shared by
 * both stores: given a conversation's last seq and its oldest messages in seq
 * order (at most the step's limit of them), the highest seq that goes. What
 * goes is the conversation's oldest part only, so the step removes it with
 * the same range delete (and link pruning) as a trimToCount step.
 */
import type { ConversationTrimRule } from './store.js';

/** Messages with seq ≤ the result go; null: none. Stops reading `oldest` at the first message that stays. */
export function planConversationTrim(lastSeq: number, oldest: Iterable<{ seq: number; ts: number }>, rule: ConversationTrimRule): number | null {
  const cut = rule.keep === undefined ? 0 : lastSeq - rule.keep;
  const { before } = rule;
  let upTo: number | null = null;
  for (const m of oldest) {
    if (m.seq > cut && (before === undefined || m.ts >= before)) break;
    upTo = m.seq;
  }
  return upTo;
}
