import sortedBtree from 'sorted-btree';
import { compareKeyRanges, scanPage } from './keys.js';
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

const BTree = sortedBtree.default;

/** A character beyond U+00FF: a string without one is stored one byte per character. */
const WIDE = /[\u0100-\uffff]/;

/**
 * The default store: every record in memory, in a B+ tree sorted by `compareKeys` so that listings page in order.
 * Nothing survives the process.
 *
 * A record is one flat string, held as the tree's key with no value beside it: the key's length, the key, then
 * `wall.counter.writer:json` (`~` in place of `:json` for a tombstone; numbers in base 36, the writer as an index
 * into a table of node addresses). The tree compares entries by their key part alone, so a write replaces the
 * entry in place. A million 100-byte values take 155 MB of heap this way, against 189 MB with the key and the
 * record as two strings and about 320 MB as `{version: {wall, counter, node}, value}` objects. A key with
 * characters beyond U+00FF keeps its record as the tree's value instead, so that it does not widen the record to
 * two bytes a character. The costs: a JSON.parse of the value on each read (a write reads only the head), and
 * sorted-btree keeps a leaf's largest key in the nodes above it without refreshing it on overwrite, so up to one
 * replaced record per leaf (of 32–64 entries) can stay alive until the tree's structure there changes.
 */
export class MemoryStore implements Store {
  private readonly records = new BTree<string, string | undefined>(undefined, compareEntries, 64);
  private readonly writers: string[] = [];
  private readonly writerIndex = new Map<string, number>();
  private readonly found: [string, string | undefined] = ['', undefined];
  private tombstones = 0;
  private closed = false;

  async get(key: string): Promise<KVRecord | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): KVRecord | undefined {
    const stored = this.lookup(key);
    return stored === undefined ? undefined : this.unpack(stored[0], stored[1]);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.mergeSync(key, record);
  }

  /** The synchronous core of `merge`, for callers that hold many records at once. */
  mergeSync(key: string, record: KVRecord): MergeResult {
    const stored = this.lookup(key);
    const previous = stored === undefined ? undefined : this.head(stored[0], stored[1]);
    if (!supersedes(record, previous)) return { applied: false, previous };
    if (previous?.deleted) this.tombstones--;
    if (isTombstone(record)) this.tombstones++;
    const packed = this.pack(record);
    if (!WIDE.test(key)) this.records.set([lengthPrefix(key.length), key, packed].join(''), undefined);
    else this.records.set(entryPrefix(key), packed);
    return { applied: true, previous };
  }

  async remove(key: string, version: Version): Promise<boolean> {
    const stored = this.lookup(key);
    if (stored === undefined) return false;
    const { version: current, deleted } = this.head(stored[0], stored[1]);
    if (compareVersions(current, version) !== 0) return false;
    if (deleted) this.tombstones--;
    this.records.delete(stored[0]);
    return true;
  }

  *entries(options: EntriesOptions = {}): Iterable<[string, KVRecord]> {
    const { prefix } = options;
    for (const [key, [entry, packed]] of this.sorted(prefix)) {
      if (prefix !== undefined && !key.startsWith(prefix)) return;
      yield [key, this.unpack(entry, packed)];
    }
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    return scanPage(
      (from) => this.sorted(from),
      options,
      ([entry, packed]) => this.unpackHead(entry, packed),
    );
  }

  async counts(): Promise<StoreCounts> {
    return { live: this.records.size - this.tombstones, tombstones: this.tombstones };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The key's entry and, for a key beyond Latin-1, its packed record; undefined when the key is not stored. */
  private lookup(key: string): [string, string | undefined] | undefined {
    if (this.closed) throw storeClosed();
    const probe = entryPrefix(key);
    const pair = this.records.getPairOrNextHigher(probe, this.found);
    return pair !== undefined && compareEntries(pair[0], probe) === 0 ? pair : undefined;
  }

  /** `[key, [entry, packed record or undefined]]` in key order from `from` (inclusive; from the first key when undefined). */
  private *sorted(from: string | undefined): Iterable<[string, [string, string | undefined]]> {
    if (this.closed) throw storeClosed();
    for (const pair of this.records.entries(from === undefined ? undefined : entryPrefix(from))) {
      const start = keyStart(pair[0]);
      yield [pair[0].slice(start, start + keyLength(pair[0])), pair];
    }
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

  /** Reads the head of the record packed in `packed` if given, else in `entry` after its key. */
  private unpackHead(
    entry: string,
    packed: string | undefined,
  ): { version: Version; deleted: boolean; text: string; end: number } {
    const text = packed ?? entry;
    const start = packed === undefined ? keyStart(entry) + keyLength(entry) : 0;
    const first = text.indexOf('.', start);
    const second = text.indexOf('.', first + 1);
    let end = second + 1;
    while (text[end] !== ':' && text[end] !== '~') end++;
    const version = {
      wall: Number.parseInt(text.slice(start, first), 36),
      counter: Number.parseInt(text.slice(first + 1, second), 36),
      node: this.writers[Number.parseInt(text.slice(second + 1, end), 36)]!,
    };
    return { version, deleted: text[end] === '~', text, end };
  }

  private head(entry: string, packed: string | undefined): RecordHead {
    const { version, deleted } = this.unpackHead(entry, packed);
    return deleted ? { version, deleted } : { version };
  }

  private unpack(entry: string, packed: string | undefined): KVRecord {
    const { version, deleted, text, end } = this.unpackHead(entry, packed);
    if (deleted) return { version, deleted: true };
    return { version, value: JSON.parse(text.slice(end + 1)) as JsonValue };
  }
}

/**
 * An entry starts with its key's length: one character below 255, or 255 and three more (base 256). Every one of
 * them is at most U+00FF, so a Latin-1 key and record stay a one-byte string.
 */
function lengthPrefix(length: number): string {
  if (length < 0xff) return String.fromCharCode(length);
  return String.fromCharCode(0xff, length >>> 16, (length >>> 8) & 0xff, length & 0xff);
}

/** The key as an entry with no record: what lookups search the tree with. */
function entryPrefix(key: string): string {
  return lengthPrefix(key.length) + key;
}

function keyStart(entry: string): number {
  return entry.charCodeAt(0) < 0xff ? 1 : 4;
}

function keyLength(entry: string): number {
  const first = entry.charCodeAt(0);
  if (first < 0xff) return first;
  return (entry.charCodeAt(1) << 16) | (entry.charCodeAt(2) << 8) | entry.charCodeAt(3);
}

/** `compareKeys` of the two entries' keys. */
function compareEntries(a: string, b: string): number {
  const aStart = keyStart(a);
  const bStart = keyStart(b);
  return compareKeyRanges(a, aStart, aStart + keyLength(a), b, bStart, bStart + keyLength(b));
}
