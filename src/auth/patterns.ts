/** What a room pattern may be: a room name (protocol's ROOM_NAME), or a prefix of one followed by `*`. */
export const ROOM_PATTERN = /^(?:[A-Za-z0-9_.:-]{1,100}|[A-Za-z0-9_.:-]{0,99}\*)$/;

/** Room patterns used by room rules and token grants: an exact name, or a prefix ending in `*`. */
export function matchesPattern(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

export function matchesAny(patterns: readonly string[], name: string): boolean {
  for (const p of patterns) if (matchesPattern(p, name)) return true;
  return false;
}
