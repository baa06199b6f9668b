import type { RequestDistribution } from './core-workloads.js';
import { ScrambledZipfianGenerator, ZipfianGenerator } from './zipfian.js';

/**
 * The keys of a run are `key:N`. Keys 0 … loaded−1 hold records when the run starts (the prefill, and the inserts of
 * an unmeasured load before it). A generator's inserts take keys from `loaded` up, `stride` apart from `offset`,
 * so that the workers of one run, each with its own sequence, never insert the same key.
 */
export interface KeySpace {
  /** Records present when the run starts: `key:0` … `key:loaded−1`. */
  loaded: number;
  /** This generator's first insert is `key:loaded+offset`. @default 0 */
  offset?: number;
  /** Its next ones follow this far apart: the number of generators that insert side by side. @default 1 */
  stride?: number;
}

/**
 * A generator's inserts, YCSB's acknowledged insert sequence: a key counts as present once its insert and every
 * insert of this generator before it have completed, so that a read never asks for a key still in flight.
 */
export class InsertSequence {
  /** Inserts of this generator that have completed, every one before them too. */
  present = 0;
  /** Inserts this generator has started: the keys it has taken. */
  issued = 0;
  private readonly first: number;
  private readonly stride: number;
  /** Inserts completed out of order, ahead of `present`. */
  private readonly early = new Set<number>();

  constructor(space: KeySpace) {
    this.first = space.loaded + (space.offset ?? 0);
    this.stride = space.stride ?? 1;
  }

  /** The key of this generator's `index`th insert. */
  key(index: number): number {
    return this.first + index * this.stride;
  }

  next(): number {
    return this.key(this.issued++);
  }

  /** The insert of `key` completed (successfully or not: a failed insert is not retried). */
  completed(key: number): void {
    const index = (key - this.first) / this.stride;
    if (index !== this.present) {
      this.early.add(index);
      return;
    }
    this.present++;
    while (this.early.delete(this.present)) this.present++;
  }
}

/** Picks the key of each read, update, read-modify-write and scan start. */
export type KeyChooser = () => number;

export function keyChooser(
  distribution: RequestDistribution,
  loaded: number,
  inserts: InsertSequence,
  random: () => number,
): KeyChooser {
  switch (distribution) {
    case 'uniform':
      return () => Math.floor(random() * loaded);
    case 'zipfian': {
      const zipfian = new ScrambledZipfianGenerator(loaded, random);
      return () => zipfian.next();
    }
    case 'latest': {
      // YCSB's SkewedLatestGenerator: a zipfian rank over the records present, rank 0 the newest. The newest are
      // this generator's own inserts, last first, then the loaded keys from the highest down.
      const zipfian = new ZipfianGenerator(loaded, { random });
      return () => {
        const rank = zipfian.next(loaded + inserts.present);
        return rank < inserts.present
          ? inserts.key(inserts.present - 1 - rank)
          : loaded - 1 - (rank - inserts.present);
      };
    }
  }
}

/** The keys in order, `key:0` first, wrapping around: a prefill sets each once. */
export function sequentialKeys(loaded: number): KeyChooser {
  let cursor = 0;
  return () => {
    const key = cursor;
    cursor = (cursor + 1) % loaded;
    return key;
  };
}
