import {
  EntryTable,
  type EntryTableOptions,
  keyEnd,
  keyLength,
  keyStart,
  lengthPrefix,
} from './entry-table.js';
import { scanPage } from './keys.js';
import type { KeyVersion } from './protocol.js';
import { isTombstone, type JsonValue, type KVRecord, type RecordHead, supersedes } from './record.js';
import {
  type EntriesOptions,
  type MergeResult,
  type ScanOptions,
  type Store,
  type StoreCounts,
  storeClosed,
} from './store.js';
import { compareVersions, type Version } from './version.js';

/** A character beyond U+00FF: a string without one is stored one byte per character. */
const WIDE = /[\u0100-\uffff]/;

/**
 * The default store: every record in memory, indexed by an `EntryTable` (a hash table for reads and writes, a
 * sorted array for listings in `compareKeys` order). Nothing survives the process.
 *
 * A record is one flat string, the table's entry: the key's length, the key, then `wall.counter.writer:json` (`~`
 * in place of `:json` for a tombstone; numbers in base 36, the writer as an index into a table of node
 * addresses). A million 100-byte values take about 170 MB of heap this way (the entries, and 17–25 bytes a key
 * of index), against about 200 MB with the key and the record as two strings and about 320 MB as
 * `{version: {wall, counter, node}, value}` objects. A key with characters beyond U+00FF keeps only itself in its
 * entry and its record in `wide`, so that it does not widen the record to two bytes a character. The cost of the
 * packing: a JSON.parse of the value on each read (a write reads only the head).
 */
export class MemoryStore implements Store {
  private readonly table: EntryTable;
  /** The packed records of keys beyond Latin-1, by slot. */
  private readonly wide = new Map<number, string>();
  private readonly writers: string[] = [];
  private readonly writerIndex = new Map<string, number>();
  private tombstones = 0;
  private closed = false;

  constructor(options: EntryTableOptions = {}) {
    this.table = new EntryTable(options);
  }

  async get(key: string): Promise<KVRecord | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): KVRecord | undefined {
    const slot = this.find(key);
    return slot < 0 ? undefined : this.unpack(slot);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.mergeSync(key, record);
  }

  /** The synchronous core of `merge`, for callers that hold many records at once. */
  mergeSync(key: string, record: KVRecord): MergeResult {
    const slot = this.find(key);
    const previous = slot < 0 ? undefined : this.head(slot);
    if (!supersedes(record, previous)) return { applied: false, previous };
    if (previous?.deleted) this.tombstones--;
    if (isTombstone(record)) this.tombstones++;
    const packed = this.pack(record);
    if (slot >= 0 ? this.isWide(slot) : WIDE.test(key)) {
      this.wide.set(slot >= 0 ? slot : this.table.add(key, [lengthPrefix(key.length), key].join('')), packed);
    } else {
      const entry = [lengthPrefix(key.length), key, packed].join('');
      if (slot >= 0) this.table.set(slot, entry);
      else this.table.add(key, entry);
    }
    return { applied: true, previous };
  }

  async remove(key: string, version: Version): Promise<boolean> {
    const slot = this.find(key);
    if (slot < 0) return false;
    const { version: current, deleted } = this.unpackHead(slot);
    if (compareVersions(current, version) !== 0) return false;
    if (deleted) this.tombstones--;
    this.wide.delete(slot);
    this.table.remove(key);
    return true;
  }

  *entries(options: EntriesOptions = {}): Iterable<[string, KVRecord]> {
    const { prefix } = options;
    for (const [key, slot] of this.sorted(prefix)) {
      if (prefix !== undefined && !key.startsWith(prefix)) return;
      yield [key, this.unpack(slot)];
    }
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    return scanPage(
      (from) => this.sorted(from),
      options,
      (slot) => this.unpackHead(slot),
    );
  }

  async counts(): Promise<StoreCounts> {
    return { live: this.table.size - this.tombstones, tombstones: this.tombstones };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The key's slot in the table, or -1. */
  private find(key: string): number {
    if (this.closed) throw storeClosed();
    return this.table.find(key);
  }

  /** `[key, slot]` in key order from `from` (inclusive; from the first key when undefined). */
  private *sorted(from: string | undefined): Iterable<[string, number]> {
    if (this.closed) throw storeClosed();
    for (const slot of this.table.slotsFrom(from)) {
      const entry = this.table.entry(slot);
      const start = keyStart(entry);
      yield [entry.slice(start, start + keyLength(entry)), slot];
    }
  }

  /** Whether the slot's record is in `wide`: its entry holds the key alone. */
  private isWide(slot: number): boolean {
    const entry = this.table.entry(slot);
    return entry.length === keyEnd(entry);
  }

  private pack(record: KVRecord): string {
    const { wall, counter, node } = record.version;
    let writer = this.writerIndex.get(node);
    if (writer === undefined) {
      writer = this.writers.push(node) - 1;
      this.writerIndex.set(node, writer);
    }
    const head = `${wall.toString(36)}.${counter.toString(36)}.${writer.toString(36)}`;
    // join() builds one flat string; `+` would keep a rope of two strings, nearly doubling the memory per record.
    return isTombstone(record) ? `${head}~` : [head, ':', JSON.stringify(record.value)].join('');
  }

  /** Reads the head of the slot's record. */
  private unpackHead(slot: number): { version: Version; deleted: boolean; text: string; end: number } {
    const entry = this.table.entry(slot);
    const keyEnds = keyEnd(entry);
    const wide = keyEnds === entry.length;
    const text = wide ? this.wide.get(slot)! : entry;
    const from = wide ? 0 : keyEnds;
    const first = text.indexOf('.', from);
    const second = text.indexOf('.', first + 1);
    let end = second + 1;
    while (text[end] !== ':' && text[end] !== '~') end++;
    const version = {
      wall: Number.parseInt(text.slice(from, first), 36),
      counter: Number.parseInt(text.slice(first + 1, second), 36),
      node: this.writers[Number.parseInt(text.slice(second + 1, end), 36)]!,
    };
    return { version, deleted: text[end] === '~', text, end };
  }

  private head(slot: number): RecordHead {
    const { version, deleted } = this.unpackHead(slot);
    return deleted ? { version, deleted } : { version };
  }

  private unpack(slot: number): KVRecord {
    const { version, deleted, text, end } = this.unpackHead(slot);
    if (deleted) return { version, deleted: true };
    return { version, value: JSON.parse(text.slice(end + 1)) as JsonValue };
  }
}
