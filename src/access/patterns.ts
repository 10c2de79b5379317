import { ROOM_NAME } from '../protocol/commands.js';

/** A pattern that can match a room: a room name, or a prefix of one (possibly empty) followed by `*`. */
export function isRoomPattern(pattern: string): boolean {
  if (!pattern.endsWith('*')) return ROOM_NAME.test(pattern);
  return pattern.length === 1 || ROOM_NAME.test(pattern.slice(0, -1));
}

/** Room patterns used by room rules and token grants: an exact name, or a prefix ending in `*`. */
export function matchesPattern(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

export function matchesAny(patterns: readonly string[], name: string): boolean {
  for (const p of patterns) if (matchesPattern(p, name)) return true;
  return false;
}
