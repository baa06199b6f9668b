import { seededRandom } from '@kvdb/coordinator';
import { defined } from '@kvdb/core/testing';

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same sequence, so a run's choices (which operation,
 * which key, which node, which fault and for how long) replay from the seed. Timing still varies between runs.
 */
export class Random {
  /** A number in [0, 1). */
  readonly next: () => number;

  constructor(seed: number) {
    this.next = seededRandom(mix(seed >>> 0));
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Expected at least one item to pick from');
    return defined(items[Math.floor(this.next() * items.length)]);
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return defined(entries.at(-1), 'a weight')[0];
  }

  /** `items` in a random order (a copy). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [defined(copy[j]), defined(copy[i])];
    }
    return copy;
  }

  /** An independent stream for `label`: each client and the nemesis get their own, so one's draws never shift another's. */
  fork(label: number): Random {
    return new Random((Math.floor(this.next() * 4_294_967_296) ^ Math.imul(label + 1, 0x9e3779b9)) >>> 0);
  }
}

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
