/**
 * The rooms the app's backend manages, as this node knows them: each one's
 * settings, and the member lists of private rooms. Read whole from the store
 * at start and kept in step by the server API's writes, so that every access
 * decision is answered from memory. A managed room's settings win over the
 * configured room rules.
 */
import type { RoomRecord } from './persistence.js';

export class RoomDirectory {
  private readonly rooms = new Map<string, RoomRecord>();
  private readonly members = new Map<string, Set<string>>();

  load(rooms: readonly RoomRecord[], members: readonly { room: string; user: string }[]): void {
    for (const r of rooms) this.rooms.set(r.name, r);
    for (const m of members) this.addMember(m.room, m.user);
  }

  get(name: string): RoomRecord | undefined {
    return this.rooms.size === 0 ? undefined : this.rooms.get(name);
  }

  all(): IterableIterator<RoomRecord> {
    return this.rooms.values();
  }

  set(room: RoomRecord): void {
    this.rooms.set(room.name, room);
  }

  /** Forgets the room and its member list. */
  delete(name: string): void {
    this.rooms.delete(name);
    this.members.delete(name);
  }

  /** A room's member list, ordered. */
  membersOf(room: string): string[] {
    return [...(this.members.get(room) ?? [])].sort();
  }

  isMember(room: string, user: string): boolean {
    return this.members.size > 0 && (this.members.get(room)?.has(user) ?? false);
  }

  addMember(room: string, user: string): void {
    let set = this.members.get(room);
    if (!set) this.members.set(room, (set = new Set()));
    set.add(user);
  }

  removeMember(room: string, user: string): void {
    const set = this.members.get(room);
    if (!set) return;
    set.delete(user);
    if (set.size === 0) this.members.delete(room);
  }
}
