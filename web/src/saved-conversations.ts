/**
 * The conversation list and the open conversation, kept per user in
 * localStorage so that the next visit opens where this one left off.
 */
import type { Conv } from './conversation.js';

/** As stored; read back unchecked, so the names still need validating. */
export interface SavedConversations {
  rooms?: string[];
  dms?: string[];
  current?: string | null;
}

const storageKey = (user: string): string => `switchboard:convs:${user}`;

export function loadConversations(user: string): SavedConversations | null {
  try {
    return JSON.parse(localStorage.getItem(storageKey(user)) ?? 'null');
  } catch {
    return null;
  }
}

export function saveConversations(user: string, convs: Iterable<Conv>, current: Conv | null): void {
  const all = [...convs];
  try {
    localStorage.setItem(
      storageKey(user),
      JSON.stringify({ rooms: all.filter((c) => c.kind === 'room').map((c) => c.name), dms: all.filter((c) => c.kind === 'dm').map((c) => c.name), current: current?.key ?? null }),
    );
  } catch {
    // storage full or disabled: not essential
  }
}
