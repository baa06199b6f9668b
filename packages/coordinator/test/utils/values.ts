import { type JsonText, type JsonValue, type KVRecord, toJsonText, type Version } from '@kvdb/core';

/** The JSON text of a value, as a client sends it: what the coordinator takes, stores and answers. */
export function text(value: JsonValue): JsonText {
  return toJsonText(value);
}

/** A live record holding `value` as its JSON text, as stores hold values; expiring at `expires` when given. */
export function live(version: Version, value: JsonValue, expires?: number): KVRecord {
  return expires === undefined ? { version, value: text(value) } : { version, value: text(value), expires };
}
