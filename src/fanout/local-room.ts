/**
 * A room's members on this node, grouped by the encoding they speak. Each
 * group has its own shared batch for the current turn: a message is encoded
 * once per group and appended to that group's batch, whatever the number of
 * members.
 */
import type { Codec } from '../protocol/codec.js';
import { DEFAULT_CODEC } from '../protocol/codecs.js';
import type { SharedBatch } from '../outbound/shared-batch.js';
import type { Recipient } from './recipient.js';

export class CodecGroup<S extends Recipient> {
  readonly members = new Set<S>();
  /** The batch this turn's messages go into, or a stale one from an earlier turn. */
  batch: SharedBatch | null = null;

  constructor(readonly codec: Codec) {}
}

export class LocalRoom<S extends Recipient> {
  /** One per codec in use; almost always one. */
  readonly groups: CodecGroup<S>[] = [];
  size = 0;

  constructor(readonly name: string) {}

  groupOf(s: S, create: boolean): CodecGroup<S> | undefined {
    const codec = s.codec ?? DEFAULT_CODEC;
    for (const g of this.groups) if (g.codec === codec) return g;
    if (!create) return undefined;
    const g = new CodecGroup<S>(codec);
    this.groups.push(g);
    return g;
  }

  add(s: S): CodecGroup<S> | null {
    const g = this.groupOf(s, true)!;
    if (g.members.has(s)) return null;
    g.members.add(s);
    this.size++;
    return g;
  }

  /** The group `s` left, or null if it was no member. */
  remove(s: S): CodecGroup<S> | null {
    const g = this.groupOf(s, false);
    if (!g || !g.members.delete(s)) return null;
    this.size--;
    if (g.members.size === 0) this.groups.splice(this.groups.indexOf(g), 1);
    return g;
  }

  *members(): IterableIterator<S> {
    for (const g of this.groups) yield* g.members;
  }
}
