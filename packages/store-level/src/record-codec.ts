import { headOf, isTombstone, type JsonValue, type KVRecord, type RecordHead } from '@kvdb/core';

/*
 * A record as LevelDB keeps it (records and hints alike): the JSON of its head (version, tombstone, expiry), then,
 * for a live record, a newline and the JSON text of its value. JSON.stringify never writes a raw newline, so the
 * first one ends the head, and a tombstone is its head alone.
 *
 * Data format 2 kept a record as the JSON of the whole record, with no newline: a tombstone reads the same either
 * way, and a live record without a newline is read as one of those.
 */

/** The text of `record` on disk, and the text of its head alone (see `HEADS` in data-dir.ts). */
export function encodeRecord(record: KVRecord): { head: string; text: string } {
  const head = JSON.stringify(headOf(record));
  if (isTombstone(record)) return { head, text: head };
  const value = JSON.stringify(record.value) as string | undefined;
  // An empty value would read back as a tombstone.
  if (value === undefined) throw new TypeError('the value is not JSON');
  return { head, text: `${head}\n${value}` };
}

/** The record whose text on disk is `text` (see `encodeRecord`; data format 2's too). */
export function decodeRecord(text: string): KVRecord {
  const end = text.indexOf('\n');
  if (end < 0) return JSON.parse(text) as KVRecord;
  const head = JSON.parse(text.slice(0, end)) as RecordHead;
  const value = JSON.parse(text.slice(end + 1)) as JsonValue;
  return head.expires === undefined
    ? { version: head.version, value }
    : { version: head.version, value, expires: head.expires };
}

/** The head of the record whose text on disk starts with `text` (the whole text, or at least up to its newline). */
export function decodeHead(text: string): RecordHead {
  const end = text.indexOf('\n');
  return headOf(JSON.parse(end < 0 ? text : text.slice(0, end)) as KVRecord);
}
