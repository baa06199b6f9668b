import { defined } from '@kvdb/core/testing';
import { expect } from 'chai';
import {
  SCRAMBLED_ITEM_COUNT,
  SCRAMBLED_ZETAN,
  ScrambledZipfianGenerator,
  scramble,
  ZIPFIAN_CONSTANT,
  ZipfianGenerator,
  zeta,
} from '../src/zipfian.js';
import { binomialBounds, seededRandom } from './helpers/seeded-random.js';

const THETA = ZIPFIAN_CONSTANT;

/** Draws `draws` items and counts each. */
function counts(draws: number, next: () => number): Map<number, number> {
  const seen = new Map<number, number>();
  for (let index = 0; index < draws; index++) {
    const item = next();
    seen.set(item, (seen.get(item) ?? 0) + 1);
  }
  return seen;
}

function below(seen: Map<number, number>, limit: number): number {
  let total = 0;
  for (const [item, count] of seen) if (item < limit) total += count;
  return total;
}

/**
 * The share of items below `m` (m ≥ 2) that Gray et al.'s method draws: item = ⌊n(ηu − η + 1)^α⌋ is below m when
 * u < 1 − (1 − (m/n)^(1−θ)) / η.
 */
function shareBelow(m: number, n: number): number {
  const eta = (1 - (2 / n) ** (1 - THETA)) / (1 - zeta(2, THETA) / zeta(n, THETA));
  return 1 - (1 - (m / n) ** (1 - THETA)) / eta;
}

/** YCSB's Utils.fnvhash64, in BigInt: FNV-1a 64 over 8 little-endian bytes, then Math.abs of the signed result. */
function ycsbFnvHash(item: number): bigint {
  const bytes = [...Array(8).keys()].map((byte) => Number((BigInt(item) >> BigInt(8 * byte)) & 0xffn));
  const hash = fnv1a64(bytes);
  const signed = hash >= 1n << 63n ? hash - (1n << 64n) : hash;
  return signed < 0n ? -signed : signed;
}

function fnv1a64(bytes: number[]): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash;
}

describe('zipfian: ζ and the generator of Gray et al.', () => {
  it('sums ζ(n, θ), and extends a sum from where it stopped', () => {
    expect(zeta(1, THETA)).to.equal(1);
    expect(zeta(2, THETA)).to.be.closeTo(1 + 0.5 ** THETA, 1e-15);
    expect(zeta(1_000, THETA, 400, zeta(400, THETA))).to.be.closeTo(zeta(1_000, THETA), 1e-12);
  });

  it('uses ζ(10^10, 0.99) for the scrambled draw, as YCSB precomputed it', () => {
    // Euler–Maclaurin: the first terms summed, the rest as an integral with two corrections.
    const m = 1_000;
    const n = SCRAMBLED_ITEM_COUNT;
    const s = THETA;
    const tail =
      (n ** (1 - s) - m ** (1 - s)) / (1 - s) +
      (m ** -s + n ** -s) / 2 +
      (s / 12) * (m ** (-s - 1) - n ** (-s - 1));
    expect(zeta(m - 1, s) + tail).to.be.closeTo(SCRAMBLED_ZETAN, 1e-6);
  });

  it('draws items 0 and 1 with 1/ζ(n) and 2^−θ/ζ(n), and the head of the rest as the formula says', () => {
    const n = 1_000;
    const draws = 100_000;
    const generator = new ZipfianGenerator(n, { random: seededRandom(1) });
    const seen = counts(draws, () => generator.next());
    const zetan = zeta(n, THETA);
    expect(generator.headShare).to.be.closeTo(1 / zetan, 1e-12);
    expect(defined(seen.get(0))).to.be.within(...binomialBounds(draws, 1 / zetan));
    expect(defined(seen.get(1))).to.be.within(...binomialBounds(draws, 0.5 ** THETA / zetan));
    for (const m of [10, 100, 500]) {
      expect(below(seen, m), `items below ${m}`).to.be.within(...binomialBounds(draws, shareBelow(m, n)));
    }
    expect(Math.min(...seen.keys())).to.equal(0);
    expect(Math.max(...seen.keys())).to.be.below(n);
    // The formula is a zipfian: the first tenth of the items takes about ζ(n/10)/ζ(n) of the draws.
    expect(shareBelow(100, n)).to.be.closeTo(zeta(100, THETA) / zetan, 0.02);
  });

  it('grows to draw among more items, and refuses fewer', () => {
    const generator = new ZipfianGenerator(100, { random: seededRandom(2) });
    const seen = counts(20_000, () => generator.next(200));
    expect(generator.headShare).to.be.closeTo(1 / zeta(200, THETA), 1e-12);
    expect(Math.max(...seen.keys())).to.be.within(100, 199);
    expect(() => generator.next(150)).to.throw(RangeError, /only grow/);
  });
});

describe('zipfian: scrambled, as YCSB hashes it', () => {
  it('hashes an item with YCSB’s FNV-1a 64, exactly, and reduces it onto the keyspace', () => {
    expect(fnv1a64([0x61])).to.equal(0xaf63dc4c8601ec8cn);
    const random = seededRandom(3);
    const items = [0, 1, 255, 256, 65_535, 2 ** 32 - 1, 2 ** 32, SCRAMBLED_ITEM_COUNT - 1];
    for (let index = 0; index < 200; index++) items.push(Math.floor(random() * SCRAMBLED_ITEM_COUNT));
    for (const keyspace of [1, 10, 10_000, 999_983, 2 ** 36 + 7]) {
      for (const item of items) {
        expect(scramble(item, keyspace), `${item} onto ${keyspace}`).to.equal(
          Number(ycsbFnvHash(item) % BigInt(keyspace)),
        );
      }
    }
  });

  it('gives the hottest key 1/ζ(10^10) of the draws and spreads the hot keys over the keyspace', () => {
    const keyspace = 10_000;
    const draws = 200_000;
    const generator = new ScrambledZipfianGenerator(keyspace, seededRandom(5));
    const seen = counts(draws, () => generator.next());
    const hottest = [...seen.entries()].sort((a, b) => b[1] - a[1]).map(([key]) => key);
    expect(hottest[0]).to.equal(scramble(0, keyspace));
    // Its own share, and (a few draws more) those of the cold items that hash onto the same key.
    const [low, high] = binomialBounds(draws, 1 / SCRAMBLED_ZETAN);
    expect(defined(seen.get(scramble(0, keyspace)))).to.be.within(low, high + draws * 0.001);
    const top = hottest.slice(0, 5);
    expect(top).to.deep.equal([0, 1, 2, 3, 4].map((item) => scramble(item, keyspace)));
    // Unscrambled, the 100 hottest items are the first 1% of the keys; scrambled, they fall in every tenth.
    const tenths = new Set(
      [...Array(100).keys()].map((item) => Math.floor(scramble(item, keyspace) / 1_000)),
    );
    expect(tenths.size).to.equal(10);
    expect(Math.max(...seen.keys())).to.be.below(keyspace);
  });

  it('refuses a keyspace it cannot draw all of', () => {
    expect(() => new ScrambledZipfianGenerator(0)).to.throw(RangeError);
    expect(() => new ScrambledZipfianGenerator(SCRAMBLED_ITEM_COUNT + 1)).to.throw(RangeError);
  });
});
