import { expect } from 'chai';
import { HashRing } from '../src/hash-ring.js';
import { cryptoHasher, type Hasher, md5Hasher, RING_SIZE } from '../src/hasher.js';
import { defined } from './defined.js';

describe('hashers', () => {
  describe('md5Hasher', () => {
    it('is named md5', () => {
      expect(md5Hasher.name).to.equal('md5');
    });

    it('is deterministic', () => {
      for (const input of ['', 'a', 'key-1', '10.0.0.1:5878#0', '__proto__', 'ünïcødé ✓']) {
        expect(md5Hasher.hash(input), input).to.equal(md5Hasher.hash(input));
        expect(cryptoHasher('md5').hash(input), input).to.equal(md5Hasher.hash(input));
      }
    });

    it('takes the first 48 bits of the digest', () => {
      // md5('') = d41d8cd98f00b204e9800998ecf8427e
      expect(md5Hasher.hash('')).to.equal(0xd41d8cd98f00);
    });

    it('returns integers in [0, RING_SIZE)', () => {
      expect(RING_SIZE).to.equal(2 ** 48);
      const outside: number[] = [];
      for (let i = 0; i < 10_000; i++) {
        const value = md5Hasher.hash(`input-${i}`);
        if (!Number.isSafeInteger(value) || value < 0 || value >= RING_SIZE) outside.push(value);
      }
      expect(outside).to.deep.equal([]);
    });

    it('spreads 10,000 inputs over ~10,000 distinct values, across the whole ring', () => {
      const values = Array.from({ length: 10_000 }, (_, i) => md5Hasher.hash(`input-${i}`));
      expect(new Set(values).size).to.be.at.least(9_999);
      const quarters = [0, 0, 0, 0];
      for (const value of values) {
        const quarter = Math.floor((value / RING_SIZE) * 4);
        quarters[quarter] = defined(quarters[quarter]) + 1;
      }
      for (const count of quarters) expect(count).to.be.within(2_250, 2_750);
    });
  });

  describe('cryptoHasher', () => {
    it('builds a working sha1 hasher that differs from md5', () => {
      const sha1 = cryptoHasher('sha1');
      expect(sha1.name).to.equal('sha1');
      // sha1('') = da39a3ee5e6b4b0d3255bfef95601890afd80709
      expect(sha1.hash('')).to.equal(0xda39a3ee5e6b);
      let differing = 0;
      for (let i = 0; i < 100; i++) {
        const value = sha1.hash(`key-${i}`);
        expect(value).to.be.at.least(0).and.below(RING_SIZE);
        expect(Number.isInteger(value)).to.equal(true);
        if (value !== md5Hasher.hash(`key-${i}`)) differing++;
      }
      expect(differing).to.equal(100);
    });

    it('throws a TypeError naming `hasher` for an unknown digest', () => {
      expect(() => cryptoHasher('nope')).to.throw(TypeError, /`hasher`/);
    });
  });

  describe('a custom Hasher in HashRing', () => {
    it('places keys and tokens with the hasher it is given', () => {
      const seen: string[] = [];
      const counting: Hasher = {
        name: 'counting',
        hash: (input) => {
          seen.push(input);
          return md5Hasher.hash(input);
        },
      };
      const ring = new HashRing(['10.0.0.1:5878', '10.0.0.2:5878'], { hasher: counting, vnodes: 4 });
      expect(ring.hasher).to.equal(counting);
      expect(seen).to.have.length(8);
      expect(seen).to.include('10.0.0.1:5878#0').and.include('10.0.0.2:5878#3');
      ring.primary('some-key');
      expect(seen.at(-1)).to.equal('some-key');
    });

    it('decides ownership by the hasher: a key hashing right onto a token goes to that token’s owner', () => {
      // Tokens: a#0 → 100, b#0 → 200; keys hash to the number in their name.
      const positions = new Map([
        ['a:1#0', 100],
        ['b:1#0', 200],
      ]);
      const fixed: Hasher = { name: 'fixed', hash: (input) => positions.get(input) ?? Number(input) };
      const ring = new HashRing(['a:1', 'b:1'], { hasher: fixed, vnodes: 1 });
      expect(ring.primary('50')).to.equal('a:1');
      expect(ring.primary('100')).to.equal('a:1');
      expect(ring.primary('101')).to.equal('b:1');
      expect(ring.primary('200')).to.equal('b:1');
      expect(ring.primary('201'), 'wraps around past the last token').to.equal('a:1');
      expect(ring.preferenceList('150', 2)).to.deep.equal(['b:1', 'a:1']);
    });

    it('keeps the hasher in rings derived with withMember and withoutMember', () => {
      const sha1 = cryptoHasher('sha1');
      const ring = new HashRing(['10.0.0.1:5878'], { hasher: sha1, vnodes: 8 });
      expect(ring.withMember('10.0.0.2:5878').hasher).to.equal(sha1);
      expect(ring.withMember('10.0.0.2:5878').vnodes).to.equal(8);
      expect(ring.withoutMember('10.0.0.1:5878').hasher).to.equal(sha1);
    });

    it('gives a different placement than md5 with a different hasher', () => {
      const members = ['10.0.0.1:5878', '10.0.0.2:5878', '10.0.0.3:5878'];
      const md5Ring = new HashRing(members);
      const sha1Ring = new HashRing(members, { hasher: cryptoHasher('sha1') });
      let differing = 0;
      for (let i = 0; i < 1_000; i++) {
        if (md5Ring.primary(`key-${i}`) !== sha1Ring.primary(`key-${i}`)) differing++;
      }
      expect(differing).to.be.greaterThan(100);
    });
  });
});
