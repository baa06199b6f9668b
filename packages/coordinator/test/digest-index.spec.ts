import { HashRing, type RecordHead } from '@kvdb/core';
import { expect } from 'chai';
import { DIGEST_FORMAT, DigestIndex, recordHash } from '../src/digest-index.js';
import { defined } from './utils/assertions.js';

const head = (wall: number, counter = 0, node = '127.0.0.1:7001', deleted = false): RecordHead =>
  deleted ? { version: { wall, counter, node }, deleted } : { version: { wall, counter, node } };

describe('recordHash', () => {
  const base = head(1_763_731_234_567, 3);

  it('is the same 64 bits, as two unsigned 32-bit halves, every time', () => {
    const [high, low] = recordHash('user:42', base);
    for (const half of [high, low]) {
      expect(Number.isInteger(half) && half >= 0 && half < 2 ** 32, String(half)).to.equal(true);
    }
    expect(recordHash('user:42', head(1_763_731_234_567, 3))).to.deep.equal([high, low]);
    expect(high, 'the halves are seeded apart').to.not.equal(low);
  });

  it('changes with the key, each part of the version and the kind', () => {
    const { wall, counter, node } = base.version;
    const variants: Array<[string, string, RecordHead]> = [
      ['key', 'user:43', base],
      ['a longer key', 'user:42 ', base],
      ['a key beyond Latin-1', 'user:4\u4e8c', base],
      ['wall + 1', 'user:42', head(wall + 1, counter, node)],
      ['wall + 2^32', 'user:42', head(wall + 2 ** 32, counter, node)],
      ['counter', 'user:42', head(wall, counter + 1, node)],
      ['a counter past 2^32', 'user:42', head(wall, counter + 2 ** 32, node)],
      ['writer', 'user:42', head(wall, counter, '127.0.0.1:7002')],
      ['tombstone', 'user:42', head(wall, counter, node, true)],
    ];
    const original = recordHash('user:42', base);
    const seen = new Set([original.join('.')]);
    for (const [what, key, record] of variants) {
      const [high, low] = recordHash(key, record);
      expect(high, `${what}: high half`).to.not.equal(original[0]);
      expect(low, `${what}: low half`).to.not.equal(original[1]);
      seen.add(`${high}.${low}`);
    }
    expect(seen.size, 'all different from each other too').to.equal(variants.length + 1);
  });

  it('spreads near keys and versions over all 64 bits without a collision', () => {
    const count = 50_000;
    const hashes = new Set<string>();
    const ones = new Array<number>(64).fill(0);
    for (let i = 0; i < count; i++) {
      // Neighbouring keys, and versions one millisecond apart: the inputs that differ least.
      const [high, low] = recordHash(`key:${i}`, head(1_763_731_234_567 + (i % 7), i % 3));
      hashes.add(`${high}.${low}`);
      for (let bit = 0; bit < 32; bit++) {
        ones[bit] = defined(ones[bit]) + ((high >>> bit) & 1);
        ones[32 + bit] = defined(ones[32 + bit]) + ((low >>> bit) & 1);
      }
    }
    expect(hashes.size).to.equal(count);
    // Each bit is a fair coin: 25,000 ± 500 is over four standard deviations (112) either way.
    for (const [bit, n] of ones.entries()) expect(n, `bit ${bit}`).to.be.within(24_500, 25_500);
  });
});

describe('DigestIndex', () => {
  it('is named by its ring and the record hash, so replicas hashing otherwise never compare', () => {
    const ring = new HashRing(['127.0.0.1:7001', '127.0.0.1:7002'], { vnodes: 8 });
    const index = new DigestIndex(ring);
    expect(index.id).to.equal(`${ring.id}/${DIGEST_FORMAT}`);
    expect(index.id, 'not the bare ring id an md5-hashing node sends').to.not.equal(ring.id);
    expect(new DigestIndex(new HashRing([...ring.members], { vnodes: 8 })).id).to.equal(index.id);
    expect(new DigestIndex(ring.withMember('127.0.0.1:7003')).id).to.not.equal(index.id);
  });

  it('takes a replaced record out exactly: the digest is the XOR of what is held', () => {
    const ring = new HashRing(['127.0.0.1:7001', '127.0.0.1:7002'], { vnodes: 8 });
    const index = new DigestIndex(ring);
    const all = [...Array(ring.segmentCount).keys()];
    index.replace('a', undefined, head(1));
    const justA = index.combine(all);
    index.replace('b', undefined, head(2));
    index.replace('b', head(2), head(3, 0, '127.0.0.1:7002', true));
    index.replace('b', head(3, 0, '127.0.0.1:7002', true), undefined);
    expect(index.combine(all)).to.deep.equal(justA);
    expect(justA).to.deep.equal(recordHash('a', head(1)));
  });
});
