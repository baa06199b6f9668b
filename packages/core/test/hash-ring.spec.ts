import { expect } from 'chai';
import { DEFAULT_VNODES } from '../src/constants.js';
import { HashRing } from '../src/hash-ring.js';
import { md5Hasher, RING_SIZE } from '../src/hasher.js';
import { defined } from './defined.js';

const KEY_COUNT = 100_000;
const members = (count: number): string[] => Array.from({ length: count }, (_, i) => `10.0.0.${i + 1}:5878`);
const keys = Array.from({ length: KEY_COUNT }, (_, i) => `key-${i}`);

/** A deterministic permutation (mulberry32-driven Fisher–Yates) so a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const result = [...items];
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  for (let i = result.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [result[i], result[j]] = [defined(result[j]), defined(result[i])];
  }
  return result;
}

/** Each key's preference list of size 3, as one comparable array. */
const lists = (ring: HashRing, sample: readonly string[]): string[] =>
  sample.map((key) => `${key}: ${ring.preferenceList(key, 3).join(' ')}`);

describe('HashRing', () => {
  describe('with the default vnodes', () => {
    const five = members(5);
    const sixth = '10.0.0.6:5878';
    const ring = new HashRing(five);
    const grown = ring.withMember(sixth);

    it('uses DEFAULT_VNODES when no init is given', () => {
      expect(ring.vnodes).to.equal(DEFAULT_VNODES);
    });

    it('gives each of 5 members between 0.75x and 1.25x its fair share of 100,000 keys', () => {
      const counts = new Map<string | undefined, number>(five.map((member) => [member, 0]));
      for (const key of keys) {
        const primary = ring.primary(key);
        counts.set(primary, (counts.get(primary) ?? 0) + 1);
      }
      expect([...counts.keys()]).to.have.members(five);
      const fair = KEY_COUNT / five.length;
      for (const [member, count] of counts) {
        expect(count, `${member} is primary for ${count} keys`).to.be.at.most(1.25 * fair);
        expect(count, `${member} is primary for ${count} keys`).to.be.at.least(0.75 * fair);
      }
      expect([...counts.values()].reduce((a, b) => a + b, 0)).to.equal(KEY_COUNT);
    });

    it('moves only keys the new member takes, about 1/6 of them, when a 6th member joins', () => {
      let moved = 0;
      const strays: string[] = [];
      for (const key of keys) {
        const before = ring.primary(key);
        const after = grown.primary(key);
        if (before === after) continue;
        moved++;
        if (after !== sixth) strays.push(`${key}: ${before} → ${after}`);
      }
      expect(strays, 'keys that moved between old members').to.deep.equal([]);
      expect(moved / KEY_COUNT).to.be.within(0.12, 0.22);
    });

    it('adds only the new member to any preference list of size 3 when a 6th member joins', () => {
      let changed = 0;
      const strays: string[] = [];
      for (const key of keys.slice(0, 20_000)) {
        const before = ring.preferenceList(key, 3);
        const after = grown.preferenceList(key, 3);
        const added = after.filter((member) => !before.includes(member));
        if (added.some((member) => member !== sixth)) strays.push(`${key}: [${before}] → [${after}]`);
        if (added.length > 0) changed++;
      }
      expect(strays, 'preference lists that gained an old member').to.deep.equal([]);
      expect(changed, 'some preference lists should gain the new member').to.be.greaterThan(0);
    });

    it('keeps the primary of every key a removed member did not own', () => {
      const leaving = defined(five[2]);
      const shrunk = ring.withoutMember(leaving);
      expect(shrunk.members).to.not.include(leaving);
      expect(shrunk.size).to.equal(4);
      expect(shrunk.has(leaving)).to.equal(false);
      let reassigned = 0;
      const strays: string[] = [];
      for (const key of keys.slice(0, 20_000)) {
        const before = ring.primary(key);
        const after = shrunk.primary(key);
        if (before === leaving) reassigned++;
        if (after === leaving || (before !== leaving && after !== before))
          strays.push(`${key}: ${before} → ${after}`);
      }
      expect(strays, 'keys whose primary changed though the removed member did not own them').to.deep.equal(
        [],
      );
      expect(reassigned, 'the removed member owned some keys').to.be.greaterThan(0);
    });

    it('leaves the original ring unchanged by withMember and withoutMember', () => {
      ring.withoutMember(defined(five[0]));
      ring.withMember('10.0.0.9:5878');
      expect(ring.members).to.deep.equal([...five].sort());
      expect(grown.members).to.deep.equal([...five, sixth].sort());
    });
  });

  describe('segmentRanges', () => {
    it('covers every position once, in segments whose keys all fall in them', () => {
      const ring = new HashRing(['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'], { vnodes: 16 });
      const ranges = Array.from({ length: ring.segmentCount }, (_, segment) =>
        ring.segmentRanges(segment).map(([low, high]) => ({ segment, low, high })),
      )
        .flat()
        .sort((a, b) => a.low - b.low);
      expect(ranges[0]?.low).to.equal(0);
      expect(ranges.at(-1)?.high).to.equal(RING_SIZE - 1);
      for (let i = 1; i < ranges.length; i++) {
        expect(ranges[i]?.low, `range ${i} starts where ${i - 1} ended`).to.equal(
          (ranges[i - 1]?.high ?? 0) + 1,
        );
      }
      expect(ring.segmentRanges(0), 'the first segment wraps past the top').to.have.length(2);
      for (let i = 0; i < 500; i++) {
        const position = md5Hasher.hash(`key:${i}`);
        const holder = defined(ranges.find(({ low, high }) => position >= low && position <= high));
        expect(ring.segmentOf(`key:${i}`)).to.equal(holder.segment);
        expect(ring.segmentAt(position)).to.equal(holder.segment);
      }
    });
  });

  describe('determinism', () => {
    const base = members(7);
    const sample = keys.slice(0, 5_000);

    it('gives identical preference lists whatever the order of members', () => {
      const reference = new HashRing(base);
      for (const seed of [1, 2, 3]) {
        const other = new HashRing(shuffled(base, seed));
        expect(other.members).to.deep.equal(reference.members);
        expect(lists(other, sample), `seed ${seed}`).to.deep.equal(lists(reference, sample));
      }
    });

    it('ignores duplicate members', () => {
      const reference = new HashRing(base);
      const duplicated = new HashRing(shuffled([...base, ...base, defined(base[0])], 42));
      expect(duplicated.size).to.equal(base.length);
      expect(duplicated.members).to.deep.equal(reference.members);
      expect(lists(duplicated, sample)).to.deep.equal(lists(reference, sample));
    });

    it('gives the same ring from withMember as from building with that member', () => {
      const built = new HashRing(base);
      const grown = new HashRing(base.slice(1)).withMember(defined(base[0]));
      expect(lists(grown, sample)).to.deep.equal(lists(built, sample));
    });
  });

  describe('preferenceList', () => {
    const five = members(5);
    const ring = new HashRing(five);

    it('gives n distinct members, primary first', () => {
      const problems: string[] = [];
      for (const key of keys.slice(0, 2_000)) {
        for (const n of [1, 2, 3, 4]) {
          const list = ring.preferenceList(key, n);
          const ok =
            list.length === n &&
            new Set(list).size === n &&
            list[0] === ring.primary(key) &&
            list.every((member) => five.includes(member));
          if (!ok) problems.push(`${key}, n = ${n}: [${list}]`);
        }
      }
      expect(problems).to.deep.equal([]);
      expect(ring.preferenceList('key-1', 3)).to.have.length(3);
    });

    it('extends shorter lists: the list for n starts with the list for n - 1', () => {
      for (const key of keys.slice(0, 500)) {
        const full = ring.preferenceList(key, 5);
        for (let n = 1; n < 5; n++) expect(ring.preferenceList(key, n), key).to.deep.equal(full.slice(0, n));
      }
    });

    it('gives every member once when n exceeds the member count', () => {
      for (const key of keys.slice(0, 200)) {
        const list = ring.preferenceList(key, 12);
        expect(list, key).to.have.length(5);
        expect([...list].sort(), key).to.deep.equal([...five].sort());
      }
    });

    it('gives [] for n = 0', () => {
      expect(ring.preferenceList('key-1', 0)).to.deep.equal([]);
    });

    it('gives [] and no primary on an empty ring', () => {
      const empty = new HashRing([]);
      expect(empty.size).to.equal(0);
      expect(empty.preferenceList('key-1', 3)).to.deep.equal([]);
      expect(empty.primary('key-1')).to.equal(undefined);
    });

    it('gives the only member for every key on a one-member ring, without hashing the key', () => {
      const hashed: string[] = [];
      const hasher = {
        name: 'md5',
        hash: (input: string) => {
          hashed.push(input);
          return md5Hasher.hash(input);
        },
      };
      const single = new HashRing(['10.0.0.1:5878'], { hasher });
      hashed.length = 0;
      for (const key of keys.slice(0, 100)) {
        expect(single.preferenceList(key, 3), key).to.deep.equal(['10.0.0.1:5878']);
      }
      expect(single.preferenceList('key-1', 0)).to.deep.equal([]);
      expect(hashed).to.deep.equal([]);
    });
  });

  describe('init validation', () => {
    for (const vnodes of [0, 1.5, -1, Number.NaN]) {
      it(`throws a TypeError naming \`vnodes\` for vnodes = ${vnodes}`, () => {
        expect(() => new HashRing(members(3), { vnodes })).to.throw(TypeError, /`vnodes`/);
      });
    }

    it('accepts vnodes = 1', () => {
      const ring = new HashRing(members(3), { vnodes: 1 });
      expect(ring.vnodes).to.equal(1);
      expect(ring.preferenceList('key-1', 3)).to.have.length(3);
    });
  });
});
