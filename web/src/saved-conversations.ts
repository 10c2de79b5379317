/**
 * The conversation list and the open conversation, kept per user in
 * localStorage so that the next visit opens where this one left off.
 */
import type { Conv } from './conversation.js';

/** As stored, in shape; the names still need validating. */
export interface SavedConversations {
  rooms?: string[];
  dms?: string[];
  current?: string | null;
}

const storageKey = (user: string): string => `switchboard:convs:${user}`;

/**
 * Storage is anyone's to edit (another version of the app, an extension, the user in the developer tools): what
 * is not in shape is left out, rather than failing the start of the chat.
 */
export function loadConversations(user: string): SavedConversations | null {
  let saved: unknown;
  try {
    saved = JSON.parse(localStorage.getItem(storageKey(user)) ?? 'null');
  } catch {
    return null;
  }
  if (typeof saved !== 'object' || saved === null) return null;
  const { rooms, dms, current } = saved as Record<string, unknown>;
  return { rooms: strings(rooms), dms: strings(dms), current: typeof current === 'string' ? current : null };
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
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
