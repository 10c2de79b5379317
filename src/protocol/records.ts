/**
 * Records keyed by names that users choose (rooms, user ids). `record[name] = value` with the name `__proto__`
 * changes the record's prototype instead of adding a key, so a conversation with such a name would silently go
 * missing from it.
 */
export function setOwn<V>(record: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
