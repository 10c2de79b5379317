/**
 * Rooms the app's backend manages through the server API: create, change
 * and delete them, and keep the member lists of private rooms. Each change
 * is written to the store first (the RoomRegistry port), then to this node's
 * RoomDirectory, then takes effect on the sessions here: a member removed
 * from a room, or every member of a deleted room, leaves it at once and is
 * told with a `left` push.
 */
import type { Actor } from '../access/actor.js';
import { mayAdminister, mayReadDirect } from '../access/rules.js';
import { ErrorCode } from '../protocol/codes.js';
import type { RoomKind } from '../protocol/replies.js';
import { check, HubError } from './errors.js';
import type { ControlOp } from './cluster.js';
import type { Membership } from './membership.js';
import type { RoomRecord, RoomRegistry } from './persistence.js';
import type { RoomDirectory } from './room-directory.js';

/** A room as the server API shows it: its effective settings, whether the backend manages it, its counts here. */
export interface RoomView {
  room: string;
  kind: RoomKind;
  durable: boolean;
  managed: boolean;
  maxCount: number | null;
  maxAgeDays: number | null;
  createdAt: number | null;
  users: number;
  sessions: number;
}

export interface RoomSettings {
  kind?: RoomKind | undefined;
  durable?: boolean | undefined;
  maxCount?: number | null | undefined;
  maxAgeDays?: number | null | undefined;
}

export interface RoomAdminDeps {
  directory: RoomDirectory;
  registry: RoomRegistry | null;
  rooms: Membership;
  /** The room's settings as the hub applies them (managed, or from the room rules). */
  effective(name: string): { kind: RoomKind; durable: boolean };
  /** Whether rooms can be stored at all (a store is configured). */
  storing: boolean;
  now(): number;
  /** The other nodes of a cluster, told of each change so that their directories and sessions follow. */
  tell?: ((op: ControlOp) => void) | undefined;
}

export class RoomAdmin {
  constructor(private readonly d: RoomAdminDeps) {}

  private registry(actor: Actor): RoomRegistry {
    check(mayAdminister(actor));
    if (!this.d.registry) throw new HubError(ErrorCode.Unavailable, 'rooms can be managed only with a store');
    return this.d.registry;
  }

  view(actor: Actor, name: string): RoomView {
    check(mayReadDirect(actor));
    return this.viewOf(name);
  }

  /** Managed rooms, and rooms in use here by the room rules, by name. */
  list(actor: Actor): RoomView[] {
    check(mayReadDirect(actor));
    const names = new Set<string>();
    for (const r of this.d.directory.all()) names.add(r.name);
    for (const r of this.d.rooms.list()) names.add(r.room);
    return [...names].sort().map((n) => this.viewOf(n));
  }

  private viewOf(name: string): RoomView {
    const managed = this.d.directory.get(name);
    const { kind, durable } = this.d.effective(name);
    return {
      room: name,
      kind,
      durable,
      managed: managed !== undefined,
      maxCount: managed?.maxCount ?? null,
      maxAgeDays: managed?.maxAgeDays ?? null,
      createdAt: managed?.createdAt ?? null,
      ...this.d.rooms.roomCounts(name),
    };
  }

  async create(actor: Actor, name: string, settings: RoomSettings): Promise<RoomView> {
    const registry = this.registry(actor);
    const record: RoomRecord = {
      name,
      kind: settings.kind ?? 'public',
      durable: (settings.durable ?? true) && this.d.storing,
      maxCount: settings.maxCount ?? null,
      maxAgeDays: settings.maxAgeDays ?? null,
      createdAt: this.d.now(),
    };
    if (!(await registry.createRoom(record))) throw new HubError(ErrorCode.Conflict, `room ${name} exists already`);
    this.d.directory.set(record);
    this.d.rooms.kindChanged(name, record.kind);
    this.d.tell?.({ op: 'roomSet', record });
    return this.viewOf(name);
  }

  async update(actor: Actor, name: string, settings: RoomSettings): Promise<RoomView> {
    const registry = this.registry(actor);
    const old = this.d.directory.get(name);
    if (!old) throw new HubError(ErrorCode.NotFound, `room ${name} is not managed by the server API`);
    const record: RoomRecord = {
      ...old,
      kind: settings.kind ?? old.kind,
      durable: (settings.durable ?? old.durable) && this.d.storing,
      maxCount: settings.maxCount === undefined ? old.maxCount : settings.maxCount,
      maxAgeDays: settings.maxAgeDays === undefined ? old.maxAgeDays : settings.maxAgeDays,
    };
    if (!(await registry.updateRoom(record))) throw new HubError(ErrorCode.NotFound, `room ${name} is not managed by the server API`);
    this.d.directory.set(record);
    this.d.rooms.kindChanged(name, record.kind);
    this.d.tell?.({ op: 'roomSet', record });
    return this.viewOf(name);
  }

  /** Deletes a managed room: its sessions here leave it; its stored messages stay. How many sessions left. */
  async remove(actor: Actor, name: string): Promise<{ sessions: number }> {
    const registry = this.registry(actor);
    if (!(await registry.deleteRoom(name))) throw new HubError(ErrorCode.NotFound, `room ${name} is not managed by the server API`);
    this.d.directory.delete(name);
    const sessions = this.d.rooms.evict(name, null, 'deleted');
    this.d.rooms.kindChanged(name, this.d.effective(name).kind);
    this.d.tell?.({ op: 'roomDeleted', room: name });
    return { sessions };
  }

  members(actor: Actor, room: string): { room: string; users: string[] } {
    check(mayReadDirect(actor));
    return { room, users: this.d.directory.membersOf(room) };
  }

  async addMember(actor: Actor, room: string, user: string): Promise<{ added: boolean }> {
    const added = await this.registry(actor).addRoomMember(room, user);
    this.d.directory.addMember(room, user);
    this.d.tell?.({ op: 'memberAdded', room, user });
    return { added };
  }

  /** Takes a user off a room's member list; its sessions here leave the room at once. */
  async removeMember(actor: Actor, room: string, user: string): Promise<{ removed: boolean; sessions: number }> {
    const removed = await this.registry(actor).removeRoomMember(room, user);
    this.d.directory.removeMember(room, user);
    this.d.tell?.({ op: 'memberRemoved', room, user });
    return { removed, sessions: this.d.rooms.evict(room, user, 'removed') };
  }
}
