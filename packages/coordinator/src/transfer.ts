import type { KVRecord } from '@kvdb/core';

/** A key and its record, as a batched write carries them. */
export type Entry = [key: string, record: KVRecord];

/** How large one batched call of a background transfer may grow. */
export interface BatchLimits {
  /** Most entries in a batch. */
  maxCount: number;
  /** Most bytes of entries in a batch (see `entryBytes`); an entry larger than this goes alone. */
  maxBytes: number;
}

/** A batch of entries and their bytes, which the transfer charges to the node's throttle. */
export interface EntryBatch {
  entries: Entry[];
  bytes: number;
}

/**
 * The bytes an entry takes in a call's JSON, as UTF-8: what a peer counts against its frame limit. One
 * `JSON.stringify` of the entry, the cost the wire pays anyway.
 */
export function entryBytes(key: string, record: KVRecord): number {
  return Buffer.byteLength(JSON.stringify([key, record])) + 1;
}

/**
 * Cuts entries into batches of at most `maxCount` entries and `maxBytes` bytes, so that no call of a background
 * transfer grows past the peers' frame limit, whatever the size of the values. Entries are taken from `source`
 * only as batches are asked for: a caller that sends each batch before asking for the next holds one batch at a
 * time, and reads each record (from a store, or a live queue) when its batch is made.
 */
export async function* entryBatches(
  source: Iterable<Entry> | AsyncIterable<Entry>,
  limits: BatchLimits,
): AsyncGenerator<EntryBatch> {
  let batch: EntryBatch = { entries: [], bytes: 0 };
  for await (const entry of source) {
    const bytes = entryBytes(entry[0], entry[1]);
    if (batch.entries.length > 0 && batch.bytes + bytes > limits.maxBytes) {
      yield batch;
      batch = { entries: [], bytes: 0 };
    }
    batch.entries.push(entry);
    batch.bytes += bytes;
    if (batch.entries.length >= limits.maxCount) {
      yield batch;
      batch = { entries: [], bytes: 0 };
    }
  }
  if (batch.entries.length > 0) yield batch;
}

/** The current record of each key, read one at a time as they are asked for; keys without one are left out. */
export async function* readEntries(
  read: (key: string) => Promise<KVRecord | undefined>,
  keys: Iterable<string>,
): AsyncGenerator<Entry> {
  for (const key of keys) {
    const record = await read(key);
    if (record !== undefined) yield [key, record];
  }
}
