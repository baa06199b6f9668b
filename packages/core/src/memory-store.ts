import { keyEnd, keyEntry, keyLength, keyStart, lengthPrefix } from './entry-key.js';
import { EntryTable, type EntryTableOptions } from './entry-table.js';
import { trustJsonText } from './json-text.js';
import { scanPage } from './keys.js';
import type { KeyVersion } from './peer-protocol.js';
import { isTombstone, type KVRecord, type RecordHead, supersedes } from './record.js';
import {
  type EntriesOptions,
  type MergeResult,
  type ScanOptions,
  type Store,
  type StoreCounts,
  storeClosed,
} from './store.js';
import { compareVersions, type Version } from './version.js';

/** Writer indexes take at most three bytes of a record's head. */
const MAX_WRITERS = 2 ** 24;

/**
 * A character after the version below this is the byte count of an expiry (1–7: a safe integer from 1 up), never
 * the start of a value's JSON (`{`, `[`, `"`, `-`, a digit or a letter).
 */
const EXPIRY_MARKS = 8;

/** A character beyond U+00FF: a string without one is stored one byte per character. */
const WIDE = /[\u0100-\uffff]/;

/** What a live record holds after its head in a store that keeps heads only: a character no JSON starts with. */
const NO_VALUE = '.';

export interface MemoryStoreOptions extends EntryTableOptions {
  /**
   * Keep each live record's value. Without, the store is a keydir (as Bitcask's): keys and record heads only,
   * which is all that `headSync`, `scanKeys`, merge results and `counts` read, for a store that keeps its values
   * elsewhere (`DiskStore` in @kvdb/store-level); its `get`, `getSync` and `entries` throw. @default true
   */
  values?: boolean;
}

/**
 * The default store: every record in memory, indexed by an `EntryTable` (a hash table for reads and writes, a
 * sorted array for listings in `compareKeys` order). Nothing survives the process.
 *
 * A record is one flat string, the table's entry: the key's length, the key, the version and the expiry (if any)
 * as a binary head (see `packHead`; the writer as an index into a table of node addresses), then the value's JSON
 * (nothing for a tombstone). A million 100-byte values take about 144 MB of heap this way (the entries and the
 * slot array; the index's other arrays are outside the heap), against about 200 MB with the key and the record as
 * two strings and about 285 MB as `{version: {wall, counter, node}, value}` objects. A key with characters beyond
 * U+00FF keeps only itself in its entry and its record in `wide`, so that it does not widen the record to two
 * bytes a character. Values are kept as the JSON text they arrived as, so a read parses nothing (a write reads
 * only the head).
 */
export class MemoryStore implements Store {
  private readonly table: EntryTable;
  /** The packed records of keys beyond Latin-1, by slot. */
  private readonly wide = new Map<number, string>();
  private readonly writers: string[] = [];
  private readonly writerIndex = new Map<string, number>();
  private readonly headCodes: number[] = [];
  private tombstones = 0;
  private closed = false;
  private readonly values: boolean;

  constructor(options: MemoryStoreOptions = {}) {
    const { values = true, ...table } = options;
    this.table = new EntryTable(table);
    this.values = values;
  }

  async get(key: string): Promise<KVRecord | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): KVRecord | undefined {
    const slot = this.find(key);
    return slot < 0 ? undefined : this.unpack(slot);
  }

  headSync(key: string): RecordHead | undefined {
    const slot = this.find(key);
    return slot < 0 ? undefined : this.head(slot);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.mergeSync(key, record);
  }

  mergeSync(key: string, record: KVRecord): MergeResult {
    const slot = this.find(key);
    const previous = slot < 0 ? undefined : this.head(slot);
    if (!supersedes(record, previous)) return { applied: false, previous };
    const tombstone = isTombstone(record);
    const json = tombstone ? '' : this.values ? record.value : NO_VALUE;
    // An empty value would read back as a tombstone.
    if (typeof json !== 'string' || (!tombstone && json.length === 0)) {
      throw new TypeError(`the value of ${JSON.stringify(key)} is not JSON text`);
    }
    const head = this.packHead(record.version, tombstone ? undefined : record.expires);
    if (previous?.deleted) this.tombstones--;
    if (tombstone) this.tombstones++;
    if (slot >= 0 ? this.isWide(slot) : WIDE.test(key)) {
      const packed = [head, json].join('');
      this.wide.set(slot >= 0 ? slot : this.table.add(key, keyEntry(key)), packed);
    } else {
      // join() builds one flat string; `+` would keep a rope of strings, nearly doubling the memory per record.
      const entry = [lengthPrefix(key.length), key, head, json].join('');
      if (slot >= 0) this.table.set(slot, entry);
      else this.table.add(key, entry);
    }
    return { applied: true, previous };
  }

  async remove(key: string, version: Version): Promise<boolean> {
    return this.removeSync(key, version);
  }

  /** `remove` done at once: for a store that keeps its records here and writes them elsewhere too. */
  removeSync(key: string, version: Version): boolean {
    const slot = this.find(key);
    if (slot < 0) return false;
    const { version: current, deleted } = this.unpackHead(slot);
    if (compareVersions(current, version) !== 0) return false;
    if (deleted) this.tombstones--;
    this.wide.delete(slot);
    this.table.remove(key);
    return true;
  }

  /**
   * Every record, tombstones included, in key order, in one synchronous pass: what tests and tools compare whole
   * stores by. (A node reads through `scanKeys` and `get`, which every `Store` has.)
   */
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

  isOpen(): boolean {
    return !this.closed;
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

  /**
   * The version as a head of 1–11 characters, each U+0000–U+00FF: a tag holding the byte counts of the wall
   * (bits 0–2), the counter (bits 3–5) and the writer's index (bits 6–7), then those bytes, most significant
   * first. A real version (a 6-byte wall, a small counter, one of a few writers) takes 7–9 characters. An expiry
   * follows as its byte count (below `EXPIRY_MARKS`) and its bytes: 7 more characters for a real one, none for a
   * record without.
   */
  private packHead({ wall, counter, node }: Version, expires: number | undefined): string {
    let writer = this.writerIndex.get(node);
    if (writer === undefined) {
      if (this.writers.length === MAX_WRITERS) throw new Error(`more than ${MAX_WRITERS} writers`);
      writer = this.writers.push(node) - 1;
      this.writerIndex.set(node, writer);
    }
    const codes = this.headCodes;
    codes.length = 1;
    const wallBytes = pushBytes(codes, wall);
    const counterBytes = pushBytes(codes, counter);
    const writerBytes = pushBytes(codes, writer);
    codes[0] = wallBytes | (counterBytes << 3) | (writerBytes << 6);
    if (expires !== undefined) {
      const mark = codes.push(0) - 1;
      codes[mark] = pushBytes(codes, expires);
    }
    return String.fromCharCode.apply(null, codes);
  }

  /** Reads the head of the slot's record; `end` is where its value's JSON starts (the end, for a tombstone). */
  private unpackHead(slot: number): {
    version: Version;
    deleted: boolean;
    expires: number | undefined;
    text: string;
    end: number;
  } {
    const entry = this.table.entry(slot);
    const keyEnds = keyEnd(entry);
    const wide = keyEnds === entry.length;
    const text = wide ? this.wide.get(slot) : entry;
    if (text === undefined) throw new Error(`the wide key in slot ${slot} has no record`);
    let at = wide ? 0 : keyEnds;
    const tag = text.charCodeAt(at++);
    let wall = 0;
    for (const end = at + (tag & 7); at < end; at++) wall = wall * 256 + text.charCodeAt(at);
    let counter = 0;
    for (const end = at + ((tag >> 3) & 7); at < end; at++) counter = counter * 256 + text.charCodeAt(at);
    let writer = 0;
    for (const end = at + (tag >> 6); at < end; at++) writer = writer * 256 + text.charCodeAt(at);
    const node = this.writers[writer];
    if (node === undefined)
      throw new Error(`the record in slot ${slot} names writer ${writer}, which is unknown`);
    let expires: number | undefined;
    const mark = text.charCodeAt(at);
    if (mark < EXPIRY_MARKS) {
      expires = 0;
      for (const end = ++at + mark; at < end; at++) expires = expires * 256 + text.charCodeAt(at);
    }
    return {
      version: { wall, counter, node },
      deleted: at === text.length,
      expires,
      text,
      end: at,
    };
  }

  private head(slot: number): RecordHead {
    const { version, deleted, expires } = this.unpackHead(slot);
    if (deleted) return { version, deleted };
    return expires === undefined ? { version } : { version, expires };
  }

  private unpack(slot: number): KVRecord {
    if (!this.values)
      throw new Error('this MemoryStore keeps record heads only: read values where they are kept');
    const { version, deleted, expires, text, end } = this.unpackHead(slot);
    if (deleted) return { version, deleted: true };
    const value = trustJsonText(text.slice(end));
    return expires === undefined ? { version, value } : { version, value, expires };
  }
}

/** Appends the bytes of a safe, non-negative integer (none for 0), most significant first; returns how many. */
function pushBytes(codes: number[], value: number): number {
  const start = codes.length;
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) codes.push(rest % 256);
  const bytes = codes.length - start;
  for (let low = start, high = codes.length - 1; low < high; low++, high--) {
    const swap = codes[low] ?? 0;
    codes[low] = codes[high] ?? 0;
    codes[high] = swap;
  }
  return bytes;
}
