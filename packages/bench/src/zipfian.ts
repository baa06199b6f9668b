/**
 * Zipfian key choice, written here rather than taken from a library because it is the point of the YCSB workloads:
 * their skew must be YCSB's own. These are YCSB's ZipfianGenerator and ScrambledZipfianGenerator, which implement
 * the method of Gray, Sundaresan, Englert, Baclawski and Weinberger, "Quickly generating billion-record synthetic
 * databases" (SIGMOD 1994). Item `i` (from 0) is drawn with a probability near `1 / ((i + 1)^θ · ζ(n, θ))`, where
 * `ζ(n, θ) = Σ 1/k^θ for k = 1…n`; items 0 and 1 get exactly that share, the rest follow the paper's closed-form
 * approximation. One uniform draw per item, no table.
 *
 * Every generator takes its uniform draws from a `random` source (a float in [0, 1)), so a seeded one makes a
 * sequence reproducible.
 */

/** YCSB's zipfian constant θ: the skew of every core workload's key choice. */
export const ZIPFIAN_CONSTANT = 0.99;

/**
 * The items YCSB's scrambled generator draws among before hashing them onto the keyspace, and ζ over them at θ =
 * 0.99, which YCSB ships precomputed since summing ten billion terms takes minutes.
 */
export const SCRAMBLED_ITEM_COUNT = 10_000_000_000;
export const SCRAMBLED_ZETAN = 26.46902820178302;

/** ζ(n, θ) from the terms `from + 1 … n`, added to `sum` (the terms up to `from`). */
export function zeta(n: number, theta: number, from = 0, sum = 0): number {
  let total = sum;
  for (let k = from + 1; k <= n; k++) total += 1 / k ** theta;
  return total;
}

/**
 * Items 0 … n−1, item 0 the most popular, then 1, and so on. `next(count)` may draw among more items than the
 * generator was made for: ζ is extended by the new terms (the count of a growing set, such as the records that
 * read-latest chooses among, only grows).
 */
export class ZipfianGenerator {
  private readonly theta: number;
  private readonly alpha: number;
  private readonly zeta2: number;
  private readonly random: () => number;
  private items: number;
  private zetan: number;
  private eta: number;

  /** `zetan`: ζ(items, θ) when it is known, to skip the sum. */
  constructor(items: number, init: { theta?: number; zetan?: number; random?: () => number } = {}) {
    if (!(Number.isSafeInteger(items) && items >= 1)) {
      throw new RangeError(`ZipfianGenerator: expected at least 1 item, got ${items}`);
    }
    this.theta = init.theta ?? ZIPFIAN_CONSTANT;
    this.alpha = 1 / (1 - this.theta);
    this.zeta2 = zeta(2, this.theta);
    this.random = init.random ?? Math.random;
    this.items = items;
    this.zetan = init.zetan ?? zeta(items, this.theta);
    this.eta = this.etaFor(items);
  }

  /** The probability of item 0, `1 / ζ(n, θ)`, over the items drawn among last. */
  get headShare(): number {
    return 1 / this.zetan;
  }

  /** An item from 0 to `count − 1` (`count` at least the items drawn among so far). */
  next(count = this.items): number {
    if (count !== this.items) this.grow(count);
    const u = this.random();
    const uz = u * this.zetan;
    if (uz < 1) return 0;
    if (uz < 1 + 0.5 ** this.theta) return 1;
    // The approximation can reach `count` itself when u is within a rounding of 1.
    return Math.min(count - 1, Math.floor(count * (this.eta * u - this.eta + 1) ** this.alpha));
  }

  private grow(count: number): void {
    if (!(Number.isSafeInteger(count) && count > this.items)) {
      throw new RangeError(`ZipfianGenerator: the items only grow (${this.items} to ${count})`);
    }
    this.zetan = zeta(count, this.theta, this.items, this.zetan);
    this.items = count;
    this.eta = this.etaFor(count);
  }

  private etaFor(items: number): number {
    return (1 - (2 / items) ** (1 - this.theta)) / (1 - this.zeta2 / this.zetan);
  }
}

/**
 * YCSB's ScrambledZipfianGenerator: a zipfian draw among SCRAMBLED_ITEM_COUNT items, hashed with FNV-1a 64 onto
 * `0 … keyspace−1`. The popular items land all over the keyspace rather than on its first keys, so on a cluster
 * they fall on every node, and the skew does not depend on the keyspace (the hottest key takes about 3.8% of the
 * draws at any size).
 */
export class ScrambledZipfianGenerator {
  private readonly keyspace: number;
  private readonly zipfian: ZipfianGenerator;

  constructor(keyspace: number, random: () => number = Math.random) {
    if (!(Number.isSafeInteger(keyspace) && keyspace >= 1 && keyspace <= SCRAMBLED_ITEM_COUNT)) {
      throw new RangeError(
        `ScrambledZipfianGenerator: expected 1 to ${SCRAMBLED_ITEM_COUNT} keys, got ${keyspace}`,
      );
    }
    this.keyspace = keyspace;
    this.zipfian = new ZipfianGenerator(SCRAMBLED_ITEM_COUNT, { zetan: SCRAMBLED_ZETAN, random });
  }

  next(): number {
    return scramble(this.zipfian.next(), this.keyspace);
  }
}

const TWO_32 = 2 ** 32;
const FNV_OFFSET_HIGH = 0xcbf29ce4;
const FNV_OFFSET_LOW = 0x84222325;
/** FNV's 64-bit prime is 2^40 + 0x1b3. */
const FNV_PRIME_LOW = 0x1b3;

/**
 * YCSB's `Utils.fnvhash64(item) % keyspace`: FNV-1a 64 over the item's 8 bytes, least significant first, read as
 * a signed 64-bit integer and made positive (`Math.abs`), then reduced. Done in two 32-bit halves, which is a
 * few multiplications a draw where BigInt would allocate; exact for an item below 2^53 and a keyspace below 2^37.
 */
export function scramble(item: number, keyspace: number): number {
  let high = FNV_OFFSET_HIGH;
  let low = FNV_OFFSET_LOW;
  const itemLow = item >>> 0;
  const itemHigh = Math.floor(item / TWO_32);
  for (let byte = 0; byte < 8; byte++) {
    const octet = byte < 4 ? (itemLow >>> (byte * 8)) & 0xff : (itemHigh >>> ((byte - 4) * 8)) & 0xff;
    low = (low ^ octet) >>> 0;
    // (high·2^32 + low) × (2^40 + 0x1b3) mod 2^64: the 2^40 term moves low's bits 0–23 into high's 8–31.
    const lowProduct = low * FNV_PRIME_LOW;
    high = (high * FNV_PRIME_LOW + Math.floor(lowProduct / TWO_32) + ((low << 8) >>> 0)) >>> 0;
    low = lowProduct >>> 0;
  }
  if (high >= 0x80000000) {
    // Two's complement negation of a negative 64-bit value.
    low = (~low + 1) >>> 0;
    high = (~high + (low === 0 ? 1 : 0)) >>> 0;
  }
  // (high·2^32 + low) mod keyspace in steps of 2^16, which stay below 2^53 for a keyspace below 2^37.
  let rest = high % keyspace;
  rest = (rest * 65_536) % keyspace;
  rest = (rest * 65_536) % keyspace;
  return (rest + low) % keyspace;
}
