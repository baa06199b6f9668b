import {
  headOf,
  isTombstone,
  type JsonValue,
  type KVRecord,
  type PaxosState,
  type RecordHead,
  toJsonText,
  trustJsonText,
} from '@kvdb/core';

/*
 * A record as LevelDB keeps it (records and hints alike): the JSON of its head (version, tombstone, expiry), then,
 * for a live record, a newline and the JSON text of its value. JSON.stringify never writes a raw newline, so the
 * first one ends the head, and a tombstone is its head alone.
 *
 * The value's text is the one the client sent (see `JsonText` in @kvdb/core), written and read back as it is.
 *
 * Data format 2 kept a record as the JSON of the whole record, its value parsed, with no newline: a tombstone
 * reads the same either way, and a live record without a newline is read as one of those.
 */

/** The text of `record` on disk, and the text of its head alone (see `HEADS` in data-dir.ts). */
export function encodeRecord(record: KVRecord): { head: string; text: string } {
  const head = JSON.stringify(headOf(record));
  if (isTombstone(record)) return { head, text: head };
  // An empty value would read back as a tombstone.
  if (typeof record.value !== 'string' || record.value.length === 0) {
    throw new TypeError('the value is not JSON text');
  }
  return { head, text: `${head}\n${record.value}` };
}

/** The record whose text on disk is `text` (see `encodeRecord`; data format 2's too). */
export function decodeRecord(text: string): KVRecord {
  const end = text.indexOf('\n');
  if (end < 0) return fromFormat2(JSON.parse(text) as KVRecord | (RecordHead & { value: JsonValue }));
  const head = JSON.parse(text.slice(0, end)) as RecordHead;
  const value = trustJsonText(text.slice(end + 1));
  return head.expires === undefined
    ? { version: head.version, value }
    : { version: head.version, value, expires: head.expires };
}

/** The head of the record whose text on disk starts with `text` (the whole text, or at least up to its newline). */
export function decodeHead(text: string): RecordHead {
  const end = text.indexOf('\n');
  return headOf(JSON.parse(end < 0 ? text : text.slice(0, end)) as KVRecord);
}

/** A record of data format 2, whose value was kept parsed: its value as text. */
function fromFormat2(record: KVRecord | (RecordHead & { value: JsonValue })): KVRecord {
  if (record.deleted === true) return record as KVRecord;
  const { version, expires } = record;
  const value = toJsonText((record as { value: JsonValue }).value);
  return expires === undefined ? { version, value } : { version, value, expires };
}

/** The text of a serial round's state of data format 2, whose accepted record held its value parsed, in this format. */
export function paxosFromFormat2(text: string): string {
  const state = JSON.parse(text) as PaxosState;
  const record = state.accepted?.record;
  if (state.accepted === undefined || record === undefined || record === null) return text;
  return JSON.stringify({ ...state, accepted: { ...state.accepted, record: fromFormat2(record) } });
}
