import { hashOfEntry, hashRange, keyEntry, keyLength, keyStart } from './entry-key.js';
import { compareKeyRanges } from './keys.js';

/** How full the hash table may get before it grows by half. Linear probing stays short below about 3/4. */
const MAX_LOAD = 0.75;
const GROWTH = 1.5;
/** The sorted array grows by a quarter: it is only copied once per rebuild that overflows it. */
const ORDER_GROWTH = 1.25;
/** Entries are kept in chunks of 2^13 slots (64 KB of references). */
const CHUNK_BITS = 13;
const CHUNK = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK - 1;
const INITIAL_CELLS = 64;
/** The newest keys wait in a sorted buffer this long before they join the big sorted array in one pass. */
const FRESH_LIMIT = 4096;
/**
 * Cells of the old hash table moved to the new one on each write while it grows: enough to empty it long before
 * the new one must grow in turn (after a third of its cells' worth of additions).
 */
const MIGRATION_STEP = 16;
/** In the old hash table while it is emptied: a cell that held a key (moved or removed) and so continues a probe. */
const MOVED = -1;

/** The table's sizes, smaller in tests so that growth and rebuilds happen with a handful of keys. */
export interface EntryTableOptions {
  initialCells?: number;
  freshLimit?: number;
}

/**
 * The in-memory store's index of entries. An entry is a string that starts with its key (`lengthPrefix`, the key,
 * then whatever the store keeps after it); each has a slot number, and the table finds a key's slot in two ways:
 * - by key, through an open-addressing hash table (linear probing) of slot numbers in an `Int32Array`;
 * - in key order (`compareKeys`), through an `Int32Array` of slots sorted by key, in front of which the newest
 *   keys wait in a small sorted buffer until it fills and is merged in, in one pass.
 *
 * Overwriting a key's entry (`set`), which is nearly every write once a store is warm, is one hash probe and
 * touches neither sorted array; only adding and removing a key does. A B+ tree of the entries did a search of
 * about 13 string comparisons on every write, each a cache miss in a busy process. The price is memory: about
 * 17–21 bytes a key (8 for the entries' references, 5–8 for the hash table, 4–5 for the sorted array; 5 more
 * while the hash table grows; none of it given back when keys are removed) against about 11 for the tree.
 *
 * Removing a key takes its slot out of the hash table at once. A key still in the buffer leaves it, and its slot
 * is free at once; a key in the sorted array is only marked there (negated): its slot keeps the key, as a bare
 * key entry, so that searches of the sorted array still work, and is reused only after a rebuild drops it. A
 * rebuild runs when the buffer fills, or when more than an eighth of the sorted array (and more than the buffer's
 * size) is marked. It is a pass over the array, in blocks once no marked key is left before the
 * pass: a few ms at a million keys. (Each added key finds its place in the array when it is added.)
 *
 * The hash table grows by half when it is three quarters full. Rehashing every key at once would hold the event
 * loop for about 400 ns a key (0.3 s at a million keys), so the keys move to the new table a few cells at a time
 * on each later write; until the old table is empty, a key not found in the new one is looked for
 * in the old one.
 */
export class EntryTable {
  /**
   * Entries by slot, in chunks of `CHUNK` slots: no array large enough for V8's large-object space, none copied
   * and left as garbage when the table grows, and at most one chunk unused.
   */
  private readonly chunks: Array<Array<string | undefined>> = [];
  private slots = 0;
  /** Slot + 1 in each used cell, 0 in an empty one. */
  private cells: Int32Array;
  /** While the table grows, the one it replaces: its cells before `moved` are `MOVED` or empty. */
  private old: Int32Array | undefined;
  private moved = 0;
  private used = 0;
  /** Slots in key order; `-(slot + 1)` for a removed key, until the next rebuild. */
  private order = new Int32Array(0);
  private orderLength = 0;
  private removedInOrder = 0;
  /** Slots of keys added since the last rebuild, in key order. */
  private readonly fresh: Int32Array;
  /**
   * Where each fresh key goes in `order` (its lower bound there), found when it was added: `order` keeps its
   * positions until the next rebuild, so the rebuild itself makes no searches and holds the event loop only for
   * a copy of the array.
   */
  private readonly freshAt: Int32Array;
  private freshLength = 0;
  private readonly free: number[] = [];
  /** Slots of removed keys still marked in `order`: free once a rebuild has dropped them. */
  private readonly retired: number[] = [];
  /** Counts additions and removals, so that an iteration can tell that the order changed under it. */
  private changes = 0;

  constructor(options: EntryTableOptions = {}) {
    const { initialCells = INITIAL_CELLS, freshLimit = FRESH_LIMIT } = options;
    for (const [name, value] of Object.entries({ initialCells, freshLimit })) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be a whole number ≥ 1`);
    }
    this.cells = new Int32Array(initialCells);
    this.fresh = new Int32Array(freshLimit);
    this.freshAt = new Int32Array(freshLimit);
  }

  get size(): number {
    return this.used;
  }

  /** The key's slot, or -1 when the table does not hold it. */
  find(key: string): number {
    const hash = hashRange(key, 0, key.length);
    const cell = this.probe(this.cells, hash, key);
    if (cell >= 0) return this.cells[cell]! - 1;
    if (this.old === undefined) return -1;
    const oldCell = this.probe(this.old, hash, key);
    return oldCell < 0 ? -1 : this.old[oldCell]! - 1;
  }

  entry(slot: number): string {
    return this.chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK]!;
  }

  /** Replaces the entry in `slot` with one for the same key. */
  set(slot: number, entry: string): void {
    this.put(slot, entry);
    // So that a store that only overwrites still finishes moving to a grown hash table.
    if (this.old !== undefined) this.migrate();
  }

  /** Adds an entry for `key`, which the table must not hold; returns its slot. */
  add(key: string, entry: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slots++;
      if (slot >> CHUNK_BITS === this.chunks.length)
        this.chunks.push(new Array<string | undefined>(CHUNK).fill(''));
    }
    this.put(slot, entry);
    this.migrate();
    if (this.used + 1 > this.cells.length * MAX_LOAD) this.grow();
    this.place(hashRange(key, 0, key.length), slot);
    this.used++;
    this.changes++;
    const at = this.lowerBound(this.fresh, 0, this.freshLength, key);
    this.fresh.copyWithin(at + 1, at, this.freshLength);
    this.freshAt.copyWithin(at + 1, at, this.freshLength);
    this.fresh[at] = slot;
    this.freshAt[at] = this.lowerBound(this.order, 0, this.orderLength, key);
    if (++this.freshLength === this.fresh.length) this.rebuild();
    return slot;
  }

  /** Removes `key`, which the table must hold. */
  remove(key: string): void {
    this.migrate();
    const hash = hashRange(key, 0, key.length);
    const cell = this.probe(this.cells, hash, key);
    let slot: number;
    if (cell >= 0) {
      slot = this.cells[cell]! - 1;
      this.vacate(cell);
    } else {
      const oldCell = this.probe(this.old!, hash, key);
      slot = this.old![oldCell]! - 1;
      this.old![oldCell] = MOVED;
    }
    this.used--;
    this.changes++;
    const inFresh = this.lowerBound(this.fresh, 0, this.freshLength, key);
    if (inFresh < this.freshLength && this.fresh[inFresh] === slot) {
      this.fresh.copyWithin(inFresh, inFresh + 1, this.freshLength);
      this.freshAt.copyWithin(inFresh, inFresh + 1, this.freshLength);
      this.freshLength--;
      this.put(slot, undefined);
      this.free.push(slot);
      return;
    }
    let inOrder = this.lowerBound(this.order, 0, this.orderLength, key);
    while (inOrder < this.orderLength && this.order[inOrder] !== slot) inOrder++;
    if (inOrder === this.orderLength)
      throw new Error(`the entry table lost the order of ${JSON.stringify(key)}`);
    this.order[inOrder] = -(slot + 1);
    // Keep the key alone (a flat copy, not a slice that would hold the whole entry) for searches of `order`.
    this.put(slot, keyEntry(key));
    this.retired.push(slot);
    if (++this.removedInOrder > Math.max(this.fresh.length, this.orderLength / 8)) this.rebuild();
  }

  /**
   * Slots in key order from the first key at or after `from` (from the first key when undefined). Adding or
   * removing a key while the iteration is under way ends it with an error; `set` does not.
   */
  *slotsFrom(from: string | undefined): Generator<number> {
    const changes = this.changes;
    let i = from === undefined ? 0 : this.lowerBound(this.order, 0, this.orderLength, from);
    let j = from === undefined ? 0 : this.lowerBound(this.fresh, 0, this.freshLength, from);
    for (;;) {
      if (this.changes !== changes) throw new Error('a key was added or removed during an ordered scan');
      while (i < this.orderLength && this.order[i]! < 0) i++;
      const inOrder = i < this.orderLength;
      const inFresh = j < this.freshLength;
      if (!inOrder && !inFresh) return;
      if (inFresh && (!inOrder || this.compareSlots(this.fresh[j]!, this.order[i]!) < 0)) {
        yield this.fresh[j++]!;
      } else {
        yield this.order[i++]!;
      }
    }
  }

  private put(slot: number, entry: string | undefined): void {
    this.chunks[slot >> CHUNK_BITS]![slot & CHUNK_MASK] = entry;
  }

  private compareSlots(a: number, b: number): number {
    const first = this.entry(a);
    const second = this.entry(b);
    const firstStart = keyStart(first);
    const secondStart = keyStart(second);
    return compareKeyRanges(
      first,
      firstStart,
      firstStart + keyLength(first),
      second,
      secondStart,
      secondStart + keyLength(second),
    );
  }

  /** The cell of `cells` holding `key`'s slot, or -1. */
  private probe(cells: Int32Array, hash: number, key: string): number {
    let cell = cellFor(hash, cells.length);
    for (;;) {
      const held = cells[cell]!;
      if (held === 0) return -1;
      if (held > 0) {
        const entry = this.entry(held - 1);
        if (keyLength(entry) === key.length && entry.startsWith(key, keyStart(entry))) return cell;
      }
      if (++cell === cells.length) cell = 0;
    }
  }

  private place(hash: number, slot: number): void {
    const cells = this.cells;
    let cell = cellFor(hash, cells.length);
    while (cells[cell] !== 0) if (++cell === cells.length) cell = 0;
    cells[cell] = slot + 1;
  }

  /** Empties `cell` of the new table, moving later cells of its probe run back so that every key stays reachable from its home. */
  private vacate(cell: number): void {
    const cells = this.cells;
    let hole = cell;
    let next = cell;
    for (;;) {
      if (++next === cells.length) next = 0;
      const held = cells[next]!;
      if (held === 0) break;
      const home = cellFor(hashOfEntry(this.entry(held - 1)), cells.length);
      // The cell at `next` may fill the hole unless its home lies cyclically within (hole, next].
      const between = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!between) {
        cells[hole] = held;
        hole = next;
      }
    }
    cells[hole] = 0;
  }

  private grow(): void {
    if (this.old !== undefined) this.migrate(this.old.length);
    this.old = this.cells;
    this.moved = 0;
    this.cells = new Int32Array(Math.ceil(this.old.length * GROWTH));
  }

  /** Moves the next `cells` cells of the old table, if there is one, to the new. */
  private migrate(cells = MIGRATION_STEP): void {
    const old = this.old;
    if (old === undefined) return;
    const end = Math.min(old.length, this.moved + cells);
    for (; this.moved < end; this.moved++) {
      const held = old[this.moved]!;
      if (held <= 0) continue;
      this.place(hashOfEntry(this.entry(held - 1)), held - 1);
      old[this.moved] = MOVED;
    }
    if (this.moved === old.length) this.old = undefined;
  }

  /**
   * Merges the fresh keys into `order` and drops its removed ones, in one pass from the end, in place (a new
   * array each time would leave the process's memory littered with freed megabytes); frees the retired slots.
   */
  private rebuild(): void {
    const total = this.orderLength + this.freshLength;
    if (total > this.order.length) {
      const bigger = new Int32Array(Math.ceil(total * ORDER_GROWTH));
      bigger.set(this.order.subarray(0, this.orderLength));
      this.order = bigger;
    }
    const order = this.order;
    let write = total;
    let read = this.orderLength;
    let removedLeft = this.removedInOrder;
    // Moves order[stop, read) up to end at `write`, dropping removed keys: a block copy once none are left.
    const moveDown = (stop: number) => {
      if (removedLeft === 0) {
        order.copyWithin(write - (read - stop), stop, read);
        write -= read - stop;
        read = stop;
      }
      while (read > stop) {
        const held = order[--read]!;
        if (held >= 0) order[--write] = held;
        else removedLeft--;
      }
    };
    for (let j = this.freshLength - 1; j >= 0; j--) {
      moveDown(this.freshAt[j]!);
      order[--write] = this.fresh[j]!;
    }
    moveDown(0);
    order.copyWithin(0, write, total);
    this.orderLength = total - write;
    this.freshLength = 0;
    this.removedInOrder = 0;
    for (const slot of this.retired) {
      this.put(slot, undefined);
      this.free.push(slot);
    }
    this.retired.length = 0;
  }

  /** The first position in `slots[from, to)` whose key is at or after `key`. */
  private lowerBound(slots: Int32Array, from: number, to: number, key: string): number {
    let low = from;
    let high = to;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const held = slots[mid]!;
      const entry = this.entry(held < 0 ? -held - 1 : held);
      const entryStart = keyStart(entry);
      if (compareKeyRanges(entry, entryStart, entryStart + keyLength(entry), key, 0, key.length) < 0)
        low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** The home cell of a 32-bit hash among `cells` (by multiplying, so any number of cells works). */
function cellFor(hash: number, cells: number): number {
  return Math.floor((hash * cells) / 4294967296);
}
