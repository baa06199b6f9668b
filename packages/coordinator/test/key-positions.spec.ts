import { compareKeys, md5Hasher, RING_SIZE, seededRandom } from '@kvdb/core';
import { expect } from 'chai';
import { compareRingOrder, KeyPositions, type PlacedKey } from '../src/key-positions.js';

const SEED = Number(process.env.KVDB_SIM_SEED ?? 7);

describe(`KeyPositions (seed ${SEED})`, () => {
  const random = seededRandom(SEED);
  const placed = (key: string): PlacedKey => [key, md5Hasher.hash(key)];

  /** What `between` must give: the keys in the range, after `after`, in ring order, found by brute force. */
  function expected(held: ReadonlySet<string>, low: number, high: number, after?: PlacedKey): PlacedKey[] {
    return [...held]
      .map(placed)
      .filter(([, position]) => position >= low && position <= high)
      .filter((entry) => after === undefined || compareRingOrder(entry, after) > 0)
      .sort(compareRingOrder);
  }

  it('finds the keys of any range of positions in ring order, through adds and removes', () => {
    const positions = new KeyPositions();
    const held = new Set<string>();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 3_000; i++) {
        const key = `key:${Math.floor(random() * 5_000)}`;
        if (random() < 0.7) {
          positions.add(key, md5Hasher.hash(key));
          held.add(key);
        } else {
          expect(positions.delete(key, md5Hasher.hash(key)), key).to.equal(held.delete(key));
        }
      }
      expect(positions.size).to.equal(held.size);
      for (let probe = 0; probe < 20; probe++) {
        const a = Math.floor(random() * RING_SIZE);
        const b = Math.floor(random() * RING_SIZE);
        const [low, high] = a <= b ? [a, b] : [b, a];
        const want = expected(held, low, high);
        expect([...positions.between(low, high)], `${low}..${high}`).to.deep.equal(want);
        expect(positions.countBetween(low, high)).to.equal(want.length);
        const after = want[Math.floor(want.length / 2)];
        if (after !== undefined) {
          expect([...positions.between(low, high, after)]).to.deep.equal(expected(held, low, high, after));
        }
      }
    }
    expect([...positions.between(0, RING_SIZE - 1)].map(([key]) => key).sort(compareKeys)).to.deep.equal(
      [...held].sort(compareKeys),
    );
  });

  it('keeps a key added twice once, and orders keys at the same position by key', () => {
    const positions = new KeyPositions();
    positions.add('b', 42);
    positions.add('a', 42);
    positions.add('b', 42);
    positions.add('\u{10000}', 42);
    positions.add('\ue000', 42);
    expect(positions.size).to.equal(4);
    expect([...positions.between(0, 100)]).to.deep.equal([
      ['a', 42],
      ['b', 42],
      ['\ue000', 42],
      ['\u{10000}', 42],
    ]);
    expect([...positions.between(0, 100, ['b', 42])].map(([key]) => key)).to.deep.equal([
      '\ue000',
      '\u{10000}',
    ]);
    expect(positions.delete('c', 42)).to.equal(false);
    expect(positions.delete('a', 43)).to.equal(false);
  });

  it('lets a caller holding the generator change the keys without disturbing it', () => {
    const positions = new KeyPositions();
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}`);
    for (const key of keys) positions.add(key, md5Hasher.hash(key));
    const seen: string[] = [];
    for (const [key] of positions.between(0, RING_SIZE - 1)) {
      seen.push(key);
      positions.delete(key, md5Hasher.hash(key));
      positions.add(`${key}-new`, md5Hasher.hash(`${key}-new`));
    }
    expect(new Set(seen).size, 'no key twice').to.equal(seen.length);
    for (const key of keys) expect(seen, key).to.include(key);
  });
});
