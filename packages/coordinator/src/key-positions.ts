import { compareKeys, RING_SIZE } from '@kvdb/core';

/** Buckets of positions: 2^16 of them, each 2^32 positions of the 2^48 on the ring. */
const BUCKETS = 2 ** 16;
const BUCKET_SPAN = RING_SIZE / BUCKETS;

/** A key found in ring order: `[key, position]`. */
export type PlacedKey = [key: string, position: number];

/** The keys of one bucket, with their positions, in two arrays kept side by side; sorted before they are read. */
interface Bucket {
  keys: string[];
  positions: number[];
  sorted: boolean;
}

/**
 * Every key a replica holds, in ring order: by position on the ring (the hasher's number for the key), then by
 * key. The store keeps its keys in key order, where a ring segment's keys are spread over the whole store; here
 * a segment is a range of positions, so its keys are found without reading the rest. That is what lets anti-entropy
 * repair at the cost of the segments that differ, and a listing ask each segment's replicas for that segment only.
 *
 * Our own structure, because it is small and its shape is the point: keys fall into 65,536 buckets by the top
 * bits of their position (about 15 keys each at a million keys), and a bucket is sorted only when it is read
 * after a change. Adding or removing a key is a search of its bucket, then an append or a swap. It costs about 45 bytes of
 * heap a key (measured at a million), besides the key itself, and does not depend on the ring, so it outlives
 * membership changes.
 */
export class KeyPositions {
  private readonly buckets: Array<Bucket | undefined> = new Array(BUCKETS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Puts `key` in at `position` (its hasher's number); a key already in stays once. */
  add(key: string, position: number): void {
    const index = bucketOf(position);
    let bucket = this.buckets[index];
    if (bucket === undefined) {
      bucket = { keys: [], positions: [], sorted: true };
      this.buckets[index] = bucket;
    }
    if (bucket.keys.includes(key)) return;
    bucket.keys.push(key);
    bucket.positions.push(position);
    bucket.sorted = false;
    this.count++;
  }

  /** Takes `key` out, if it is in at `position`. */
  delete(key: string, position: number): boolean {
    const bucket = this.buckets[bucketOf(position)];
    if (bucket === undefined) return false;
    let at = bucket.keys.indexOf(key);
    while (at >= 0 && bucket.positions[at] !== position) at = bucket.keys.indexOf(key, at + 1);
    if (at < 0) return false;
    const last = bucket.keys.length - 1;
    if (at !== last) {
      bucket.keys[at] = bucket.keys[last] as string;
      bucket.positions[at] = bucket.positions[last] as number;
      bucket.sorted = false;
    }
    bucket.keys.pop();
    bucket.positions.pop();
    this.count--;
    return true;
  }

  /** How many keys lie at positions from `low` to `high`, both included. */
  countBetween(low: number, high: number): number {
    let total = 0;
    const first = bucketOf(low);
    const last = bucketOf(high);
    for (let index = first; index <= last; index++) {
      const bucket = this.buckets[index];
      if (bucket === undefined) continue;
      if (index > first && index < last) {
        total += bucket.keys.length;
        continue;
      }
      for (const position of bucket.positions) if (position >= low && position <= high) total++;
    }
    return total;
  }

  /**
   * The keys at positions from `low` to `high` (both included), in ring order, after `after` when given. Each
   * bucket is copied as it is reached, so changes made while a caller holds the generator do not disturb it; a
   * key added or removed meanwhile may or may not be seen.
   */
  *between(low: number, high: number, after?: PlacedKey): Generator<PlacedKey> {
    const from = after === undefined ? low : Math.max(low, after[1]);
    if (from > high) return;
    for (let index = bucketOf(from); index <= bucketOf(high); index++) {
      const bucket = this.buckets[index];
      if (bucket === undefined || bucket.keys.length === 0) continue;
      const found: PlacedKey[] = [];
      for (const entry of this.sortedEntries(bucket)) {
        const [key, position] = entry;
        if (position < from || position > high) continue;
        if (after !== undefined && compareRingOrder(entry, after) <= 0) continue;
        found.push([key, position]);
      }
      yield* found;
    }
  }

  private *sortedEntries(bucket: Bucket): Generator<PlacedKey> {
    if (!bucket.sorted) sortBucket(bucket);
    for (let i = 0; i < bucket.keys.length; i++) {
      yield [bucket.keys[i] as string, bucket.positions[i] as number];
    }
  }
}

/** Ring order: by position, then by key. */
export function compareRingOrder(a: PlacedKey, b: PlacedKey): number {
  return a[1] - b[1] || compareKeys(a[0], b[0]);
}

function bucketOf(position: number): number {
  return Math.min(BUCKETS - 1, Math.max(0, Math.floor(position / BUCKET_SPAN)));
}

function sortBucket(bucket: Bucket): void {
  const entries = bucket.keys.map((key, i): PlacedKey => [key, bucket.positions[i] as number]);
  entries.sort(compareRingOrder);
  bucket.keys = entries.map(([key]) => key);
  bucket.positions = entries.map(([, position]) => position);
  bucket.sorted = true;
}
