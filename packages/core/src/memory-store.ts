import sortedBtree from 'sorted-btree';
import { compareKeys, scanPage } from './keys.js';
import type { KeyVersion } from './protocol.js';
import { isTombstone, type JsonValue, type KVRecord, type RecordHead, supersedes } from './record.js';
import type { EntriesOptions, MergeResult, ScanOptions, Store, StoreCounts } from './store.js';
import { compareVersions, type Version } from './version.js';

const BTree = sortedBtree.default;

/**
 * The default store: every record in memory, in a B+ tree sorted by `compareKeys` so that listings page in order.
 * Nothing survives the process.
 *
 * A record is kept as one flat string, `wall.counter.writer:json` (`~` in place of `:json` for a tombstone;
 * numbers in base 36, the writer as an index into a table of node addresses). A million 100-byte values take about
 * 200 MB this way, against 320 MB as `{version: {wall, counter, node}, value}` objects with their own copies
 * of each writer's address. The cost is a JSON.parse of the value on each read (a write reads only the head).
 */
export class MemoryStore implements Store {
  private readonly records = new BTree<string, string>(undefined, compareKeys, 64);
  private readonly writers: string[] = [];
  private readonly writerIndex = new Map<string, number>();
  private tombstones = 0;

  async get(key: string): Promise<KVRecord | undefined> {
    return this.getSync(key);
  }

  getSync(key: string): KVRecord | undefined {
    const packed = this.records.get(key);
    return packed === undefined ? undefined : this.unpack(packed);
  }

  async merge(key: string, record: KVRecord): Promise<MergeResult> {
    return this.mergeSync(key, record);
  }

  /** The synchronous core of `merge`, for callers that hold many records at once. */
  mergeSync(key: string, record: KVRecord): MergeResult {
    const packed = this.records.get(key);
    const previous = packed === undefined ? undefined : this.head(packed);
    if (!supersedes(record, previous)) return { applied: false, previous };
    if (previous?.deleted) this.tombstones--;
    if (isTombstone(record)) this.tombstones++;
    this.records.set(key, this.pack(record));
    return { applied: true, previous };
  }

  async remove(key: string, version: Version): Promise<boolean> {
    const packed = this.records.get(key);
    if (packed === undefined) return false;
    const current = this.unpack(packed);
    if (compareVersions(current.version, version) !== 0) return false;
    if (isTombstone(current)) this.tombstones--;
    this.records.delete(key);
    return true;
  }

  *entries(options: EntriesOptions = {}): Iterable<[string, KVRecord]> {
    const { prefix } = options;
    for (const [key, packed] of this.records.entries(prefix)) {
      if (prefix !== undefined && !key.startsWith(prefix)) return;
      yield [key, this.unpack(packed)];
    }
  }

  scanKeys(options: ScanOptions): KeyVersion[] {
    return scanPage(
      (from) => this.records.entries(from),
      options,
      (packed) => this.unpackHead(packed),
    );
  }

  async counts(): Promise<StoreCounts> {
    return { live: this.records.size - this.tombstones, tombstones: this.tombstones };
  }

  async close(): Promise<void> {}

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

  private unpackHead(packed: string): { version: Version; deleted: boolean; end: number } {
    const first = packed.indexOf('.');
    const second = packed.indexOf('.', first + 1);
    let end = second + 1;
    while (packed[end] !== ':' && packed[end] !== '~') end++;
    const version = {
      wall: Number.parseInt(packed.slice(0, first), 36),
      counter: Number.parseInt(packed.slice(first + 1, second), 36),
      node: this.writers[Number.parseInt(packed.slice(second + 1, end), 36)]!,
    };
    return { version, deleted: packed[end] === '~', end };
  }

  private head(packed: string): RecordHead {
    const { version, deleted } = this.unpackHead(packed);
    return deleted ? { version, deleted } : { version };
  }

  private unpack(packed: string): KVRecord {
    const { version, deleted, end } = this.unpackHead(packed);
    if (deleted) return { version, deleted: true };
    return { version, value: JSON.parse(packed.slice(end + 1)) as JsonValue };
  }
}
