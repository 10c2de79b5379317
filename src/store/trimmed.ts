/**
 * What a retention step removed, by conversation: the highest seq that went in each. A file's link to a
 * conversation can only have lost its last message if that message was at or below this (see the stores'
 * pruning of upload links).
 */
export function highestPerConversation(convs: readonly string[], seqs: readonly number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < convs.length; i++) {
    const conv = convs[i]!;
    const seq = seqs[i]!;
    if (seq > (out.get(conv) ?? -1)) out.set(conv, seq);
  }
  return out;
}
