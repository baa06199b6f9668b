/**
 * Lowe's cache for the linearizability search: the configurations (set of linearized operations, model state)
 * that the search has left without finding a linearization, and the search's current set.
 *
 * Known (ok) and unknown (info) operations are numbered apart. A configuration fails when a failed one has the
 * same state, the same known operations and only unknown operations it has too: the extra ones are options it no
 * longer has (an unknown operation need never take effect), so it can do nothing the other could not. Without
 * this, each unknown operation that never took effect doubles the configurations a failing search goes through.
 *
 * The known set's hash is updated per operation in O(1) (Zobrist: the XOR of a random word per member). Sets are
 * stored as strings of 16-bit halves (far smaller than typed arrays); a known set keeps only the words between
 * its first one not full and its last one not empty, since a search linearizes roughly in history order.
 */
export class SearchCache {
  private readonly known: Uint32Array;
  private readonly knownHalves: Uint16Array;
  private readonly unknown: Uint16Array;
  private readonly low: Uint32Array;
  private readonly high: Uint32Array;
  private hashLow = 0;
  private hashHigh = 0;
  private readonly buckets = new Map<number, Failed[]>();
  private count = 0;

  constructor(knownCount: number, unknownCount: number) {
    this.known = new Uint32Array(Math.ceil(knownCount / 32));
    this.knownHalves = new Uint16Array(this.known.buffer);
    this.unknown = new Uint16Array(Math.ceil(unknownCount / 16));
    this.low = new Uint32Array(knownCount);
    this.high = new Uint32Array(knownCount);
    // A fixed seed: the same history explores the same way every time.
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    for (let op = 0; op < knownCount; op++) {
      this.low[op] = random();
      this.high[op] = random();
    }
  }

  /** Failed configurations stored. */
  get size(): number {
    return this.count;
  }

  /**
   * Adds operation `index` (among the known or the unknown ones) to the current set, leading to `state`; answers
   * false, and takes it back out, if that configuration fails for what is stored.
   */
  enter(unknown: boolean, index: number, state: number, tag: number): boolean {
    state = combine(state, tag);
    this.toggle(unknown, index);
    const bucket = this.buckets.get(this.bucketKey(state));
    if (bucket !== undefined && bucket.length > 0) {
      const known = this.knownSet();
      if (
        bucket.some((failed) => this.sameKnown(failed, state, known) && this.withinUnknown(failed.unknown))
      ) {
        this.toggle(unknown, index);
        return false;
      }
    }
    return true;
  }

  /** Stores the current configuration, in `state`, as failed, and takes operation `index` back out. */
  leave(unknown: boolean, index: number, state: number, tag: number): void {
    state = combine(state, tag);
    const key = this.bucketKey(state);
    const known = this.knownSet();
    const failed: Failed = { hash: this.hashHigh, state, ...known, unknown: this.unknownSet() };
    // Failed configurations that this one covers are no longer needed.
    const previous = this.buckets.get(key) ?? [];
    const kept = previous.filter(
      (other) => !(this.sameKnown(other, state, known) && covers(failed.unknown, other.unknown)),
    );
    this.count += kept.length + 1 - previous.length;
    kept.push(failed);
    this.buckets.set(key, kept);
    this.toggle(unknown, index);
  }

  /** Takes operation `index` back out without storing anything: the search gave up, it did not fail. */
  drop(unknown: boolean, index: number): void {
    this.toggle(unknown, index);
  }

  private bucketKey(state: number): number {
    return (this.hashLow ^ Math.imul(state + 1, 0x9e3779b1)) & 0x3fffffff;
  }

  private toggle(unknown: boolean, index: number): void {
    if (unknown) {
      this.unknown[index >>> 4] = (this.unknown[index >>> 4] ?? 0) ^ (1 << (index & 15));
      return;
    }
    this.known[index >>> 5] = (this.known[index >>> 5] ?? 0) ^ (1 << (index & 31));
    this.hashLow ^= this.low[index] ?? 0;
    this.hashHigh ^= this.high[index] ?? 0;
  }

  private knownSet(): { from: number; words: string } {
    let from = 0;
    while (from < this.known.length && this.known[from] === 0xffffffff) from++;
    let to = this.known.length;
    while (to > from && this.known[to - 1] === 0) to--;
    return { from, words: text(this.knownHalves.subarray(2 * from, 2 * to)) };
  }

  private unknownSet(): string {
    let to = this.unknown.length;
    while (to > 0 && this.unknown[to - 1] === 0) to--;
    return text(this.unknown.subarray(0, to));
  }

  private sameKnown(failed: Failed, state: number, known: { from: number; words: string }): boolean {
    return (
      failed.hash === this.hashHigh &&
      failed.state === state &&
      failed.from === known.from &&
      failed.words === known.words
    );
  }

  /** Whether every unknown operation of `set` is in the current set. */
  private withinUnknown(set: string): boolean {
    if (set.length > this.unknown.length) return false;
    for (let half = 0; half < set.length; half++)
      if ((set.charCodeAt(half) & ~(this.unknown[half] ?? 0)) !== 0) return false;
    return true;
  }
}

/** A state and the search's tag for it as one number: both are small integers, the tag possibly -1. */
function combine(state: number, tag: number): number {
  return state * 0x100000 + tag + 1;
}

/** Whether `inner` ⊆ `outer`, both strings of 16-bit halves. */
function covers(inner: string, outer: string): boolean {
  if (inner.length > outer.length) return false;
  for (let half = 0; half < inner.length; half++)
    if ((inner.charCodeAt(half) & ~outer.charCodeAt(half)) !== 0) return false;
  return true;
}

/** The halves as UTF-16 code units, in chunks small enough to pass as arguments. */
function text(halves: Uint16Array): string {
  let words = '';
  for (let at = 0; at < halves.length; at += 8192)
    words += String.fromCharCode(...halves.subarray(at, at + 8192));
  return words;
}

interface Failed {
  /** The known set's second hash. */
  hash: number;
  state: number;
  /** Known words before `from` are full; from `from + words.length / 2` on, empty. */
  from: number;
  words: string;
  /** The unknown set; halves past its length are empty. */
  unknown: string;
}
